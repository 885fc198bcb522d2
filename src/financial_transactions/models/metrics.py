"""Ranking and threshold metrics for anomaly scores (higher score = more anomalous).

Conventions, so every figure in MLflow, the tables and the gate means one thing:

* ``pr_auc`` is average precision (scikit-learn's step-wise sum, no trapezoid
  interpolation, which would be optimistic on imbalanced data).
* ``precision_at_k`` is the precision of the ``k`` highest scores; ``k`` is capped
  at the number of rows, and tied scores at the cut are broken by row order.
* ``recall_at_fpr`` is the highest recall on the ROC curve whose false-positive
  rate does not exceed the fixed FPR.
* ``f1``/``precision``/``recall`` use the threshold chosen on the validation slice.

A holdout without both classes makes the ranking metrics undefined: that is an
:class:`UndefinedMetric` error, never a silent 0.0.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

METRIC_NAMES = ("pr_auc", "roc_auc", "precision_at_k", "recall_at_fpr", "f1", "precision", "recall")


class UndefinedMetric(ValueError):
    """The labels make a metric meaningless (e.g. no anomalies in the holdout)."""


def require_both_classes(y: np.ndarray, what: str) -> None:
    positives = int(np.sum(y == 1))
    if positives == 0 or positives == len(y):
        raise UndefinedMetric(
            f"{what} has {positives} anomalous row(s) out of {len(y)}: both classes are needed "
            "to rank models and choose a threshold"
        )


def choose_threshold(y_val: np.ndarray, scores: np.ndarray) -> float:
    """The score cut that maximises F1 on the validation slice.

    Ties go to the highest threshold (fewer alerts for the same F1). The result
    is a value seen on validation, so ``score >= threshold`` flags that row.
    """
    y_val = np.asarray(y_val, dtype=np.int64)
    require_both_classes(y_val, "the validation slice")
    precision, recall, thresholds = precision_recall_curve(y_val, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = np.flatnonzero(f1 == f1.max())
    return float(thresholds[best].max())


def evaluate_scores(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    k: int,
    fixed_fpr: float,
) -> dict[str, float]:
    """All tournament metrics for one model on one holdout (flagged = ``score >= threshold``)."""
    s = np.asarray(scores, dtype=np.float64)
    return evaluate_predictions(y_true, s, s >= threshold, k=k, fixed_fpr=fixed_fpr)


def evaluate_predictions(
    y_true: np.ndarray,
    scores: np.ndarray,
    flagged: np.ndarray,
    *,
    k: int,
    fixed_fpr: float,
) -> dict[str, float]:
    """The same metrics from scores plus the model's own 0/1 labels (what a pyfunc returns)."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    predicted = np.asarray(flagged).astype(bool)
    if y.shape != s.shape or y.shape != predicted.shape:
        raise ValueError(f"labels {y.shape}, scores {s.shape} and flags {predicted.shape} differ in shape")
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} non-finite score(s)")
    require_both_classes(y, "the holdout")
    k_eff = min(k, len(y))
    top = np.argsort(-s, kind="stable")[:k_eff]
    fpr, tpr, _ = roc_curve(y, s)
    within = fpr <= fixed_fpr
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0  # nothing flagged: no correct flag
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pr_auc": float(average_precision_score(y, s)),
        "roc_auc": float(roc_auc_score(y, s)),
        "precision_at_k": float(np.mean(y[top])),
        "recall_at_fpr": float(tpr[within].max()) if within.any() else 0.0,
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
    }
