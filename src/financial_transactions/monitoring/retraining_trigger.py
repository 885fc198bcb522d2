"""``RetrainingTrigger``: drift/performance -> retrain, with a cooldown and a daily limit that hold under races.

The decision (pure, :func:`decide`)
-----------------------------------
1. Neither drift (``DriftReport.drift_detected``) nor a performance drop
   (:func:`assess_drop`) → ``no_drift``.
2. The last retraining that started is less than ``retraining.cooldown_hours``
   old → ``skipped_cooldown``.
3. ``retraining.daily_limit`` retrainings already started this UTC day
   → ``skipped_limit``.
4. Otherwise → ``triggered``.

A performance drop counts only when it is real (:func:`assess_drop`): the
champion's metric over the **whole current window** (every labelled row pooled,
at the baseline's base rate, see ``monitoring.performance_monitor``) is at least
``retraining.performance_drop`` below the baseline, the window holds at least
``retraining.performance.min_positives`` labelled anomalies, and the drop's lower
confidence bound is above zero: ``drop - z·sqrt(se_baseline² + se_current²) > 0``
with the two-sided ``performance.confidence`` z, the current value's bootstrap
standard error and the baseline's (the gate's bootstrap of its holdout), i.e. the
interval of the current value, widened by the baseline's own uncertainty, excludes
the baseline. A constant-quality model then triggers in well under 5 % of
evaluations; the old rule (latest rolling value, from 20 rows) did in 3–19 %.

"Started" means a ``triggered`` decision whose launch did not fail: its launch
rows say ``launching`` (written *before* the launcher runs, so a local retrain
that takes longer than ``launch_timeout_minutes`` keeps its slot while it runs)
or ``launched``, or it has no launch row yet (the launch is under way, so a racing
trigger must count it). A ``triggered`` decision with a launch row saying
``launch_failed`` (no such job, quota, task value not settable) or
``not_launched`` (``--no-launch``) started nothing: it is audited as such, uses
up neither the cooldown nor the daily limit, and the next cycle tries again. A
trigger that dies after writing ``launching`` keeps the slot (fail toward fewer
retrains); one that dies before it frees the slot after ``launch_timeout_minutes``.

Concurrency
-----------
The cooldown and the limit are read from ``retraining_audit`` and the decision
is written back to it with **Delta optimistic concurrency**: read the table at
version *v*, decide, then ``store.append_if_version(..., expected_version=v)``,
a conditional commit (a MERGE on ``event_id`` that read version *v*). If any
other trigger committed in between, the commit fails with
:class:`ConcurrentModification` and this trigger re-reads and decides again
(jittered backoff, at most ``retraining.max_commit_attempts`` times). So every
committed decision saw every earlier one: N racing triggers — threads,
processes or separate job runs on different clusters — never exceed the daily
limit or break the cooldown. No in-process lock is involved.

Only a trigger whose ``triggered`` row committed launches retraining, after the
commit. It first appends a ``launching`` row, runs the launcher, then appends the
outcome (both ``event_type = launch``, ``parent_event_id`` = the decision,
``decision`` = ``launching``, then ``launched`` | ``launch_failed``;
``--no-launch`` writes ``not_launched`` alone); the limit counts decisions, not
these rows.

Launching
---------
The runtime picks the launcher (``Runtime.retraining_launcher``, see :func:`default_launcher`):

* **Locally** :class:`LocalTrainingLauncher` runs the ``train`` stage in-process
  (``financial_transactions.models.training.run_training``).
* **On Databricks** ``runtime.launchers.DatabricksJobLauncher`` starts the retraining job
  with ``jobs.run_now`` (``idempotency_token`` = the event id, so a retried
  call never starts two runs) when ``retraining.launch = run_now``. With
  ``retraining.launch = task_value`` (the bundle's default) :class:`TaskValueOnly`
  *is* the launch: it sets the task value ``retraining.task_value_key`` to true
  through ``dbutils.jobs.taskValues``, and the workflow's ``condition_task``
  (``{{tasks.detect_drift.values.retrain}} == "true"``) runs the retraining job.

The task value is true exactly when the workflow has to start retraining now:
a committed ``triggered`` decision handed to :class:`TaskValueOnly`. Every other
run of a job task sets it false (no retraining, ``--no-launch``, or ``run_now``
already started the job: the condition must not start it a second time). A
task value that cannot be set (not a job run) makes the task-value launch
``launch_failed``, never a silent "launched".
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd
import pyarrow as pa

from financial_transactions.config.monitoring import RetrainingConfig
from financial_transactions.lakehouse import ConcurrentModification
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint
from financial_transactions.runtime.journal import scoped_id
from financial_transactions.runtime.launchers import Launcher, LaunchResult, TaskValueOnly
from financial_transactions.runtime.task_values import TaskValues

if TYPE_CHECKING:
    from rich.console import Console

    from financial_transactions.monitoring.drift_detector import DriftReport
    from financial_transactions.monitoring.performance_monitor import Estimate, PerformanceReport

log = logging.getLogger(__name__)

Decision = Literal["triggered", "skipped_cooldown", "skipped_limit", "no_drift"]
DECISIONS: tuple[Decision, ...] = ("triggered", "skipped_cooldown", "skipped_limit", "no_drift")


#: Launch outcomes that started no retraining: they count toward neither the cooldown nor the limit.
NOT_STARTED = ("launch_failed", "not_launched")
#: The launch row written before the launcher runs: the slot is held while it runs.
LAUNCHING = "launching"


class TriggerConflict(RuntimeError):
    """Every commit attempt lost a race; nothing was decided (raise the attempt limit or investigate)."""


# -- signals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DropAssessment:
    """Whether the champion's performance really dropped, with the figures that say so."""

    degraded: bool
    drop: float | None
    drop_lower: float | None  # lower confidence bound of the drop
    note: str  # why it counts, or why it does not


