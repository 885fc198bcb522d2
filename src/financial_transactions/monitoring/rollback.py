"""Rollback: re-point ``champion`` (and optionally the feature tables) to a known-good state.

Where the target comes from
---------------------------
* default: the *previous champion* — the ``previous-champion`` alias, else the
  ``champion`` entry of the pre-promotion snapshot that the gate wrote to
  ``champion_challenger_audit`` when it promoted the current champion;
* ``--to-version N``: any existing, READY version other than the current champion.

Aliases after a rollback: ``champion`` = target. When undoing the current
champion's promotion, ``previous-champion`` goes back to what the snapshot had
(so the alias map is exactly the pre-promotion one for those two aliases);
for an explicit ``--to-version`` it becomes the version rolled back from, so the
rollback itself can be undone. ``challenger`` and ``latest-model`` are untouched.

Feature tables (``--restore-features``): Delta RESTORE of ``trade_features``,
``train_set`` and ``test_set`` to the versions the *target* version was trained
on, which the gate recorded as ``challenger_feature_versions`` when it decided
on that version (its PROMOTE row; else its own REJECT row). Never the current
champion's pre-promotion snapshot (``snapshot_feature_versions``): every training
run rewrites the feature tables, rejected ones too, so that snapshot is whatever
the last run before the champion's left behind — a rejected retrain's data, not
what the previous champion learnt from. No recorded versions: refused. Training
records all three (``train_set`` / ``test_set`` as read, ``trade_features`` as written
with them, see ``FeatureStoreManager.training_data``); a decision recorded before
``trade_features`` was part of the record restores only the two sets it names.

Safety
------
* Everything is validated before anything changes: a missing champion, a
  target that does not exist / is not READY / is already champion, missing
  snapshot versions, or table versions that do not exist are refused with a
  :class:`RollbackRefused` naming the problem, and nothing is changed.
* ``dry_run`` returns the plan only.
* If a step fails mid-way, the steps already done are reversed (aliases
  re-applied, tables restored to their pre-rollback versions), the failure is
  audited and :class:`RollbackFailed` is raised.
* Every executed rollback is one row of ``rollback_audit``.

Crash recovery
--------------
The row is written first, with ``status = started`` and the whole plan (aliases after,
feature restores): the rollback's intent. The steps follow (aliases, feature RESTOREs),
then the row becomes ``done`` (or ``failed``), then the alert and the serving endpoint. A
process killed in between leaves the ``started`` row; the next ``fin-mlops rollback``
(whatever its arguments) finishes *that* rollback first: it re-applies the recorded
aliases, restores each feature table to its recorded target version (a table already at
that content is restored again, harmlessly), re-points the endpoint and marks the row
``done``. The endpoint moves before ``done`` for that reason.
"""

from __future__ import annotations

import getpass
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa

from financial_transactions.lakehouse.catalog import spec
from financial_transactions.models.deployment import DeploymentError, update_serving_endpoint
from financial_transactions.models.registry import ModelRegistry, RegistryError
from financial_transactions.monitoring.alerting import AlertManager
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint

if TYPE_CHECKING:
    from financial_transactions.runtime.serving_endpoint import ModelServingManager

log = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
CHALLENGER = "challenger"


class RollbackRefused(ValueError):
    """The rollback was not started: the message says why. Nothing was changed."""


class RollbackFailed(RuntimeError):
    """A step failed after the rollback started; completed steps were reversed and the failure audited."""


@dataclass(frozen=True)
class FeatureRestore:
    table: str
    current_version: int
    target_version: int

    @property
    def noop(self) -> bool:
        return self.current_version == self.target_version


@dataclass
class RollbackPlan:
    model_name: str
    from_version: int
    to_version: int
    source: str
    aliases_before: dict[str, int]
    aliases_after: dict[str, int]
    feature_restores: list[FeatureRestore] = field(default_factory=list)
    snapshot_decision_id: str | None = None
    restore_features: bool = False
    feature_source: str | None = None  # where the restore versions come from (the gate decision)
    warnings: list[str] = field(default_factory=list)  # why the target may be a bad champion (needs --force)

    def describe(self) -> list[str]:
        lines = [f"{self.model_name}: champion v{self.from_version} -> v{self.to_version} ({self.source})"]
        lines += [f"WARNING: {w}" for w in self.warnings]
        for alias in sorted(set(self.aliases_before) | set(self.aliases_after)):
            before, after = self.aliases_before.get(alias), self.aliases_after.get(alias)
            if before != after:
                lines.append(f"alias {alias}: {_v(before)} -> {_v(after)}")
        if self.restore_features:
            if self.feature_source:
                lines.append(f"feature tables: {self.feature_source}")
            if not self.feature_restores:
                lines.append("feature tables: none recorded")
            for r in self.feature_restores:
                what = "already at that version" if r.noop else "RESTORE"
                lines.append(f"{r.table}: v{r.current_version} -> v{r.target_version} ({what})")
        return lines


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


