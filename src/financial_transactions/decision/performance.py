"""Performance metrics of a periodic return series, in the empyrical / quantstats conventions.

All functions take *simple* periodic returns ``r`` (one per bar, net of costs) and
``periods`` = periods per year (252 · bars-per-day for equities, 365 · bars-per-day
for 24/7 crypto):

* total return ``Π(1+r) − 1``; CAGR ``(1+total)^(1/years) − 1`` with ``years = len(r)/periods``
  (empyrical ``cagr``), −1 when the equity reached zero or below;
* annualised volatility ``std(r, ddof=1)·√periods`` (empyrical ``annual_volatility``);
* Sharpe ``√periods · mean(r−rf)/std(r−rf, ddof=1)`` where ``rf`` is the annual
  risk-free rate de-annualised per period, ``(1+rf)^(1/periods) − 1`` (quantstats);
* Sortino ``√periods · mean(r−rf) / √mean(min(r−rf, 0)²)`` (downside deviation over *all*
  periods, empyrical ``downside_risk`` / quantstats ``sortino``);
* max drawdown ``min(E/cummax(E) − 1)`` on the *compounded* equity ``E`` that starts at 1.0
  (so a loss on the first bar counts), a non-positive number;
* Calmar ``CAGR / |max drawdown|``;
* win rate ``#(r>0) / #(r≠0)`` (quantstats ``win_rate``: flat periods are not counted);
* trades = number of position changes (orders), exposure = share of periods holding a position.

A ratio whose denominator is zero (a flat strategy, no losing period) or a value that
overflows is *undefined* and returned as NaN, never as 0 or ±inf.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from financial_transactions.lakehouse.catalog import BACKTEST_METRICS

#: What :func:`summarize` returns, in ``backtest_results`` column order (the table catalogue spells the list).
METRICS = BACKTEST_METRICS


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else math.nan


def per_period_risk_free(annual_rate: float, periods: float) -> float:
    """Annual risk-free rate -> the equivalent compounded rate of one period."""
    return float((1.0 + annual_rate) ** (1.0 / periods) - 1.0)


def equity_curve(returns: np.ndarray, start: float = 1.0) -> np.ndarray:
    """Compounded equity after each period, ``start · Π(1+r)``."""
    return start * np.cumprod(1.0 + np.asarray(returns, dtype=np.float64))


def total_return(returns: np.ndarray) -> float:
    return _finite(float(np.prod(1.0 + np.asarray(returns, dtype=np.float64)) - 1.0))


def cagr(returns: np.ndarray, periods: float) -> float:
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        return math.nan
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    exponent = math.log(growth) / (r.size / periods)
    if exponent > 700.0:  # exp would overflow: a growth rate this large is meaningless
        return math.nan
    return _finite(math.expm1(exponent))


def annual_volatility(returns: np.ndarray, periods: float) -> float:
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return math.nan
    return _finite(float(np.std(r, ddof=1)) * math.sqrt(periods))


def sharpe(returns: np.ndarray, periods: float, risk_free_rate: float = 0.0) -> float:
    r = np.asarray(returns, dtype=np.float64) - per_period_risk_free(risk_free_rate, periods)
    if r.size < 2:
        return math.nan
    if np.all(r == r[0]):  # no dispersion (summation noise would give a huge ratio instead of 0/0)
        return math.nan
    sd = float(np.std(r, ddof=1))
    if not math.isfinite(sd):
        return math.nan
    return _finite(math.sqrt(periods) * float(np.mean(r)) / sd)


def sortino(returns: np.ndarray, periods: float, risk_free_rate: float = 0.0) -> float:
    r = np.asarray(returns, dtype=np.float64) - per_period_risk_free(risk_free_rate, periods)
    if r.size == 0:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    return _finite(math.sqrt(periods) * float(np.mean(r)) / downside)


def max_drawdown(returns: np.ndarray) -> float:
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        return math.nan
    equity = np.concatenate([[1.0], equity_curve(r)])
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = equity / peaks - 1.0
    return _finite(float(np.min(dd)))


def calmar(returns: np.ndarray, periods: float) -> float:
    mdd = max_drawdown(returns)
    growth = cagr(returns, periods)
    if not math.isfinite(mdd) or mdd >= 0.0 or not math.isfinite(growth):
        return math.nan
    return _finite(growth / abs(mdd))


def win_rate(returns: np.ndarray) -> float:
    r = np.asarray(returns, dtype=np.float64)
    active = int(np.count_nonzero(r))
    if active == 0:
        return math.nan
    return float(np.count_nonzero(r > 0)) / active


def summarize(
    returns: np.ndarray, positions: np.ndarray, periods: float, risk_free_rate: float = 0.0
) -> dict[str, Any]:
    """All :data:`METRICS` for net ``returns`` and the ``positions`` held in those same periods.

    ``positions`` is aligned with ``returns``; trades count changes relative to the
    position before the first period (taken as flat).
    """
    r = np.asarray(returns, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64)
    if r.shape != pos.shape:
        raise ValueError(f"returns ({r.shape}) and positions ({pos.shape}) must align")
    changes = np.abs(np.diff(np.concatenate([[0.0], pos])))
    return {
        "total_return": total_return(r),
        "cagr": cagr(r, periods),
        "annual_volatility": annual_volatility(r, periods),
        "sharpe": sharpe(r, periods, risk_free_rate),
        "sortino": sortino(r, periods, risk_free_rate),
        "max_drawdown": max_drawdown(r),
        "calmar": calmar(r, periods),
        "win_rate": win_rate(r),
        "n_trades": int(np.count_nonzero(changes)),
        "exposure": float(np.mean(pos != 0)) if pos.size else math.nan,
    }
