"""Monitoring fixtures: a registry with versions 1..4 (from a once-initialised SQLite template)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised MLflow SQLite database, created once (schema migrations are slow) and copied per test."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def registry(platform: Platform, registry_template: Path) -> ModelRegistry:
    """Model versions 1..4 of cfg.model_name; v3 champion, v2 previous-champion, v4 challenger."""
    target = platform.paths.state_dir / "mlflow" / "mlflow.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(registry_template, target)
    reg = ModelRegistry.from_platform(platform)
    reg.client.create_registered_model(reg.name)
    artifacts = platform.paths.state_dir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for _ in range(4):
        reg.client.create_model_version(reg.name, source=str(artifacts))
    reg.apply_aliases({"champion": 3, "previous-champion": 2, "challenger": 4, "latest-model": 4})
    return reg
