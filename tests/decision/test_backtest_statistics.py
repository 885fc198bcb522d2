"""Sharpe inference: the formulas against independent computations, and seeded simulations of the
backtest's decision statistic: strategies without an edge score "Profitable" in at most 5% of cases,
strategies with a real edge in most."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import BacktestConfig, DecisionConfig
from financial_transactions.decision import performance
from financial_transactions.decision.backtester import StrategyResult, backtest_bars, deflate, simulate

SYMBOLS = 8  # the default replay's 5 equities + 3 crypto pairs
BARS = 1600  # about two days of an equity's 1-minute bars
STRATEGIES = ("sma_cross", "macd", "model")


def _profitable(edge: float) -> bool:
    """The decision matrix's own reading of the statistic (the shipped backtest bands)."""
    band = DecisionConfig().criteria["backtest"].band_for(edge) if math.isfinite(edge) else None
    return band is not None and band.label == "Profitable"


def test_inference_matches_independent_formulas() -> None:
    rng = np.random.default_rng(5)
    r = rng.standard_t(4, 2000) * 0.001 + 0.0001
    inf = performance.sharpe_inference(r, 252)
    mu, sd = r.mean(), r.std(ddof=1)
    sr = mu / sd
    z = (r - mu) / r.std(ddof=0)
    g3, g4 = float(np.mean(z**3)), float(np.mean(z**4))
    se = math.sqrt((1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (len(r) - 1))
    assert inf.sharpe == pytest.approx(sr, rel=1e-12)
    assert inf.se == pytest.approx(se, rel=1e-12)
    assert inf.tstat == pytest.approx(sr / se, rel=1e-12)
    assert inf.psr == pytest.approx(norm.cdf(sr / se), rel=1e-12)
    m = performance.summarize(r, np.ones_like(r), 252)
    assert m["sharpe_se"] == pytest.approx(se * math.sqrt(252), rel=1e-12)
    assert m["sharpe"] == pytest.approx(sr * math.sqrt(252), rel=1e-12)
    assert m["n_trials"] == 1 and m["dsr"] == pytest.approx(m["psr"])  # one trial: nothing to deflate
    # normal returns: the textbook sqrt((1 + SR²/2) / (T-1))
    g = performance.sharpe_inference(rng.normal(0.0, 1.0, 200_000), 1)
    assert g.se == pytest.approx(math.sqrt((1 + g.sharpe**2 / 2) / (200_000 - 1)), rel=1e-2)
    # too few returns or no dispersion: undefined, not 0
    assert math.isnan(performance.sharpe_inference(np.zeros(50), 252).se)
    assert math.isnan(performance.summarize(np.zeros(50), np.zeros(50), 252)["dsr"])


def test_expected_max_sharpe_is_the_mean_best_of_n_null_trials() -> None:
    """SR0 for N trials of T periods equals the simulated mean of the best of N zero-Sharpe estimates."""
    rng = np.random.default_rng(17)
    t, n = 400, 24
    best = [max(float(np.mean(x) / np.std(x, ddof=1)) for x in rng.standard_normal((n, t))) for _ in range(300)]
    assert performance.expected_max_sharpe(n, t) == pytest.approx(np.mean(best), rel=0.06)
    assert performance.expected_max_sharpe(1, t) == 0.0
    assert performance.expected_max_sharpe(2, t) < performance.expected_max_sharpe(24, t)
    # deflation lowers the statistic and the edge is symmetric in profits and losses
    inf = performance.SharpeInference(0.1, 0.03, t, 0.0, 3.0)
    one, many = performance.deflated(inf, 1, 252), performance.deflated(inf, 24, 252)
    assert many["dsr"] < one["dsr"] and many["n_trials"] == 24
    neg = performance.deflated(performance.SharpeInference(-0.1, 0.03, t, 0.0, 3.0), 24, 252)
    assert neg["deflated_edge"] == pytest.approx(-many["deflated_edge"])
    flat = performance.deflated(performance.SharpeInference(0.0, 0.03, t, 0.0, 3.0), 24, 252)
    assert flat["deflated_edge"] == pytest.approx(0.0)


def _no_edge_bars(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """A martingale: fat-tailed (t, 4 df) shocks with GARCH(1,1) volatility clustering, no drift."""
    shocks = rng.standard_t(4, n) / math.sqrt(2.0)
    var, h = np.empty(n), 1.0
    for i in range(n):
        var[i] = h
        h = 0.05 + 0.1 * shocks[i] ** 2 + 0.85 * h
    log_ret = 0.001 * np.sqrt(var) * shocks
    return pd.DataFrame(
        {
            "bar_start": pd.date_range("2026-03-09 08:00", periods=n, freq="1min", tz="UTC"),
            "close": 100.0 * np.exp(np.cumsum(log_ret)),
            "label": (rng.random(n) < 0.03).astype(float),  # "model" flags that know nothing
        }
    )


def _family(rng: np.random.Generator, cfg: BacktestConfig, config: ProjectConfig, mode: str) -> list[StrategyResult]:
    """One backtest run: every strategy on every symbol, deflated together."""
    results = []
    for s in range(SYMBOLS):
        bars = _no_edge_bars(rng, BARS)
        for strategy in STRATEGIES:
            results.append(
                backtest_bars(bars, strategy, cfg, config.features, symbol=f"S{s}", asset_class="equity", mode=mode)
            )
    deflate(results)
    return results


@pytest.mark.parametrize(("mode", "costs_bps"), [("long_flat", 3.0), ("long_short", 0.0)])
def test_no_edge_strategies_are_rarely_profitable(config: ProjectConfig, mode: str, costs_bps: float) -> None:
    """Seeded: 25 runs x 8 symbols x 3 strategies on martingale prices. The deflated statistic calls at most
    5% of them profitable (in fact far fewer); the raw annualised Sharpe the matrix used to score called a
    large share "Strong" (>= 1)."""
    cfg = config.backtest.model_copy(update={"commission_bps": costs_bps / 3, "slippage_bps": 2 * costs_bps / 3})
    rng = np.random.default_rng(20260309 + int(costs_bps))
    results = [r for _ in range(25) for r in _family(rng, cfg, config, mode)]
    edges = np.array([r.metrics["deflated_edge"] for r in results])
    assert np.isfinite(edges).mean() > 0.95
    profitable = float(np.mean([_profitable(e) for e in edges]))
    raw_strong = float(np.mean([r.metrics["sharpe"] >= 1.0 for r in results]))
    print(f"{mode} {costs_bps} bps: {len(results)} no-edge runs, profitable {profitable:.2%}, raw>=1 {raw_strong:.2%}")
    assert profitable <= 0.05
    assert raw_strong > 0.1  # why the raw Sharpe cannot be the criterion
    assert all(r.metrics["n_trials"] == SYMBOLS * len(STRATEGIES) for r in results)


def test_a_real_edge_is_found(config: ProjectConfig) -> None:
    """A signal right about the next bar's direction 58% of the time (no costs) is profitable in most runs."""
    rng = np.random.default_rng(7)
    runs = []
    for _ in range(30):
        family = []
        for s in range(SYMBOLS * len(STRATEGIES)):
            r = rng.normal(0.0, 0.001, BARS)
            close = 100.0 * np.cumprod(1 + r)
            right = rng.random(BARS) < 0.58
            signal = np.zeros(BARS)
            signal[:-1] = np.where(right[1:], 1.0, -1.0) * np.sign(close[1:] / close[:-1] - 1.0)
            sim = simulate(close, signal, "long_short", 0.0)
            inf = performance.sharpe_inference(sim.net[1:], 252 * 800)
            metrics = performance.summarize(sim.net[1:], sim.positions[1:], 252 * 800)
            times = pd.Series(dtype="datetime64[ns, UTC]")
            result = StrategyResult("oracle", f"S{s}", "equity", "long_short", BARS, 800, 252 * 800, metrics,
                                    sim.equity, times, sim.positions, inference=inf)  # fmt: skip
            family.append(result)
        deflate(family)
        runs += [_profitable(r.metrics["deflated_edge"]) for r in family]
    assert float(np.mean(runs)) > 0.8
