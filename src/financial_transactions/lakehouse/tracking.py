"""MLflow configured in one place.

Locally: SQLite tracking + registry under the lakehouse state dir with an
explicit artifact location, so nothing ever lands in a stray ``./mlruns``.
Which settings apply is the runtime's choice (``Runtime.mlflow_settings``): the
Databricks runtime uses the workspace tracking server and the Unity Catalog registry.

A new SQLite store starts as a copy of an empty, migrated template cached per MLflow
version: MLflow's own creation runs its ~60 schema migrations, seconds per fresh
lakehouse (every ``run --fresh``, every test lakehouse), and the copy takes milliseconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: The root of the MLflow template cache (default ``~/.cache/financial-ai-mlops/mlflow``).
MLFLOW_CACHE_ENV = "FIN_MLOPS_MLFLOW_CACHE"


@dataclass(frozen=True)
class MlflowSettings:
    tracking_uri: str
    registry_uri: str
    artifact_location: str | None
    experiment_name: str


def local_mlflow_settings(*, state_dir: Path, experiment: str) -> MlflowSettings:
    """SQLite tracking and registry plus file artifacts, all under ``state_dir/mlflow``."""
    mlflow_dir = state_dir / "mlflow"
    return MlflowSettings(
        tracking_uri=f"sqlite:///{mlflow_dir / 'mlflow.db'}",
        registry_uri=f"sqlite:///{mlflow_dir / 'mlflow.db'}",
        artifact_location=(mlflow_dir / "artifacts").as_uri(),
        experiment_name=experiment,
    )


def configure_mlflow(settings: MlflowSettings) -> str:
    """Point MLflow (and child processes) at ``settings``; return the experiment id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    if settings.tracking_uri.startswith("sqlite:///"):
        db = Path(settings.tracking_uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        if not db.exists():
            _seed_from_template(db)
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    os.environ["MLFLOW_REGISTRY_URI"] = settings.registry_uri
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    exp = client.get_experiment_by_name(settings.experiment_name)
    if exp is None:
        exp_id = client.create_experiment(settings.experiment_name, artifact_location=settings.artifact_location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return str(exp_id)


def mlflow_template() -> Path:
    """The empty, migrated SQLite store of this MLflow version, built into the cache on first use.

    Built by MLflow itself; its default experiment (id 0) is removed, because MLflow
    records it with the artifact root of the store it was created for and recreates it,
    for the new store's own root, when a store opens without one.
    """
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    cache = Path(os.environ.get(MLFLOW_CACHE_ENV) or Path.home() / ".cache" / "financial-ai-mlops" / "mlflow")
    path = cache.expanduser() / f"mlflow-{mlflow.__version__}.db"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        db = Path(tmp) / "mlflow.db"
        SqlAlchemyStore(f"sqlite:///{db}", Path(tmp).as_uri()).engine.dispose()
        with sqlite3.connect(db) as con:
            con.execute("DELETE FROM experiments")
        con.close()
        os.replace(db, path)  # whole or not at all: concurrent builders each rename a complete file
    return path


def _seed_from_template(db: Path) -> None:
    """Start the store ``db`` as a copy of :func:`mlflow_template`; MLflow creates it itself if that fails."""
    try:
        template = mlflow_template()
        part = db.with_name(f".{db.name}.{os.getpid()}.part")
        shutil.copyfile(template, part)
        os.replace(part, db)
    except Exception as exc:  # a read-only home, a full disk: MLflow's own creation still works
        log.debug("MLflow store %s created without the template: %s", db, exc)
