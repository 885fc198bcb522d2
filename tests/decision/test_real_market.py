"""The decision matrix and its backtest on real daily bars (arch's S&P 500 and NASDAQ, 1999-2018) vs buy-and-hold.

The figures are computed here from the real closes; buy-and-hold is recomputed independently, and
the walk-forward matrix is shown to use no bar after its rebalance date.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.decision import real_market as rm
from financial_transactions.decision.decision_matrix import BUY, HOLD, INSUFFICIENT, SELL, STRONG_BUY

pytest.importorskip("arch")


@pytest.fixture(scope="module")
def indices() -> dict[str, pd.DataFrame]:
    return rm.load_arch_indices()


@pytest.fixture(scope="module")
def comparison(indices: dict[str, pd.DataFrame]) -> rm.RealMarketComparison:
    return rm.compare(indices, _config())


def _config() -> ProjectConfig:
    return ProjectConfig.from_yaml(Path(__file__).resolve().parents[2] / "project_config.yml", "dev")


def test_buy_and_hold_matches_an_independent_computation(
    indices: dict[str, pd.DataFrame], comparison: rm.RealMarketComparison
) -> None:
    cfg = _config()
    cost = (cfg.backtest.commission_bps + cfg.backtest.slippage_bps) / 1e4
    rows = comparison.rows.set_index(["symbol", "strategy"])
    for name, ohlc in indices.items():
        close = ohlc["Close"].to_numpy(dtype=float)
        r = close[1:] / close[:-1] - 1.0
        r[0] -= cost  # one entry, filled at the first close
        bh = rows.loc[(name, rm.BUY_AND_HOLD)]
        assert bh["total_return"] == pytest.approx(np.prod(1 + r) - 1, rel=1e-9)
        assert bh["sharpe"] == pytest.approx(math.sqrt(252) * r.mean() / r.std(ddof=1), rel=1e-9)
        assert bh["n_bars"] == len(close) == 5031 and bh["exposure"] == 1.0
    assert comparison.start == pd.Timestamp("1999-01-04", tz="UTC")
    assert comparison.end == pd.Timestamp("2018-12-31", tz="UTC")


def test_the_matrix_and_its_backtest_against_buy_and_hold(comparison: rm.RealMarketComparison) -> None:
    rows = comparison.rows
    print("\n" + comparison.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n".join(rm.summary_lines(comparison)))
    assert set(rows["strategy"]) == {*rm.STRATEGIES, rm.BUY_AND_HOLD, rm.FOLLOW_MATRIX}
    assert len(rows) == 2 * 4 and (rows["n_trials"] == 8).all()  # deflated over everything compared
    assert comparison.rebalances == 2 * 240  # one per month, 20 years, two indices
    for col in ("total_return", "sharpe", "sharpe_se", "psr", "dsr", "deflated_edge", "max_drawdown"):
        assert np.isfinite(rows[col]).all(), col
    matrix = rows[rows["strategy"] == rm.FOLLOW_MATRIX].set_index("symbol")
    assert ((matrix["exposure"] > 0.2) & (matrix["exposure"] < 0.95)).all()  # it does step aside
    # 20 years of daily bars: a Sharpe near 0.3 has a standard error near 0.22 (sqrt(252 / 5030) = 0.224)
    assert rows["sharpe_se"].between(0.2, 0.25).all()
    # no strategy here is a proven edge after deflation: none is "Profitable" on 20 years of two indices
    assert (rows["deflated_edge"] < 0.95).all()
    latest = comparison.latest.set_index("symbol")
    assert set(latest["recommendation"]) <= {STRONG_BUY, BUY, HOLD, SELL, INSUFFICIENT}
    assert all(e.endswith(".") and ". " not in e for e in latest["explanation"])
    assert (latest["model_confidence_label"] == "missing").all() and (latest["drift_label"] == "missing").all()


def test_walk_forward_uses_no_later_bar(indices: dict[str, pd.DataFrame]) -> None:
    """The matrix scored at a rebalance is the same whether or not the bars after it exist."""
    cfg = _config()
    bars = rm.daily_bars(indices["S&P 500"], cfg.features)
    _, full = rm.matrix_signal(bars, "S&P 500", cfg, n_trials=8)
    cut = int(np.flatnonzero(bars["bar_start"] <= pd.Timestamp("2008-09-30", tz="UTC"))[-1])
    _, early = rm.matrix_signal(bars.iloc[: cut + 1], "S&P 500", cfg, n_trials=8)
    same = full[full["bar_start"].isin(early["bar_start"])].reset_index(drop=True)
    assert len(early) == len(same) == 117
    cols = ["bar_start", "recommendation", "final_score", "trend_raw", "momentum_raw", "volatility_raw", "backtest_raw"]
    pd.testing.assert_frame_equal(early[cols], same[cols])


def test_the_report_shows_the_comparison(tmp_path: Path) -> None:
    from financial_transactions.reporting.report import real_markets_section
    from financial_transactions.runtime import Platform

    text = real_markets_section(Platform.create(_config(), lakehouse_root=tmp_path / "lake"))
    assert text.startswith("## Real markets: the matrix and its backtest vs buy-and-hold")
    assert text.count("| S&amp;P 500 |") == 4 and text.count("| NASDAQ |") == 4  # markdown-escaped names
    assert "| buy_and_hold |" in text and "| matrix |" in text and "Sharpe ± SE" in text
    assert "The matrix on 2018-12-31:\n\n- S&amp;P 500: " in text
