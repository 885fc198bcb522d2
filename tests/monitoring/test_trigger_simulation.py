"""Seeded simulation of the retraining trigger's performance rule on a model whose quality never changes.

Each simulated champion gets a gate holdout like the run's (63 anomalies in 4,929 bars): its baseline PR-AUC and
the bootstrap standard error the gate records. Then it is monitored on current windows of 5 to 120 labelled
anomalies drawn from the *same* score laws (binormal, PR-AUC ~0.64 at a 1.3 % base rate). Every trigger is a false
alarm. ``estimate`` and ``assess_drop`` are the monitor's and the trigger's own functions.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from financial_transactions.config.monitoring import RetrainingConfig
from financial_transactions.models.metrics import bootstrap_average_precision
from financial_transactions.monitoring.performance_monitor import estimate
from financial_transactions.monitoring.retraining_trigger import assess_drop

SHIFT = 2.8
BASE_RATE = 63 / 4929
HOLDOUT_ROWS = 4929
CHAMPIONS, WINDOWS_PER_POSITIVES = 40, 2
POSITIVES = (5, 20, 30, 60, 120)  # anomalies in the current window (5: the 03:00 crypto-only hour of the run)


def _rows(rng: np.random.Generator, positives: int, rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros(rows, dtype=np.int64)
    y[:positives] = 1
    score = shift * y + rng.normal(size=rows)
    return y, score


def _trigger_rates(
    shift: float, seed: int, champions: int = CHAMPIONS, sizes: tuple[int, ...] = POSITIVES
) -> tuple[dict[int, float], dict[int, float]]:
    """Share of evaluations that count as degraded, per window size; and what the old rule (drop >= 0.1) said."""
    cfg = RetrainingConfig()
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(sizes, 0)
    old = dict.fromkeys(sizes, 0)
    for champion in range(champions):
        y, s = _rows(rng, 63, HOLDOUT_ROWS, SHIFT)
        baseline = float(average_precision_score(y, s))
        boot = bootstrap_average_precision(y, [s], resamples=1000, rng=np.random.default_rng(champion))
        baseline_se = float(boot[:, 0].std(ddof=1))
        for positives in sizes:
            for _ in range(WINDOWS_PER_POSITIVES):
                wy, ws = _rows(rng, positives, round(positives / BASE_RATE), shift)
                current = estimate(
                    "pr_auc", wy, ws, (ws > 2).astype(np.int64), cfg.performance,
                    reference_prevalence=63 / HOLDOUT_ROWS, rng=np.random.default_rng((champion, positives)),
                )  # fmt: skip
                hits[positives] += assess_drop(baseline, baseline_se, current, cfg).degraded
                old[positives] += current.value is not None and baseline - current.value >= cfg.performance_drop
    n = champions * WINDOWS_PER_POSITIVES
    return {k: v / n for k, v in hits.items()}, {k: v / n for k, v in old.items()}


def test_a_model_of_constant_quality_triggers_in_at_most_5_percent_of_evaluations() -> None:
    rates, old = _trigger_rates(SHIFT, seed=23)
    overall = float(np.mean(list(rates.values())))
    evaluations = CHAMPIONS * WINDOWS_PER_POSITIVES * len(POSITIVES)
    print(f"constant quality: triggered in {overall:.1%} of {evaluations} evaluations; by anomalies {rates}; "
          f"old rule {old}")  # fmt: skip
    assert overall <= 0.05 and max(rates.values()) <= 0.05
    assert rates[5] == rates[20] == 0.0  # below performance.min_positives nothing is judged
    assert old[5] > 0.1  # the old rule: a "drop" of 0.1 on a handful of anomalies was common


def test_a_model_that_really_degraded_triggers_on_a_full_window() -> None:
    # PR-AUC ~0.2: what the run's regime shift did to the champion
    rates, _ = _trigger_rates(1.6, seed=24, champions=10, sizes=(60, 120))
    assert rates[120] >= 0.9 and rates[60] >= 0.75
