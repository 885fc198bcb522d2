"""MLflow configured in one place.

Locally: SQLite tracking + registry under the lakehouse state dir with an
explicit artifact location, so nothing ever lands in a stray ``./mlruns``.
Which settings apply is the runtime's choice (``Runtime.mlflow_settings``): the
Databricks runtime uses the workspace tracking server and the Unity Catalog registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
        Path(settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
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
