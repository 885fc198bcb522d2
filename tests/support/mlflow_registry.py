"""The one MLflow registry fixture: each test's local SQLite registry starts as a copy of one migrated template.

Creating an MLflow database runs all its schema migrations (seconds each time); copying an already-migrated
empty database gives each test the same fresh, isolated, real registry in milliseconds.

``mlflow_registry`` seeds every local SQLite database ``configure_mlflow`` points MLflow at (a Platform's
``state_dir/mlflow/mlflow.db``) from the template on first use. Model tests use it for every test
(``tests/models/conftest.py``); monitoring's ``registry`` fixture builds its versions 1..4 on it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from financial_transactions.lakehouse.tracking import MlflowSettings
from financial_transactions.runtime import platform as platform_module


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow tracking + registry SQLite database, created once per test run."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    db = folder / "mlflow.db"
    SqlAlchemyStore(f"sqlite:///{db}", (folder / "artifacts").as_uri())
    RegistryStore(f"sqlite:///{db}")
    return db


def seed(db: Path, template: Path) -> None:
    """Copy ``template`` to ``db`` unless ``db`` exists already."""
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, db)


@pytest.fixture
def mlflow_registry(monkeypatch: pytest.MonkeyPatch, mlflow_db_template: Path) -> None:
    """Every local SQLite MLflow database this test configures starts as a copy of the migrated template."""
    real: Callable[[MlflowSettings], str] = platform_module.configure_mlflow

    def seeded(settings: MlflowSettings) -> str:
        if settings.tracking_uri.startswith("sqlite:///"):
            seed(Path(settings.tracking_uri.removeprefix("sqlite:///")), mlflow_db_template)
        return real(settings)

    monkeypatch.setattr(platform_module, "configure_mlflow", seeded)
