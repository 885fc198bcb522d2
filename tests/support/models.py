"""Fit small real models and register them in the test's real SQLite registry."""

from __future__ import annotations

import mlflow

from financial_transactions.config import ProjectConfig
from financial_transactions.config.ml import (
    IsolationForestParams,
    LightGBMParams,
    ModelsConfig,
    RandomForestParams,
    XGBoostParams,
)
from financial_transactions.models.algorithms import LightGBMModel, RandomForestModel
from financial_transactions.models.base import BaseAnomalyModel
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.tournament import log_pyfunc
from financial_transactions.runtime import Platform


def lightgbm(n_estimators: int = 30) -> LightGBMModel:
    return LightGBMModel(LightGBMParams(n_estimators=n_estimators, num_leaves=8), random_state=7, n_jobs=1)


def random_forest(n_estimators: int) -> RandomForestModel:
    return RandomForestModel(
        RandomForestParams(n_estimators=n_estimators, max_depth=None, max_samples=None),
        random_state=7,
        n_jobs=1,
    )


def fit(model: BaseAnomalyModel, data: TrainingData) -> BaseAnomalyModel:
    return model.fit(data.train, data.validation, feature_columns=data.feature_columns, label_column=data.label_column)


def register(platform: Platform, registry: ModelRegistry, model: BaseAnomalyModel, data: TrainingData) -> int:
    """Log ``model`` (already fitted) as the project pyfunc and register it (-> challenger, latest-model)."""
    platform.configure_mlflow()
    with mlflow.start_run(run_name=f"test-{model.name}") as run:
        uri = log_pyfunc(model, data, metadata={"run_id": run.info.run_id}, input_example_rows=3)
    return registry.register(uri, tags={"algorithm": model.name})


def small(config: ProjectConfig) -> ProjectConfig:
    """``config`` with small ensembles: the real four models, trained in seconds."""
    models = ModelsConfig(
        lightgbm=LightGBMParams(n_estimators=40, num_leaves=15),
        xgboost=XGBoostParams(n_estimators=40, max_depth=4),
        random_forest=RandomForestParams(n_estimators=30, max_depth=8),
        isolation_forest=IsolationForestParams(n_estimators=50),
    )
    return config.model_copy(update={"models": models})
