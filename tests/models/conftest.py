"""Model tests: every test gets its own SQLite MLflow registry (``tests/support/mlflow_registry.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _seeded_mlflow(mlflow_registry: None) -> None:
    """Each model test's registry is a fresh copy of the migrated template."""
