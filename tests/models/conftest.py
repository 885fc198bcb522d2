"""Model tests: every test gets its own SQLite MLflow registry, seeded from one migrated template.

Creating an MLflow database runs all its schema migrations (seconds each time);
copying an already-migrated empty database gives each test the same fresh,
isolated, real registry in milliseconds.
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
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    db = folder / "mlflow.db"
    SqlAlchemyStore(f"sqlite:///{db}", (folder / "artifacts").as_uri())
    RegistryStore(f"sqlite:///{db}")
    return db


@pytest.fixture(autouse=True)
def _seeded_mlflow(monkeypatch: pytest.MonkeyPatch, mlflow_db_template: Path) -> None:
    real: Callable[[MlflowSettings], str] = platform_module.configure_mlflow

    def seeded(settings: MlflowSettings) -> str:
        if settings.tracking_uri.startswith("sqlite:///"):
            db = Path(settings.tracking_uri.removeprefix("sqlite:///"))
            if not db.exists():
                db.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(mlflow_db_template, db)
        return real(settings)

    monkeypatch.setattr(platform_module, "configure_mlflow", seeded)
