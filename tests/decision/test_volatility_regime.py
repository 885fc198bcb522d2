"""Volatility is judged against the symbol's own trailing history, not an absolute band (issue 20).

Seeded minute bars with a known volatility path; ATR% comes from the indicator code gold uses.
Trend (flat SMAs, MACD 0 -> Neutral), momentum (RSI 55 -> Healthy), backtest (edge 0 -> Inconclusive),
model confidence and drift (0 -> no concern) are the same for every symbol, so the volatility
criterion alone separates the decisions. With the shipped weights the direction is
(0.25·3 + 0.2·4 + 0.2·3) / 0.65 = 3.3077; volatility Turbulent subtracts 0.15·4 = 0.6 (2.7077, Hold),
Normal 0.3 (3.0077, Buy), Calm nothing (3.3077, Buy).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import DecisionConfig, RegimeConfig
from financial_transactions.decision.decision_matrix import (
    BUY,
    HOLD,
    INSUFFICIENT,
    market_criteria,
    score_matrix,
    volatility_percentile,
)
from financial_transactions.features import indicators as ind

#: Per-bar volatility of log returns; a shift that triples it, as the replay's window 2 does.
BASE, TRIPLED = 0.001, 0.003


def minute_bars(path: list[tuple[int, float]], seed: int) -> pd.DataFrame:
    """Gold-like rows whose volatility follows ``path`` ([(bars, sigma), ...]); natr = Wilder ATR / close."""
    rng = np.random.default_rng(seed)
    sigma = np.concatenate([np.full(n, s) for n, s in path])
    n = sigma.size
    close = 100.0 * np.exp(np.cumsum(sigma * rng.standard_normal(n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = sigma * np.abs(rng.standard_normal(n)) * close * 0.5
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    return pd.DataFrame(
        {
            "bar_start": pd.date_range("2026-03-02 09:00", periods=n, freq="1min", tz="UTC"),
            "close": close,
            "sma_10": 100.0,
            "sma_30": 100.0,  # flat: trend sign 0
            "macd_hist": 0.0,
            "rsi": 55.0,
            "natr": ind.atr(high, low, close, 14) / close,
        }
    )


#: symbol -> its volatility path (oldest first); each ends on the bars the matrix judges.
MARKETS = {
    # 6000 calm bars, then a shift that tripled volatility 1600 bars ago (longer than the old 1440-bar window)
    "SHIFTED": [(6000, BASE), (1600, TRIPLED)],
    # the same current volatility, but always at that level: ordinary for this symbol
    "ALWAYS_HIGH": [(7600, TRIPLED)],
    # a wild symbol on a quiet stretch: the same absolute level is calm for it
    "QUIETED": [(6000, 3 * TRIPLED), (1600, TRIPLED)],
    # too new to judge: fewer than min_history_windows complete windows before the current one
    "NEW": [(1000, TRIPLED)],
}


def decide(config: ProjectConfig, seed: int = 20) -> pd.DataFrame:
    d = config.decision
    raws = []
    for k, (symbol, path) in enumerate(MARKETS.items()):
        bars = minute_bars(path, seed + k).tail(max(d.lookback_bars, d.regime.bars_needed))
        raw = market_criteria(bars, config.features, d.min_bars, d.regime)
        raws.append({"symbol": symbol, **raw, "backtest": 0.0, "model_confidence": 0.0, "drift": 0.0})
    return score_matrix(pd.DataFrame(raws), d).set_index("symbol")


def test_a_tripled_volatility_is_turbulent_and_the_same_level_is_not_for_a_symbol_used_to_it(
    config: ProjectConfig,
) -> None:
    assert config.decision.regime == RegimeConfig(window_bars=240, history_windows=30, min_history_windows=5)
    m = decide(config)
    # the shifted symbol: 24 of its 30 history windows are the calm regime, 1 straddles the shift, 5 are the
    # new one; the current window is above all of them
    assert m.loc["SHIFTED", "volatility_raw"] == 1.0
    assert (m.loc["SHIFTED", "volatility_score"], m.loc["SHIFTED", "volatility_label"]) == (1, "Turbulent")
    assert m.loc["ALWAYS_HIGH", "volatility_raw"] == pytest.approx(19 / 30)  # one regime: a draw from the middle
    assert (m.loc["ALWAYS_HIGH", "volatility_score"], m.loc["ALWAYS_HIGH", "volatility_label"]) == (3, "Normal")
    assert m.loc["QUIETED", "volatility_raw"] == pytest.approx(3 / 30)  # only 3 of its own 5 quiet windows
    assert (m.loc["QUIETED", "volatility_score"], m.loc["QUIETED", "volatility_label"]) == (5, "Calm")
    assert pd.isna(m.loc["NEW", "volatility_raw"]) and m.loc["NEW", "volatility_label"] == "missing"
    # exact decisions: only volatility differs between the symbols
    assert m["recommendation"].to_dict() == {"SHIFTED": HOLD, "ALWAYS_HIGH": BUY, "QUIETED": BUY, "NEW": BUY}
    assert m["final_score"].round(4).to_dict() == {
        "SHIFTED": 2.7077,
        "ALWAYS_HIGH": 3.0077,
        "QUIETED": 3.3077,
        "NEW": 3.3077,
    }
    assert m.loc["SHIFTED", "explanation"] == (
        "Hold at 2.71: direction 3.31 from trend Neutral, backtest Inconclusive, momentum Healthy, "
        "lowered 0.60 by volatility Turbulent."
    )
    assert m.loc["NEW", "flags"] == "missing:volatility;renormalized"
    # the same current ATR% level (3x the base) reads three ways: each symbol against its own history
    now = {s: float(minute_bars(p, 20 + k)["natr"].tail(240).mean()) for k, (s, p) in enumerate(MARKETS.items())}
    assert now["SHIFTED"] == pytest.approx(now["ALWAYS_HIGH"], rel=0.1)
    assert now["QUIETED"] == pytest.approx(now["ALWAYS_HIGH"], rel=0.1)


def test_a_tripled_volatility_is_never_calm_over_seeds(config: ProjectConfig) -> None:
    """20 seeded markets: the new criterion calls every shift Turbulent; the old one (the latest ATR%
    ranked within the last 1440 bars, all of them already in the new regime) drew a label at random."""
    d = config.decision
    band = d.criteria["volatility"]
    new, old = [], []
    for seed in range(20):
        natr = minute_bars(MARKETS["SHIFTED"], seed)["natr"].to_numpy()
        new.append(volatility_percentile(natr, d.regime))
        recent = natr[-1440:]
        old.append(float(np.mean(recent <= recent[-1])))
    assert min(new) >= 24 / 30  # the 24 windows of the calm regime always rank below now
    assert Counter(band.band_for(r).label for r in new) == {"Turbulent": 20}
    assert Counter(band.band_for(r).label for r in old) == {"Turbulent": 9, "Normal": 6, "Calm": 5}


def test_percentile_windows_by_hand() -> None:
    regime = RegimeConfig(window_bars=2, history_windows=3, min_history_windows=2)
    # windows, oldest first: [1, 1] [5, 5] [2, 2] [3, 3] | now [4, 4]: the oldest is beyond the 3-window history
    natr = np.array([1, 1, 5, 5, 2, 2, 3, 3, 4, 4], dtype=float)
    assert volatility_percentile(natr, regime) == pytest.approx(2 / 3)  # 2 and 3 are below 4, 5 is not
    assert volatility_percentile(np.array([np.nan, 1, 1, 5, 5, 4, 4]), regime) == pytest.approx(1 / 2)
    assert np.isnan(volatility_percentile(np.array([5, 5, 4, 4], dtype=float), regime))  # 1 history window < 2
    assert volatility_percentile(np.array([1, 1, 2, 2, 2, 2], dtype=float), regime) == 1.0  # a tie counts as below


def test_regime_config_bounds() -> None:
    with pytest.raises(ValueError, match=r"min_history_windows \(8\) exceeds history_windows \(4\)"):
        RegimeConfig(history_windows=4, min_history_windows=8)
    with pytest.raises(ValueError, match="window_bars"):
        DecisionConfig.model_validate({"regime": {"window_bars": 1}})
    with pytest.raises(ValueError, match=r"(?i)extra"):
        DecisionConfig.model_validate({"regime": {"window": 10}})


def test_a_short_history_is_missing_not_calm(config: ProjectConfig) -> None:
    d = config.decision.model_copy(update={"min_criteria": 3})
    raw = pd.DataFrame([{"symbol": "NEW", **market_criteria(minute_bars(MARKETS["NEW"], 1), config.features, 35)}])
    assert raw.loc[0, "trend"] == 0.0 and raw.loc[0, "momentum"] == 55.0
    assert pd.isna(raw.loc[0, "volatility"])
    m = score_matrix(raw, d).set_index("symbol")
    assert m.loc["NEW", "recommendation"] == INSUFFICIENT  # trend and momentum only: 2 < min_criteria 3
