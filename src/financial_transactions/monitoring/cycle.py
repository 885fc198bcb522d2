"""One monitoring cycle: the use case behind ``fin-mlops drift``, the ``drift`` stage and ``detect_drift.py``.

1. **Drift** of the gold features: replay window 1 (the base regime) is the
   reference, window 2 (the regime shift the ``shift`` stage ingested) is the
   current window. Windows are the replay's trading days, New York midnight to
   New York midnight, so equities and 24/7 crypto are cut the same way.
2. **Performance** of the champion on the current window against the replay's
   ground truth (skipped, with the reason, when the registry positively lists no
   champion or there is no ground truth yet). A registry that cannot be read, or a
   champion that cannot be loaded, is an *error*: printed, alerted (critical) and
   kept apart from "no champion", and the trigger decides on drift alone.
3. **Retraining trigger** from both signals (cooldown and daily limit from
   ``retraining_audit``); locally a triggered decision runs the train stage.
4. **Alert** when drift is detected, performance could not be monitored, or
   retraining could not be launched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from financial_transactions.lakehouse.paths import WINDOW_SPAN_FILE, ground_truth_dir, window_days, window_name
from financial_transactions.monitoring.drift_detector import DriftDetector, DriftReport, DriftWindow, load_window
from financial_transactions.monitoring.performance_monitor import PerformanceMonitor, PerformanceReport
from financial_transactions.monitoring.retraining_trigger import (
    RetrainingTrigger,
    TriggerResult,
    TriggerSignals,
)
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint

log = logging.getLogger(__name__)

NEW_YORK = "America/New_York"


def replay_window(platform: Platform, window: int, *, label: str | None = None) -> DriftWindow:
    """Replay window ``window`` of the gold table as a time range (New York midnights, in UTC)."""
    cfg = platform.config
    days = window_days(cfg.replay, window)
    start = pd.Timestamp(days[0]).tz_localize(NEW_YORK).tz_convert(UTC).to_pydatetime()
    end = pd.Timestamp(days[-1] + timedelta(days=1)).tz_localize(NEW_YORK).tz_convert(UTC).to_pydatetime()
    span_file = ground_truth_dir(platform.paths.landing, window) / WINDOW_SPAN_FILE
    if span_file.is_file():  # what the replay really played (a user's file has its own dates)
        span = json.loads(span_file.read_text())
        start = pd.Timestamp(span["start_ms"], unit="ms", tz=UTC).floor("D").to_pydatetime()
        end = (pd.Timestamp(span["end_ms"], unit="ms", tz=UTC).floor("D") + pd.Timedelta(days=1)).to_pydatetime()
    return DriftWindow(
        label or window_name(window),
        table=cfg.drift.table,
        start=start,
        end=end,
        time_column=cfg.drift.time_column,
    )


def recent_windows(platform: Platform) -> tuple[DriftWindow, DriftWindow]:
    """The latest ``drift.current_hours`` of the table vs the ``drift.reference_hours`` before them.

    Anchored on the newest row of the table (not the wall clock), so a paused feed
    compares the last data it delivered instead of an empty window.
    """
    import pyarrow.compute as pc

    cfg = platform.config
    fqn = cfg.table(cfg.drift.table)
    ts = platform.store.read_arrow(fqn, columns=[cfg.drift.time_column]).column(cfg.drift.time_column)
    latest = pc.max(ts).as_py()
    if latest is None:
        raise ValueError(f"{fqn} has no rows to monitor")
    end = latest + timedelta(microseconds=1)
    split = end - timedelta(hours=cfg.drift.current_hours)
    start = split - timedelta(hours=cfg.drift.reference_hours)
    kw = {"table": cfg.drift.table, "time_column": cfg.drift.time_column}
    return (
        DriftWindow(f"previous {cfg.drift.reference_hours:g}h", start=start, end=split, **kw),  # type: ignore[arg-type]
        DriftWindow(f"latest {cfg.drift.current_hours:g}h", start=split, end=end, **kw),  # type: ignore[arg-type]
    )


def ground_truth_path(platform: Platform, window: int) -> Path:
    """Replay window ``window``'s ``anomalies.ndjson`` (:meth:`LakehousePaths.ground_truth`)."""
    return platform.paths.ground_truth(window)


def all_ground_truth(platform: Platform) -> list[Path]:
    """Every replay window's ground-truth file that exists (labels that have arrived)."""
    return platform.paths.ground_truth_files()


