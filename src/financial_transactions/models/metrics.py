"""Ranking and threshold metrics for anomaly scores (higher score = more anomalous), and their sampling error.

Conventions, so every figure in MLflow, the tables and the gate means one thing:

* ``pr_auc`` is average precision (scikit-learn's step-wise sum, no trapezoid
  interpolation, which would be optimistic on imbalanced data).
* ``precision_at_k`` is the precision of the ``k`` highest scores; ``k`` is capped
  at the number of rows, and tied scores at the cut are broken by row order.
* ``recall_at_fpr`` is the highest recall of a score cut (flag ``score >= cut``)
  whose false-positive rate does not exceed the fixed FPR. Every distinct score is
  a candidate cut and tied scores are flagged together, so the value is exact with
  ties (no ROC point dropped, no interpolation between cuts: a threshold cannot
  flag half of a tie).
* ``f1``/``precision``/``recall`` use the threshold chosen on the validation slice.

A holdout without both classes makes the ranking metrics undefined: that is an
:class:`UndefinedMetric` error, never a silent 0.0.

Sampling error
--------------
:func:`bootstrap_average_precision` resamples a holdout *stratified by class*
(positives with replacement among the positives, negatives among the negatives,
so every resample keeps the holdout's base rate, on which PR-AUC depends) and
returns the PR-AUC of each resample, for one or several score columns **on the
same resamples** (a paired comparison: what the two models share cancels). It
is exact, not an approximation of scikit-learn's value: negatives enter the
step-wise sum only through how many of them score at or above each positive, so
they are drawn as multinomial counts per cell of those ranks instead of row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

METRIC_NAMES = ("pr_auc", "roc_auc", "precision_at_k", "recall_at_fpr", "f1", "precision", "recall")
OperatingKind = Literal["fpr", "alert_rate"]


class UndefinedMetric(ValueError):
    """The labels make a metric meaningless (e.g. no anomalies in the holdout)."""


def require_both_classes(y: np.ndarray, what: str) -> None:
    positives = int(np.sum(y == 1))
    if positives == 0 or positives == len(y):
        raise UndefinedMetric(
            f"{what} has {positives} anomalous row(s) out of {len(y)}: both classes are needed "
            "to rank models and choose a threshold"
        )


def score_cuts(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct score as a cut, highest first: true and false positives flagged at ``score >= cut``."""
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    ranked, hits = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]  # the last row of each tie group
    tps = np.cumsum(hits)[last]
    return tps, (last + 1) - tps, ranked[last]


@dataclass(frozen=True)
class OperatingPoint:
    """One model's best cut within an FPR or alert-rate budget (what "matched" compares)."""

    kind: OperatingKind
    target: float
    threshold: float | None  # flag score >= threshold; None: not even the top score fits the budget
    recall: float
    fpr: float
    alert_rate: float
    precision: float | None


def operating_point(y: np.ndarray, scores: np.ndarray, kind: OperatingKind, target: float) -> OperatingPoint:
    """The cut with the highest recall whose FPR (``fpr``) or share of flagged rows (``alert_rate``) is <= target."""
    y = np.asarray(y, dtype=np.int64)
    require_both_classes(y, "the holdout")
    tps, fps, cuts = score_cuts(y, scores)
    positives, negatives, rows = int(tps[-1]), int(fps[-1]), len(y)
    used = fps / negatives if kind == "fpr" else (tps + fps) / rows
    allowed = np.flatnonzero(used <= target + 1e-12)  # a prefix: both rates grow as the cut falls
    if allowed.size == 0:
        return OperatingPoint(kind, target, None, 0.0, 0.0, 0.0, None)
    i = int(allowed[-1])
    tp, fp = int(tps[i]), int(fps[i])
    return OperatingPoint(
        kind, target, float(cuts[i]), tp / positives, fp / negatives, (tp + fp) / rows, tp / (tp + fp)
    )


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, fixed_fpr: float) -> float:
    """Exact recall at a fixed FPR, ties flagged together (see the module docstring)."""
    return operating_point(y, scores, "fpr", fixed_fpr).recall


def choose_threshold(y_val: np.ndarray, scores: np.ndarray) -> float:
    """The score cut that maximises F1 on the validation slice.

    F1 is compared exactly, as fractions of counts (``2tp / (tp + fp + positives)``): a float
    F1 could split a true tie by an ulp. Ties go to the highest cut (fewer alerts for the same F1), so the
    choice depends on neither row order nor rounding. The result is a value seen on validation, so
    ``score >= threshold`` flags that row.
    """
    y_val = np.asarray(y_val, dtype=np.int64)
    require_both_classes(y_val, "the validation slice")
    tps, fps, cuts = score_cuts(y_val, scores)
    halves = tps / (tps + fps + tps[-1])  # F1 / 2 as floats, only to shortlist the candidates
    near = np.flatnonzero(halves >= halves.max() * (1 - 1e-9))
    exact = [Fraction(int(tps[i]), int(tps[i] + fps[i] + tps[-1])) for i in near]
    top = max(exact)
    return float(max(cuts[i] for i, f1 in zip(near, exact, strict=True) if f1 == top))


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
        "recall_at_fpr": recall_at_fpr(y, s, fixed_fpr),
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
    }


