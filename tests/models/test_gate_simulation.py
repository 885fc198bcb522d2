"""Seeded simulation of the gate's decision rule on the holdout of the issue (63 anomalies in 4,929 rows).

Two models score the same rows. Each score is ``shift·label + shared + own noise`` (binormal, the two models'
scores correlated by ``RHO``, as two models trained on the same features are). Equal shifts: equally good models;
a larger challenger shift: a truly better one. ``compare`` and ``decide`` are the gate's own functions.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from financial_transactions.config.ml import GateConfig
from financial_transactions.models.champion_challenger import GateScore, compare, decide
from financial_transactions.models.metrics import evaluate_predictions, operating_point

ROWS, ANOMALIES = 4929, 63  # the default run's holdout
RHO = 0.6
CHAMPION_SHIFT = 2.8  # PR-AUC ~0.64 at this base rate, like the run's champion
#: The truly better challenger's shift (the effect size): ~0.76 PR-AUC, a gain of ~+0.12 like the run's retrain.
BETTER_SHIFT = 3.15
NULL_TRIALS, BETTER_TRIALS = 200, 80


def _scores(rng: np.random.Generator, champion: float, challenger: float) -> tuple[np.ndarray, ...]:
    y = np.zeros(ROWS, dtype=np.int64)
    y[:ANOMALIES] = 1
    shared = rng.normal(size=ROWS)

    def model(shift: float) -> np.ndarray:
        return np.asarray(shift * y + np.sqrt(RHO) * shared + np.sqrt(1 - RHO) * rng.normal(size=ROWS))

    return y, model(challenger), model(champion)


def _score(version: int, y: np.ndarray, s: np.ndarray, cfg: GateConfig) -> GateScore:
    flags = s >= 2.0
    metrics = evaluate_predictions(y, s, flags, k=100, fixed_fpr=0.01)
    matched = operating_point(y, s, cfg.operating_point, cfg.operating_value)
    return GateScore(version, metrics, 5.0, len(y), matched, [5.0], s, flags)


def _promotion_rate(challenger_shift: float, trials: int, seed: int) -> tuple[float, float]:
    """Share of trials the gate promotes; and, for contrast, the share the old rule (point gain >= margin) would."""
    cfg = GateConfig()
    rng = np.random.default_rng(seed)
    promoted = old_rule = 0
    for _ in range(trials):
        y, challenger, champion = _scores(rng, CHAMPION_SHIFT, challenger_shift)
        ch, cp = _score(2, y, challenger, cfg), _score(1, y, champion, cfg)
        test = compare(ch, cp, y, cfg, "pr_auc", k=100, fixed_fpr=0.01)
        promoted += decide(ch, cp, cfg, "pr_auc", test)[0] == "PROMOTE"
        old_rule += test.estimate >= cfg.margin
    return promoted / trials, old_rule / trials


def _true_pr_auc(shift: float) -> float:
    rng = np.random.default_rng(0)
    n = 1_000_000
    y = (np.arange(n) < n * ANOMALIES / ROWS).astype(np.int64)
    return float(average_precision_score(y, shift * y + rng.normal(size=n)))


def test_an_equally_good_challenger_is_promoted_in_at_most_5_percent_of_trials() -> None:
    rate, old_rate = _promotion_rate(CHAMPION_SHIFT, NULL_TRIALS, seed=17)
    print(f"equally good challenger: promoted in {rate:.1%} of {NULL_TRIALS} trials (old rule {old_rate:.1%})")
    assert rate <= 0.05
    assert old_rate > 0.25  # the old point-margin rule promoted noise about a third of the time


def test_a_truly_better_challenger_is_promoted_in_most_trials() -> None:
    gain = _true_pr_auc(BETTER_SHIFT) - _true_pr_auc(CHAMPION_SHIFT)
    assert gain == pytest.approx(0.12, abs=0.02)
    rate, _ = _promotion_rate(BETTER_SHIFT, BETTER_TRIALS, seed=18)
    print(f"challenger better by {gain:+.3f} PR-AUC: promoted in {rate:.1%} of {BETTER_TRIALS} trials")
    assert rate >= 0.6