@dataclass
class MonitoringCycle:
    drift: DriftReport
    performance: PerformanceReport | None
    performance_note: str | None
    trigger: TriggerResult | None
    alerts: list[str] = field(default_factory=list)
    performance_error: str | None = None  # monitoring failed (registry down, champion unloadable): not "no champion"

    def summary(self) -> dict[str, Any]:
        out = dict(self.drift.summary())
        out.pop("run_id", None)
        if self.performance is not None and self.performance.current is not None:
            out[f"champion_{self.performance.metric}"] = round(self.performance.current, 4)
        if self.performance_error is not None:
            out["performance"] = "error"
        if self.trigger is not None:
            out.update(self.trigger.summary())
        return out


def run_performance(
    platform: Platform, window: DriftWindow, ground_truth: list[Path], *, record: bool = True
) -> tuple[PerformanceReport | None, str | None, str | None]:
    """Champion metrics on ``window``: ``(report, note, error)``.

    ``note`` says why there is nothing to monitor yet (no ground truth, no model
    registered, no champion alias: positive answers); ``error`` says that
    monitoring failed (the registry could not be read, the champion could not be
    loaded or scored), which is never reported as "no champion".
    """
    missing = [p for p in ground_truth if not p.exists()]
    if missing:
        return None, f"no ground truth at {missing[0]}", None
    from financial_transactions.models.registry import ModelRegistry, RegistryError

    try:
        registry = ModelRegistry.from_platform(platform)
        if not registry.exists():
            return None, f"no model {registry.name} registered yet", None
        champion = registry.champion_version()
    except RegistryError as exc:
        return None, None, f"registry unavailable, champion performance not monitored: {exc}"
    if champion is None:
        return None, f"no champion to monitor (the registry lists no champion alias on {registry.name})", None
    gold = load_window(platform, window).to_pandas()
    if gold.empty:
        return None, f"no gold rows in {window.describe()}", None
    try:
        return PerformanceMonitor(platform).monitor(gold, ground_truth, record=record), None, None
    except RegistryError as exc:
        return None, None, f"champion v{champion} could not be loaded or scored: {exc}"


def run_cycle(
    platform: Platform,
    reference: DriftWindow,
    current: DriftWindow,
    *,
    ground_truth: list[Path] | None = None,
    trigger: bool = True,
    launch: bool = True,
    trigger_obj: RetrainingTrigger | None = None,
    record: bool = True,
) -> MonitoringCycle:
    """Drift -> performance -> trigger -> alerts; every step is recorded in its Delta table.

    ``record=False`` is a diagnostic run: nothing is written to the monitoring tables and
    no alert is sent, so investigating drift never pages anyone again.
    """
    from financial_transactions.monitoring.alerting import AlertManager

    report = DriftDetector(platform.config.drift).run(platform, reference, current, record=record)
    performance: PerformanceReport | None = None
    note: str | None = "no ground truth given"
    error: str | None = None
    if ground_truth:
        performance, note, error = run_performance(platform, current, ground_truth, record=record)
    if record and platform.runtime.lakehouse_monitors and performance is not None:
        from financial_transactions.monitoring.performance_monitor import ensure_model_monitor

        try:  # Databricks' own profile/drift tables over model_monitoring; never blocks the decision
            ensure_model_monitor(platform)
        except Exception as exc:
            log.warning("lakehouse monitor on model_monitoring not updated: %s", exc)
    decision = None
    crashpoint("drift.after_monitoring")
    if trigger and record:  # the trigger writes retraining_audit: never from a diagnostic run
        signals = TriggerSignals.from_reports(report, performance, platform.config.retraining)
        decision = (trigger_obj or RetrainingTrigger(platform)).evaluate(signals, launch=launch)
    cycle = MonitoringCycle(report, performance, note, decision, performance_error=error)
    if not record:
        return cycle
    alerts = AlertManager.from_platform(platform)
    if error is not None:
        result = alerts.send(
            title=f"Champion performance not monitored: {platform.config.model_name}",
            message=f"{error}. Retraining was decided on drift alone.",
            severity="critical",
            source="performance",
            context={"current": current.describe(), "drift_run_id": report.run_id},
        )
        cycle.alerts.append(result.status)
    if report.drift_detected:
        result = alerts.send(
            title=f"Drift detected in {platform.config.table(reference.table)}",
            message=f"{report.reason}. Retraining: {decision.decision if decision else 'not evaluated'}.",
            severity="warning",
            source="drift",
            context={
                "run_id": report.run_id,
                "reference": reference.describe(),
                "current": current.describe(),
                "drifted": report.drifted_features,
                "max_psi": report.max_psi,
            },
        )
        cycle.alerts.append(result.status)
    if decision is not None and decision.launch is not None and decision.launch.status == "launch_failed":
        result = alerts.send(
            title="Retraining could not be launched",
            message=decision.launch.detail or "unknown error",
            severity="critical",
            source="retraining",
            context={"event_id": decision.event_id, "launcher": decision.launch.launcher},
        )
        cycle.alerts.append(result.status)
    return cycle
