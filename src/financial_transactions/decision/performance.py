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

Inference on the Sharpe ratio (per period, so none of it depends on ``periods``):

* ``ŜR = mean(x)/std(x, ddof=1)`` of the ``T`` excess returns ``x``; skewness ``γ₃`` and
  (non-excess) kurtosis ``γ₄`` are the population moments of ``x``;
* standard error ``σ(ŜR) = √((1 − γ₃·ŜR + (γ₄ − 1)/4·ŜR²) / (T − 1))`` (Mertens 2002, the
  form Bailey & López de Prado use; it widens with fat tails and negative skew), reported
  annualised as ``sharpe_se = σ(ŜR)·√periods``; ``sharpe_tstat = ŜR / σ(ŜR)``;
* probabilistic Sharpe ratio ``psr = Φ(ŜR / σ(ŜR))``: the probability that the true
  Sharpe is above 0 (Bailey & López de Prado 2012);
* deflated Sharpe ratio for ``N`` trials (strategies × symbols backtested together;
  Bailey & López de Prado 2014): ``dsr = Φ((ŜR − SR₀) / σ(ŜR))`` where ``SR₀`` is the
  Sharpe the *best* of ``N`` strategies without an edge is expected to show,
  ``SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))`` (``γ`` Euler–Mascheroni,
  ``SR₀ = 0`` for ``N = 1``), reported annualised as ``expected_max_sharpe``. ``V`` is the
  sampling variance of ``ŜR`` under a zero true Sharpe, ``1/(T − 1)``. The paper estimates
  ``V`` across the trials instead; with a few dozen correlated trials that estimate is
  unstable, and treating correlated trials as independent over-deflates, so the choice
  errs towards "not proven";
* ``deflated_edge = dsr − dsr_loss`` in [−1, 1], where ``dsr_loss`` is the same test on the
  losses (``Φ((−ŜR − SR₀) / σ(ŜR))``): near +1 a profit no luck among ``N`` trials explains,
  near −1 such a loss, near 0 no evidence either way (a strategy without an edge has
  ``dsr = dsr_loss``). The decision matrix scores this, never the raw Sharpe.

These assume serially independent returns; the bid/ask bounce of bar returns makes them
negatively autocorrelated, which makes ``σ(ŜR)`` conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

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


EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class SharpeInference:
    """The per-period Sharpe estimate of ``n`` excess returns and its standard error (see the module doc)."""

    sharpe: float
    se: float
    n: int
    skew: float
    kurtosis: float

    @property
    def tstat(self) -> float:
        return _finite(self.sharpe / self.se) if self.se > 0 else math.nan

    @property
    def psr(self) -> float:
        """P(true Sharpe > 0)."""
        return probabilistic_sharpe(self, 0.0)


def sharpe_inference(returns: np.ndarray, periods: float, risk_free_rate: float = 0.0) -> SharpeInference:
    """ŜR, σ(ŜR), skewness and kurtosis of the excess returns; NaN when the Sharpe is undefined."""
    x = np.asarray(returns, dtype=np.float64) - per_period_risk_free(risk_free_rate, periods)
    n = int(x.size)
    sr = _sharpe_of(x)
    if n < 3 or not math.isfinite(sr):
        return SharpeInference(math.nan, math.nan, n, math.nan, math.nan)
    dev = x - x.mean()
    m2 = float(np.mean(dev**2))
    skew = float(np.mean(dev**3)) / m2**1.5
    kurt = float(np.mean(dev**4)) / m2**2
    bracket = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr  # >= 0 since kurt >= skew² + 1
    se = math.sqrt(bracket / (n - 1)) if bracket > 0 else math.nan
    return SharpeInference(sr, se, n, skew, kurt)


def _sharpe_of(x: np.ndarray) -> float:
    if x.size < 2 or np.all(x == x[0]):
        return math.nan
    return _finite(float(np.mean(x)) / float(np.std(x, ddof=1)))


def probabilistic_sharpe(inf: SharpeInference, benchmark: float) -> float:
    """``Φ((ŜR − benchmark) / σ(ŜR))``, both per period."""
    if not (math.isfinite(inf.sharpe) and math.isfinite(inf.se)) or inf.se <= 0:
        return math.nan
    return float(norm.cdf((inf.sharpe - benchmark) / inf.se))


def expected_max_sharpe(n_trials: int, n_periods: int) -> float:
    """``SR₀``: the per-period Sharpe the best of ``n_trials`` no-edge strategies is expected to show."""
    if n_trials < 1:
        raise ValueError("n_trials must be >= 1")
    if n_trials == 1 or n_periods < 2:
        return 0.0
    z = (1.0 - EULER_GAMMA) * norm.ppf(1.0 - 1.0 / n_trials) + EULER_GAMMA * norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(1.0 / (n_periods - 1)) * z)


def deflated(inf: SharpeInference, n_trials: int, periods: float) -> dict[str, Any]:
    """The trial-dependent metrics: ``expected_max_sharpe`` (annualised), ``dsr``, ``deflated_edge``, ``n_trials``."""
    sr0 = expected_max_sharpe(n_trials, inf.n)
    dsr = probabilistic_sharpe(inf, sr0)
    loss = (
        probabilistic_sharpe(SharpeInference(-inf.sharpe, inf.se, inf.n, -inf.skew, inf.kurtosis), sr0)
        if math.isfinite(dsr)
        else math.nan
    )
    return {
        "expected_max_sharpe": sr0 * math.sqrt(periods),
        "dsr": dsr,
        "deflated_edge": dsr - loss if math.isfinite(dsr) else math.nan,
        "n_trials": int(n_trials),
    }


def summarize(
    returns: np.ndarray,
    positions: np.ndarray,
    periods: float,
    risk_free_rate: float = 0.0,
    n_trials: int = 1,
    *,
    inference: SharpeInference | None = None,
) -> dict[str, Any]:
    """All :data:`METRICS` for net ``returns`` and the ``positions`` held in those same periods.

    ``positions`` is aligned with ``returns``; trades count changes relative to the
    position before the first period (taken as flat). ``n_trials`` is the number of
    strategies × symbols tested together, for the deflated figures (see :func:`deflated`);
    ``inference`` is :func:`sharpe_inference` of the same returns when the caller already has it.
    """
    r = np.asarray(returns, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64)
    if r.shape != pos.shape:
        raise ValueError(f"returns ({r.shape}) and positions ({pos.shape}) must align")
    changes = np.abs(np.diff(np.concatenate([[0.0], pos])))
    inf = inference if inference is not None else sharpe_inference(r, periods, risk_free_rate)
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
        **inference_metrics(inf, periods),
        **deflated(inf, n_trials, periods),
    }


def inference_metrics(inf: SharpeInference, periods: float) -> dict[str, float]:
    """``sharpe_se`` (annualised), ``sharpe_tstat`` and ``psr``."""
    return {"sharpe_se": _finite(inf.se * math.sqrt(periods)), "sharpe_tstat": inf.tstat, "psr": inf.psr}
