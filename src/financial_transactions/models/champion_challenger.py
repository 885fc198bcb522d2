"""``ChampionChallenger``: the fail-closed promotion gate.

Rules
-----
* **Same data.** Champion and challenger are loaded from the registry as pyfuncs
  and re-scored on the *same* current holdout; neither's stored metrics are trusted.
* **A gain beyond noise.** The primary-metric gain (challenger − champion) is
  estimated with a *paired*, class-stratified bootstrap of that holdout
  (``gate.bootstrap_resamples`` resamples, ``gate.seed``; both models scored on
  the same resamples, see :func:`models.metrics.paired_difference`). PROMOTE needs
  its one-sided lower confidence bound (``gate.confidence``) to reach ``gate.margin``:
  on a holdout with a few dozen anomalies the point gain of an equally good model
  clears a fixed margin a third of the time; its lower bound does in under 5 %.
* **Matched operating points.** The recall guardrail compares both models cut at
  the *same* operating point, the same FPR (``gate.operating_point = fpr``) or the
  same share of rows flagged (``alert_rate``, an analyst's alert budget), at
  ``gate.operating_value``: ``challenger - champion >= -guardrails.recall_tolerance``.
  Each model's own stored threshold is never compared: a model that flags 9 % of
  bars "wins" recall against one that flags 1 %. Both own-threshold recalls are
  still recorded, for information.
* **Latency against an objective.** The challenger's median time over
  ``gate.latency_repeats`` timings (after one warm call) of one batch of
  ``guardrails.latency_batch_rows`` holdout rows must be within
  ``guardrails.latency_objective_ms``. The champion is timed the same way, for the
  record only: a ratio of two timings on a shared machine measures the machine.
* **First deploy.** Auto-promote only when the registry *positively* lists the
  model's aliases without ``champion``.
* **Fail closed.** Any other registry error, or a model that cannot be loaded or
  scored, is REJECT plus an alert, never a promotion.

Aliases on promotion: the old champion gets ``previous-champion``, the
challenger gets ``champion`` and loses ``challenger`` (if ``challenger`` already
names a newer version, that one keeps it); ``latest-model`` is left on the newest
version. A rejected challenger keeps ``challenger``.

Audit table ``champion_challenger_audit`` (one row per decision, key ``decision_id``)
--------------------------------------------------------------------------------
``decision_id`` (str), ``decided_at`` (timestamp UTC), ``model_name``, ``env``,
``decision`` ("PROMOTE" | "REJECT"), ``first_deploy`` (bool), ``reason`` (str),
``primary_metric``, ``challenger_version`` (long), ``champion_version`` (long, null
when none), ``challenger_primary`` / ``champion_primary`` (double), ``margin``
(challenger − champion, double), ``required_margin``, the test (``margin_lower`` /
``margin_upper`` one-sided bounds, ``confidence``, ``test`` in words,
``challenger_primary_se`` / ``champion_primary_se``), ``challenger_recall`` /
``champion_recall`` (at each model's own threshold, information only), the matched
operating point (``operating_point``, ``operating_value``,
``challenger_matched_recall`` / ``champion_matched_recall`` and the cuts
``*_matched_threshold``), ``challenger_latency_ms`` / ``champion_latency_ms``
(medians), ``latency_objective_ms``, ``latency_batch_rows``,
``challenger_metrics`` / ``champion_metrics`` (JSON object of every metric),
``state_before`` / ``state_after`` (JSON object alias → version; ``state_after`` of
a PROMOTE is the alias map read back from the registry after the change),
``holdout_rows``, ``holdout_anomalies``, ``error`` (str, null unless something
failed), ``alerted`` (bool), ``supersedes`` (the ``decision_id`` of a PROMOTE row
that this REJECT row cancels, see below), ``git_sha``, ``config_hash``, and the **promotion
snapshot** the rollback reads (null on REJECT):

* ``snapshot_aliases`` – JSON object alias → version, taken just before the
  aliases moved (its ``champion`` entry is the version a rollback re-points to);
* ``snapshot_feature_versions`` – JSON object table fqn → Delta version of the
  feature tables (``trade_features``, ``train_set``, ``test_set``) before this
  training run rewrote them (tables that did not exist yet are absent);
* ``challenger_feature_versions`` – JSON object table fqn → Delta version the
  challenger was trained and evaluated on.

The PROMOTE row is appended *before* the aliases move, so a snapshot exists for
every promotion. Two gates racing must never both promote; the gate guarantees it with
three checks, in this order, just before it commits:

1. it re-reads the aliases: any change since it read them at its start -> REJECT;
2. it reads the audit table at the version it read at its start and looks for a
   **pending promotion**: the newest PROMOTE row that nothing supersedes while the
   aliases still equal that row's ``snapshot_aliases`` (recorded, aliases not moved
   yet: another gate is replacing the champion right now) -> REJECT, fail closed. A
   pending row older than ``gate.pending_promotion_timeout_seconds`` was interrupted
   (its process died between the two steps): the gate cancels it with a REJECT row
   that supersedes it (committed conditionally, as below), alerts, and goes on;
3. it appends its PROMOTE row with optimistic concurrency (``append_if_version`` on
   that same audit version): a row that any other gate committed meanwhile makes the
   append fail -> REJECT.

So a gate that started after another's PROMOTE row sees it in step 2, and one that
started before it fails step 3. If moving the aliases then fails, the gate restores the
snapshot's aliases, appends a REJECT row explaining why (``supersedes`` = the PROMOTE
row's id, so that row is no longer a promotion) and alerts. :func:`latest_promotion`
returns the newest PROMOTE row that no later row supersedes.

An audit write that fails for any other reason (storage down, permissions) is a
REJECT with ``error`` set and a critical alert, never an unhandled exception: a PROMOTE
whose row could not be written does not move any alias.

Alerts
------
``alert`` is any ``Callable[[GateAlert], None]``. By default the gate uses the
monitoring ``AlertManager`` (``financial_transactions.monitoring.alerting``)
when it is installed, else :func:`log_alert` (an ERROR log record). An alert
that fails to send is logged and never changes the decision.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.config.ml import GateConfig
from financial_transactions.lakehouse import ConcurrentModification
from financial_transactions.lakehouse.catalog import TableKind, spec, specs_of
from financial_transactions.models.metrics import (
    OperatingPoint,
    PairedDifference,
    evaluate_predictions,
    operating_point,
    paired_difference,
)
from financial_transactions.models.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    ModelRegistry,
    RegistryError,
)
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint
from financial_transactions.runtime.journal import scoped_id

log = logging.getLogger(__name__)

PROMOTE: Final = "PROMOTE"
REJECT: Final = "REJECT"
FEATURE_TABLE_KEYS = tuple(s.key for s in specs_of(TableKind.FEATURE))


# -- alerts ----------------------------------------------------------------------
@dataclass(frozen=True)
class GateAlert:
    """What the gate tells on-call: a title, a message, a severity and the figures."""

    title: str
    message: str
    severity: Literal["critical", "warning", "info"]
    context: dict[str, Any] = field(default_factory=dict)


AlertCallback = Callable[[GateAlert], None]


def log_alert(alert: GateAlert) -> None:
    """The fallback sink: an ERROR log record (always visible in job logs)."""
    log.error("ALERT [%s] %s: %s %s", alert.severity, alert.title, alert.message, json.dumps(alert.context))


def default_alert_callback(platform: Platform) -> AlertCallback:
    """The monitoring AlertManager when installed, else :func:`log_alert`."""
    try:
        from financial_transactions.monitoring import alerting  # type: ignore[attr-defined]
    except ImportError:
        return log_alert
    manager_cls = getattr(alerting, "AlertManager", None)
    if manager_cls is None:
        return log_alert
    try:
        factory = getattr(manager_cls, "from_platform", manager_cls)
        manager = factory(platform)
    except Exception as exc:  # an alert channel that cannot be built must not break the gate
        log.error("gate: AlertManager unavailable (%s); alerts go to the log", exc)
        return log_alert

    def send(alert: GateAlert) -> None:
        manager.send(
            title=alert.title,
            message=alert.message,
            severity=alert.severity,
            source="champion_challenger",
            context=alert.context,
        )
        log_alert(alert)

    return send


# -- scoring and the pure decision ---------------------------------------------------
@dataclass
class GateScore:
    """One model re-scored on the gate's holdout: its metrics, its cut at the matched operating point, its latency."""

    version: int
    metrics: dict[str, float]
    latency_ms: float  # median of the timed batches
    rows: int
    matched: OperatingPoint | None = None
    latency_samples_ms: list[float] = field(default_factory=list)
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)
    flags: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def recall(self) -> float:
        """Recall at the model's own stored threshold (recorded; the gate judges :attr:`matched_recall`)."""
        return self.metrics["recall"]

    @property
    def matched_recall(self) -> float | None:
        return self.matched.recall if self.matched is not None else None

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "metrics": self.metrics,
            "latency_ms": self.latency_ms,
            "rows": self.rows,
            "matched": asdict(self.matched) if self.matched is not None else None,
        }


