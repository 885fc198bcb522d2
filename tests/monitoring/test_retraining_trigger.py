"""RetrainingTrigger: the pure rules, the audit, and 8 racing triggers against one Delta audit table."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from financial_transactions.config.monitoring import RetrainingConfig
from financial_transactions.monitoring.retraining_trigger import (
    History,
    RetrainingTrigger,
    TriggerSignals,
    decide,
    decisions_of,
    history_of,
)
from financial_transactions.runtime import Platform
from financial_transactions.runtime.launchers import LaunchResult

from .race_worker import RecordingLauncher, race

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
DRIFT = TriggerSignals(drift_detected=True, drift_run_id="r1", drifted_share=0.4, drifted_features=("rsi", "volume"))
QUIET = TriggerSignals(drift_detected=False, drift_run_id="r2", drifted_share=0.05)


def _platform(platform: Platform, **overrides: Any) -> Platform:
    cfg = platform.config
    cfg = cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update=overrides)})
    return Platform.create(cfg, lakehouse_root=platform.lakehouse_root)


# -- pure rules ----------------------------------------------------------------------------------
def test_decide_rules_in_order() -> None:
    cfg = RetrainingConfig(cooldown_hours=6, daily_limit=2)
    assert decide(QUIET, History(None, 0), NOW, cfg)[0] == "no_drift"
    assert decide(DRIFT, History(None, 0), NOW, cfg)[0] == "triggered"
    decision, reason = decide(DRIFT, History(NOW - timedelta(hours=2), 1), NOW, cfg)
    assert decision == "skipped_cooldown" and "2.00 h ago, cooldown is 6 h" in reason
    assert decide(DRIFT, History(NOW - timedelta(hours=7), 1), NOW, cfg)[0] == "triggered"
    decision, reason = decide(DRIFT, History(NOW - timedelta(hours=7), 2), NOW, cfg)
    assert decision == "skipped_limit" and "daily limit is 2" in reason
    assert decide(DRIFT, History(None, 0), NOW, RetrainingConfig(daily_limit=0))[0] == "skipped_limit"
    # another worker's clock running slightly ahead: still inside the cooldown; no cooldown configured: no skip
    ahead = History(NOW + timedelta(seconds=1), 1)
    assert decide(DRIFT, ahead, NOW, cfg)[0] == "skipped_cooldown"
    assert decide(DRIFT, ahead, NOW, RetrainingConfig(cooldown_hours=0, daily_limit=2))[0] == "triggered"


def test_performance_drop_alone_triggers() -> None:
    cfg = RetrainingConfig(performance_drop=0.1)
    degraded = TriggerSignals(
        performance_degraded=True, performance_metric="pr_auc", performance_baseline=0.9, performance_current=0.7
    )
    decision, reason = decide(degraded, History(None, 0), NOW, cfg)
    assert decision == "triggered" and "pr_auc 0.700 vs baseline 0.900 (drop 0.200, degraded)" in reason


def test_history_counts_only_todays_triggered_decisions() -> None:
    audit = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(5)],
            "parent_event_id": [None, None, "e1", None, None],
            "event_type": ["decision", "decision", "launch", "decision", "decision"],
            "decision": ["triggered", "triggered", "launched", "skipped_limit", "triggered"],
            "decided_at": pd.to_datetime(
                [
                    "2026-03-09T23:00Z",
                    "2026-03-10T01:00Z",
                    "2026-03-10T01:00Z",
                    "2026-03-10T02:00Z",
                    "2026-03-10T09:00Z",
                ]
            ),
        }
    )
    h = history_of(audit, NOW)
    assert h.triggered_today == 2 and h.last_triggered_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_history_does_not_count_triggers_whose_launch_started_nothing() -> None:
    audit = pd.DataFrame(
        {
            "event_id": ["a", "la", "b", "lb", "c", "lc", "d"],
            "parent_event_id": [None, "a", None, "b", None, "c", None],
            "event_type": ["decision", "launch", "decision", "launch", "decision", "launch", "decision"],
            "decision": [
                "triggered",
                "launched",
                "triggered",
                "launch_failed",
                "triggered",
                "not_launched",
                "triggered",
            ],
            "decided_at": pd.to_datetime(
                [
                    "2026-03-10T01:00Z",
                    "2026-03-10T01:01Z",
                    "2026-03-10T08:00Z",
                    "2026-03-10T08:01Z",
                    "2026-03-10T09:00Z",
                    "2026-03-10T09:00Z",
                    "2026-03-10T10:00Z",
                ]
            ),
        }
    )
    # a: started; b: launch failed; c: --no-launch; d: no launch row yet (being launched): counts
    h = history_of(audit, NOW)
    assert (h.triggered_today, h.failed_today) == (2, 2)
    assert h.last_triggered_at == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    # d was decided 5 h before NOW with no launch record: past a 4 h launch timeout its trigger is taken for dead
    assert history_of(audit, NOW, timedelta(hours=4)) == History(datetime(2026, 3, 10, 1, 0, tzinfo=UTC), 1, 3)
    assert history_of(audit, NOW, timedelta(hours=6)) == h
    only_failed = history_of(audit[audit["event_id"].isin(["b", "lb"])], NOW)
    assert only_failed == History(None, 0, 1)
    decision, reason = decide(DRIFT, only_failed, NOW, RetrainingConfig(cooldown_hours=6, daily_limit=1))
    assert decision == "triggered" and reason.endswith("; 1 failed launch(es) today not counted")


# -- the audited trigger ---------------------------------------------------------------------------
def test_cooldown_read_from_the_audit_table(platform: Platform) -> None:
    p = _platform(platform, cooldown_hours=6, daily_limit=10)
    clock = {"now": NOW}
    launcher = RecordingLauncher()
    trigger = RetrainingTrigger(p, launcher=launcher, clock=lambda: clock["now"])
    first = trigger.evaluate(DRIFT)
    assert first.decision == "triggered" and launcher.launched == [first.event_id]
    clock["now"] = NOW + timedelta(hours=5, minutes=59)
    assert trigger.evaluate(DRIFT).decision == "skipped_cooldown"
    assert trigger.evaluate(QUIET).decision == "no_drift"
    clock["now"] = NOW + timedelta(hours=6)
    assert trigger.evaluate(DRIFT).decision == "triggered"
    assert len(launcher.launched) == 2
    # a fresh trigger (another job run) sees the same history: state lives in Delta, not in the object
    clock["now"] = NOW + timedelta(hours=7)
    fresh = RetrainingTrigger(p, launcher=RecordingLauncher(), clock=lambda: clock["now"])
    assert fresh.evaluate(DRIFT).decision == "skipped_cooldown"

    audit = p.store.read(p.config.table("retraining_audit"))
    decisions = audit[audit["event_type"] == "decision"].sort_values("read_version")
    assert decisions["decision"].tolist() == [
        "triggered",
        "skipped_cooldown",
        "no_drift",
        "triggered",
        "skipped_cooldown",
    ]
    launches = audit[audit["event_type"] == "launch"]
    assert set(launches["parent_event_id"]) == {first.event_id, decisions.iloc[3]["event_id"]}
    # each launch: "launching" before the launcher ran, then its outcome
    assert sorted(launches["decision"]) == ["launched", "launched", "launching", "launching"]
    assert decisions.iloc[0]["drifted_features"] == "rsi,volume" and decisions.iloc[0]["cooldown_hours"] == 6


def test_failed_launch_is_audited_and_does_not_raise(platform: Platform) -> None:
    class Broken:
        name = "broken"

        def launch(self, event_id: str, reason: str) -> Any:
            raise RuntimeError("cluster quota exceeded")

    p = _platform(platform, cooldown_hours=0)
    result = RetrainingTrigger(p, launcher=Broken(), clock=lambda: NOW).evaluate(DRIFT)
    assert result.decision == "triggered" and result.launch is not None
    assert result.launch.status == "launch_failed" and "cluster quota exceeded" in (result.launch.detail or "")
    audit = p.store.read(p.config.table("retraining_audit"))
    assert sorted(audit[audit["event_type"] == "launch"]["decision"]) == ["launch_failed", "launching"]


class _Broken:
    name = "broken"

    def launch(self, event_id: str, reason: str) -> Any:
        raise RuntimeError("cluster quota exceeded")


def test_a_failed_launch_uses_up_neither_the_cooldown_nor_the_daily_limit(platform: Platform) -> None:
    p = _platform(platform, cooldown_hours=6, daily_limit=1)
    clock = {"now": NOW}
    failed = RetrainingTrigger(p, launcher=_Broken(), clock=lambda: clock["now"]).evaluate(DRIFT)
    assert failed.decision == "triggered" and failed.launch is not None and failed.launch.status == "launch_failed"
    # the next cycle, 30 minutes later: inside the cooldown and at the limit if the failure counted; it retries
    clock["now"] = NOW + timedelta(minutes=30)
    launcher = RecordingLauncher()
    trigger = RetrainingTrigger(p, launcher=launcher, clock=lambda: clock["now"])
    retried = trigger.evaluate(DRIFT)
    assert retried.decision == "triggered" and launcher.launched == [retried.event_id]
    assert retried.history == History(None, 0, 1) and "1 failed launch(es) today not counted" in retried.reason
    # the retraining that did start counts: cooldown first, then (after it) the daily limit of 1
    clock["now"] = NOW + timedelta(hours=1)
    assert trigger.evaluate(DRIFT).decision == "skipped_cooldown"
    clock["now"] = NOW + timedelta(hours=7)
    skipped = trigger.evaluate(DRIFT)
    assert skipped.decision == "skipped_limit" and "1 retrain(s) today, daily limit is 1" in skipped.reason
    assert launcher.launched == [retried.event_id]
    audit = p.store.read(p.config.table("retraining_audit")).sort_values("decided_at", kind="stable")
    outcomes = audit[(audit["event_type"] == "launch") & (audit["decision"] != "launching")]
    launches = outcomes.set_index("parent_event_id")["decision"].to_dict()
    assert launches == {failed.event_id: "launch_failed", retried.event_id: "launched"}
    decisions = audit[audit["event_type"] == "decision"]
    assert decisions["decision"].tolist() == ["triggered", "triggered", "skipped_cooldown", "skipped_limit"]
    assert decisions["triggered_today"].tolist() == [0, 0, 1, 1]


def test_no_launch_is_audited_and_does_not_block_the_next_cycle(platform: Platform) -> None:
    p = _platform(platform, cooldown_hours=6, daily_limit=3)
    launcher = RecordingLauncher()
    trigger = RetrainingTrigger(p, launcher=launcher, clock=lambda: NOW)
    dry = trigger.evaluate(DRIFT, launch=False)
    assert dry.decision == "triggered" and dry.launch is not None and dry.launch.status == "not_launched"
    assert launcher.launched == [] and dry.summary() == {"retraining": "triggered", "launch": "not_launched"}
    real = trigger.evaluate(DRIFT)
    assert real.decision == "triggered" and launcher.launched == [real.event_id]
    assert trigger.evaluate(DRIFT).decision == "skipped_cooldown"


class SlowLauncher:
    """An in-process launcher that trains for a long time: it blocks until released, and meanwhile lets
    another trigger (another drift job run) decide, with a clock far past the launch timeout."""

    name = "slow-local-train"

    def __init__(self, during: Any) -> None:
        self.during = during
        self.started = threading.Event()
        self.release = threading.Event()
        self.seen: list[Any] = []

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        self.started.set()
        self.seen.append(self.during())
        assert self.release.wait(timeout=60)
        return LaunchResult("launched", self.name, run_id=event_id, detail="trained")


def test_a_retrain_running_past_the_launch_timeout_keeps_its_slot(platform: Platform) -> None:
    """The launch row is written before the launcher runs: a concurrent trigger 45 minutes later (launch timeout
    30) sees a retrain under way, not a dead trigger, and neither starts a second one nor frees the daily slot."""
    p = _platform(platform, cooldown_hours=0.25, daily_limit=1, launch_timeout_minutes=30)
    later = NOW + timedelta(minutes=45)
    second: list[Any] = []
    rival = RecordingLauncher()

    def concurrent() -> Any:
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(r=RetrainingTrigger(p, launcher=rival, clock=lambda: later).evaluate(DRIFT))
        )
        thread.start()
        thread.join(timeout=60)
        second.append(result["r"])
        return result["r"]

    slow = SlowLauncher(concurrent)
    first: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: first.update(r=RetrainingTrigger(p, launcher=slow, clock=lambda: NOW).evaluate(DRIFT))
    )
    runner.start()
    assert slow.started.wait(timeout=60)
    slow.release.set()
    runner.join(timeout=60)

    (other,) = second
    assert other.decision == "skipped_limit" and rival.launched == []  # the cooldown (15 min) is over; the slot holds
    assert other.history.triggered_today == 1 and "1 retrain(s) today, daily limit is 1" in other.reason
    assert first["r"].decision == "triggered" and first["r"].launch.status == "launched"
    audit = p.store.read(p.config.table("retraining_audit"))
    launches = audit[audit["event_type"] == "launch"]
    assert sorted(launches["decision"]) == ["launched", "launching"]
    assert set(launches["parent_event_id"]) == {first["r"].event_id}
    # without the launching row the same history would have freed the slot (the decision looked abandoned)
    without = audit[audit["decision"] != "launching"]
    without = without[~((without["event_type"] == "launch") & (without["parent_event_id"] == first["r"].event_id))]
    assert history_of(without, later, timedelta(minutes=30)).triggered_today == 0


# -- the task value a Databricks condition_task reads ------------------------------------------------
class RecordingTaskValues:
    """Stands in for dbutils.jobs.taskValues: records set(key=, value=), or fails like a non-job context."""

    def __init__(self, fail: bool = False) -> None:
        self.values: list[tuple[str, Any]] = []
        self.fail = fail

    def set(self, key: str, value: Any) -> None:
        if self.fail:
            raise RuntimeError("Task values can only be set in a job run")
        self.values.append((key, value))


def test_task_value_launch_sets_retrain_true_once_and_false_otherwise(platform: Platform) -> None:
    from financial_transactions.monitoring.retraining_trigger import TaskValueOnly

    p = _platform(platform, cooldown_hours=6, daily_limit=3, launch="task_value", task_value_key="retrain")
    values = RecordingTaskValues()
    launcher = TaskValueOnly(p.config.retraining.task_value_key, values)
    trigger = RetrainingTrigger(p, launcher=launcher, clock=lambda: NOW, task_values=values)
    first = trigger.evaluate(DRIFT)
    assert first.decision == "triggered" and first.task_value_set
    assert first.launch is not None and (first.launch.status, first.launch.launcher) == ("launched", "task-value")
    assert values.values == [("retrain", True)]  # {{tasks.detect_drift.values.retrain}} == "true"
    again = trigger.evaluate(DRIFT)
    assert again.decision == "skipped_cooldown" and values.values[-1] == ("retrain", False)
    quiet = trigger.evaluate(QUIET)
    assert quiet.decision == "no_drift" and values.values == [("retrain", True), ("retrain", False), ("retrain", False)]
    audit = p.store.read(p.config.table("retraining_audit"))
    launch = audit[(audit["event_type"] == "launch") & (audit["decision"] != "launching")].iloc[0]
    assert (launch["parent_event_id"], launch["decision"], launch["launcher"]) == (
        first.event_id,
        "launched",
        "task-value",
    )


def test_run_now_launch_sets_the_task_value_false_so_the_workflow_does_not_start_it_twice(platform: Platform) -> None:
    p = _platform(platform, cooldown_hours=0.0)
    values = RecordingTaskValues()
    launcher = RecordingLauncher()
    result = RetrainingTrigger(p, launcher=launcher, clock=lambda: NOW, task_values=values).evaluate(DRIFT)
    assert result.decision == "triggered" and launcher.launched == [result.event_id]
    assert values.values == [("retrain", False)] and result.task_value_set


def test_a_task_value_that_cannot_be_set_is_a_failed_launch_and_is_retried(platform: Platform) -> None:
    from financial_transactions.monitoring.retraining_trigger import TaskValueOnly

    p = _platform(platform, cooldown_hours=6, daily_limit=1)
    broken = RecordingTaskValues(fail=True)
    result = RetrainingTrigger(p, launcher=TaskValueOnly("retrain", broken), clock=lambda: NOW).evaluate(DRIFT)
    assert result.launch is not None and result.launch.status == "launch_failed"
    assert "task value retrain could not be set" in (result.launch.detail or "") and not result.task_value_set
    values = RecordingTaskValues()
    retry = RetrainingTrigger(p, launcher=TaskValueOnly("retrain", values), clock=lambda: NOW).evaluate(DRIFT)
    assert retry.decision == "triggered" and values.values == [("retrain", True)]


def test_set_task_value_uses_the_runtime_dbutils_only_inside_a_databricks_runtime(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys
    import types

    from financial_transactions.runtime.task_values import runtime_task_values, set_task_value

    values = RecordingTaskValues()
    dbutils = types.SimpleNamespace(jobs=types.SimpleNamespace(taskValues=values))
    runtime = types.ModuleType("databricks.sdk.runtime")
    runtime.dbutils = dbutils  # type: ignore[attr-defined]
    runtime.is_local_implementation = False  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", runtime)
    assert runtime_task_values() is values
    assert set_task_value("retrain", True) is True and values.values == [("retrain", True)]
    # the SDK's remote dbutils (outside a runtime) accepts the call and drops the value: not "set"
    runtime.is_local_implementation = True  # type: ignore[attr-defined]
    assert runtime_task_values() is None and set_task_value("retrain", True) is False
    assert values.values == [("retrain", True)]


def _race_processes(p: Platform, config_path: Path, overrides: dict[str, Any], n: int = 8) -> list[tuple[Any, ...]]:
    # forkserver: a clean server process imports the worker module once, then forks each racer from it
    # (no inherited threads or Delta handles from the test process, and no per-racer import cost)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.monitoring.race_worker"])
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=race, args=(str(config_path), str(p.lakehouse_root), overrides, NOW.isoformat(), barrier, queue)
        )
        for _ in range(n)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    return results


def test_daily_limit_holds_for_8_racing_processes(platform: Platform, project_root: Path) -> None:
    overrides = {"cooldown_hours": 0.0, "daily_limit": 3}
    p = _platform(platform, **overrides)
    results = _race_processes(p, project_root / "project_config.yml", overrides)
    decisions = sorted(r[1] for r in results)
    assert decisions == ["skipped_limit"] * 5 + ["triggered"] * 3
    launched = [e for r in results for e in r[3]]
    assert sorted(launched) == sorted(r[0] for r in results if r[1] == "triggered")
    audit = decisions_of(p)
    assert len(audit) == 8 and audit["event_id"].is_unique
    assert (audit["decision"] == "triggered").sum() == 3
    # every committed decision saw all earlier ones: the read versions are strictly increasing
    ordered = audit.sort_values("read_version")
    assert ordered["read_version"].is_unique
    assert ordered[ordered["decision"] == "skipped_limit"]["triggered_today"].min() == 3
    assert sum(r[2] for r in results) > 8  # at least one commit lost a race and was re-decided


def test_cooldown_holds_for_8_racing_threads(platform: Platform) -> None:
    p = _platform(platform, cooldown_hours=6.0, daily_limit=100)
    barrier = threading.Barrier(8)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        trigger = RetrainingTrigger(
            Platform.create(p.config, lakehouse_root=p.lakehouse_root), launcher=RecordingLauncher(), clock=lambda: NOW
        )
        barrier.wait()
        r = trigger.evaluate(DRIFT)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 8
    assert sorted(r.decision for r in results) == ["skipped_cooldown"] * 7 + ["triggered"]
    assert sum(1 for r in results if r.launch is not None) == 1
    audit = decisions_of(p)
    assert (audit["decision"] == "triggered").sum() == 1 and len(audit) == 8


# -- Databricks launch through databricks-sdk, against a recording REST stub ------------------------------
def test_databricks_launcher_finds_the_job_and_runs_it_once(platform: Platform) -> None:
    from databricks.sdk import WorkspaceClient

    from financial_transactions.runtime.launchers import DatabricksJobLauncher
    from tests.support.rest_stub import RestStub

    with RestStub() as stub:
        stub.route(
            "GET",
            "/api/2.2/jobs/list",
            json={"jobs": [{"job_id": 123, "settings": {"name": "financial-retraining-workflow"}}], "has_more": False},
        )
        stub.route("POST", "/api/2.2/jobs/run-now", json={"run_id": 456, "number_in_job": 1})
        client = WorkspaceClient(host=stub.url, token="test-token", auth_type="pat")
        p = _platform(platform, cooldown_hours=0.0, launch="run_now")
        launcher = DatabricksJobLauncher(client, p.config.retraining)
        result = RetrainingTrigger(p, launcher=launcher, clock=lambda: NOW).evaluate(DRIFT)
        listed = stub.calls("GET", "/api/2.2/jobs/list")
        runs = stub.calls("POST", "/api/2.2/jobs/run-now")
    assert result.launch is not None and result.launch.status == "launched" and result.launch.run_id == "456"
    assert listed[0].query["name"] == ["financial-retraining-workflow"]
    assert len(runs) == 1
    body = runs[0].body
    assert body["job_id"] == 123 and body["idempotency_token"] == result.event_id  # a retried call never runs twice
    assert body["job_parameters"]["trigger_event_id"] == result.event_id
    audit = p.store.read(p.config.table("retraining_audit"))
    launch = audit[(audit["event_type"] == "launch") & (audit["decision"] == "launched")].iloc[0]
    assert (launch["launcher"], launch["run_id"], launch["detail"]) == ("databricks-run-now", "456", "job_id=123")


def test_databricks_launcher_reports_a_missing_job(platform: Platform) -> None:
    from databricks.sdk import WorkspaceClient

    from financial_transactions.runtime.launchers import DatabricksJobLauncher
    from tests.support.rest_stub import RestStub

    with RestStub() as stub:
        stub.route("GET", "/api/2.2/jobs/list", json={"jobs": [], "has_more": False})
        client = WorkspaceClient(host=stub.url, token="test-token", auth_type="pat")
        p = _platform(platform, cooldown_hours=0.0)
        result = RetrainingTrigger(
            p, launcher=DatabricksJobLauncher(client, p.config.retraining), clock=lambda: NOW
        ).evaluate(DRIFT)
        assert stub.calls("POST", "/api/2.2/jobs/run-now") == []
    assert result.decision == "triggered" and result.launch is not None
    assert result.launch.status == "launch_failed" and "no Databricks job named" in (result.launch.detail or "")
