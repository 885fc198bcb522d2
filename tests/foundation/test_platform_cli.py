"""Platform wiring (paths, MLflow, engine) and the CLI core commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.orchestration import Stage, run_stages
from financial_transactions.runtime import DatabricksRuntime, Platform
from financial_transactions.runtime.context import RunContext


def test_local_paths_mirror_unity_catalog_volumes(platform: Platform, lakehouse_root: Path) -> None:
    assert isinstance(platform.store, LocalDeltaStore)
    assert platform.paths.landing == lakehouse_root / "Volumes" / "mlops_dev" / "financial_transactions" / "landing"
    assert platform.paths.checkpoints.name == "checkpoints"
    assert platform.engine.startswith("embedded")


def test_databricks_paths_use_volumes(config: ProjectConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    p = Platform.create(config)
    assert isinstance(p.runtime, DatabricksRuntime)
    assert p.paths.landing == Path("/Volumes/mlops_dev/financial_transactions/landing")
    assert p.mlflow.tracking_uri == "databricks"
    assert p.mlflow.registry_uri == "databricks-uc"
    assert p.mlflow.experiment_name == "/Shared/financial-ai-mlops/dev/financial-anomaly-tournament"


def test_mlflow_is_sqlite_under_the_lakehouse_never_mlruns(platform: Platform, tmp_path: Path) -> None:
    import mlflow

    exp_id = platform.configure_mlflow()
    assert platform.mlflow.tracking_uri == f"sqlite:///{platform.paths.state_dir / 'mlflow' / 'mlflow.db'}"
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_dict({"a": 1}, "probe.json")
    assert run.info.artifact_uri.startswith(platform.paths.state_dir.as_uri())
    assert not (Path.cwd() / "mlruns").exists()


def test_spark_remote_selects_connect_engine(config: ProjectConfig) -> None:
    p = Platform.create(config, spark_remote="sc://127.0.0.1:15002")
    assert p.engine == "spark-connect (sc://127.0.0.1:15002)"


def test_cli_help_and_info(tmp_path: Path, project_root: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "info" in result.output and "run" in result.output
    result = runner.invoke(
        app,
        ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path), "info"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "mlops_dev.financial_transactions" in result.output
    assert "silver_trades" in result.output
    assert str(tmp_path) in result.output


def test_cli_reports_config_errors_cleanly(tmp_path: Path, project_root: Path) -> None:
    result = CliRunner().invoke(
        app, ["--env", "qa", "--config", str(project_root / "project_config.yml"), "info"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "unknown env 'qa'" in result.output
    assert result.output.startswith("config error ") and "[/]" not in result.output  # styled, not raw markup

    bad = tmp_path / "project_config.yml"
    bad.write_text((project_root / "project_config.yml").read_text().replace("  bins: 10", "  bins: 1"))
    result = CliRunner().invoke(app, ["--config", str(bad), "info"], terminal_width=200)
    assert result.exit_code == 2
    assert "field drift.bins: Input should be greater than or equal to 2 (value: 1)" in result.output


def test_run_stops_at_the_first_failure_and_reports_it(platform: Platform) -> None:
    from rich.console import Console

    calls: list[str] = []

    def ok(ctx: RunContext) -> dict[str, int]:
        calls.append("ok")
        return {"rows": 3}

    def boom(ctx: RunContext) -> dict[str, int]:
        calls.append("boom")
        raise ValueError("bad landing file landing/x.ndjson")

    stages = [Stage("a", ok), Stage("b", boom), Stage("c", ok)]
    ctx = RunContext(platform=platform, console=Console(record=True))
    results = run_stages(ctx, stages)
    assert [r.status for r in results] == ["ok", "failed", "skipped"]
    assert results[0].summary == {"rows": 3}
    assert results[1].error == "ValueError: bad landing file landing/x.ndjson"
    assert calls == ["ok", "boom"]
