"""The drift stage and the CLI commands on a real local lakehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.cli.main import app
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.monitoring.cycle import ground_truth_path, replay_window, run_cycle, run_performance
from financial_transactions.monitoring.render import print_cycle
from financial_transactions.monitoring.retraining_trigger import decisions_of
from financial_transactions.monitoring.stage import run_stage
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext

from .race_worker import RecordingLauncher


def _gold_windows(platform: Platform, rows: int = 600) -> None:
    """Gold rows in replay windows 1 (base regime) and 2 (volatility x3, volume x2)."""
    rng = np.random.default_rng(11)
    for window, vol, size in ((1, 1.0, 1.0), (2, 3.0, 2.0)):
        w = replay_window(platform, window)
        assert w.start is not None
        frame = pd.DataFrame(
            {
                "symbol": np.where(np.arange(rows) % 2 == 0, "AAPL", "BTCUSDT"),
                "bar_start": [w.start + timedelta(hours=5, minutes=i) for i in range(rows)],
                "open": rng.lognormal(5, 0.1, rows),  # a price level: not a model feature, not monitored
                "returns": rng.normal(0, 0.001 * vol, rows),
                "volatility": rng.lognormal(-7 + np.log(vol), 0.3, rows),
                "max_trade_volume_share": rng.beta(2, 8 / size, rows),
                "rsi": rng.uniform(30, 70, rows),
                "is_crypto": (np.arange(rows) % 2 == 1).astype(float),
            }
        )
        platform.store.append(platform.config.table("gold_trade_features"), frame)


def test_cycle_detects_the_regime_shift_and_triggers_retraining(platform: Platform) -> None:
    _gold_windows(platform)
    from financial_transactions.monitoring.retraining_trigger import RetrainingTrigger

    launcher = RecordingLauncher()
    cycle = run_cycle(
        platform,
        replay_window(platform, 1),
        replay_window(platform, 2),
        trigger_obj=RetrainingTrigger(platform, launcher=launcher),
    )
    report = cycle.drift
    assert {f.feature for f in report.features} == {
        "returns",
        "volatility",
        "max_trade_volume_share",
        "rsi",
        "is_crypto",
    }  # the model's features present in gold; 'open' is not one
    assert set(report.drifted_features) == {"returns", "volatility", "max_trade_volume_share"}
    assert report.feature("rsi").status == "ok" and report.feature("is_crypto").psi == pytest.approx(0.0)
    assert report.drift_detected
    assert cycle.trigger is not None and cycle.trigger.decision == "triggered"
    assert launcher.launched == [cycle.trigger.event_id]
    assert cycle.alerts == ["not_configured"]  # the drift alert, audited even without a webhook
    assert cycle.performance is None and cycle.performance_note == "no ground truth given"
    assert len(platform.store.read(platform.config.table("drift_monitoring"))) == 5


@dataclass
class _Outcome:
    def summary(self) -> dict[str, Any]:
        return {"winner": "lightgbm", "decision": "PROMOTE"}


def test_run_stage_prints_the_table_and_runs_the_train_stage(platform: Platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import financial_transactions.models.training as training

    _gold_windows(platform)
    trained: list[Platform] = []
    monkeypatch.setattr(training, "run_training", lambda p: trained.append(p) or _Outcome(), raising=False)
    console = Console(record=True, width=160)
    ctx = RunContext(platform=platform, console=console)
    summary = run_stage(ctx)
    out = console.export_text()
    assert "PSI (warn 0.1 / alert 0.25)" in out and "volatility" in out
    assert "retraining trigger: triggered" in out and "launch: launched via local-train" in out
    assert "performance: skipped - no ground truth at" in out
    assert summary["decision"] == "drift" and summary["retraining"] == "triggered" and summary["drifted"] == 3
    assert trained == [platform] and decisions_of(platform)["decision"].tolist() == ["triggered"]  # audited
    # the same cycle again within the cooldown: audited as skipped, nothing launched
    assert run_stage(RunContext(platform=platform, console=Console(record=True)))["retraining"] == "skipped_cooldown"
    assert len(trained) == 1


def test_cli_drift_and_rollback(platform: Platform, registry: ModelRegistry, project_root: Path) -> None:
    _gold_windows(platform)
    runner = CliRunner()
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    result = runner.invoke(app, [*base, "drift", "--no-launch"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "drift decision: drift" in result.output and "retraining trigger: triggered" in result.output

    result = runner.invoke(app, [*base, "drift", "--current-window", "7"])
    assert result.exit_code == 2 and "has no rows" in result.output

    result = runner.invoke(app, [*base, "rollback", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "champion v3 -> v2" in result.output and "dry run: nothing changed" in result.output
    assert registry.aliases()["champion"] == 3

    result = runner.invoke(app, [*base, "rollback", "--to-version", "42"])
    assert result.exit_code == 2 and "has no version 42" in result.output
    assert registry.aliases()["champion"] == 3

    result = runner.invoke(app, [*base, "rollback", "--reason", "bad release"])
    assert result.exit_code == 0, result.output
    assert registry.aliases()["champion"] == 2
    assert platform.store.read(platform.config.table("rollback_audit")).iloc[0]["reason"] == "bad release"


def test_drift_with_a_version_the_table_never_had_is_one_line_and_exit_2(
    platform: Platform, project_root: Path
) -> None:
    _gold_windows(platform)
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    fqn = platform.config.table("gold_trade_features")
    latest = platform.store.version(fqn)
    result = CliRunner().invoke(app, [*base, "drift", "--no-trigger", "--reference-version", "99"], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"drift: {fqn}: version 99 does not exist (latest is {latest}) "
        "(list the versions with `fin-mlops tables history <table>`)"
    ]


def test_detect_drift_script_runs_as_a_job_would(platform: Platform, project_root: Path) -> None:
    import subprocess
    import sys

    _gold_windows(platform)
    out = subprocess.run(
        [
            sys.executable,
            str(project_root / "scripts/financial/detect_drift.py"),
            "--env",
            "dev",
            "--config",
            str(project_root / "project_config.yml"),
            "--lakehouse-root",
            str(platform.lakehouse_root),
            "--git-sha",
            "abc123",
            "--no-launch",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "decision: drift" in out.stdout and "retraining: triggered" in out.stdout
    audit = platform.store.read(platform.config.table("retraining_audit")).sort_values("event_type")
    # decided and audited; --no-launch started nothing, so the decision uses up no cooldown
    assert audit[["event_type", "decision"]].values.tolist() == [["decision", "triggered"], ["launch", "not_launched"]]


def _labels_arrived(platform: Platform) -> Path:
    path = ground_truth_path(platform, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")
    return path


def test_a_registry_outage_is_an_alerted_error_not_no_champion(platform: Platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    from financial_transactions.monitoring.retraining_trigger import RetrainingTrigger
    from tests.support.rest_stub import RestStub

    _gold_windows(platform)
    truth = _labels_arrived(platform)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    get_model = "/api/2.0/mlflow/registered-models/get"
    with RestStub() as stub:  # the registry answers 503: it is down, it did not say "no champion"
        stub.route("GET", get_model, status=503, json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down"})

        def unreachable(cls: type[ModelRegistry], p: Platform, client: Any = None) -> ModelRegistry:
            return cls(p.config.model_name, MlflowClient(tracking_uri=stub.url, registry_uri=stub.url))

        monkeypatch.setattr(ModelRegistry, "from_platform", classmethod(unreachable))
        launcher = RecordingLauncher()
        cycle = run_cycle(
            platform,
            replay_window(platform, 1),
            replay_window(platform, 2),
            ground_truth=[truth],
            trigger_obj=RetrainingTrigger(platform, launcher=launcher),
        )
        assert stub.calls("GET", get_model)
    assert cycle.performance is None and cycle.performance_note is None
    assert cycle.performance_error is not None and cycle.performance_error.startswith("registry unavailable")
    assert "no champion" not in cycle.performance_error
    assert cycle.summary()["performance"] == "error"
    alerts = platform.store.read(platform.config.table("alerts_audit"))
    perf = alerts[alerts["source"] == "performance"]
    assert len(perf) == 1 and perf.iloc[0]["severity"] == "critical"
    assert "registry unavailable" in perf.iloc[0]["message"] and "drift alone" in perf.iloc[0]["message"]
    assert cycle.alerts == ["not_configured", "not_configured"]  # performance error + drift, both audited
    assert cycle.trigger is not None and cycle.trigger.decision == "triggered"  # drift still decides
    console = Console(record=True, width=200)
    print_cycle(console, cycle)
    assert "performance: error - registry unavailable" in console.export_text()


def test_no_champion_and_no_model_are_notes_not_errors(platform: Platform, registry: ModelRegistry) -> None:
    _gold_windows(platform)
    truth = _labels_arrived(platform)
    window = replay_window(platform, 2)
    registry.delete_alias("champion")
    report, note, error = run_performance(platform, window, [truth])
    assert report is None and error is None
    assert note == f"no champion to monitor (the registry lists no champion alias on {registry.name})"
    registry.client.delete_registered_model(registry.name)
    assert run_performance(platform, window, [truth]) == (None, f"no model {registry.name} registered yet", None)
