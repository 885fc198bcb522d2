"""Databricks Model Serving for the Unity Catalog champion, through databricks-sdk.

Platform code, so it lives in the runtime package: :class:`DatabricksRuntime` serves a new
champion through it, and ``fin-mlops endpoint`` drives it directly.

* :meth:`ModelServingManager.deploy` serves the ``champion`` version and, when a different
  ``challenger`` exists, a canary split from ``serving.canary`` (e.g. 90/10). A missing
  endpoint is *created* on the first deploy (a 404 is never a failed deploy); an existing
  one gets ``PUT .../config``; a config that already matches is left alone (idempotent).
  An update already in progress (e.g. the endpoint is still being created) is waited for,
  then ours is applied; then the deploy waits for READY. Every wait is bounded by
  ``serving.endpoint_wait_seconds``.
* :meth:`ModelServingManager.promote_to_production` routes 100 % to the challenger version,
  **waits until the endpoint serves it (READY)**, and only then moves the aliases the way the
  gate does: ``champion`` -> challenger, ``previous-champion`` -> the old champion (the
  rollback target), ``challenger`` removed. An update that fails or times out leaves the
  aliases exactly as they were (the endpoint keeps serving its previous config).
* :meth:`ModelServingManager.state` reads readiness, pending updates, served versions and
  the traffic split.

Every failure, including a raw databricks-sdk or transport error, surfaces as
:class:`ServingError` whose message says what was attempted and what state things are in,
so the CLI can print it without a traceback.

Served entity names are ``<model>-<version>`` (``anomaly_model-7``), so the traffic routes
say which version gets which share.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from financial_transactions.config import ProjectConfig

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"


class ServingError(RuntimeError):
    """A deploy/promotion that cannot proceed; the message says why and what state things are in."""


@dataclass(frozen=True)
class ServingUpdate:
    """What the deploy step did about the Databricks serving endpoint (the runtime's serving updater)."""

    deployed: bool
    detail: str  # the endpoint's action, split and readiness, or why nothing was deployed


@dataclass(frozen=True)
class ServedVersion:
    name: str
    entity_name: str | None
    version: str | None
    workload_size: str | None
    scale_to_zero: bool | None


@dataclass(frozen=True)
class EndpointState:
    name: str
    exists: bool
    ready: str | None = None
    config_update: str | None = None
    served: list[ServedVersion] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    pending_versions: list[str] = field(default_factory=list)

    @property
    def updating(self) -> bool:
        return self.config_update == "IN_PROGRESS"

    def describe(self) -> str:
        if not self.exists:
            return f"{self.name}: does not exist"
        split = ", ".join(f"{k} {v}%" for k, v in self.traffic.items()) or "no routes"
        return f"{self.name}: {self.ready}, update {self.config_update}; {split}"


@dataclass(frozen=True)
class DeployResult:
    action: str  # created | updated | unchanged
    endpoint: str
    champion_version: int
    challenger_version: int | None
    traffic: dict[str, int]
    state: EndpointState | None = None  # after waiting for READY (None when not waited for)

    def describe(self) -> str:
        split = ", ".join(f"{k} {v}%" for k, v in self.traffic.items())
        ready = f"; {self.state.ready}" if self.state is not None else "; readiness not awaited"
        return f"{self.endpoint}: {self.action} · {split}{ready}"


def _enum(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


#: ``state.config_update`` values after which no update is running.
_FAILED_UPDATES = ("UPDATE_FAILED", "UPDATE_CANCELED")


def _not_found(exc: Exception) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(exc, NotFound)


def _conflict(exc: Exception) -> bool:
    """HTTP 409: the endpoint is busy with another config update (or was created concurrently)."""
    from databricks.sdk.errors import ResourceConflict

    return isinstance(exc, ResourceConflict)


def _sdk_error(exc: Exception) -> str:
    """``PermissionDenied PERMISSION_DENIED: <message>`` for SDK errors, ``<Type>: <message>`` otherwise."""
    code = getattr(exc, "error_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}: {exc}"


class ModelServingManager:
    """Create/update the serving endpoint of ``cfg.model_name`` and move traffic and aliases."""

    def __init__(
        self,
        client: WorkspaceClient,
        cfg: ProjectConfig,
        *,
        poll_seconds: float = 10.0,
        wait_seconds: float | None = None,
    ) -> None:
        self.client = client
        self.cfg = cfg
        self.endpoint = cfg.serving.endpoint_name
        self.model = cfg.model_name
        self.poll_seconds = poll_seconds
        self.wait_seconds = cfg.serving.endpoint_wait_seconds if wait_seconds is None else wait_seconds

    @classmethod
    def from_config(cls, cfg: ProjectConfig) -> ModelServingManager:
        """databricks-sdk unified auth (DATABRICKS_HOST/TOKEN, a profile, or the notebook context)."""
        from databricks.sdk import WorkspaceClient

        try:
            client = WorkspaceClient()
        except Exception as exc:
            raise ServingError(
                f"cannot reach a Databricks workspace ({_sdk_error(exc)}); set DATABRICKS_HOST and "
                "DATABRICKS_TOKEN, or a profile with DATABRICKS_CONFIG_PROFILE"
            ) from exc
        return cls(client, cfg)

    # -- names and specs ----------------------------------------------------------------
    def served_name(self, version: int) -> str:
        return f"{self.cfg.models.registered_model}-{version}"

    def _entity(self, version: int) -> Any:
        from databricks.sdk.service.serving import ServedEntityInput

        return ServedEntityInput(
            name=self.served_name(version),
            entity_name=self.model,
            entity_version=str(version),
            workload_size=self.cfg.serving.workload_size,
            scale_to_zero_enabled=self.cfg.serving.scale_to_zero,
        )

    def desired(self, champion: int, challenger: int | None) -> tuple[list[Any], dict[str, int]]:
        """Served entities and the traffic split (served name -> percent) for the two versions."""
        canary = self.cfg.serving.canary
        if challenger is None or challenger == champion or canary.challenger_percent == 0:
            return [self._entity(champion)], {self.served_name(champion): 100}
        if canary.champion_percent == 0:
            return [self._entity(challenger)], {self.served_name(challenger): 100}
        split = {
            self.served_name(champion): canary.champion_percent,
            self.served_name(challenger): canary.challenger_percent,
        }
        return [self._entity(champion), self._entity(challenger)], split

    # -- reads ------------------------------------------------------------------------------
    def aliases(self) -> dict[str, int]:
        """alias -> version of the UC model."""
        try:
            info = self.client.registered_models.get(self.model, include_aliases=True)
        except Exception as exc:
            raise ServingError(f"cannot read the aliases of {self.model}: {exc}") from exc
        return {a.alias_name: int(a.version_num) for a in info.aliases or [] if a.alias_name and a.version_num}

    def state(self) -> EndpointState:
        try:
            ep = self.client.serving_endpoints.get(self.endpoint)
        except Exception as exc:
            if _not_found(exc):
                return EndpointState(self.endpoint, exists=False)
            raise ServingError(f"cannot read serving endpoint {self.endpoint}: {exc}") from exc
        served: list[ServedVersion] = []
        traffic: dict[str, int] = {}
        if ep.config is not None:
            for ent in ep.config.served_entities or []:
                served.append(
                    ServedVersion(
                        name=ent.name or "",
                        entity_name=ent.entity_name,
                        version=ent.entity_version,
                        workload_size=ent.workload_size,
                        scale_to_zero=ent.scale_to_zero_enabled,
                    )
                )
            if ep.config.traffic_config is not None:
                for route in ep.config.traffic_config.routes or []:
                    key = route.served_entity_name or route.served_model_name or ""
                    traffic[key] = int(route.traffic_percentage)
        pending = []
        if ep.pending_config is not None:
            pending = [str(e.entity_version) for e in ep.pending_config.served_entities or [] if e.entity_version]
        return EndpointState(
            name=self.endpoint,
            exists=True,
            ready=_enum(ep.state.ready) if ep.state else None,
            config_update=_enum(ep.state.config_update) if ep.state else None,
            served=served,
            traffic=traffic,
            pending_versions=pending,
        )

    # -- writes -----------------------------------------------------------------------------
    def _apply(self, entities: list[Any], traffic: dict[str, int]) -> str:
        """Create the endpoint if it is missing, else update its config; returns the action taken.

        A config update already in progress is waited for (bounded) before ours is applied;
        so is one that starts between our read and our write (HTTP 409), once.
        """
        from databricks.sdk.service.serving import EndpointCoreConfigInput, Route, TrafficConfig

        routes = TrafficConfig(
            routes=[Route(served_entity_name=name, traffic_percentage=pct) for name, pct in traffic.items()]
        )
        split = ", ".join(f"{k} {v}%" for k, v in traffic.items())
        current = self.state()
        if not current.exists:
            log.info("serving endpoint %s does not exist: creating it", self.endpoint)
            try:
                self.client.serving_endpoints.create(
                    name=self.endpoint,
                    config=EndpointCoreConfigInput(name=self.endpoint, served_entities=entities, traffic_config=routes),
                )
            except Exception as exc:
                raise ServingError(
                    f"creating serving endpoint {self.endpoint} ({split}) failed: {_sdk_error(exc)}"
                ) from exc
            return "created"
        if current.updating:
            log.info("%s: waiting for the config update in progress before applying ours", current.describe())
            current = self.wait_idle(self.wait_seconds)
        wanted = {(e.name, e.entity_name, e.entity_version) for e in entities}
        have = {(s.name, s.entity_name, s.version) for s in current.served}
        if wanted == have and current.traffic == traffic:
            return "unchanged"
        for attempt in (1, 2):
            try:
                self.client.serving_endpoints.update_config(
                    name=self.endpoint, served_entities=entities, traffic_config=routes
                )
                return "updated"
            except Exception as exc:
                if attempt == 1 and _conflict(exc):
                    log.info("%s: busy (%s); waiting, then retrying once", self.endpoint, _sdk_error(exc))
                    self.wait_idle(self.wait_seconds)
                    continue
                raise ServingError(
                    f"updating serving endpoint {self.endpoint} to {split} failed: {_sdk_error(exc)}; "
                    "it keeps serving its previous config"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def deploy(
        self, *, champion: int | None = None, challenger: int | None = None, wait_seconds: float | None = None
    ) -> DeployResult:
        """Serve the champion (+ the challenger canary), then wait for READY.

        Versions default to the UC aliases; ``wait_seconds`` defaults to
        ``serving.endpoint_wait_seconds`` (0: do not wait for READY).
        """
        if champion is None or challenger is None:
            aliases = self.aliases()
            champion = champion if champion is not None else aliases.get(CHAMPION)
            challenger = challenger if challenger is not None else aliases.get(CHALLENGER)
        if champion is None:
            raise ServingError(f"{self.model} has no '{CHAMPION}' alias: nothing to serve (run the gate first)")
        entities, traffic = self.desired(champion, challenger)
        action = self._apply(entities, traffic)
        log.info("serving endpoint %s %s: %s", self.endpoint, action, traffic)
        wait = self.wait_seconds if wait_seconds is None else wait_seconds
        state = self.wait_ready(wait, after_update=action != "unchanged") if wait > 0 else None
        served_challenger = challenger if len(traffic) == 2 else None
        return DeployResult(action, self.endpoint, champion, served_challenger, traffic, state)

    def promote_to_production(self, *, wait_seconds: float | None = None) -> DeployResult:
        """100 % of traffic to the challenger, wait until it serves, then champion/previous-champion/challenger.

        ``wait_seconds`` (default ``serving.endpoint_wait_seconds``) bounds the wait; a failed
        or unfinished update raises :class:`ServingError` with the aliases untouched.
        """
        wait = self.wait_seconds if wait_seconds is None else wait_seconds
        if wait <= 0:
            raise ValueError("promotion waits for the endpoint before moving aliases: wait_seconds must be > 0")
        aliases = self.aliases()
        challenger = aliases.get(CHALLENGER)
        champion = aliases.get(CHAMPION)
        if challenger is None:
            raise ServingError(f"{self.model} has no '{CHALLENGER}' alias: nothing to promote")
        unchanged = f"aliases unchanged ({CHAMPION} v{champion}, {CHALLENGER} v{challenger})"
        traffic = {self.served_name(challenger): 100}
        try:
            action = self._apply([self._entity(challenger)], traffic)
            state = self.wait_ready(wait, after_update=action != "unchanged")
        except ServingError as exc:
            raise ServingError(f"promotion of {self.model} v{challenger} stopped: {exc}; {unchanged}") from exc
        try:
            self.client.registered_models.set_alias(self.model, CHAMPION, challenger)
            if champion is not None and champion != challenger:
                self.client.registered_models.set_alias(self.model, PREVIOUS_CHAMPION, champion)
            self.client.registered_models.delete_alias(self.model, CHALLENGER)
        except Exception as exc:
            raise ServingError(
                f"{self.endpoint} now serves {self.model} v{challenger} at 100%, but moving the aliases failed "
                f"({_sdk_error(exc)}); set '{CHAMPION}' -> {challenger} by hand or re-run the promotion"
            ) from exc
        log.info("promoted %s v%s to production (previous champion v%s)", self.model, challenger, champion)
        return DeployResult(action, self.endpoint, challenger, None, traffic, state)

    def _poll(self, timeout_seconds: float, done: Any, what: str) -> EndpointState:
        deadline = time.monotonic() + timeout_seconds
        while True:
            state = self.state()
            if done(state):
                return state
            if time.monotonic() >= deadline:
                raise ServingError(f"{state.describe()}: {what} after {timeout_seconds:.0f}s")
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def wait_idle(self, timeout_seconds: float) -> EndpointState:
        """Poll until no config update is in progress, whatever its outcome (ServingError on timeout)."""
        return self._poll(timeout_seconds, lambda s: not s.updating, "a config update is still in progress")

    def wait_ready(self, timeout_seconds: float, *, after_update: bool = True) -> EndpointState:
        """Poll until the endpoint is READY with no update in progress (ServingError on timeout/failure).

        ``after_update=False`` (nothing was applied: the served config already matched) does
        not fail on an earlier, unrelated update's UPDATE_FAILED: what we want is served.
        """

        def done(state: EndpointState) -> bool:
            if after_update and state.config_update in _FAILED_UPDATES:
                raise ServingError(f"{state.describe()}: the config update failed")
            return state.exists and state.ready == "READY" and not state.updating

        return self._poll(timeout_seconds, done, "not ready")