def assess_drop(
    baseline: float | None, baseline_se: float | None, current: Estimate | None, config: RetrainingConfig
) -> DropAssessment:
    """A drop counts with enough anomalies, a material size and a lower confidence bound above zero (pure)."""
    perf = config.performance
    if baseline is None or current is None or current.value is None:
        return DropAssessment(False, None, None, "no baseline or no current value")
    drop = baseline - current.value
    if current.positives < perf.min_positives:
        return DropAssessment(
            False, drop, None, f"too few anomalies to judge ({current.positives} < {perf.min_positives})"
        )
    if current.se is None:
        return DropAssessment(False, drop, None, "no interval for the current value")
    z = NormalDist().inv_cdf(0.5 + perf.confidence / 2.0)
    lower = drop - z * math.hypot(current.se, baseline_se or 0.0)
    if drop < config.performance_drop:
        return DropAssessment(False, drop, lower, f"drop below {config.performance_drop:g}")
    if lower <= 0:
        return DropAssessment(False, drop, lower, f"within noise: the drop's lower bound is {lower:+.3f}")
    return DropAssessment(True, drop, lower, f"degraded: the drop's lower bound is {lower:+.3f}")


@dataclass(frozen=True)
class TriggerSignals:
    """What the trigger decides from: the drift run and the champion's performance."""

    drift_detected: bool = False
    drift_run_id: str | None = None
    drifted_share: float | None = None
    drifted_features: tuple[str, ...] = ()
    performance_degraded: bool = False
    performance_metric: str | None = None
    performance_baseline: float | None = None
    performance_current: float | None = None
    performance_positives: int | None = None
    performance_min_positives: int | None = None
    performance_lower: float | None = None
    performance_upper: float | None = None
    performance_drop_lower: float | None = None
    performance_note: str | None = None

    @property
    def performance_drop(self) -> float | None:
        if self.performance_baseline is None or self.performance_current is None:
            return None
        return self.performance_baseline - self.performance_current

    @classmethod
    def from_reports(
        cls,
        drift: DriftReport | None,
        performance: PerformanceReport | None,
        config: RetrainingConfig,
    ) -> TriggerSignals:
        perf: dict[str, Any] = {}
        if performance is not None:
            overall = performance.overall
            verdict = assess_drop(performance.baseline, performance.baseline_se, overall, config)
            perf = {
                "performance_degraded": verdict.degraded,
                "performance_metric": performance.metric,
                "performance_baseline": performance.baseline,
                "performance_current": performance.current,
                "performance_positives": overall.positives if overall is not None else None,
                "performance_min_positives": config.performance.min_positives,
                "performance_lower": overall.lower if overall is not None else None,
                "performance_upper": overall.upper if overall is not None else None,
                "performance_drop_lower": verdict.drop_lower,
                "performance_note": verdict.note,
            }
        return cls(
            drift_detected=bool(drift and drift.drift_detected),
            drift_run_id=drift.run_id if drift else None,
            drifted_share=drift.drifted_share if drift else None,
            drifted_features=tuple(drift.drifted_features) if drift else (),
            **perf,
        )

    def describe(self) -> str:
        parts = []
        if self.drift_run_id is not None:
            share = f"{self.drifted_share:.2f}" if self.drifted_share is not None else "-"
            parts.append(
                f"drift {'detected' if self.drift_detected else 'not detected'} "
                f"(run {self.drift_run_id}, drifted share {share})"
            )
        if self.performance_drop is not None:
            band = (
                f" [{self.performance_lower:.3f}, {self.performance_upper:.3f}]"
                if self.performance_lower is not None and self.performance_upper is not None
                else ""
            )
            on = f" on {self.performance_positives} anomalies" if self.performance_positives is not None else ""
            note = self.performance_note or ("degraded" if self.performance_degraded else "")
            parts.append(
                f"{self.performance_metric} {self.performance_current:.3f}{band}{on} vs baseline "
                f"{self.performance_baseline:.3f} (drop {round(self.performance_drop, 3) + 0.0:.3f}"
                f"{', ' + note if note else ''})"
            )
        return "; ".join(parts) or "no signal"