@dataclass
class RollbackResult:
    rollback_id: str | None
    plan: RollbackPlan
    status: Literal["started", "done", "failed", "dry_run"]
    restored: dict[str, int] = field(default_factory=dict)  # table -> new Delta version after RESTORE
    error: str | None = None
    #: what happened to the Databricks serving endpoint (None: not attempted, e.g. a dry run)
    serving: str | None = None
    serving_failed: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "champion": f"v{self.plan.from_version} -> v{self.plan.to_version}",
            "tables_restored": len(self.restored),
        }


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else None


def _gate_audit(platform: Platform) -> pd.DataFrame:
    """This model's rows of ``champion_challenger_audit`` (empty when there is none yet)."""
    fqn = platform.config.table("champion_challenger_audit")
    if not platform.store.exists(fqn):
        return pd.DataFrame()
    audit = platform.store.read(fqn)
    if "model_name" in audit.columns:
        audit = audit[audit["model_name"].isna() | (audit["model_name"] == platform.config.model_name)]
    return audit


def promotions(platform: Platform) -> pd.DataFrame:
    """PROMOTE rows of ``champion_challenger_audit`` that no later row superseded (oldest first)."""
    audit = _gate_audit(platform)
    if audit.empty:
        return audit
    cancelled = set(audit["supersedes"].dropna()) if "supersedes" in audit.columns else set()
    rows = audit[(audit["decision"] == "PROMOTE") & ~audit["decision_id"].isin(cancelled)]
    return rows.sort_values("decided_at").reset_index(drop=True)


def trained_feature_versions(platform: Platform, version: int) -> tuple[dict[str, int], str] | None:
    """The feature-table versions ``version`` was trained on, and the gate decision that recorded them.

    Taken from the gate's own decision on that version: its PROMOTE row first
    (even one whose alias move failed: what the model was trained on does not
    change), else its REJECT row. Rows that *cancel* another promotion
    (``supersedes`` set) are skipped: they are about another gate's run. An
    empty record (``{}``) is no record.
    """
    audit = _gate_audit(platform)
    if audit.empty or "challenger_feature_versions" not in audit.columns:
        return None
    rows = audit[audit["challenger_version"].astype("Int64") == version]
    if "supersedes" in rows.columns:
        rows = rows[rows["supersedes"].isna() | (rows["decision"] == "PROMOTE")]
    rows = rows.assign(_promote=rows["decision"] == "PROMOTE").sort_values(["_promote", "decided_at"])
    for _, row in rows[::-1].iterrows():
        versions = _decode(row["challenger_feature_versions"])
        if versions:
            return {str(t): int(v) for t, v in versions.items()}, str(row["decision_id"])
    return None


def gate_decision_of(platform: Platform, version: int) -> dict[str, Any] | None:
    """The latest gate row that judged ``version`` as the challenger (``decision``, ``reason``, ``decided_at``)."""
    audit = _gate_audit(platform)
    if audit.empty or "challenger_version" not in audit.columns:
        return None
    rows = audit[audit["challenger_version"].astype("Int64") == version]
    if rows.empty:
        return None
    row = rows.sort_values("decided_at").iloc[-1]
    return {k: row.get(k) for k in ("decision_id", "decision", "reason", "decided_at")}


def promotion_of(platform: Platform, version: int) -> dict[str, Any] | None:
    """The newest valid PROMOTE row that made ``version`` champion, JSON columns decoded."""
    rows = promotions(platform)
    if rows.empty:
        return None
    rows = rows[rows["challenger_version"].astype("Int64") == version]
    if rows.empty:
        return None
    row: dict[str, Any] = {str(k): v for k, v in rows.iloc[-1].to_dict().items()}
    for col in ("snapshot_aliases", "snapshot_feature_versions", "challenger_feature_versions"):
        row[col] = _decode(row.get(col))
    return row


