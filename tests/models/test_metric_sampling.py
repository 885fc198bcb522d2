"""Exact recall at a fixed FPR with tied scores, matched operating points, and the class-stratified bootstrap."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from financial_transactions.models.metrics import (
    bootstrap_average_precision,
    operating_point,
    paired_difference,
    recall_at_fpr,
)

# from the top: a lone anomaly, then two ties of one anomaly and one normal bar, then the rest
TIED_Y = np.array([1, 1, 0, 1, 0] + [1] * 7 + [0] * 8)
TIED_S = np.array([0.9, 0.8, 0.8, 0.7, 0.7] + [0.3] * 7 + [0.2] * 8)


def test_recall_at_fpr_is_exact_with_tied_scores() -> None:
    # cut 0.8 flags 2 anomalies and 1 of 10 normal bars: FPR 0.1, recall 0.2
    assert recall_at_fpr(TIED_Y, TIED_S, 0.1) == pytest.approx(0.2)
    # roc_curve's default drop_intermediate removes that collinear point: the old figure was 0.1
    fpr, tpr, _ = roc_curve(TIED_Y, TIED_S)
    assert tpr[fpr <= 0.1].max() == pytest.approx(0.1)
    # a tie is never split: at FPR 0.15 the 0.7 tie (which would make it 0.2) cannot be half-flagged
    assert recall_at_fpr(TIED_Y, TIED_S, 0.15) == pytest.approx(0.2)
    assert recall_at_fpr(TIED_Y, TIED_S, 0.2) == pytest.approx(1.0)  # the 0.3 tie holds the other 7, no normal bar
    assert recall_at_fpr(TIED_Y, TIED_S, 0.0) == pytest.approx(0.1)


def test_recall_at_fpr_equals_the_full_roc_curve_on_random_ties() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        y = (rng.random(300) < 0.2).astype(int)
        s = np.round(rng.normal(size=300) + y, 1)  # many ties
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        for budget in (0.0, 0.01, 0.05, 0.2):
            assert recall_at_fpr(y, s, budget) == pytest.approx(tpr[fpr <= budget + 1e-12].max())


def test_operating_points_at_an_fpr_and_at_an_alert_budget() -> None:
    at_fpr = operating_point(TIED_Y, TIED_S, "fpr", 0.1)
    assert (at_fpr.threshold, at_fpr.recall, at_fpr.fpr, at_fpr.alert_rate) == (0.8, 0.2, 0.1, 0.15)
    assert at_fpr.precision == pytest.approx(2 / 3)
    # an alert budget of 20 % of the 20 rows: 4 flags at most; the 0.7 tie would make 5, so the cut stays at 0.8
    budget = operating_point(TIED_Y, TIED_S, "alert_rate", 0.2)
    assert (budget.threshold, budget.recall, budget.alert_rate) == (0.8, 0.2, 0.15)
    assert operating_point(TIED_Y, TIED_S, "alert_rate", 0.25).threshold == 0.7
    nothing = operating_point(TIED_Y, TIED_S, "alert_rate", 0.01)  # not even the top row fits
    assert nothing.threshold is None and nothing.recall == 0.0


class _Identity:
    """A generator whose every resample is the holdout itself (each row drawn exactly once)."""

    def multinomial(self, n: int, pvals: np.ndarray, size: int) -> np.ndarray:
        return np.tile(np.round(np.asarray(pvals) * n).astype(np.int64), (size, 1))


def test_the_identity_resample_is_scikit_learns_average_precision_exactly() -> None:
    rng = np.random.default_rng(9)
    for _ in range(30):
        n = int(rng.integers(20, 400))
        y = (rng.random(n) < 0.15).astype(int)
        y[:2] = (1, 0)
        a = np.round(rng.normal(size=n) + 1.5 * y, int(rng.integers(0, 3)))  # ties within and across classes
        b = np.round(rng.normal(size=n) + y, 1)
        weight = float(rng.uniform(0.3, 3.0))
        got = bootstrap_average_precision(y, [a, b], resamples=2, rng=cast(Any, _Identity()), negative_weight=weight)
        w = np.where(y == 1, 1.0, weight)
        expected = [average_precision_score(y, a, sample_weight=w), average_precision_score(y, b, sample_weight=w)]
        assert got[0] == pytest.approx(expected, abs=1e-12) and got[1] == pytest.approx(expected, abs=1e-12)


def test_the_vectorised_bootstrap_has_the_row_by_row_bootstraps_distribution() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.02).astype(int)
    a = rng.normal(size=3000) + 3.0 * y
    b = 0.7 * a + 0.5 * rng.normal(size=3000)
    fast = bootstrap_average_precision(y, [a, b], resamples=1500, rng=np.random.default_rng(3))
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    slow = []
    for _ in range(600):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        slow.append((average_precision_score(y[idx], a[idx]), average_precision_score(y[idx], b[idx])))
    ref = np.array(slow)
    assert fast.mean(axis=0) == pytest.approx(ref.mean(axis=0), abs=0.01)
    assert fast.std(axis=0) == pytest.approx(ref.std(axis=0), rel=0.15)
    assert (fast[:, 0] - fast[:, 1]).std() == pytest.approx((ref[:, 0] - ref[:, 1]).std(), rel=0.15)


def test_paired_difference_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(2000) < 0.05).astype(int)
    a = rng.normal(size=2000) + 2.5 * y
    b = rng.normal(size=2000) + 1.5 * y
    flags_a, flags_b = a > 2, b > 2

    def roc(yy: np.ndarray, s: np.ndarray, _flags: np.ndarray) -> float:
        return float(roc_auc_score(yy, s))

    kw: dict[str, Any] = {"metric_fn": roc, "confidence": 0.95, "resamples": 300, "seed": 7}
    first = paired_difference(y, (a, flags_a), (b, flags_b), metric="pr_auc", **kw)
    again = paired_difference(y, (a, flags_a), (b, flags_b), metric="pr_auc", **kw)
    assert first == again  # seeded: the same holdout always gets the same bounds
    assert first.estimate == pytest.approx(average_precision_score(y, a) - average_precision_score(y, b))
    assert first.lower < first.estimate < first.upper and first.lower > 0
    assert "300 resamples, seed 7" in first.test
    other = paired_difference(y, (a, flags_a), (b, flags_b), metric="roc_auc", **kw)  # any metric, row by row
    assert other.estimate == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert other.lower < other.estimate < other.upper