# -- the pure decision ---------------------------------------------------------------------------
@dataclass(frozen=True)
class History:
    """What the audit says already happened: retrainings that started (or are starting)."""

    last_triggered_at: datetime | None
    triggered_today: int
    failed_today: int = 0  # triggered decisions today whose launch started nothing (not counted above)


def history_of(audit: pd.DataFrame, now: datetime, launch_timeout: timedelta | None = None) -> History:
    """Last start and today's (UTC) start count: ``triggered`` decisions minus those that started nothing.

    A decision started nothing when its launch row says so (failed, or ``--no-launch``), or
    when it has no launch row at all after ``launch_timeout``: its trigger died between
    recording the decision and launching. Younger decisions without a launch row are being
    launched right now and count, so racing triggers stay within the limits.
    """
    if audit.empty:
        return History(None, 0)
    triggered = audit[(audit["event_type"] == "decision") & (audit["decision"] == "triggered")]
    if triggered.empty:
        return History(None, 0)
    launch_rows = audit[audit["event_type"] == "launch"]
    launches = launch_rows[launch_rows["decision"].isin(NOT_STARTED)]
    not_started = triggered["event_id"].isin(set(launches["parent_event_id"].dropna()))
    if launch_timeout is not None:
        unanswered = ~triggered["event_id"].isin(set(launch_rows["parent_event_id"].dropna()))
        stale = pd.to_datetime(triggered["decided_at"], utc=True) < pd.Timestamp(now) - launch_timeout
        not_started = not_started | (unanswered & stale)
    day_start = pd.Timestamp(now.astimezone(UTC).date(), tz="UTC")

    def today(rows: pd.DataFrame) -> int:
        at = pd.to_datetime(rows["decided_at"], utc=True)
        return int(((at >= day_start) & (at < day_start + pd.Timedelta(days=1))).sum())

    started = triggered[~not_started]
    last = pd.to_datetime(started["decided_at"], utc=True).max() if not started.empty else None
    return History(
        None if last is None or pd.isna(last) else last.to_pydatetime(),
        today(started),
        today(triggered[not_started]),
    )