class ModelRollback:
    """Plan (validate everything), then execute (aliases, tables, audit) with compensation."""

    def __init__(
        self,
        platform: Platform,
        registry: ModelRegistry | None = None,
        serving_manager: ModelServingManager | None = None,
    ) -> None:
        self.platform = platform
        self._registry = registry
        self._serving_manager = serving_manager

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry.from_platform(self.platform)
        return self._registry

    # -- planning ----------------------------------------------------------------------------
    def _aliases(self) -> dict[str, int]:
        try:
            return self.registry.aliases()
        except RegistryError as exc:
            raise RollbackRefused(f"cannot read the registry, nothing changed: {exc}") from exc

    def _check_version(self, version: int) -> None:
        name = self.registry.name
        if version < 1:
            raise RollbackRefused(f"version {version} is not a valid model version (versions start at 1)")
        try:
            info = self.registry.version_info(version)
        except RegistryError as exc:
            raise RollbackRefused(f"{name} has no version {version}; nothing changed ({exc})") from exc
        status = getattr(info, "status", None)
        if status is not None and not str(status).upper().endswith("READY"):
            raise RollbackRefused(f"{name} version {version} is {status}, not READY; nothing changed")

    def plan(self, to_version: int | None = None, *, restore_features: bool = False) -> RollbackPlan:
        """Validate and describe the rollback; raises :class:`RollbackRefused` and changes nothing."""
        name = self.registry.name
        before = self._aliases()
        current = before.get(CHAMPION)
        if current is None:
            raise RollbackRefused(f"{name} has no champion to roll back; nothing changed")
        promotion = promotion_of(self.platform, current)
        snapshot = (promotion or {}).get("snapshot_aliases") or {}
        after = dict(before)
        if to_version is not None:
            if to_version == current:
                raise RollbackRefused(f"version {to_version} is already the champion of {name}; nothing changed")
            self._check_version(to_version)
            target, source = to_version, f"--to-version {to_version}"
            after[PREVIOUS_CHAMPION] = current
        else:
            target_alias = before.get(PREVIOUS_CHAMPION)
            snapshot_champion = snapshot.get(CHAMPION)
            if target_alias is not None:
                target, source = target_alias, f"alias {PREVIOUS_CHAMPION}"
            elif snapshot_champion is not None:
                target, source = int(snapshot_champion), "promotion snapshot"
            else:
                raise RollbackRefused(
                    f"{name} v{current} has no previous champion (no {PREVIOUS_CHAMPION!r} alias and no "
                    "pre-promotion snapshot); use --to-version N; nothing changed"
                )
            if target == current:
                raise RollbackRefused(f"the previous champion v{target} is already the champion; nothing changed")
            self._check_version(target)
            if promotion is not None and snapshot.get(CHAMPION) == target:
                previous = snapshot.get(PREVIOUS_CHAMPION)
                if previous is None:
                    after.pop(PREVIOUS_CHAMPION, None)
                else:
                    after[PREVIOUS_CHAMPION] = int(previous)
            else:
                after[PREVIOUS_CHAMPION] = current
        after[CHAMPION] = target
        if after.get(CHALLENGER) == target:  # one version never holds both roles: it is now the champion
            after.pop(CHALLENGER)
        plan = RollbackPlan(
            model_name=name,
            from_version=current,
            to_version=target,
            source=source,
            aliases_before=before,
            aliases_after=after,
            snapshot_decision_id=(promotion or {}).get("decision_id"),
            restore_features=restore_features,
        )
        if restore_features:
            plan.feature_restores, plan.feature_source = self._feature_plan(target)
        plan.warnings = self._target_warnings(target)
        return plan

    def _target_warnings(self, target: int) -> list[str]:
        """Why ``target`` may be a bad champion: the gate did not promote it (rejected or failed validation)."""
        gate = gate_decision_of(self.platform, target)
        if gate is None or str(gate.get("decision")) == "PROMOTE":
            return []
        reason = f": {gate['reason']}" if gate.get("reason") else ""
        return [f"the gate decided {gate['decision']} for v{target} (decision {gate.get('decision_id')}){reason}"]

    def _feature_plan(self, target: int) -> tuple[list[FeatureRestore], str]:
        """RESTORE steps back to what ``target`` was trained on (see the module docstring for why not the snapshot)."""
        recorded = trained_feature_versions(self.platform, target)
        if recorded is None:
            raise RollbackRefused(
                f"no recorded feature-table versions that v{target} was trained on in champion_challenger_audit; "
                "roll back without --restore-features; nothing changed"
            )
        versions, decision_id = recorded
        where = f"the versions v{target} was trained on (gate decision {decision_id})"
        store = self.platform.store
        out = []
        for table, version in sorted(versions.items()):
            version = int(version)
            if not store.exists(table):
                raise RollbackRefused(f"{table} (from {where}) does not exist; nothing changed")
            latest = store.version(table)
            available = {int(h["version"]) for h in store.history(table)}
            if version > latest or version not in available:
                raise RollbackRefused(
                    f"{table} has no version {version} (latest {latest}; from {where}); nothing changed"
                )
            out.append(FeatureRestore(table, latest, version))
        return out, where

    # -- execution ---------------------------------------------------------------------------
    def run(
        self,
        to_version: int | None = None,
        *,
        restore_features: bool = False,
        dry_run: bool = False,
        reason: str | None = None,
        force: bool = False,
    ) -> RollbackResult:
        interrupted = self.interrupted()
        if interrupted is not None and not dry_run:
            rollback_id, recorded = interrupted
            log.warning("rollback %s was interrupted; finishing it before anything else", rollback_id)
            return self.execute(recorded, reason=reason, resume_id=rollback_id)
        plan = self.plan(to_version, restore_features=restore_features)
        if dry_run:
            return RollbackResult(None, plan, "dry_run")
        if plan.warnings and not force:
            raise RollbackRefused(
                f"{'; '.join(plan.warnings)}; pass --force to make it champion anyway; nothing changed"
            )
        return self.execute(plan, reason=reason)

    def interrupted(self) -> tuple[str, RollbackPlan] | None:
        """The newest ``started`` rollback of this model that never finished, with its recorded plan."""
        fqn = self.platform.config.table("rollback_audit")
        if not self.platform.store.exists(fqn):
            return None
        audit = self.platform.store.read(fqn)
        started = audit[(audit["status"] == "started") & (audit["model_name"] == self.platform.config.model_name)]
        if started.empty:
            return None
        row = started.sort_values("rolled_back_at").iloc[-1]
        restores = [
            FeatureRestore(str(r["table"]), int(r["from_version"]), int(r["to_version"]))
            for r in json.loads(row["feature_restores"] or "[]")
        ]
        plan = RollbackPlan(
            model_name=str(row["model_name"]),
            from_version=int(row["from_version"]),
            to_version=int(row["to_version"]),
            source=str(row["source"]),
            aliases_before={k: int(v) for k, v in json.loads(row["aliases_before"]).items()},
            aliases_after={k: int(v) for k, v in json.loads(row["aliases_after"]).items()},
            feature_restores=restores,
            snapshot_decision_id=None if pd.isna(row["snapshot_decision_id"]) else str(row["snapshot_decision_id"]),
            restore_features=bool(restores),
        )
        if restores:  # the same words as the plan that was interrupted (they are not in the row)
            recorded = trained_feature_versions(self.platform, plan.to_version)
            if recorded is not None:
                plan.feature_source = f"the versions v{plan.to_version} was trained on (gate decision {recorded[1]})"
        return str(row["rollback_id"]), plan

    def execute(self, plan: RollbackPlan, *, reason: str | None = None, resume_id: str | None = None) -> RollbackResult:
        """Apply a plan; reverses completed steps on failure (then raises :class:`RollbackFailed`).

        ``resume_id``: finish that interrupted rollback (its ``started`` row holds ``plan``): the
        steps are re-applied to the recorded targets, and the pre-checks against the plan's
        starting state are skipped (the killed attempt may have done some of the steps).
        """
        store = self.platform.store
        if resume_id is None:
            if self._aliases() != plan.aliases_before:
                raise RollbackRefused(
                    "the registry aliases changed since the plan was made; plan again; nothing changed"
                )
            for r in plan.feature_restores:
                if store.version(r.table) != r.current_version:
                    raise RollbackRefused(f"{r.table} moved since the plan was made; plan again; nothing changed")
        rollback_id = resume_id or uuid.uuid4().hex
        restored: dict[str, int] = {}
        if resume_id is None:  # the intent first: a killed rollback is finished by the next one
            self._audit(RollbackResult(rollback_id, plan, "started"), reason)
            crashpoint("rollback.after_audit")
        try:
            self.registry.apply_aliases(plan.aliases_after)
            crashpoint("rollback.after_aliases")
            for r in plan.feature_restores:
                if not r.noop:
                    restored[r.table] = store.restore(r.table, r.target_version)
            crashpoint("rollback.after_features")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            undo_errors = self._undo(plan, restored)
            if undo_errors:
                error += f"; undo incomplete: {'; '.join(undo_errors)}"
            result = RollbackResult(rollback_id, plan, "failed", restored, error)
            self._audit(result, reason)
            self._alert(result)
            raise RollbackFailed(f"rollback of {plan.model_name} failed and was reversed: {error}") from exc
        result = RollbackResult(rollback_id, plan, "done", restored)
        self._serve(result)  # before ``done``: a rollback killed before its endpoint moved is finished later
        crashpoint("rollback.after_endpoint")
        self._audit(result, reason)
        self._alert(result)
        log.info("rollback %s: %s", rollback_id, "; ".join(plan.describe()))
        return result

    def _serve(self, result: RollbackResult) -> None:
        """Put the restored champion on the serving endpoint (Databricks), as a deploy would.

        The registry rollback stands either way; an endpoint that cannot follow is reported
        (``serving_failed``) and alerted, so on-call knows the old model is not yet serving.
        """
        version = result.plan.to_version
        try:
            result.serving = update_serving_endpoint(self.platform, version, manager=self._serving_manager).detail
        except DeploymentError as exc:
            result.serving, result.serving_failed = str(exc), True
            AlertManager.from_platform(self.platform).send(
                title=f"Rollback {result.rollback_id}: endpoint still serves the old model",
                message=f"the champion alias is back on v{version}, but {exc}",
                severity="critical",
                source="rollback",
                context={"rollback_id": result.rollback_id},
            )

    def _undo(self, plan: RollbackPlan, restored: dict[str, int]) -> list[str]:
        errors = []
        try:
            self.registry.apply_aliases(plan.aliases_before)
        except Exception as exc:
            errors.append(f"aliases: {exc}")
        for r in plan.feature_restores:
            if r.table in restored:
                try:
                    self.platform.store.restore(r.table, r.current_version)
                except Exception as exc:
                    errors.append(f"{r.table}: {exc}")
        return errors

    def _audit(self, result: RollbackResult, reason: str | None) -> None:
        plan = result.plan
        try:
            operator = getpass.getuser()
        except Exception:
            operator = None
        row = {
            "rollback_id": result.rollback_id,
            "rolled_back_at": datetime.now(UTC),
            "env": self.platform.config.env,
            "model_name": plan.model_name,
            "status": result.status,
            "from_version": plan.from_version,
            "to_version": plan.to_version,
            "source": plan.source,
            "reason": reason,
            "aliases_before": json.dumps(plan.aliases_before, sort_keys=True),
            "aliases_after": json.dumps(plan.aliases_after, sort_keys=True),
            "feature_restores": json.dumps(
                [
                    {
                        "table": r.table,
                        "from_version": r.current_version,
                        "to_version": r.target_version,
                        "new_version": result.restored.get(r.table),
                    }
                    for r in plan.feature_restores
                ]
            ),
            "snapshot_decision_id": plan.snapshot_decision_id,
            "operator": operator,
            "error": result.error,
        }
        # one row per rollback: ``started`` (the intent), then updated in place to done / failed
        self.platform.store.merge(
            self.platform.config.table("rollback_audit"),
            pa.Table.from_pylist([row], schema=spec("rollback_audit").schema),
            ["rollback_id"],
            update=True,
        )

    def _alert(self, result: RollbackResult) -> None:
        plan = result.plan
        AlertManager.from_platform(self.platform).send(
            title=f"Rollback {result.status}: {plan.model_name} v{plan.from_version} -> v{plan.to_version}",
            message="; ".join(plan.describe()) + (f"; error: {result.error}" if result.error else ""),
            severity="critical" if result.status == "failed" else "warning",
            source="rollback",
            context={"rollback_id": result.rollback_id, "tables_restored": len(result.restored)},
        )