def latency_batch(holdout: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The holdout's rows repeated (or cut) to exactly ``rows`` rows: one batch of the service objective's size."""
    return holdout.iloc[np.resize(np.arange(len(holdout)), rows)].reset_index(drop=True)


def time_batches(model: Any, batch: pd.DataFrame, repeats: int) -> list[float]:
    """``repeats`` timings (ms) of scoring ``batch``, after one untimed warm call (lazy loading is not latency)."""
    if repeats < 1:
        raise ValueError("latency repeats must be at least 1")
    model.predict(batch)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(batch)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def score_model(
    model: Any,
    version: int,
    holdout: pd.DataFrame,
    y: np.ndarray,
    *,
    cfg: GateConfig,
    k: int,
    fixed_fpr: float,
) -> GateScore:
    """Every metric from the pyfunc's own output, the cut at the matched operating point, the median latency."""
    schema = model.metadata.get_input_schema()
    rows = holdout[schema.input_names()] if schema is not None else holdout  # the columns it was built for
    out = model.predict(rows)
    if "score" not in out or "label" not in out:
        raise ValueError(f"version {version} returned columns {list(out.columns)}; expected score and label")
    scores = out["score"].to_numpy(dtype=np.float64)
    flags = out["label"].to_numpy() == 1
    metrics = evaluate_predictions(y, scores, flags, k=k, fixed_fpr=fixed_fpr)
    matched = operating_point(y, scores, cfg.operating_point, cfg.operating_value)
    g = cfg.guardrails
    samples = time_batches(model, latency_batch(rows, g.latency_batch_rows), cfg.latency_repeats)
    median = float(np.median(samples))
    metrics["inference_rows_per_s"] = g.latency_batch_rows / max(median / 1000.0, 1e-9)
    return GateScore(version, metrics, median, len(holdout), matched, samples, scores, flags)


def _metric_fn(name: str, k: int, fixed_fpr: float) -> Any:
    """``metric(y, scores, flags)`` for the bootstrap of a primary metric other than PR-AUC."""

    def fn(y: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> float:
        return evaluate_predictions(y, scores, flags, k=k, fixed_fpr=fixed_fpr)[name]

    return fn


def compare(
    challenger: GateScore,
    champion: GateScore,
    y: np.ndarray,
    cfg: GateConfig,
    primary: str,
    *,
    k: int,
    fixed_fpr: float,
) -> PairedDifference:
    """The paired bootstrap of the primary-metric gain (challenger − champion) on the shared holdout."""
    if challenger.scores is None or champion.scores is None or challenger.flags is None or champion.flags is None:
        raise ValueError("both models need their holdout scores for the paired test")
    return paired_difference(
        y,
        (challenger.scores, challenger.flags),
        (champion.scores, champion.flags),
        metric=primary,
        metric_fn=_metric_fn(primary, k, fixed_fpr),
        confidence=cfg.confidence,
        resamples=cfg.bootstrap_resamples,
        seed=cfg.seed,
    )


def _where(cfg: GateConfig) -> str:
    what = "FPR" if cfg.operating_point == "fpr" else "alert rate"
    return f"{what} {cfg.operating_value:g}"


def decide(
    challenger: GateScore,
    champion: GateScore | None,
    cfg: GateConfig,
    primary: str,
    test: PairedDifference | None = None,
) -> tuple[Literal["PROMOTE", "REJECT"], str]:
    """The promotion rule (pure): the gain's lower bound, recall at the matched cut, latency vs the objective."""
    g = cfg.guardrails
    problems = []
    slow = challenger.latency_ms > g.latency_objective_ms
    latency = (
        f"median latency {challenger.latency_ms:.1f} ms for {g.latency_batch_rows:,} rows "
        f"({'above' if slow else 'within'} the {g.latency_objective_ms:g} ms objective)"
    )
    if champion is None:
        if slow:
            return REJECT, f"first deploy refused: latency guardrail: {latency}"
        return PROMOTE, f"first deploy: the registry lists no champion; {latency}"
    if challenger.version == champion.version:
        return REJECT, f"version {challenger.version} is already the champion"
    if test is None:
        raise ValueError("a challenger against a champion needs the paired test")
    gain = (
        f"{primary} gain {test.estimate:+.4f} ({challenger.metrics[primary]:.4f} vs champion "
        f"{champion.metrics[primary]:.4f}), {test.confidence:.0%} lower bound {test.lower:+.4f}"
    )
    if test.lower < cfg.margin - 1e-12:
        problems.append(f"{gain} below the required margin {cfg.margin:.4f} (not shown beyond noise)")
    ch, cp = challenger.matched_recall, champion.matched_recall
    if ch is None or cp is None:
        raise ValueError("both models need their matched operating point")
    recall = f"recall at {_where(cfg)} {ch:.4f} vs champion {cp:.4f}"
    if ch < cp - g.recall_tolerance - 1e-12:
        problems.append(f"recall guardrail: {recall} (tolerance {g.recall_tolerance:.4f})")
    if slow:
        problems.append(f"latency guardrail: {latency}")
    if problems:
        return REJECT, "; ".join(problems)
    return PROMOTE, f"{gain} >= margin {cfg.margin:.4f}; {recall}; {latency}"


# -- the gate -------------------------------------------------------------------------
@dataclass
class GateDecision:
    decision_id: str
    decision: Literal["PROMOTE", "REJECT"]
    reason: str
    challenger_version: int
    champion_version: int | None
    first_deploy: bool
    challenger: GateScore | None
    champion: GateScore | None
    margin: float | None
    state_before: dict[str, int] | None
    state_after: dict[str, int] | None
    error: str | None = None
    alerted: bool = False
    supersedes: str | None = None
    test: PairedDifference | None = None
    #: the figures of a decision finished after a crash (read from its audit row: no scores in memory)
    recorded: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE

    def figures(self) -> dict[str, Any]:
        """The gate's numbers in one flat dict (run summaries): the gain with its bound, matched recalls, latency."""
        out: dict[str, Any] = {}
        if self.test is not None:
            out["gain"] = round(self.test.estimate, 4)
            out["gain_lower"] = round(self.test.lower, 4)
        ch, cp = self.challenger, self.champion
        if ch is not None and ch.matched is not None:
            out["matched_recall"] = round(ch.matched.recall, 4)
            if cp is not None and cp.matched is not None:
                out["champion_matched_recall"] = round(cp.matched.recall, 4)
        if ch is not None:
            out["latency_ms"] = round(ch.latency_ms, 1)
        return {**out, **{k: v for k, v in self.recorded.items() if k not in out}}

    def summary(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "margin": self.margin,
            "test": asdict(self.test) if self.test else None,
            "challenger": self.challenger.summary() if self.challenger else None,
            "champion": self.champion.summary() if self.champion else None,
        }


class ChampionChallenger:
    """Decide, audit and (on PROMOTE) move the registry aliases for one challenger version."""

    def __init__(
        self,
        platform: Platform,
        *,
        registry: ModelRegistry | None = None,
        alert: AlertCallback | None = None,
        git_sha: str | None = None,
    ) -> None:
        self.platform = platform
        self.cfg = platform.config
        self.registry = registry or ModelRegistry.from_platform(platform)
        self.alert = alert or default_alert_callback(platform)
        self.git_sha = git_sha or "unknown"

    # -- public ---------------------------------------------------------------
    def evaluate(
        self,
        challenger_version: int,
        holdout: pd.DataFrame,
        *,
        label_column: str = "label",
        feature_versions_before: Mapping[str, int] | None = None,
        challenger_feature_versions: Mapping[str, int] | None = None,
    ) -> GateDecision:
        """Re-score champion and challenger on ``holdout``; PROMOTE or REJECT; audit; move aliases.

        The decision id is run-scoped (see runtime.journal): when a resumed run finds the row its
        killed attempt recorded, the gate finishes that decision (:meth:`_resume`) instead of
        deciding again.
        """
        decision_id = scoped_id("gate.decision")
        try:
            recorded = self._recorded(decision_id)
        except Exception as exc:
            log.error("gate: cannot look up decision %s of an interrupted attempt: %s", decision_id, exc)
            recorded = None
        if recorded is not None:
            return self._resume(recorded)
        mcfg = self.cfg.models
        if label_column not in holdout.columns:
            raise ValueError(f"holdout lacks the label column {label_column!r}")
        y = holdout[label_column].to_numpy(dtype=np.int64)
        before_versions = dict(feature_versions_before) if feature_versions_before is not None else None
        trained_versions = dict(challenger_feature_versions or {})
        ctx = _Context(decision_id, challenger_version, holdout, y, before_versions, trained_versions)
        try:
            ctx.audit_version = self._audit_version()
        except Exception as exc:
            return self._fail(ctx, None, None, f"cannot read the audit table's version: {exc}")

        # 1. the registry's answer: aliases listed, or an error (never "no champion" by default)
        try:
            state_before = self.registry.aliases()
        except RegistryError as exc:
            return self._fail(ctx, None, None, f"registry error while reading aliases: {exc}")
        champion_version = state_before.get(CHAMPION)
        ctx.champion_version = champion_version

        # 2. the challenger, scored on the holdout
        try:
            challenger_model = self.registry.load(challenger_version)
            challenger = score_model(
                challenger_model,
                challenger_version,
                holdout,
                y,
                cfg=self.cfg.gate,
                k=mcfg.precision_at_k,
                fixed_fpr=mcfg.fixed_fpr,
            )
        except Exception as exc:
            return self._fail(ctx, state_before, None, f"challenger version {challenger_version} unusable: {exc}")

        # 3. the champion on the same holdout (absent only on the registry's positive answer)
        champion: GateScore | None = None
        if champion_version is not None:
            try:
                champion_model = self.registry.load(champion_version)
                champion = score_model(
                    champion_model,
                    champion_version,
                    holdout,
                    y,
                    cfg=self.cfg.gate,
                    k=mcfg.precision_at_k,
                    fixed_fpr=mcfg.fixed_fpr,
                )
            except Exception as exc:
                return self._fail(ctx, state_before, challenger, f"champion version {champion_version} unusable: {exc}")

        # 4. the paired test of the gain, on the same holdout (a test that cannot be computed rejects)
        test: PairedDifference | None = None
        if champion is not None and champion.version != challenger.version:
            try:
                test = compare(
                    challenger, champion, y, self.cfg.gate, mcfg.primary_metric,
                    k=mcfg.precision_at_k, fixed_fpr=mcfg.fixed_fpr,
                )  # fmt: skip
            except Exception as exc:
                return self._fail(
                    ctx, state_before, challenger, f"the paired test could not be computed: {exc}", champion=champion
                )
        decision, reason = decide(challenger, champion, self.cfg.gate, mcfg.primary_metric, test)
        margin = (
            challenger.metrics[mcfg.primary_metric] - champion.metrics[mcfg.primary_metric]
            if champion is not None
            else None
        )
        result = GateDecision(
            decision_id=decision_id,
            decision=decision,
            reason=reason,
            challenger_version=challenger_version,
            champion_version=champion_version,
            first_deploy=champion_version is None,
            challenger=challenger,
            champion=champion,
            margin=margin,
            state_before=state_before,
            state_after=dict(state_before),
            test=test,
        )
        if decision == REJECT:
            try:
                self._audit(ctx, result)
            except Exception as exc:
                self._audit_failed(ctx, result, exc)
            log.warning("gate: REJECT version %s: %s", challenger_version, reason)
            return result
        return self._promote(ctx, result)

    # -- internals ------------------------------------------------------------
    def _promote(self, ctx: _Context, result: GateDecision) -> GateDecision:
        before = dict(result.state_before or {})
        # the promoted version loses ``challenger``; a newer challenger (another version) keeps it
        target = {k: v for k, v in before.items() if not (k == CHALLENGER and v == result.challenger_version)}
        if result.champion_version is not None:
            target[PREVIOUS_CHAMPION] = result.champion_version
        target[CHAMPION] = result.challenger_version
        result.state_after = target
        snapshot_features = ctx.feature_versions_before
        try:
            if snapshot_features is None:
                snapshot_features = self.current_feature_versions()
        except Exception as exc:
            return self._fail(
                ctx,
                before,
                result.challenger,
                f"cannot read the feature tables' versions: {exc}",
                champion=result.champion,
            )
        # 1. the aliases this decision was made on must still be the registry's
        try:
            now = self.registry.aliases()
        except RegistryError as exc:
            return self._fail(
                ctx, before, result.challenger, f"registry error before promotion: {exc}", champion=result.champion
            )
        if now != before:
            return self._fail(
                ctx,
                before,
                result.challenger,
                f"aliases changed while the gate was deciding ({before} -> {now}); not promoting on stale state",
                champion=result.champion,
            )
        # 2. no other gate may be between recording its PROMOTE and moving the aliases
        try:
            pending = self._pending_promotion(ctx, now)
        except Exception as exc:
            return self._fail(
                ctx, before, result.challenger, f"cannot read the audit table: {exc}", champion=result.champion
            )
        if pending is not None:
            age = (datetime.now(UTC) - pending.decided_at).total_seconds()
            timeout = self.cfg.gate.pending_promotion_timeout_seconds
            if age < timeout:
                return self._fail(
                    ctx,
                    before,
                    result.challenger,
                    f"the champion is being replaced: promotion {pending.decision_id} of version "
                    f"{pending.challenger_version} was recorded {age:.0f} s ago and its aliases have not moved "
                    "yet; not promoting on top of it",
                    champion=result.champion,
                )
            try:
                self._cancel_interrupted(ctx, pending, now, age)
            except ConcurrentModification as exc:
                return self._lost_race(ctx, before, result, exc)
            except Exception as exc:
                return self._fail(
                    ctx,
                    before,
                    result.challenger,
                    f"could not cancel the interrupted promotion {pending.decision_id}: {exc}",
                    champion=result.champion,
                )
        # 3. the snapshot is durable before anything moves: the rollback can always find it. The row is
        # committed only if no other gate decision landed since this one started (optimistic concurrency).
        try:
            self._audit(
                ctx,
                result,
                snapshot_aliases=before,
                snapshot_features=snapshot_features,
                expected_version=ctx.audit_version,
            )
        except ConcurrentModification as exc:
            return self._lost_race(ctx, before, result, exc)
        except Exception as exc:
            return self._fail(
                ctx,
                before,
                result.challenger,
                f"the promotion could not be recorded in the audit table ({type(exc).__name__}: {exc}); no alias moved",
                champion=result.champion,
            )
        crashpoint("gate.after_audit")
        try:
            self.registry.apply_aliases(target)
            result.state_after = self.registry.aliases()
            if result.state_after.get(CHAMPION) != result.challenger_version:
                raise RegistryError(f"champion alias reads {result.state_after.get(CHAMPION)} after promotion")
        except Exception as exc:
            restore_error = ""
            try:
                self.registry.apply_aliases(before)
            except Exception as restore_exc:
                restore_error = f"; restoring the snapshot also failed: {restore_exc}"
            return self._fail(
                ctx,
                before,
                result.challenger,
                f"promotion of version {result.challenger_version} failed while moving aliases: {exc}{restore_error}",
                champion=result.champion,
                supersedes=result.decision_id,
            )
        log.info("gate: PROMOTE version %s: %s", result.challenger_version, result.reason)
        return result

    def _recorded(self, decision_id: str) -> dict[str, Any] | None:
        """The audit row of ``decision_id`` if an interrupted attempt of this run already recorded it."""
        fqn = self.cfg.table("champion_challenger_audit")
        if not self.platform.store.exists(fqn):
            return None
        audit = self.platform.store.read(fqn)
        rows = audit[audit["decision_id"] == decision_id]
        return None if rows.empty else {str(k): v for k, v in rows.iloc[0].to_dict().items()}

    def _resume(self, row: dict[str, Any]) -> GateDecision:
        """Finish the decision an interrupted attempt recorded: a REJECT stands; a PROMOTE's aliases are
        moved to the row's intent (``state_after``) unless another promotion moved the champion since."""
        version = int(row["challenger_version"])
        champion = None if pd.isna(row["champion_version"]) else int(row["champion_version"])

        def aliases_of(col: str) -> dict[str, int]:
            return {k: int(v) for k, v in json.loads(row[col]).items()} if isinstance(row[col], str) else {}

        result = GateDecision(
            decision_id=str(row["decision_id"]),
            decision=PROMOTE if row["decision"] == PROMOTE else REJECT,
            reason=str(row["reason"]),
            challenger_version=version,
            champion_version=champion,
            first_deploy=bool(row["first_deploy"]),
            challenger=None,
            champion=None,
            margin=None if pd.isna(row["margin"]) else float(row["margin"]),
            state_before=aliases_of("state_before"),
            state_after=aliases_of("state_after"),
            error=None if pd.isna(row["error"]) else str(row["error"]),
        )
        figures = {
            "gain": row["margin"],
            "gain_lower": row["margin_lower"],
            "matched_recall": row["challenger_matched_recall"],
            "champion_matched_recall": row["champion_matched_recall"],
        }
        # the same figures an uninterrupted decision reports (GateDecision.figures), from its row
        result.recorded = {k: round(float(v), 4) for k, v in figures.items() if v is not None and not pd.isna(v)}
        if not pd.isna(row["challenger_latency_ms"]):
            result.recorded["latency_ms"] = round(float(row["challenger_latency_ms"]), 1)
        superseded = self._superseded(result.decision_id)
        if result.decision == REJECT or superseded:
            log.warning(
                "gate: decision %s on version %s was recorded by the interrupted attempt", result.decision_id, version
            )
            if superseded:
                result.decision = REJECT
            return result
        target, snapshot = aliases_of("state_after"), aliases_of("snapshot_aliases")
        now = self.registry.aliases()
        if now != target:
            if now.get(CHAMPION) not in (snapshot.get(CHAMPION), version):
                ctx = _Context(
                    scoped_id("gate.decision"), version, pd.DataFrame(), np.zeros(0, dtype=np.int64), None, {}
                )
                ctx.champion_version, ctx.audited = champion, True
                return self._fail(
                    ctx,
                    snapshot,
                    None,
                    f"interrupted promotion {result.decision_id} of version {version} not finished: the champion "
                    f"moved to {now.get(CHAMPION)} since it was recorded ({snapshot} -> {now})",
                    supersedes=result.decision_id,
                )
            self.registry.apply_aliases(target)
            log.warning(
                "gate: finished the interrupted promotion %s of version %s (aliases %s -> %s)",
                result.decision_id, version, now, target,
            )  # fmt: skip
        result.state_after = self.registry.aliases()
        return result

    def _superseded(self, decision_id: str) -> bool:
        audit = self.platform.store.read(self.cfg.table("champion_challenger_audit"))
        return bool((audit["supersedes"] == decision_id).any())

    def _pending_promotion(self, ctx: _Context, aliases: dict[str, int]) -> _Promotion | None:
        """The newest live PROMOTE row (at the audit version this gate conditions on) whose aliases
        have not moved yet: the registry still shows exactly that row's pre-promotion snapshot."""
        if ctx.audit_version < 0:
            return None
        audit = self.platform.store.read(self.cfg.table("champion_challenger_audit"), version=ctx.audit_version)
        live = _live_promotions(audit[audit["model_name"] == self.cfg.model_name])
        if live.empty:
            return None
        row = live.iloc[-1]
        snapshot = json.loads(row["snapshot_aliases"]) if isinstance(row["snapshot_aliases"], str) else None
        if snapshot is None or {k: int(v) for k, v in snapshot.items()} != aliases:
            return None
        return _Promotion(
            decision_id=str(row["decision_id"]),
            challenger_version=int(row["challenger_version"]),
            champion_version=None if pd.isna(row["champion_version"]) else int(row["champion_version"]),
            decided_at=pd.Timestamp(row["decided_at"]).tz_convert(UTC).to_pydatetime(),
        )

    def _cancel_interrupted(self, ctx: _Context, pending: _Promotion, aliases: dict[str, int], age: float) -> None:
        """Supersede a PROMOTE row whose gate died before moving the aliases (conditional append, alert)."""
        reason = (
            f"interrupted promotion {pending.decision_id} of version {pending.challenger_version} cancelled: "
            f"recorded {age:.0f} s ago (timeout {self.cfg.gate.pending_promotion_timeout_seconds:.0f} s), "
            f"aliases never moved ({aliases})"
        )
        cancel = GateDecision(
            decision_id=scoped_id("gate.decision"),
            decision=REJECT,
            reason=f"fail closed: {reason}",
            challenger_version=pending.challenger_version,
            champion_version=pending.champion_version,
            first_deploy=False,
            challenger=None,
            champion=None,
            margin=None,
            state_before=aliases,
            state_after=aliases,
            error=reason,
            supersedes=pending.decision_id,
        )
        cancel.alerted = self._send_alert(
            GateAlert(
                title=f"Model gate cancelled an interrupted promotion of {self.cfg.model_name} "
                f"v{pending.challenger_version}",
                message=reason,
                severity="warning",
                context={"model_name": self.cfg.model_name, "env": self.cfg.env, "cancelled": pending.decision_id},
            )
        )
        ctx.audit_version = self._audit(ctx, cancel, expected_version=ctx.audit_version)
        log.warning("gate: %s", reason)

    def current_feature_versions(self) -> dict[str, int]:
        """Delta versions of the feature tables that exist now."""
        out = {}
        for key in FEATURE_TABLE_KEYS:
            fqn = self.cfg.table(key)
            if self.platform.store.exists(fqn):
                out[fqn] = self.platform.store.version(fqn)
        return out

    def _lost_race(
        self, ctx: _Context, before: dict[str, int], result: GateDecision, exc: ConcurrentModification
    ) -> GateDecision:
        """Another gate decision committed first: this one must not promote on a stale view."""
        return self._fail(
            ctx,
            before,
            result.challenger,
            f"another gate decision was recorded while this one was being made ({exc}); not promoting",
            champion=result.champion,
        )

    def _fail(
        self,
        ctx: _Context,
        state_before: dict[str, int] | None,
        challenger: GateScore | None,
        error: str,
        *,
        champion: GateScore | None = None,
        supersedes: str | None = None,
    ) -> GateDecision:
        """Fail closed: REJECT, alert, audit."""
        result = GateDecision(
            decision_id=scoped_id("gate.decision") if ctx.audited else ctx.decision_id,
            decision=REJECT,
            reason=f"fail closed: {error}",
            challenger_version=ctx.challenger_version,
            champion_version=ctx.champion_version,
            first_deploy=False,
            challenger=challenger,
            champion=champion,
            margin=None,
            state_before=state_before,
            state_after=None,
            error=error,
            supersedes=supersedes,
        )
        try:
            result.state_after = self.registry.aliases()
        except Exception as exc:
            log.error("gate: cannot read aliases after failure: %s", exc)
        result.alerted = self._send_alert(
            GateAlert(
                title=f"Model gate rejected {self.cfg.model_name} v{ctx.challenger_version} (fail closed)",
                message=error,
                severity="critical",
                context=self._alert_context(ctx, result),
            )
        )
        try:
            self._audit(ctx, result)
        except Exception as exc:
            self._audit_failed(ctx, result, exc)
        log.error("gate: REJECT (fail closed) version %s: %s", ctx.challenger_version, result.error)
        return result

    def _alert_context(self, ctx: _Context, result: GateDecision) -> dict[str, Any]:
        return {
            "model_name": self.cfg.model_name,
            "env": self.cfg.env,
            "decision_id": result.decision_id,
            "challenger_version": ctx.challenger_version,
            "champion_version": ctx.champion_version,
        }

    def _audit_failed(self, ctx: _Context, result: GateDecision, exc: Exception) -> None:
        """The decision (always a REJECT here) stands, but its row is missing: say so and alert."""
        problem = f"the audit row could not be written ({type(exc).__name__}: {exc})"
        log.error("gate: %s; decision %s %s", problem, result.decision, result.decision_id)
        result.error = f"{result.error}; {problem}" if result.error else problem
        result.reason = f"{result.reason}; {problem}"
        result.alerted = (
            self._send_alert(
                GateAlert(
                    title=f"Model gate could not audit its decision on {self.cfg.model_name} v{ctx.challenger_version}",
                    message=f"{result.decision}: {result.reason}",
                    severity="critical",
                    context=self._alert_context(ctx, result),
                )
            )
            or result.alerted
        )

    def _send_alert(self, alert: GateAlert) -> bool:
        try:
            self.alert(alert)
            return True
        except Exception as exc:  # a broken alert channel never changes the decision
            log.error("gate: alert could not be sent (%s): %s", exc, alert.message)
            return False

    def _audit(
        self,
        ctx: _Context,
        result: GateDecision,
        *,
        snapshot_aliases: dict[str, int] | None = None,
        snapshot_features: dict[str, int] | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Append ``result``'s row (conditionally on ``expected_version`` when given); the new table version."""
        primary = self.cfg.models.primary_metric
        gate = self.cfg.gate
        ch, cp, test = result.challenger, result.champion, result.test
        ch_op = ch.matched if ch else None
        cp_op = cp.matched if cp else None
        row = {
            "decision_id": result.decision_id,
            "decided_at": datetime.now(UTC),
            "model_name": self.cfg.model_name,
            "env": self.cfg.env,
            "decision": result.decision,
            "first_deploy": result.first_deploy,
            "reason": result.reason,
            "primary_metric": primary,
            "challenger_version": result.challenger_version,
            "champion_version": result.champion_version,
            "challenger_primary": ch.metrics.get(primary) if ch else None,
            "champion_primary": cp.metrics.get(primary) if cp else None,
            "margin": result.margin,
            "required_margin": gate.margin,
            "margin_lower": test.lower if test else None,
            "margin_upper": test.upper if test else None,
            "confidence": test.confidence if test else None,
            "test": test.test if test else None,
            "challenger_primary_se": test.a_se if test else None,
            "champion_primary_se": test.b_se if test else None,
            "challenger_recall": ch.recall if ch else None,
            "champion_recall": cp.recall if cp else None,
            "operating_point": gate.operating_point,
            "operating_value": gate.operating_value,
            "challenger_matched_recall": ch_op.recall if ch_op else None,
            "champion_matched_recall": cp_op.recall if cp_op else None,
            "challenger_matched_threshold": ch_op.threshold if ch_op else None,
            "champion_matched_threshold": cp_op.threshold if cp_op else None,
            "challenger_latency_ms": ch.latency_ms if ch else None,
            "champion_latency_ms": cp.latency_ms if cp else None,
            "latency_objective_ms": gate.guardrails.latency_objective_ms,
            "latency_batch_rows": gate.guardrails.latency_batch_rows,
            "challenger_metrics": _json(ch.metrics) if ch else None,
            "champion_metrics": _json(cp.metrics) if cp else None,
            "state_before": _json(result.state_before),
            "state_after": _json(result.state_after),
            "snapshot_aliases": _json(snapshot_aliases),
            "snapshot_feature_versions": _json(snapshot_features),
            "challenger_feature_versions": _json(ctx.trained_feature_versions),
            "holdout_rows": len(ctx.holdout),
            "holdout_anomalies": int(ctx.y.sum()),
            "error": result.error,
            "alerted": result.alerted,
            "supersedes": result.supersedes,
            "git_sha": self.git_sha,
            "config_hash": self.cfg.config_hash,
        }
        table = pa.Table.from_pylist([row], schema=spec("champion_challenger_audit").schema)
        fqn = self.cfg.table("champion_challenger_audit")
        if expected_version is None:
            version = self.platform.store.append(fqn, table)
        else:
            version = self.platform.store.append_if_version(fqn, table, expected_version, ["decision_id"])
        ctx.audited = True
        return version

    def _audit_version(self) -> int:
        """The audit table's version now (-1 before its first row): a PROMOTE commits only on top of it."""
        fqn = self.cfg.table("champion_challenger_audit")
        return self.platform.store.version(fqn) if self.platform.store.exists(fqn) else -1


@dataclass
class _Context:
    decision_id: str
    challenger_version: int
    holdout: pd.DataFrame
    y: np.ndarray
    feature_versions_before: dict[str, int] | None
    trained_feature_versions: dict[str, int]
    champion_version: int | None = None
    audited: bool = False
    audit_version: int = -1


@dataclass(frozen=True)
class _Promotion:
    """A PROMOTE audit row, as far as the race checks need it."""

    decision_id: str
    challenger_version: int
    champion_version: int | None
    decided_at: datetime


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), sort_keys=True)


def _live_promotions(audit: pd.DataFrame) -> pd.DataFrame:
    """PROMOTE rows that no later row supersedes, oldest first."""
    cancelled = set(audit["supersedes"].dropna())
    return audit[(audit["decision"] == PROMOTE) & ~audit["decision_id"].isin(cancelled)].sort_values("decided_at")


def latest_promotion(platform: Platform) -> dict[str, Any] | None:
    """The newest PROMOTE audit row with its snapshot decoded (what a rollback starts from)."""
    fqn = platform.config.table("champion_challenger_audit")
    if not platform.store.exists(fqn):
        return None
    promoted = _live_promotions(platform.store.read(fqn))
    if promoted.empty:
        return None
    row = {str(k): v for k, v in promoted.iloc[-1].to_dict().items()}
    for col in ("snapshot_aliases", "snapshot_feature_versions", "challenger_feature_versions", "state_after"):
        row[col] = json.loads(row[col]) if isinstance(row[col], str) else None
    return row