def decide(signals: TriggerSignals, history: History, now: datetime, config: RetrainingConfig) -> tuple[Decision, str]:
    """The decision and its reason, from the signals and what the audit says already happened."""
    why = signals.describe()
    if not (signals.drift_detected or signals.performance_degraded):
        return "no_drift", f"no retraining needed: {why}"
    if history.last_triggered_at is not None and config.cooldown_hours > 0:
        elapsed = now - history.last_triggered_at
        cooldown = timedelta(hours=config.cooldown_hours)
        if elapsed < cooldown:
            hours = elapsed.total_seconds() / 3600
            return (
                "skipped_cooldown",
                f"{why}; last retrain {hours:.2f} h ago, cooldown is {config.cooldown_hours:g} h",
            )
    if history.triggered_today >= config.daily_limit:
        return (
            "skipped_limit",
            f"{why}; {history.triggered_today} retrain(s) today, daily limit is {config.daily_limit}",
        )
    retry = f"; {history.failed_today} failed launch(es) today not counted" if history.failed_today else ""
    return "triggered", f"retraining: {why}{retry}"


# -- launchers ------------------------------------------------------------------------------------
class LocalTrainingLauncher:
    """Runs the ``train`` stage in this process (tournament -> validator -> gate), printing its tables."""

    name = "local-train"

    def __init__(self, platform: Platform, console: Console | None = None) -> None:
        self.platform = platform
        self.console = console

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        from financial_transactions.models import training

        run_training: Callable[[Platform], Any] | None = getattr(training, "run_training", None)
        if run_training is None:
            return LaunchResult("launch_failed", self.name, detail="models.training.run_training is not available")
        outcome = run_training(self.platform)
        if self.console is not None:
            try:
                self._render(outcome)
            except Exception as exc:  # the tables are a courtesy; the training itself finished
                log.warning("could not print the training outcome: %s", exc)
        summary = outcome.summary() if hasattr(outcome, "summary") else outcome
        return LaunchResult("launched", self.name, run_id=event_id, detail=json.dumps(summary, default=str))

    def _render(self, outcome: Any) -> None:
        try:
            from financial_transactions.models.report import outcome_renderables
        except ImportError:
            return
        cfg = self.platform.config
        assert self.console is not None
        for renderable in outcome_renderables(
            outcome, model_name=cfg.model_name, precision_at_k=cfg.models.precision_at_k, fixed_fpr=cfg.models.fixed_fpr
        ):
            self.console.print(renderable)


def default_launcher(
    platform: Platform, task_values: TaskValues | None = None, *, console: Console | None = None
) -> Launcher:
    """The runtime's launcher: in-process training locally, the task value or ``jobs.run_now`` on Databricks."""
    return platform.runtime.retraining_launcher(
        platform.config.retraining,
        task_values=task_values,
        in_process=lambda: LocalTrainingLauncher(platform, console=console),
    )


# -- the trigger ----------------------------------------------------------------------------------------
@dataclass
class TriggerResult:
    event_id: str
    decision: Decision
    reason: str
    decided_at: datetime
    commit_attempts: int
    history: History
    launch: LaunchResult | None = None
    task_value_set: bool = False  # a job task value was set (by the task-value launch or, false, by the trigger)
    extra: dict[str, Any] = field(default_factory=dict)
    signals: TriggerSignals | None = None

    @property
    def triggered(self) -> bool:
        return self.decision == "triggered"

    def summary(self) -> dict[str, Any]:
        """The decision, the performance figures it judged, and the launch (with a local retrain's gate figures)."""
        out: dict[str, Any] = {"retraining": self.decision}
        s = self.signals
        if s is not None and s.performance_current is not None:
            out["anomalies"] = s.performance_positives
            if s.performance_lower is not None and s.performance_upper is not None:
                out["band"] = f"[{s.performance_lower:.3f}, {s.performance_upper:.3f}]"
            if s.performance_drop_lower is not None:
                out["drop_lower"] = round(s.performance_drop_lower, 4)
        if self.launch is not None:
            out["launch"] = self.launch.status
            out.update(_retrain_figures(self.launch.detail))
        return out


