"""Backtester: a hand-computed 10-bar equity curve, metrics vs independent formulas, no look-ahead."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import BacktestConfig
from financial_transactions.decision import performance
from financial_transactions.decision.backtester import (
    backtest_bars,
    bars_per_day,
    model_signal,
    periods_per_year,
    positions_from_signal,
    simulate,
    strategy_signal,
    thin,
)

CLOSE = np.array([100.0, 101.0, 102.0, 101.0, 103.0, 104.0, 102.0, 101.0, 103.0, 105.0])
SIGNAL = np.array([1, 1, 0, 0, 1, 1, -1, -1, 1, 1], dtype=float)
COST = 0.0003  # (1 bps commission + 2 bps slippage) per unit of turnover


def test_hand_computed_equity_long_flat() -> None:
    sim = simulate(CLOSE, SIGNAL, "long_flat", COST)
    # the position of bar t is the signal of bar t-1; shorts become flat
    assert sim.positions.tolist() == [0, 1, 1, 0, 0, 1, 1, 0, 0, 1]
    e = [1.0]
    e.append(e[-1] * (1 + (101 / 100 - 1) - COST))  # bar 1: enter long, earn 100->101, pay entry
    e.append(e[-1] * (102 / 101))  # bar 2: hold
    e.append(e[-1] * (1 - COST))  # bar 3: exit at 102 (flat during 102->101)
    e.append(e[-1])  # bar 4: flat
    e.append(e[-1] * (1 + (104 / 103 - 1) - COST))  # bar 5: enter at 103
    e.append(e[-1] * (102 / 104))  # bar 6: hold through the drop
    e.append(e[-1] * (1 - COST))  # bar 7: the short signal only exits (long_flat)
    e.append(e[-1])  # bar 8: flat
    e.append(e[-1] * (1 + (105 / 103 - 1) - COST))  # bar 9: enter at 103
    np.testing.assert_allclose(sim.equity, e, rtol=0, atol=1e-15)
    assert sim.equity[-1] == pytest.approx(1.0281789, abs=1e-7)


def test_hand_computed_equity_long_short() -> None:
    sim = simulate(CLOSE, SIGNAL, "long_short", COST)
    assert sim.positions.tolist() == [0, 1, 1, 0, 0, 1, 1, -1, -1, 1]
    e = [1.0]
    e.append(e[-1] * (1 + 0.01 - COST))
    e.append(e[-1] * (102 / 101))
    e.append(e[-1] * (1 - COST))
    e.append(e[-1])
    e.append(e[-1] * (1 + (104 / 103 - 1) - COST))
    e.append(e[-1] * (102 / 104))
    e.append(e[-1] * (1 - (101 / 102 - 1) - 2 * COST))  # bar 7: flip long -> short (2 units), short earns the drop
    e.append(e[-1] * (1 - (103 / 101 - 1)))  # bar 8: short loses the rise
    e.append(e[-1] * (1 + (105 / 103 - 1) - 2 * COST))  # bar 9: flip short -> long
    np.testing.assert_allclose(sim.equity, e, rtol=0, atol=1e-15)
    m = performance.summarize(sim.net[1:], sim.positions[1:], 252)
    assert m["n_trades"] == 5  # entries/exits/flips: bars 1, 3, 5, 7, 9
    assert m["exposure"] == pytest.approx(7 / 9)


def _independent_metrics(r: list[float], periods: int, rf_annual: float) -> dict[str, float]:
    """Textbook formulas with the standard library only (no numpy)."""
    rf = (1 + rf_annual) ** (1 / periods) - 1
    ex = [x - rf for x in r]
    equity, peak, mdd, total = 1.0, 1.0, 0.0, 1.0
    for x in r:
        equity *= 1 + x
        peak = max(peak, equity)
        mdd = min(mdd, equity / peak - 1)
        total *= 1 + x
    years = len(r) / periods
    cagr = total ** (1 / years) - 1
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in ex) / len(ex))
    return {
        "total_return": total - 1,
        "cagr": cagr,
        "annual_volatility": statistics.stdev(r) * math.sqrt(periods),
        "sharpe": math.sqrt(periods) * statistics.mean(ex) / statistics.stdev(ex),
        "sortino": math.sqrt(periods) * statistics.mean(ex) / downside,
        "max_drawdown": mdd,
        "calmar": cagr / abs(mdd),
        "win_rate": sum(1 for x in r if x > 0) / sum(1 for x in r if x != 0),
    }


@pytest.mark.parametrize(("periods", "rf"), [(252, 0.0), (365, 0.0), (252, 0.03)])
def test_metrics_match_independent_formulas(periods: int, rf: float) -> None:
    rng = np.random.default_rng(11)
    r = rng.normal(0.0004, 0.01, 300)
    r[::7] = 0.0  # flat periods do not count in the win rate
    got = performance.summarize(r, np.ones_like(r), periods, rf)
    want = _independent_metrics(r.tolist(), periods, rf)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_undefined_ratios_are_nan_not_zero() -> None:
    flat = np.zeros(20)
    m = performance.summarize(flat, np.zeros(20), 252)
    assert math.isnan(m["sharpe"]) and math.isnan(m["sortino"]) and math.isnan(m["calmar"])
    assert math.isnan(m["win_rate"])
    assert m["total_return"] == 0.0 and m["max_drawdown"] == 0.0 and m["n_trades"] == 0 and m["exposure"] == 0.0
    up = np.full(10, 0.01)
    assert math.isnan(performance.sortino(up, 252))  # no downside
    assert math.isnan(performance.sharpe(up, 252))  # zero dispersion
    # a first-bar loss counts in the drawdown (the curve starts at 1.0)
    assert performance.max_drawdown(np.array([-0.1, 0.05])) == pytest.approx(-0.1)


def _bars(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    labels = (rng.random(n) < 0.05).astype(float)
    labels[:5] = np.nan  # bars without a stored prediction
    return pd.DataFrame(
        {
            "bar_start": pd.date_range("2026-03-06 14:30", periods=n, freq="1min", tz="UTC"),
            "close": close,
            "label": labels,
        }
    )


@pytest.mark.parametrize("strategy", ["sma_cross", "macd", "model"])
@pytest.mark.parametrize("mode", ["long_flat", "long_short"])
def test_look_ahead_guard(config: ProjectConfig, strategy: str, mode: str) -> None:
    """Changing prices (and predictions) from bar k on leaves every position up to bar k unchanged."""
    bars = _bars(300)
    base = backtest_bars(bars, strategy, config.backtest, config.features, symbol="X", asset_class="equity", mode=mode)
    for k in (60, 150, 299):
        shocked = bars.copy()
        shocked.loc[k:, "close"] = shocked.loc[k:, "close"] * np.linspace(0.5, 2.0, len(shocked) - k)
        shocked.loc[k:, "label"] = 1.0 - shocked.loc[k:, "label"].fillna(0.0)
        res = backtest_bars(
            shocked, strategy, config.backtest, config.features, symbol="X", asset_class="equity", mode=mode
        )
        np.testing.assert_array_equal(res.positions[: k + 1], base.positions[: k + 1])
        np.testing.assert_array_equal(res.equity[:k], base.equity[:k])
    assert np.abs(base.positions).sum() > 0  # the strategy did trade


def test_signals_from_indicators(config: ProjectConfig) -> None:
    bars = _bars(200)
    cfg = config.backtest
    sig = strategy_signal("sma_cross", bars, cfg, config.features, "long_short")
    close = bars["close"]
    fast, slow = close.rolling(cfg.fast_window).mean(), close.rolling(cfg.slow_window).mean()
    expected = np.sign((fast - slow).fillna(0.0)).to_numpy()
    np.testing.assert_array_equal(sig[cfg.slow_window :], expected[cfg.slow_window :])
    assert (sig[: cfg.slow_window - 1] == 0).all()  # warm-up is flat


def test_model_signal_stands_aside_after_flags() -> None:
    labels = np.array([np.nan, 0, 0, 1, 0, 0, 0, 0, 1, 0], dtype=float)
    close = np.array([10, 10, 10, 11, 11, 11, 11, 11, 10, 10], dtype=float)
    flat = model_signal(labels, close, cooldown=2, mode="long_flat")
    assert flat.tolist() == [0, 1, 1, 0, 0, 1, 1, 1, 0, 0]
    ls = model_signal(labels, close, cooldown=2, mode="long_short")
    # bar 3 spiked up -> fade it (short) for 2 bars; bar 8 dropped -> long for 2 bars
    assert ls.tolist() == [0, 1, 1, -1, -1, 1, 1, 1, 1, 1]
    assert positions_from_signal(ls, "long_flat").tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 1, 1]


def test_annualisation_from_the_bars_that_exist() -> None:
    features = ProjectConfig.model_fields["features"].default
    cfg = BacktestConfig(fast_window=2, slow_window=5, min_bars=3)
    # the nominal slots of a trading day: the cap, and what applies without bars
    assert periods_per_year(cfg, "equity", "1min") == (960, 241_920)
    assert periods_per_year(cfg, "crypto", "1min") == (1440, 525_600)
    regular = BacktestConfig(fast_window=2, slow_window=5, min_bars=3, equity_session="regular")
    assert periods_per_year(regular, "equity", "1min") == (390, 98_280)
    assert periods_per_year(regular, "crypto", "1min") == (1440, 525_600)  # crypto has no session choice
    assert periods_per_year(cfg, "crypto", "7min") == (206, 365 * 206)  # ceil(1440 / 7): a partial slot is a bar
    assert periods_per_year(regular, "equity", "1h") == (7, 252 * 7)  # ceil(6.5)
    assert periods_per_year(cfg, "equity", "24h") == (1, 252)  # at most one bar a day: plain daily convention
    assert bars_per_day("1min", "equity", "extended") == 960

    def stamps(day: str, minutes: int, keep: float, seed: int) -> pd.Series:
        """An extended session (08:00 UTC = 04:00 New York in March) with a share ``keep`` of its bars traded."""
        slots = pd.date_range(f"{day} 08:00", periods=minutes, freq="1min", tz="UTC")
        return pd.Series(slots[np.random.default_rng(seed).random(minutes) < keep])

    # two sessions where only ~5/6 of the minutes traded: N follows the bars, not the 960 slots
    two = pd.concat([stamps("2026-03-09", 960, 5 / 6, 1), stamps("2026-03-10", 960, 5 / 6, 2)], ignore_index=True)
    per_day, n = periods_per_year(cfg, "equity", "1min", two)
    assert per_day == round(len(two) / 2) and n == 252 * per_day and 760 < per_day < 840
    # daily bars: one a day
    daily = pd.Series(pd.date_range("2020-01-01", periods=500, freq="B", tz="UTC"))
    assert periods_per_year(cfg, "equity", "24h", daily) == (1, 252)
    # the metrics use exactly that N: Sharpe = sqrt(N) * mean / std(ddof=1) of the net returns
    rng = np.random.default_rng(9)
    bars = pd.DataFrame({"bar_start": two, "close": 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.002, len(two))))})
    res = backtest_bars(bars, "sma_cross", cfg, features, symbol="X", asset_class="equity", mode="long_short")
    sim = simulate(
        bars["close"].to_numpy(),
        strategy_signal("sma_cross", bars, cfg, features, "long_short"),
        "long_short",
        (cfg.commission_bps + cfg.slippage_bps) / 1e4,
    )
    r = sim.net[1:].tolist()
    assert res.periods_per_year == n and res.bars_per_day == per_day
    assert res.metrics["sharpe"] == pytest.approx(math.sqrt(n) * statistics.mean(r) / statistics.stdev(r))
    assert res.metrics["annual_volatility"] == pytest.approx(statistics.stdev(r) * math.sqrt(n))


def test_thin_keeps_ends() -> None:
    idx = thin(10_001, limit=100)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 10_000
    assert thin(5, limit=100).tolist() == [0, 1, 2, 3, 4]


def test_bad_prices_are_rejected() -> None:
    with pytest.raises(ValueError, match="finite and positive"):
        simulate(np.array([1.0, 0.0, 2.0]), np.zeros(3), "long_flat", 0.0)
    with pytest.raises(ValueError, match="unknown mode"):
        positions_from_signal(np.zeros(3), "sideways")
