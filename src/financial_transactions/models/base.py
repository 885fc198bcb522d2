"""The model contract of the tournament: ``BaseAnomalyModel`` and ``ModelResult``.

Every algorithm is trained on the train slice, gets its decision threshold on
the validation slice (F1-optimal, :func:`metrics.choose_threshold`), is ranked
by the tournament on that same validation slice and is scored on the held-out
test slice (the reported figures) with one score convention: higher = more anomalous, in
[0, 1]. That convention (classifier probability, IsolationForest anomaly score)
is what makes a supervised booster and an unsupervised forest comparable on
PR-AUC and what the pyfunc (:mod:`custom_model`) serves.
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from financial_transactions.models.custom_model import (
    SCORE_PROBA,
    Scorer,
    anomaly_scores,
    column_fill_values,
    prepare_features,
)
from financial_transactions.models.metrics import choose_threshold, require_both_classes


@dataclass
class ModelResult:
    """One tournament entrant: its figures, or its failure (never both, never a silent 0.0)."""

    name: str
    status: Literal["ok", "failed"]
    metrics: dict[str, float] = field(default_factory=dict)  # on the held-out test slice (reported)
    validation_metrics: dict[str, float] = field(default_factory=dict)  # on the validation slice (ranked)
    params: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    run_id: str | None = None
    model_uri: str | None = None
    error: str | None = None
    train_seconds: float | None = None
    rank: int | None = None
    feature_importance: dict[str, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def metric(self, name: str) -> float:
        """A held-out (test) metric of a successful model; asking a failed one is an error, not a zero."""
        return self._get(self.metrics, name, "test")

    def selection_metric(self, name: str) -> float:
        """A validation-slice metric: what the tournament ranks on, so the test figure stays unbiased."""
        return self._get(self.validation_metrics, name, "validation")

    def _get(self, metrics: dict[str, float], name: str, where: str) -> float:
        if not self.ok:
            raise ValueError(f"model {self.name} failed ({self.error}); it has no {name}")
        if name not in metrics:
            raise KeyError(f"model {self.name} has no {where} metric {name!r}; it has {sorted(metrics)}")
        return metrics[name]


class BaseAnomalyModel(abc.ABC):
    """Fit on train, choose the threshold on validation, score anything with the same columns."""

    #: stable identifier used in config (``models.enabled``), MLflow run names and tables
    name: ClassVar[str]
    #: how :func:`custom_model.anomaly_scores` turns the estimator into a score
    score_method: ClassVar[str] = SCORE_PROBA
    #: extra pip requirements of the pickled estimator beyond numpy/pandas/scikit-learn
    requirements: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, random_state: int, n_jobs: int) -> None:
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.estimator: Any = None
        self.feature_columns: list[str] = []
        self.fill_values: list[float] = []
        self.threshold: float | None = None
        self.fit_seconds: float | None = None
        self.class_weight_used: float | None = None

    # -- what a subclass provides ------------------------------------------------
    @abc.abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """The configured hyperparameters, as logged to MLflow."""

    @abc.abstractmethod
    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        """Return a fitted scikit-learn-API estimator."""

    # -- the shared protocol -----------------------------------------------------
    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame,
        *,
        feature_columns: list[str],
        label_column: str,
    ) -> BaseAnomalyModel:
        """Fit on ``train``; choose the threshold on ``validation`` (never on test)."""
        y_train = train[label_column].to_numpy(dtype=np.int64)
        require_both_classes(y_train, "the train slice")
        self.feature_columns = list(feature_columns)
        self.fill_values = column_fill_values(train, self.feature_columns)
        x_train = prepare_features(train, self.feature_columns, self.fill_values)
        start = time.perf_counter()
        self.estimator = self._fit_estimator(x_train, y_train)
        self.fit_seconds = time.perf_counter() - start
        y_val = validation[label_column].to_numpy(dtype=np.int64)
        self.threshold = choose_threshold(y_val, self.score(validation))
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        if self.estimator is None:
            raise RuntimeError(f"{self.name}: score() before fit()")
        return anomaly_scores(
            self.estimator, prepare_features(frame, self.feature_columns, self.fill_values), self.score_method
        )

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """What the pyfunc needs to score exactly like this object does."""
        if self.threshold is None:
            raise RuntimeError(f"{self.name}: metadata() before fit()")
        return {
            "algorithm": self.name,
            "feature_columns": self.feature_columns,
            "fill_values": self.fill_values,
            "threshold": self.threshold,
            "score_method": self.score_method,
            "hyperparameters": self.hyperparameters(),
            **extra,
        }

    def feature_importance(self) -> dict[str, float] | None:
        """Normalised importances (sum 1) per feature, or None when the algorithm has none."""
        raw = self._raw_importance()
        if raw is None:
            return None
        values = np.asarray(raw, dtype=np.float64)
        total = float(np.abs(values).sum())
        if total == 0 or not np.isfinite(total):
            return None
        return {col: float(v / total) for col, v in zip(self.feature_columns, values, strict=True)}

    def _raw_importance(self) -> Any:
        return getattr(self.estimator, "feature_importances_", None)

    def scorer(self, **extra: Any) -> Scorer:
        return Scorer(self.estimator, self.metadata(**extra))


def positive_weight(setting: float | str, y: np.ndarray) -> float:
    """``balanced`` -> n_negative / n_positive of the training labels; ``none`` -> 1.0."""
    if setting == "none":
        return 1.0
    if setting == "balanced":
        positives = int(np.sum(y == 1))
        negatives = len(y) - positives
        if positives == 0:
            raise ValueError("no positive training rows: cannot balance the classes")
        return max(negatives / positives, 1.0)
    weight = float(setting)
    if not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"scale_pos_weight must be positive, got {setting!r}")
    return weight
