"""Bin edges sit in gaps between reference values: tick-lattice features stop false-alerting, power stays."""

from __future__ import annotations

import numpy as np
import pytest

from financial_transactions.config.monitoring import DriftConfig
from financial_transactions.monitoring.drift_detector import bin_counts, compare_numeric, psi, quantile_edges

CFG = DriftConfig(min_rows=1, threads=1)
TICK = 0.25
SEEDS = range(50)


def old_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The placement before gaps: the reference quantiles themselves (plus the below-minimum edge)."""
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    if edges[0] == reference.min():
        edges = np.concatenate([[np.nextafter(edges[0], -np.inf)], edges])
    return edges


def old_psi(reference: np.ndarray, current: np.ndarray) -> float:
    edges = old_edges(reference, CFG.bins)
    return psi(bin_counts(reference, edges)[0], bin_counts(current, edges)[0], CFG.epsilon)


def tick_bars(rng: np.random.Generator, level: float, ticks: int = 1, trades: int = 75_000, per_bar: int = 50):
    """An ES-like tape (tick 0.25 near ``level``) as bars: max_abs_trade_return and max_abs_median_dev.

    Each trade moves 0, 1, 2 or 3 ticks (times ``ticks``); the price is a random walk,
    so the features are multiples of tick / price for the prices the window visited.
    """
    moves = rng.choice([0, 1, 2, 3], size=trades, p=[0.55, 0.35, 0.07, 0.03]) * rng.choice([-1, 1], size=trades)
    price = level + TICK * ticks * np.cumsum(moves)
    ret = np.zeros(trades)
    ret[1:] = np.abs(np.log(price[1:] / price[:-1]))
    bars = price.reshape(-1, per_bar)
    median = np.median(bars, axis=1)
    dev = np.maximum(np.abs(bars.max(axis=1) / median - 1.0), np.abs(bars.min(axis=1) / median - 1.0))
    return {"max_abs_trade_return": ret.reshape(-1, per_bar).max(axis=1), "max_abs_median_dev": dev}


# -- (1) a stationary tick process, the level moved 1 % -----------------------------------------
def test_tick_lattice_features_do_not_alert_when_only_the_price_level_moves() -> None:
    new_alerts, old_alerts, worst = 0, 0, 0.0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        ref, cur = tick_bars(rng, 5000.0), tick_bars(rng, 5050.0)
        for name in ref:
            result = compare_numeric(name, ref[name], cur[name], CFG)
            assert result.psi is not None
            worst = max(worst, result.psi)
            new_alerts += result.status == "alert"
            old_alerts += old_psi(ref[name], cur[name]) >= CFG.psi_alert
    assert new_alerts == 0  # 0 of 100 (50 seeds x 2 features)
    assert worst < 0.025  # not even a warn (0.1): the largest PSI over all seeds is 0.0216
    assert old_alerts == 82  # the old edges sat on the clusters: 82 of 100 alerted


def test_edges_fall_between_the_clusters_of_a_lattice_feature() -> None:
    rng = np.random.default_rng(0)
    ref = tick_bars(rng, 5000.0)["max_abs_trade_return"]
    edges = quantile_edges(ref, CFG.bins)
    ticks = ref * 5000.0 / TICK  # about 1, 2, 3 (the price wandered a few % within the window)
    assert np.all(np.abs(ticks / np.round(ticks) - 1.0) < 0.05)
    # every edge is more than a quarter tick away from every lattice point: no cluster is split
    edge_ticks = edges * 5000.0 / TICK
    assert np.all(np.abs(edge_ticks - np.round(edge_ticks)) > 0.25)
    assert edges.size < CFG.bins - 1  # a few clusters, so fewer bins than configured
    counts, _ = bin_counts(ref, edges)
    assert counts.sum() == ref.size and np.all(counts > 0)


def test_exact_lattice_edges_are_midpoints_between_neighbouring_values() -> None:
    ref = np.repeat([1.0, 2.0, 3.0, 4.0], [400, 300, 200, 100])
    edges = quantile_edges(ref, 4)
    # quartiles 1.0, 2.0, 3.0 -> midpoints 1.5, 2.5, 3.5; the lowest quartile is the minimum,
    # so values below the reference range get a bin of their own (as before)
    assert edges.tolist() == [np.nextafter(1.0, 0.0), 1.5, 2.5, 3.5]
    assert bin_counts(ref, edges)[0].tolist() == [0, 400, 300, 200, 100]
    # current values between lattice points fall in the bin of the gap they land in (right-closed)
    assert bin_counts(np.array([0.0, 1.49, 1.5, 1.51, 2.0, 2.6, 9.0]), edges)[0].tolist() == [1, 2, 2, 1, 1]


def test_a_point_mass_at_the_maximum_keeps_its_edge_and_values_above_it_get_the_top_bin() -> None:
    ref = np.concatenate([np.linspace(0.0, 1.0, 500), np.full(500, 2.0)])
    edges = quantile_edges(ref, 4)
    assert edges[-1] == 2.0  # no larger reference value to take a midpoint with
    assert bin_counts(np.array([2.0, 2.5]), edges)[0][-2:].tolist() == [1, 1]


# -- (2) real shifts still alert ---------------------------------------------------------------
def test_tick_volatility_doubling_still_alerts() -> None:
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ref, cur = tick_bars(rng, 5000.0), tick_bars(rng, 5050.0, ticks=2)
        for name in ref:
            result = compare_numeric(name, ref[name], cur[name], CFG)
            assert result.status == "alert", (seed, name, result.psi)
            assert result.psi is not None and result.psi > 0.7  # measured: 0.73 at the least


@pytest.mark.parametrize(
    ("n", "shift", "expected_psi", "status"),
    [
        (20_000, 0.5, 0.2410, "warn"),  # PSI 0.2410, JS 0.206: just under both alert levels, as before
        (300_000, 0.5, 0.2434, "warn"),
        (20_000, 0.6, 0.3436, "alert"),
        (300_000, 0.6, 0.3476, "alert"),
    ],
)
def test_continuous_mean_shifts_are_flagged_as_before(n: int, shift: float, expected_psi: float, status: str) -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=n), rng.normal(shift, 1.0, size=n)
    result = compare_numeric("x", ref, cur, CFG)
    assert result.psi == pytest.approx(old_psi(ref, cur), abs=2e-4)
    assert result.psi == pytest.approx(expected_psi, abs=1e-4)
    assert result.status == status


# -- (3) continuous data: the same PSI as the old placement ---------------------------------------
@pytest.mark.parametrize("n", [5_000, 50_000, 300_000])
@pytest.mark.parametrize(
    ("draw", "shifted"),
    [
        (lambda r, n: r.normal(size=n), lambda r, n: r.normal(size=n)),
        (lambda r, n: r.normal(size=n), lambda r, n: r.normal(0.2, 1.3, size=n)),
        (lambda r, n: r.lognormal(0, 0.5, size=n), lambda r, n: r.lognormal(0.3, 0.5, size=n)),
        (lambda r, n: r.beta(5, 5, size=n) * 100, lambda r, n: r.beta(6, 5, size=n) * 100),
        (lambda r, n: r.normal(0, 1e-3, size=n), lambda r, n: r.normal(0, 3e-3, size=n)),
    ],
)
def test_continuous_psi_equals_the_old_placement(n: int, draw, shifted) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(n)
    ref, cur = draw(rng, n), shifted(rng, n)
    edges, before = quantile_edges(ref, CFG.bins), old_edges(ref, CFG.bins)
    assert edges.size == before.size == CFG.bins - 1
    assert np.array_equal(bin_counts(ref, edges)[0], bin_counts(ref, before)[0])  # the same reference split
    # a current value now moves bin only if it lies between a quantile and the next reference value
    moved = np.abs(bin_counts(cur, edges)[0] - bin_counts(cur, before)[0])
    assert moved.max() <= 3  # measured: 0 to 3 values per bin
    result = compare_numeric("x", ref, cur, CFG)
    assert result.psi == pytest.approx(old_psi(ref, cur), abs=1e-3)  # measured: at most 5.8e-4 (n = 5,000)
