"""The four tournament entrants, hyperparameters from ``cfg.models``.

Class imbalance (anomalies are ~1-10 % of bars) is handled deliberately, per algorithm:

* LightGBM and XGBoost weight the positive class by ``scale_pos_weight``
  (``balanced`` = n_negative / n_positive of the train slice);
* RandomForest uses ``class_weight`` (``balanced_subsample`` re-weights inside
  each bootstrap sample);
* IsolationForest is fitted on the normal training rows only (``fit_on: normal``,
  novelty detection) so the anomalies it should isolate do not shape its notion
  of normal; its anomaly score is ranked on the same holdout as the others.

All use ``n_jobs`` threads and histogram/binned split finding where the library
has it, to stay fast on two cores. The two scikit-learn forests train on ``n_jobs``
threads but score on one (:func:`sequential_scoring`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from financial_transactions.config.ml import (
    IsolationForestParams,
    LightGBMParams,
    ModelsConfig,
    RandomForestParams,
    XGBoostParams,
)
from financial_transactions.models.base import BaseAnomalyModel, positive_weight
from financial_transactions.models.custom_model import SCORE_ISOLATION


def sequential_scoring(estimator: Any) -> Any:
    """Score a fitted scikit-learn forest on one thread: its threads add tree outputs in finishing order, so a row
    scored twice could differ by an ulp and flip at ``score >= threshold`` (a threshold is a validation score)."""
    return estimator.set_params(n_jobs=1)


class LightGBMModel(BaseAnomalyModel):
    name: ClassVar[str] = "lightgbm"
    requirements: ClassVar[tuple[str, ...]] = ("lightgbm",)

    def __init__(self, params: LightGBMParams, *, random_state: int, n_jobs: int) -> None:
        super().__init__(random_state=random_state, n_jobs=n_jobs)
        self.params = params

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump()

    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        from lightgbm import LGBMClassifier

        self.class_weight_used = positive_weight(self.params.scale_pos_weight, y)
        model = LGBMClassifier(
            n_estimators=self.params.n_estimators,
            learning_rate=self.params.learning_rate,
            num_leaves=self.params.num_leaves,
            min_child_samples=self.params.min_child_samples,
            colsample_bytree=self.params.colsample_bytree,
            max_bin=self.params.max_bin,
            scale_pos_weight=self.class_weight_used,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        return model.fit(x, y)

    def _raw_importance(self) -> Any:
        # total gain: split counts would favour noisy continuous features
        return self.estimator.booster_.feature_importance(importance_type="gain")


class XGBoostModel(BaseAnomalyModel):
    name: ClassVar[str] = "xgboost"
    requirements: ClassVar[tuple[str, ...]] = ("xgboost",)

    def __init__(self, params: XGBoostParams, *, random_state: int, n_jobs: int) -> None:
        super().__init__(random_state=random_state, n_jobs=n_jobs)
        self.params = params

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump()

    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        from xgboost import XGBClassifier

        self.class_weight_used = positive_weight(self.params.scale_pos_weight, y)
        model = XGBClassifier(
            n_estimators=self.params.n_estimators,
            learning_rate=self.params.learning_rate,
            max_depth=self.params.max_depth,
            subsample=self.params.subsample,
            colsample_bytree=self.params.colsample_bytree,
            max_bin=self.params.max_bin,
            tree_method=self.params.tree_method,
            scale_pos_weight=self.class_weight_used,
            eval_metric="aucpr",
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        return model.fit(x, y)


class RandomForestModel(BaseAnomalyModel):
    name: ClassVar[str] = "random_forest"

    def __init__(self, params: RandomForestParams, *, random_state: int, n_jobs: int) -> None:
        super().__init__(random_state=random_state, n_jobs=n_jobs)
        self.params = params

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump()

    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        class_weight = None if self.params.class_weight == "none" else self.params.class_weight
        max_samples = self.params.max_samples
        if isinstance(max_samples, int):
            max_samples = min(max_samples, len(y))
        model = RandomForestClassifier(
            n_estimators=self.params.n_estimators,
            max_depth=self.params.max_depth,
            min_samples_leaf=self.params.min_samples_leaf,
            max_features=self.params.max_features,
            max_samples=max_samples,
            bootstrap=True,
            class_weight=class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        return sequential_scoring(model.fit(x, y))


class IsolationForestModel(BaseAnomalyModel):
    name: ClassVar[str] = "isolation_forest"
    score_method: ClassVar[str] = SCORE_ISOLATION

    def __init__(self, params: IsolationForestParams, *, random_state: int, n_jobs: int) -> None:
        super().__init__(random_state=random_state, n_jobs=n_jobs)
        self.params = params

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump()

    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.ensemble import IsolationForest

        rows = x[y == 0] if self.params.fit_on == "normal" else x
        model = IsolationForest(
            n_estimators=self.params.n_estimators,
            contamination=self.params.contamination,
            max_samples=self.params.max_samples,
            max_features=self.params.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        return sequential_scoring(model.fit(rows))


MODEL_CLASSES: dict[str, type[BaseAnomalyModel]] = {
    cls.name: cls for cls in (LightGBMModel, XGBoostModel, RandomForestModel, IsolationForestModel)
}


def build_models(cfg: ModelsConfig) -> list[BaseAnomalyModel]:
    """The enabled entrants, in config order, each with its own hyperparameter section."""
    common: dict[str, Any] = {"random_state": cfg.random_state, "n_jobs": cfg.n_jobs}
    factories: dict[str, Any] = {
        "lightgbm": lambda: LightGBMModel(cfg.lightgbm, **common),
        "xgboost": lambda: XGBoostModel(cfg.xgboost, **common),
        "random_forest": lambda: RandomForestModel(cfg.random_forest, **common),
        "isolation_forest": lambda: IsolationForestModel(cfg.isolation_forest, **common),
    }
    return [factories[name]() for name in cfg.enabled]