# -- sampling error -------------------------------------------------------------------------------
def bootstrap_average_precision(
    y: np.ndarray,
    scores: Sequence[np.ndarray],
    *,
    resamples: int,
    rng: np.random.Generator,
    negative_weight: float = 1.0,
    chunk: int = 250,
) -> np.ndarray:
    """PR-AUC of ``resamples`` class-stratified bootstrap resamples, shape ``(resamples, len(scores))``.

    Every score column is evaluated on the same resamples (paired). ``negative_weight``
    counts each negative that many times (precision = TP / (TP + w·FP)): the PR-AUC at
    another base rate, as the performance monitor uses it. Row ``i`` of the identity
    resample equals ``average_precision_score(y, s, sample_weight=...)`` exactly.
    """
    labels = np.asarray(y, dtype=np.int64)
    require_both_classes(labels, "the sample")
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    columns = [np.asarray(s, dtype=np.float64) for s in scores]
    # per column: positives sorted ascending, each negative's rank among them, each positive's first tie
    orders, firsts, ranks = [], [], []
    for s in columns:
        order = np.argsort(s[pos], kind="mergesort")
        ranked = s[pos][order]
        orders.append(order)
        firsts.append(np.searchsorted(ranked, ranked, side="left"))
        ranks.append(np.searchsorted(ranked, s[~pos], side="right"))  # positives at or below it: 0..n_pos
    cells, counts = np.unique(np.stack(ranks, axis=1), axis=0, return_counts=True)
    share = counts / n_neg
    by_rank = [_grouper(cells[:, m], n_pos) for m in range(len(columns))]
    out = np.empty((resamples, len(columns)))
    uniform = np.full(n_pos, 1.0 / n_pos)
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        negatives = rng.multinomial(n_neg, share, size=b).astype(np.float64)
        copies = rng.multinomial(n_pos, uniform, size=b).astype(np.float64)
        for m in range(len(columns)):
            out[start : start + b, m] = _average_precision(
                negatives, copies[:, orders[m]], firsts[m], by_rank[m], n_pos, negative_weight
            )
    return out


def _grouper(rank_of_cell: np.ndarray, n_pos: int) -> Callable[[np.ndarray], np.ndarray]:
    """Sums cell counts (b x cells) into counts per rank (b x (n_pos + 1))."""
    perm = np.argsort(rank_of_cell, kind="mergesort")
    values, starts = np.unique(rank_of_cell[perm], return_index=True)

    def group(counts: np.ndarray) -> np.ndarray:
        out = np.zeros((counts.shape[0], n_pos + 1))
        out[:, values] = np.add.reduceat(counts[:, perm], starts, axis=1)
        return out

    return group


def _average_precision(
    negatives: np.ndarray,
    copies: np.ndarray,
    firsts: np.ndarray,
    by_rank: Callable[[np.ndarray], np.ndarray],
    n_pos: int,
    negative_weight: float,
) -> np.ndarray:
    """Σ over positives (ascending score) of copies × precision at that positive's score, / n_pos."""
    per_rank = by_rank(negatives)
    at_or_above = np.cumsum(per_rank[:, ::-1], axis=1)[:, ::-1]  # [:, r]: negatives of rank >= r
    fp = at_or_above[:, 1:]  # the positive at sorted position r is reached by negatives of rank >= r + 1
    tp = np.cumsum(copies[:, ::-1], axis=1)[:, ::-1][:, firsts]  # positives scoring >= it (its tie included)
    denom = tp + negative_weight * fp
    precision = np.divide(tp, denom, out=np.zeros_like(denom), where=denom > 0)
    return np.asarray((copies * precision).sum(axis=1) / n_pos)


@dataclass(frozen=True)
class PairedDifference:
    """A paired bootstrap estimate of ``metric(a) - metric(b)`` on one holdout."""

    metric: str
    estimate: float  # on the holdout itself
    lower: float  # one-sided lower confidence bound at ``confidence``
    upper: float  # one-sided upper confidence bound at ``confidence``
    confidence: float
    resamples: int
    seed: int
    a_se: float  # bootstrap standard error of metric(a) alone
    b_se: float

    @property
    def test(self) -> str:
        return (
            f"paired class-stratified bootstrap of the {self.metric} difference, {self.resamples} resamples, "
            f"seed {self.seed}, one-sided {self.confidence:.0%} bounds (percentile)"
        )


MetricFn = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def paired_difference(
    y: np.ndarray,
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    *,
    metric: str,
    metric_fn: MetricFn,
    confidence: float,
    resamples: int,
    seed: int,
) -> PairedDifference:
    """``metric(a) - metric(b)`` with percentile bounds from the same class-stratified resamples of both.

    ``a`` and ``b`` are (scores, flags). PR-AUC uses the exact vectorised resampling above;
    any other metric is computed by ``metric_fn(y, scores, flags)`` per resample (slower).
    """
    labels = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if metric == "pr_auc":
        boot = bootstrap_average_precision(labels, [a[0], b[0]], resamples=resamples, rng=rng)
        point = (float(average_precision_score(labels, a[0])), float(average_precision_score(labels, b[0])))
    else:
        point = (metric_fn(labels, a[0], a[1]), metric_fn(labels, b[0], b[1]))
        pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        boot = np.empty((resamples, 2))
        for i in range(resamples):
            idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
            boot[i] = (metric_fn(labels[idx], a[0][idx], a[1][idx]), metric_fn(labels[idx], b[0][idx], b[1][idx]))
    diff = boot[:, 0] - boot[:, 1]
    alpha = 1.0 - confidence
    return PairedDifference(
        metric=metric,
        estimate=point[0] - point[1],
        lower=float(np.quantile(diff, alpha)),
        upper=float(np.quantile(diff, confidence)),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        a_se=float(boot[:, 0].std(ddof=1)),
        b_se=float(boot[:, 1].std(ddof=1)),
    )
