"""RetrainingTrigger: the pure rules, the audit, and 8 racing triggers against one Delta audit table."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from financial_transactions.config.monitoring import RetrainingConfig
from financial_transactions.lakehouse import Platform
from financial_transactions.monitoring.retraining_trigger import (
    History,
    RetrainingTrigger,
    TriggerSignals,
    decide,
    decisions_of,
    history_of,
)

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
    assert set(launches["decision"]) == {"launched"}
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
    assert audit[audit["event_type"] == "launch"].iloc[0]["decision"] == "launch_failed"


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

    from financial_transactions.monitoring.retraining_trigger import DatabricksJobLauncher
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
    launch = audit[audit["event_type"] == "launch"].iloc[0]
    assert (launch["launcher"], launch["run_id"], launch["detail"]) == ("databricks-run-now", "456", "job_id=123")


def test_databricks_launcher_reports_a_missing_job(platform: Platform) -> None:
    from databricks.sdk import WorkspaceClient

    from financial_transactions.monitoring.retraining_trigger import DatabricksJobLauncher
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
