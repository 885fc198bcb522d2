"""``CustomModel``: the MLflow pyfunc that every registered anomaly model is.

One artifact carries everything scoring needs, so serving, the gate, the
validator and the backtest all score exactly like the tournament did:

* **feature preparation** – the trained feature columns, in training order, cast
  to float64; non-finite values (indicator warm-up, division by zero) become the
  training median of that column, so a raw gold row never yields a NaN score;
* **the model** – a fitted scikit-learn-API estimator (LightGBM, XGBoost,
  RandomForest or IsolationForest), stored with joblib;
* **the threshold** – chosen on the validation slice, never on the test set;
* **metadata** – algorithm, run id, validation/test metrics, config hash, git sha.

``predict`` takes raw gold rows (extra columns such as ``symbol`` and
``bar_start`` are ignored) and returns ``score`` (higher = more anomalous, in
[0, 1]), ``label`` (1 when ``score >= threshold``) and ``model_version``.

The registry version is not known when the model is logged, so it is passed at
load time: ``mlflow.pyfunc.load_model(uri, model_config={"model_version": "7"})``
(``registry.ModelRegistry.load`` always does). Without it the output says
``run:<run id>``, which still identifies the exact artifact.

This file is logged as *model code* (MLflow models-from-code), so it imports
only numpy, pandas, joblib and mlflow: a serving endpoint needs no project wheel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# OpenMP threads of the estimators sleep instead of spinning (see financial_transactions.models)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SCORE_PROBA = "predict_proba"
SCORE_ISOLATION = "isolation_score"
OUTPUT_COLUMNS = ("score", "label", "model_version")


def prepare_features(frame: pd.DataFrame, columns: Sequence[str], fill_values: Sequence[float]) -> np.ndarray:
    """Raw rows -> a float64 matrix in training column order; non-finite -> training median.

    Numeric columns convert in one call; only object columns (numbers sent as text, say)
    go through ``pd.to_numeric`` one by one, where anything unparseable becomes missing.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"input lacks feature column(s) {missing}; the model needs {list(columns)}")
    selected = frame[list(columns)]
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in selected.dtypes):
        matrix = selected.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        matrix = np.empty((len(frame), len(columns)), dtype=np.float64)
        for j, col in enumerate(columns):
            matrix[:, j] = pd.to_numeric(selected[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return fill_non_finite(matrix, fill_values)


def fill_non_finite(matrix: np.ndarray, fill_values: Sequence[float]) -> np.ndarray:
    """NaN/±inf -> the column's training median, in place on a float64 matrix (returned)."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        matrix[bad] = np.broadcast_to(np.asarray(fill_values, dtype=np.float64), matrix.shape)[bad]
    return matrix


def column_fill_values(frame: pd.DataFrame, columns: Sequence[str]) -> list[float]:
    """Training medians of the finite values (0.0 for an all-missing column), for ``prepare_features``."""
    out = []
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        out.append(float(np.median(finite)) if finite.size else 0.0)
    return out


def binary_booster(estimator: Any) -> tuple[Any, int] | None:
    """The booster and predict thread count of a fitted binary LightGBM classifier, else None.

    Its ``predict_proba(X)[:, 1]`` is exactly ``booster.predict(X)`` (lightgbm's scikit-learn
    wrapper stacks ``[1 - p, p]``), but the wrapper first re-validates the input and rebuilds its
    parameters, about 0.4 ms a call: most of a one-row request. Prediction is parallel over rows
    only, so the thread count never changes a score. Detected by name: this file imports no lightgbm.
    """
    kind = type(estimator)
    if kind.__name__ != "LGBMClassifier" or not kind.__module__.startswith("lightgbm"):
        return None
    try:
        booster, classes = estimator.booster_, estimator.n_classes_
    except Exception:  # not fitted
        return None
    if classes != 2 or callable(getattr(estimator, "objective", None)):  # a custom objective yields raw scores
        return None
    n_jobs = estimator.n_jobs
    return booster, (n_jobs if isinstance(n_jobs, int) and n_jobs > 0 else 0)  # 0: OpenMP's default


def anomaly_scores(estimator: Any, matrix: np.ndarray, method: str) -> np.ndarray:
    """Higher = more anomalous, in [0, 1], for every algorithm.

    Classifiers give the positive-class probability. IsolationForest gives the
    anomaly score of Liu et al. (2008), ``2 ** (-E[h(x)] / c(n))``, which is
    ``-score_samples`` in scikit-learn and already lies in (0, 1].
    """
    if method == SCORE_PROBA:
        proba = estimator.predict_proba(matrix)
        return np.asarray(proba[:, 1], dtype=np.float64)
    if method == SCORE_ISOLATION:
        return np.asarray(-estimator.score_samples(matrix), dtype=np.float64)
    raise ValueError(f"unknown score method {method!r}")


class Scorer:
    """The scoring core shared by the pyfunc and in-process evaluation (one code path)."""

    def __init__(self, estimator: Any, metadata: Mapping[str, Any]) -> None:
        self.estimator = estimator
        self.metadata = dict(metadata)
        self.columns: list[str] = list(metadata["feature_columns"])
        self.fill_values: list[float] = [float(v) for v in metadata["fill_values"]]
        self.threshold = float(metadata["threshold"])
        self.method = str(metadata["score_method"])
        if len(self.fill_values) != len(self.columns):
            raise ValueError("metadata: fill_values and feature_columns differ in length")
        self._booster = binary_booster(estimator) if self.method == SCORE_PROBA else None

    def _scores(self, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:
        if self._booster is not None:
            booster, own = self._booster
            return np.asarray(
                booster.predict(matrix, num_threads=own if threads is None else threads), dtype=np.float64
            )
        return anomaly_scores(self.estimator, matrix, self.method)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self._scores(prepare_features(frame, self.columns, self.fill_values))

    def score_matrix(self, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Scores of a float64 matrix already in ``columns`` order (NaN allowed): the low-latency entry.

        ``threads`` (0: OpenMP's default, every core) overrides a LightGBM booster's thread count for
        this call; rows are predicted independently, so it changes the time, never a score.
        """
        if matrix.ndim != 2 or matrix.shape[1] != len(self.columns):
            raise ValueError(f"expected a matrix of {len(self.columns)} feature columns, got shape {matrix.shape}")
        return self._scores(fill_non_finite(matrix, self.fill_values), threads)

    def predict(self, frame: pd.DataFrame, model_version: str) -> pd.DataFrame:
        scores = self.score(frame)
        return pd.DataFrame(
            {
                "score": scores,
                "label": (scores >= self.threshold).astype(np.int64),
                "model_version": np.full(len(scores), model_version, dtype=object),
            },
            index=frame.index,
        )


try:  # the pyfunc flavour needs mlflow; the scoring core above does not
    import mlflow.models
    from mlflow.pyfunc import PythonModel

    class CustomModel(PythonModel):
        """Pyfunc wrapper: artifacts ``estimator`` (joblib) and ``metadata`` (JSON)."""

        def load_context(self, context: Any) -> None:
            import joblib

            with open(context.artifacts["metadata"], encoding="utf-8") as fh:
                metadata = json.load(fh)
            self.scorer = Scorer(joblib.load(context.artifacts["estimator"]), metadata)
            config = dict(context.model_config or {})
            self.model_version = str(config.get("model_version") or f"run:{metadata.get('run_id', 'unknown')}")

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
            if not isinstance(model_input, pd.DataFrame):
                model_input = pd.DataFrame(model_input)
            return self.scorer.predict(model_input, self.model_version)

    if __name__ != "financial_transactions.models.custom_model":
        # executed as logged model code by MLflow: declare the model object it should serve
        mlflow.models.set_model(CustomModel())
except ImportError:  # pragma: no cover - mlflow is a runtime dependency of the project
    pass
