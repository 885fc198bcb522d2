"""The model registry: one name, four aliases, the same code locally and on Unity Catalog.

The registered model is ``cfg.model_name`` (``mlops_<env>.financial_transactions.anomaly_model``):
the local SQLite registry and Unity Catalog accept the same three-part name.

Aliases (set only here, through ``MlflowClient``):

* ``challenger`` – set when a tournament winner is registered;
* ``latest-model`` – always the newest registered version;
* ``champion`` – set by the gate on promotion (the challenger alias is then removed,
  the promoted version *is* the champion);
* ``previous-champion`` – the champion that a promotion replaced; the rollback's
  default target.

Every registry failure surfaces as :class:`RegistryError`; the one *positive*
answer "there is no champion" is ``champion_version() -> None`` and is only
returned when the registry listed the model's aliases and ``champion`` was not
among them. Nothing here turns an error into "no champion".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
LATEST = "latest-model"
PREVIOUS_CHAMPION = "previous-champion"
ALIASES = (CHAMPION, CHALLENGER, LATEST, PREVIOUS_CHAMPION)
#: Version tag naming the registration that created it (run-scoped): a resumed run reuses that version.
REGISTRATION_TAG = "fin_mlops_registration"


class RegistryError(RuntimeError):
    """The registry could not answer (unreachable, missing model/version, permission...)."""


def _error_code(exc: Exception) -> str | None:
    return getattr(exc, "error_code", None)


class ModelRegistry:
    """Thin, fail-loud wrapper over ``MlflowClient`` for ``cfg.model_name``."""

    def __init__(self, name: str, client: MlflowClient) -> None:
        self.name = name
        self.client = client

    @classmethod
    def from_platform(cls, platform: Platform, client: MlflowClient | None = None) -> ModelRegistry:
        """Configure MLflow for ``platform`` and bind to its registry."""
        from mlflow.tracking import MlflowClient

        platform.configure_mlflow()
        settings = platform.mlflow
        return cls(
            platform.config.model_name,
            client or MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri),
        )

    # -- reads -------------------------------------------------------------------
    def aliases(self) -> dict[str, int]:
        """alias -> version of the registered model; an absent model is an error here."""
        try:
            model = self.client.get_registered_model(self.name)
        except Exception as exc:
            raise RegistryError(f"registry: cannot read {self.name}: {type(exc).__name__}: {exc}") from exc
        return {alias: int(version) for alias, version in (model.aliases or {}).items()}

    def champion_version(self) -> int | None:
        """The champion's version, or None only when the registry positively lists no champion."""
        return self.aliases().get(CHAMPION)

    def exists(self) -> bool:
        """Whether the registered model exists; any failure other than "not found" raises."""
        try:
            self.client.get_registered_model(self.name)
        except Exception as exc:
            if _error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise RegistryError(f"registry: cannot read {self.name}: {type(exc).__name__}: {exc}") from exc
        return True

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version, newest first, with its aliases, status, dates and its run's metrics."""
        try:
            found = list(self.client.search_model_versions(f"name='{self.name}'"))
        except Exception as exc:
            raise RegistryError(f"registry: cannot list {self.name}: {type(exc).__name__}: {exc}") from exc
        aliases: dict[int, list[str]] = {}
        for alias, version in self.aliases().items():
            aliases.setdefault(version, []).append(alias)
        out = []
        for mv in sorted(found, key=lambda v: int(v.version), reverse=True):
            metrics: dict[str, float] = {}
            if mv.run_id:
                try:  # a deleted run leaves the version listed, without metrics
                    metrics = dict(self.client.get_run(mv.run_id).data.metrics)
                except Exception as exc:
                    log.debug("run %s of %s v%s unreadable: %s", mv.run_id, self.name, mv.version, exc)
            out.append(
                {
                    "version": int(mv.version),
                    "aliases": sorted(aliases.get(int(mv.version), [])),
                    "status": str(mv.status),
                    "created_ms": int(mv.creation_timestamp or 0),
                    "updated_ms": int(mv.last_updated_timestamp or 0),
                    "run_id": mv.run_id,
                    "metrics": metrics,
                }
            )
        return out

    def version_info(self, version: int) -> Any:
        try:
            return self.client.get_model_version(self.name, str(version))
        except Exception as exc:
            raise RegistryError(f"registry: {self.name} version {version}: {type(exc).__name__}: {exc}") from exc

    def version_uri(self, version: int) -> str:
        return f"models:/{self.name}/{version}"

    def load(self, version: int) -> PyFuncModel:
        """The pyfunc of ``version``, told its own version so its output names it."""
        import mlflow

        try:
            return mlflow.pyfunc.load_model(self.version_uri(version), model_config={"model_version": str(version)})
        except Exception as exc:
            raise RegistryError(
                f"registry: cannot load {self.name} version {version}: {type(exc).__name__}: {exc}"
            ) from exc

    def load_alias(self, alias: str) -> tuple[int, PyFuncModel]:
        """Resolve ``alias`` then load that version (version first, so the output is labelled)."""
        version = self.aliases().get(alias)
        if version is None:
            raise RegistryError(f"registry: {self.name} has no alias {alias!r}")
        return version, self.load(version)

    # -- writes ------------------------------------------------------------------
    def register(
        self,
        model_uri: str,
        *,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        registration_key: str | None = None,
    ) -> int:
        """Register a logged model; it becomes ``challenger`` and ``latest-model``.

        With a ``registration_key`` (run-scoped, see runtime.journal) the version is created with that
        key as a tag, in the same call; a rerun after a crash finds that version and finishes its
        registration (the aliases, which are separate calls) instead of creating a second one.
        """
        import mlflow

        version = self.registered(registration_key) if registration_key is not None else None
        if version is not None:
            log.warning(
                "registry: %s version %s was registered by the interrupted attempt; reusing it", self.name, version
            )
        else:
            all_tags = {**(tags or {}), **({REGISTRATION_TAG: registration_key} if registration_key else {})}
            try:
                version = int(mlflow.register_model(model_uri, self.name, tags=all_tags).version)
            except Exception as exc:
                raise RegistryError(f"registry: cannot register {model_uri} as {self.name}: {exc}") from exc
            crashpoint("registry.after_version")
        if description:  # a reused version gets it too: its killed attempt may have died before this call
            try:
                self.client.update_model_version(self.name, str(version), description=description)
            except Exception as exc:
                raise RegistryError(f"registry: cannot describe {self.name} version {version}: {exc}") from exc
        self.set_alias(CHALLENGER, version)
        self.set_alias(LATEST, version)
        crashpoint("registry.after_aliases")
        log.info("registered %s version %s (aliases %s, %s)", self.name, version, CHALLENGER, LATEST)
        return version

    def registered(self, registration_key: str) -> int | None:
        """The version created by registration ``registration_key`` (its tag), if any."""
        if not self.exists():
            return None
        try:
            found = self.client.search_model_versions(f"name='{self.name}'")
        except Exception as exc:
            raise RegistryError(f"registry: cannot list {self.name}: {type(exc).__name__}: {exc}") from exc
        matches = [int(mv.version) for mv in found if (mv.tags or {}).get(REGISTRATION_TAG) == registration_key]
        return max(matches) if matches else None

    def set_alias(self, alias: str, version: int) -> None:
        try:
            self.client.set_registered_model_alias(self.name, alias, str(version))
        except Exception as exc:
            raise RegistryError(f"registry: cannot set {alias!r} -> {version} on {self.name}: {exc}") from exc

    def delete_alias(self, alias: str) -> None:
        try:
            self.client.delete_registered_model_alias(self.name, alias)
        except Exception as exc:
            raise RegistryError(f"registry: cannot delete alias {alias!r} on {self.name}: {exc}") from exc

    def apply_aliases(self, target: dict[str, int]) -> None:
        """Make the managed aliases exactly ``target`` (sets first, then deletions)."""
        current = self.aliases()
        for alias, version in target.items():
            if current.get(alias) != version:
                self.set_alias(alias, version)
                crashpoint("registry.mid_alias_move")
        for alias in current:
            if alias in ALIASES and alias not in target:
                self.delete_alias(alias)
