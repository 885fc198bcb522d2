"""The decision matrix and its backtest on real daily bars, compared with buy-and-hold.

The replay's synthetic market cannot say whether a recommendation is worth following; real
prices can. This module runs the platform's own decision code on daily OHLC bars of an index
(the report uses the S&P 500 and NASDAQ composite daily bars that the ``arch`` package ships,
1999-2018) and scores three things on the same bars, net of the configured costs:

* **buy-and-hold** – long from the first bar's close to the last (one entry cost);
* **the backtest strategies** (``sma_cross``, ``macd``; the ``model`` strategy needs stored
  predictions and is left out) over the whole sample, as :func:`.backtester.backtest_bars` runs them;
* **follow the matrix** – walk-forward: at the last bar of each calendar month the decision
  matrix is scored from the bars up to that close only: ``trend``, ``momentum`` and
  ``volatility`` (this month's ATR% against the trailing year's, :data:`DAILY_REGIME`) from the
  indicator code gold uses (:mod:`financial_transactions.features.indicators`, TA-Lib conventions;
  windows from ``features``), ``backtest`` = the deflated edge of
  ``backtest.strategy`` over every bar so far (what the platform's backtest sees of gold);
  ``model_confidence`` and ``drift`` have no source on index bars and are missing (weights
  re-normalised, ``decision.missing_policy`` applies). The index is held (long-flat) from the
  next bar while the recommendation is Buy or Strong Buy, flat otherwise.

Every row gets the metrics of :mod:`.performance` with the deflated figures taken over all
rows compared (strategies × symbols, buy-and-hold and the matrix included), annualised with
one bar a day (N = ``backtest.periods_per_year_equity``, 252). ``latest`` holds the matrix as
of the last bar, with each row's one-sentence explanation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import RegimeConfig
from financial_transactions.decision import performance
from financial_transactions.decision.backtester import (
    StrategyResult,
    backtest_bars,
    deflate,
    periods_per_year,
    simulate,
)
from financial_transactions.decision.decision_matrix import BUY, STRONG_BUY, market_criteria, score_matrix
from financial_transactions.features import indicators as ind

#: The strategies a real-bar comparison backtests (``model`` needs stored predictions).
STRATEGIES = ("sma_cross", "macd")
BUY_AND_HOLD, FOLLOW_MATRIX = "buy_and_hold", "matrix"
#: Volatility of daily bars: this month's mean ATR% (21 bars) ranked among the trailing year's months.
DAILY_REGIME = RegimeConfig(window_bars=21, history_windows=12, min_history_windows=5)
#: Where the comparison's daily bars come from in the report and its test (``arch``, a test extra).
ARCH_INDICES = {"S&P 500": "sp500", "NASDAQ": "nasdaq"}


def load_arch_indices() -> dict[str, pd.DataFrame]:
    """The daily S&P 500 and NASDAQ bars ``arch.data`` ships; ImportError without the ``arch`` package."""
    import importlib

    return {name: importlib.import_module(f"arch.data.{module}").load() for name, module in ARCH_INDICES.items()}


def daily_bars(ohlc: pd.DataFrame, features: Any) -> pd.DataFrame:
    """Daily OHLC(V) (a DatetimeIndex and Open/High/Low/Close columns) -> gold-like rows with the market columns.

    ``bar_start`` is the date at 00:00 UTC; ``sma_<w>``, ``macd_hist``, ``rsi`` and ``natr`` come from
    :mod:`~financial_transactions.features.indicators` with ``features``' windows, each causal.
    """
    cols = {c.lower().replace(" ", "_"): c for c in ohlc.columns}
    missing = [c for c in ("high", "low", "close") if c not in cols]
    if missing:
        raise ValueError(f"daily bars need columns {missing}")
    frame = ohlc.sort_index()
    close = frame[cols["close"]].to_numpy(dtype=np.float64)
    high = frame[cols["high"]].to_numpy(dtype=np.float64)
    low = frame[cols["low"]].to_numpy(dtype=np.float64)
    if not (np.isfinite(close).all() and (close > 0).all()):
        raise ValueError("daily closes must be finite and positive")
    out = pd.DataFrame(
        {"bar_start": pd.DatetimeIndex(frame.index).tz_localize(None).tz_localize("UTC"), "close": close}
    )
    for w in sorted(set(features.sma_windows)):
        out[f"sma_{w}"] = ind.sma(close, w)
    out["macd_hist"] = ind.macd(close, features.macd.fast, features.macd.slow, features.macd.signal).histogram
    out["rsi"] = ind.rsi(close, features.rsi_period)
    out["natr"] = ind.atr(high, low, close, features.atr_period) / close
    return out


@dataclass(frozen=True)
class RealMarketComparison:
    """Per (symbol, strategy) metrics of buy-and-hold, the backtests and following the matrix; the latest matrix."""

    rows: pd.DataFrame
    latest: pd.DataFrame
    rebalances: int
    start: pd.Timestamp
    end: pd.Timestamp

    def table(self) -> pd.DataFrame:
        """The figures a reader compares: returns, risk and the deflated statistic, one row per symbol and strategy."""
        cols = ["symbol", "strategy", "total_return", "cagr", "annual_volatility", "sharpe", "sharpe_se"]
        cols += ["dsr", "deflated_edge", "max_drawdown", "n_trades", "exposure"]
        return self.rows[cols]


def month_ends(bar_start: pd.Series) -> np.ndarray:
    """Positions of the last bar of each calendar month (the matrix's rebalance dates)."""
    ts = pd.DatetimeIndex(bar_start)
    months = np.asarray(ts.year * 12 + ts.month)
    return np.flatnonzero(np.append(months[1:] != months[:-1], True))


def matrix_signal(
    bars: pd.DataFrame, symbol: str, cfg: ProjectConfig, n_trials: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Walk-forward recommendation of one symbol: 1 while Buy/Strong Buy (from the rebalance bar on), else 0.

    Returns the signal per bar and the matrix rows scored at each rebalance. Each row uses bars
    ``<=`` its rebalance bar only: the market criteria read the indicators of that bar (causal)
    and the backtest criterion the strategy's net returns up to it. The strategy's signals are
    causal and its position lags them by a bar, so those returns equal a backtest run on the
    bars up to the rebalance (``tests/decision/test_backtester.py`` proves the look-ahead guard).
    """
    d = cfg.decision
    full = backtest_bars(bars, cfg.backtest.strategy, cfg.backtest, cfg.features, symbol=symbol, asset_class="equity")
    net = np.diff(full.equity) / full.equity[:-1]  # the net return of bars 1..n-1
    ends = month_ends(bars["bar_start"])
    raws: list[dict[str, Any]] = []
    for k, i in enumerate(ends):
        raw: dict[str, Any] = {"symbol": f"{k:08d}", "asset_class": "equity"}  # a row key; the symbol after
        recent = bars.iloc[max(0, i + 1 - max(d.lookback_bars, DAILY_REGIME.bars_needed)) : i + 1]
        raw.update(market_criteria(recent, cfg.features, d.min_bars, DAILY_REGIME))
        if i + 1 >= cfg.backtest.min_bars:
            inf = performance.sharpe_inference(net[:i], full.periods_per_year, cfg.backtest.risk_free_rate)
            raw["backtest"] = performance.deflated(inf, n_trials, full.periods_per_year)["deflated_edge"]
        raws.append(raw)
    scored = score_matrix(pd.DataFrame(raws), d).sort_values("symbol").reset_index(drop=True)  # back in time order
    scored["symbol"] = symbol
    scored.insert(0, "bar_start", bars["bar_start"].iloc[ends].to_numpy())
    signal = np.zeros(len(bars))
    holds = scored["recommendation"].isin([BUY, STRONG_BUY]).to_numpy(dtype=np.float64)
    for k, i in enumerate(ends):
        stop = ends[k + 1] if k + 1 < len(ends) else len(bars)
        signal[i:stop] = holds[k]  # the position of bar t is the signal of bar t-1 (simulate shifts it)
    return signal, scored


def compare(series: Mapping[str, pd.DataFrame], cfg: ProjectConfig) -> RealMarketComparison:
    """Buy-and-hold, the backtest strategies and following the matrix on each symbol's daily bars."""
    if not series:
        raise ValueError("no daily bars to compare")
    bt = cfg.backtest
    cost = (bt.commission_bps + bt.slippage_bps) / 1e4
    n_trials = len(series) * (len(STRATEGIES) + 2)
    results: list[StrategyResult] = []
    latest: list[pd.DataFrame] = []
    rebalances = 0
    starts, ends = [], []
    for symbol, ohlc in series.items():
        bars = daily_bars(ohlc, cfg.features)
        starts.append(bars["bar_start"].iloc[0])
        ends.append(bars["bar_start"].iloc[-1])
        for strategy in STRATEGIES:
            results.append(backtest_bars(bars, strategy, bt, cfg.features, symbol=symbol, asset_class="equity"))
        close = bars["close"].to_numpy(dtype=np.float64)
        per_day, periods = periods_per_year(bt, "equity", cfg.features.bar_interval, bars["bar_start"])
        hold, scored = matrix_signal(bars, symbol, cfg, n_trials)
        rebalances += len(scored)
        latest.append(scored.tail(1))
        for name, signal in ((BUY_AND_HOLD, np.ones(len(close))), (FOLLOW_MATRIX, hold)):
            sim = simulate(close, signal, "long_flat", cost)
            inf = performance.sharpe_inference(sim.net[1:], periods, bt.risk_free_rate)
            metrics = performance.summarize(sim.net[1:], sim.positions[1:], periods, bt.risk_free_rate, inference=inf)
            rec = StrategyResult(name, symbol, "equity", "long_flat", len(bars), per_day, periods, metrics,
                                 sim.equity, bars["bar_start"], sim.positions, inference=inf)  # fmt: skip
            results.append(rec)
    deflate(results)
    rows = pd.DataFrame(
        [{"symbol": r.symbol, "strategy": r.strategy, "n_bars": r.n_bars, **r.metrics} for r in results]
    )
    return RealMarketComparison(
        rows=rows,
        latest=pd.concat(latest, ignore_index=True),
        rebalances=rebalances,
        start=min(starts),
        end=max(ends),
    )


def summary_lines(result: RealMarketComparison) -> list[str]:
    """One line per symbol: the matrix against buy-and-hold (total return, Sharpe ± SE, max drawdown)."""
    lines = []
    for symbol, grp in result.rows.groupby("symbol", sort=False):
        by = grp.set_index("strategy")
        m, b = by.loc[FOLLOW_MATRIX].to_dict(), by.loc[BUY_AND_HOLD].to_dict()
        lines.append(
            f"{symbol}: matrix {_pct(m['total_return'])} (Sharpe {m['sharpe']:.2f} ± {m['sharpe_se']:.2f}, "
            f"max DD {_pct(m['max_drawdown'])}, in the market {float(m['exposure']):.0%} of days) vs buy-and-hold "
            f"{_pct(b['total_return'])} (Sharpe {b['sharpe']:.2f} ± {b['sharpe_se']:.2f}, "
            f"max DD {_pct(b['max_drawdown'])})"
        )
    return lines


def _pct(value: Any) -> str:
    return f"{float(value):+.1%}" if math.isfinite(float(value)) else "–"
