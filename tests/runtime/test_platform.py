"""Platform wiring: lakehouse paths, MLflow location and the engine, locally and on Databricks."""

from __future__ import annotations

from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.runtime import DatabricksRuntime, Platform


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
