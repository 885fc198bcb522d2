"""Monitoring fixtures: a registry with versions 1..4, on the shared MLflow registry fixture."""

from __future__ import annotations

import pytest

from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform


@pytest.fixture
def registry(platform: Platform, mlflow_registry: None) -> ModelRegistry:
    """Model versions 1..4 of cfg.model_name; v3 champion, v2 previous-champion, v4 challenger."""
    reg = ModelRegistry.from_platform(platform)
    reg.client.create_registered_model(reg.name)
    artifacts = platform.paths.state_dir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for _ in range(4):
        reg.client.create_model_version(reg.name, source=str(artifacts))
    reg.apply_aliases({"champion": 3, "previous-champion": 2, "challenger": 4, "latest-model": 4})
    return reg