def _retrain_figures(detail: str | None) -> dict[str, Any]:
    """An in-process launch's detail is the training outcome's summary (JSON): its gate decision and figures."""
    try:
        summary = json.loads(detail) if detail else None
    except ValueError:
        return {}
    if not isinstance(summary, dict) or "decision" not in summary:
        return {}
    keys = ("decision", "gain", "gain_lower", "matched_recall", "champion_matched_recall")
    return {f"retrain_{k}": summary[k] for k in keys if k in summary}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RetrainingTrigger:
    """Decide, commit the decision with optimistic concurrency, then (if triggered) launch."""

    def __init__(
        self,
        platform: Platform,
        *,
        launcher: Launcher | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        config: RetrainingConfig | None = None,
        task_values: TaskValues | None = None,
    ) -> None:
        """``task_values``: where job task values go (default: the Databricks runtime's, on Databricks only)."""
        self.platform = platform
        self.cfg = config or platform.config.retraining
        self.fqn = platform.config.table("retraining_audit")
        self._launcher = launcher
        self.clock = clock
        self.sleep = sleep
        self.task_values = task_values

    @property
    def launcher(self) -> Launcher:
        if self._launcher is None:
            self._launcher = default_launcher(self.platform, self.task_values)
        return self._launcher

    def ensure_table(self) -> None:
        """Create the (empty) audit table once, before any decision is committed.

        Decisions are only ever committed by a conditional MERGE against an
        existing version. Creating the table is kept apart because two racing
        creators may both "win" (the loser's write becomes the next version);
        with an empty batch that is harmless, with a decision row it would let
        two triggers decide on the same empty history.
        """
        store = self.platform.store
        if store.exists(self.fqn):
            return
        try:
            store.append_if_version(self.fqn, spec("retraining_audit").schema.empty_table(), -1, ["event_id"])
        except ConcurrentModification:
            pass  # another trigger created it
        if not store.exists(self.fqn):
            raise TriggerConflict(f"{self.fqn}: could not create the audit table")

    def _read(self) -> tuple[int, pd.DataFrame]:
        store = self.platform.store
        version = store.version(self.fqn)
        return version, store.read(self.fqn, version=version)

    def evaluate(self, signals: TriggerSignals, *, launch: bool = True) -> TriggerResult:
        """One audited decision; launches retraining only if this trigger's ``triggered`` row committed.

        The event id is run-scoped (see runtime.journal): a resumed run that finds the decision its
        killed attempt committed does not decide again (its own row would put it in cooldown); it
        finishes that decision's launch (:meth:`_resume`).
        """
        event_id = scoped_id("trigger.event")
        attempts = 0
        rng = random.Random(event_id)
        self.ensure_table()
        resumed = self._resume(event_id, signals, launch=launch)
        if resumed is not None:
            return resumed
        while True:
            attempts += 1
            version, audit = self._read()
            now = self.clock()
            history = history_of(audit, now, timedelta(minutes=self.cfg.launch_timeout_minutes))
            decision, reason = decide(signals, history, now, self.cfg)
            row = self._row(event_id, "decision", None, now, decision, reason, signals, history, version, attempts)
            try:
                self.platform.store.append_if_version(self.fqn, row, version, ["event_id"])
                break
            except ConcurrentModification as exc:
                if attempts >= self.cfg.max_commit_attempts:
                    raise TriggerConflict(
                        f"{self.fqn}: lost {attempts} commit races in a row; no decision recorded ({exc})"
                    ) from exc
                delay = rng.uniform(0.005, 0.02) * min(attempts, 10)
                log.debug("retraining trigger %s: concurrent commit, retrying in %.3fs", event_id, delay)
                self.sleep(delay)
        crashpoint("trigger.after_decision")
        result = TriggerResult(event_id, decision, reason, now, attempts, history, signals=signals)
        log.info("retraining decision %s: %s (%s)", event_id, decision, reason)
        return self._finish(result, signals, launch=launch, launching_recorded=False)

    def _resume(self, event_id: str, signals: TriggerSignals, *, launch: bool) -> TriggerResult | None:
        """Finish the decision ``event_id`` an interrupted attempt of this run committed, if there is one."""
        _, audit = self._read()
        rows = audit[audit["event_id"] == event_id]
        if rows.empty:
            return None
        row = rows.iloc[0]
        signals = _recorded_signals(row, signals)  # what the decision was made on, not the rerun's view
        decided_at = pd.Timestamp(row["decided_at"]).tz_convert(UTC).to_pydatetime()
        history = history_of(audit, decided_at, timedelta(minutes=self.cfg.launch_timeout_minutes))
        attempts = int(row["commit_attempts"]) if pd.notna(row["commit_attempts"]) else 1
        result = TriggerResult(
            event_id, cast("Decision", str(row["decision"])), str(row["reason"]), decided_at, attempts, history,
            signals=signals,
        )  # fmt: skip
        launches = audit[(audit["event_type"] == "launch") & (audit["parent_event_id"] == event_id)]
        outcome = launches[launches["decision"] != LAUNCHING]
        log.warning("retraining decision %s (%s) was committed by the interrupted attempt", event_id, result.decision)
        if not outcome.empty:
            done = outcome.iloc[0]
            result.launch = LaunchResult(
                cast(Literal["launched", "launch_failed", "not_launched"], str(done["decision"])),
                str(done["launcher"]),
                run_id=None if pd.isna(done["run_id"]) else str(done["run_id"]),
                detail=None if pd.isna(done["detail"]) else str(done["detail"]),
            )
            return self._finish(result, signals, launch=False, launching_recorded=True)
        return self._finish(result, signals, launch=launch, launching_recorded=not launches.empty)

    def _finish(
        self, result: TriggerResult, signals: TriggerSignals, *, launch: bool, launching_recorded: bool
    ) -> TriggerResult:
        """Launch a ``triggered`` decision (unless it already has its outcome) and set the task value."""
        event_id, reason = result.event_id, result.reason
        if result.decision == "triggered" and result.launch is None:
            if launch:
                result.launch = self._launch(event_id, reason, signals, launching_recorded=launching_recorded)
            else:
                detail = "launch disabled (--no-launch): decided and audited, nothing started"
                result.launch = self._record_launch(
                    event_id, reason, signals, LaunchResult("not_launched", "none", detail=detail)
                )
        by_task_value = (
            result.launch is not None
            and result.launch.launcher == TaskValueOnly.name
            and result.launch.status == "launched"
        )
        if by_task_value:
            result.task_value_set = True
        else:
            # false: nothing for the workflow to start (run_now, if used, already started the job)
            result.task_value_set = self.platform.runtime.set_task_value(
                self.cfg.task_value_key, False, self.task_values
            )
        return result

    def _launch(
        self, event_id: str, reason: str, signals: TriggerSignals, *, launching_recorded: bool = False
    ) -> LaunchResult:
        """Record ``launching`` first (the slot is held while a slow launcher runs), then launch, then the outcome.

        A resumed launch (``launching_recorded``: the killed attempt wrote that row) launches again: the
        in-process launcher's training is run-scoped too, and a job launcher's idempotency token is the
        event id, so the same launch is not started twice.
        """
        launcher = self.launcher
        if not launching_recorded:
            self._append_launch_row(
                event_id, reason, signals, LAUNCHING, launcher.name, None, "launch under way: the slot is held"
            )
        crashpoint("trigger.after_launching")
        try:
            outcome = launcher.launch(event_id, reason)
        except Exception as exc:  # recorded and returned: the drift job itself must still finish
            log.error("retraining launch for %s failed: %s", event_id, exc)
            outcome = LaunchResult("launch_failed", launcher.name, detail=f"{type(exc).__name__}: {exc}")
        crashpoint("trigger.after_launch")
        return self._record_launch(event_id, reason, signals, outcome)

    def _record_launch(
        self, event_id: str, reason: str, signals: TriggerSignals, outcome: LaunchResult
    ) -> LaunchResult:
        """Append the launch row; ``launch_failed``/``not_launched`` free the cooldown and the limit again."""
        self._append_launch_row(
            event_id, reason, signals, outcome.status, outcome.launcher, outcome.run_id, outcome.detail
        )
        return outcome

    def _append_launch_row(
        self,
        event_id: str,
        reason: str,
        signals: TriggerSignals,
        status: str,
        launcher: str,
        run_id: str | None,
        detail: str | None,
    ) -> None:
        """One ``launch`` row for decision ``event_id`` (plain append: the decision already holds the slot)."""
        row = self._row(
            uuid.uuid4().hex,
            "launch",
            event_id,
            self.clock(),
            status,
            reason,
            signals,
            None,
            None,
            None,
            launcher=launcher,
            run_id=run_id,
            detail=detail,
        )
        for attempt in range(1, self.cfg.max_commit_attempts + 1):
            try:
                self.platform.store.append(self.fqn, row)
                break
            except ConcurrentModification:
                if attempt < self.cfg.max_commit_attempts:
                    self.sleep(random.uniform(0.005, 0.02))
                    continue
                log.error("retraining launch outcome for %s not audited: too many concurrent commits", event_id)
            except Exception as exc:
                log.error("retraining launch outcome for %s not audited: %s", event_id, exc)
                break

    def _row(
        self,
        event_id: str,
        event_type: str,
        parent: str | None,
        now: datetime,
        decision: str,
        reason: str,
        signals: TriggerSignals,
        history: History | None,
        version: int | None,
        attempts: int | None,
        *,
        launcher: str | None = None,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> pa.Table:
        row = {
            "event_id": event_id,
            "event_type": event_type,
            "parent_event_id": parent,
            "decided_at": now,
            "env": self.platform.config.env,
            "decision": decision,
            "reason": reason,
            "drift_detected": signals.drift_detected,
            "drift_run_id": signals.drift_run_id,
            "drifted_share": signals.drifted_share,
            "drifted_features": ",".join(signals.drifted_features) or None,
            "performance_degraded": signals.performance_degraded,
            "performance_metric": signals.performance_metric,
            "performance_baseline": signals.performance_baseline,
            "performance_current": signals.performance_current,
            "performance_drop": signals.performance_drop,
            "performance_positives": signals.performance_positives,
            "performance_min_positives": signals.performance_min_positives,
            "performance_lower": signals.performance_lower,
            "performance_upper": signals.performance_upper,
            "performance_drop_lower": signals.performance_drop_lower,
            "cooldown_hours": self.cfg.cooldown_hours,
            "daily_limit": self.cfg.daily_limit,
            "triggered_today": history.triggered_today if history else None,
            "last_triggered_at": history.last_triggered_at if history else None,
            "read_version": version,
            "commit_attempts": attempts,
            "launcher": launcher,
            "run_id": run_id,
            "detail": detail,
        }
        return pa.Table.from_pylist([row], schema=spec("retraining_audit").schema)


def _recorded_signals(row: pd.Series, current: TriggerSignals) -> TriggerSignals:
    """The signals a committed decision row records (its launch rows repeat them)."""

    def value(col: str) -> Any:
        v = row[col]
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    def number(col: str) -> float | None:
        v = value(col)
        return None if v is None else float(v)

    def count(col: str) -> int | None:
        v = value(col)
        return None if v is None else int(v)

    features = value("drifted_features")
    return TriggerSignals(
        drift_detected=bool(value("drift_detected")),
        drift_run_id=value("drift_run_id"),
        drifted_share=number("drifted_share"),
        drifted_features=tuple(str(features).split(",")) if features else (),
        performance_degraded=bool(value("performance_degraded")),
        performance_metric=value("performance_metric"),
        performance_baseline=number("performance_baseline"),
        performance_current=number("performance_current"),
        performance_positives=count("performance_positives"),
        performance_min_positives=count("performance_min_positives"),
        performance_lower=number("performance_lower"),
        performance_upper=number("performance_upper"),
        performance_drop_lower=number("performance_drop_lower"),
        performance_note=current.performance_note,
    )


def decisions_of(platform: Platform, event_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The decision rows of ``retraining_audit`` (optionally only ``event_ids``), oldest first."""
    fqn = platform.config.table("retraining_audit")
    if not platform.store.exists(fqn):
        return pd.DataFrame(columns=spec("retraining_audit").schema.names)
    audit = platform.store.read(fqn)
    rows = audit[audit["event_type"] == "decision"]
    if event_ids is not None:
        rows = rows[rows["event_id"].isin(list(event_ids))]
    return rows.sort_values("decided_at").reset_index(drop=True)
