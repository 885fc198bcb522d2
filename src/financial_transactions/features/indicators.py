"""The one implementation of the indicator math, shared by gold (Spark) and ML (pandas).

Every function takes 1-D float64 numpy arrays ordered by time (oldest first) and
returns an array of the same length, ``NaN`` during the warm-up. TA-Lib's C kernels
do the recursive work (their PyPI wheel bundles the library); where TA-Lib has no
kernel the code is vectorised numpy. No function reads a value after index ``t`` to
produce output ``t``: every output is causal (no look-ahead), which
``tests/features`` proves by perturbing future rows.

Conventions (TA-Lib's, stated because other libraries differ):

* **SMA(n)**: arithmetic mean of the last ``n`` values; first value at index ``n-1``.
* **EMA(n)**: ``alpha = 2/(n+1)``, *seeded with the SMA* of the first ``n`` values
  (first output at index ``n-1``), not with the first price as pandas ``ewm`` does.
* **RSI(n)**: Wilder smoothing (``alpha = 1/n``) of gains and losses, seeded with the
  plain mean of the first ``n`` gains/losses; first output at index ``n``. When the
  average loss is zero the RSI is 100 (also for a perfectly flat series, where
  TA-Lib itself would print 0; a flat run is "no losses").
* **MACD(fast, slow, signal)**: line = EMA_fast - EMA_slow, where, as in TA-Lib, the
  fast EMA is SMA-seeded at index ``slow - fast`` so both EMAs start at ``slow - 1``;
  signal = SMA-seeded EMA(signal) of the line; histogram = line - signal.
  First output at index ``slow + signal - 2``.
* **Bollinger(n, k)**: middle = SMA(n), bands = middle +/- k * *population* std
  (``ddof=0``) of the same ``n`` values. %B = (close - lower) / (upper - lower), 0.5
  when the bands collapse (zero variance: the close sits on the middle band).
* **ATR(n)**: true range ``max(h-l, |h-c_prev|, |l-c_prev|)`` from index 1, Wilder
  smoothed, seeded with the mean of the first ``n`` true ranges; first output at
  index ``n``.
* **VWAP**: cumulative ``sum(price*volume) / sum(volume)`` restarted at every anchor
  (gold anchors on the trading session: ``(trade_date, session_type)``, so equities
  restart at 04:00, 09:30 and 16:00 New York and crypto, one continuous session, at
  New York midnight); bars with no volume carry the previous VWAP, and an anchor that
  has seen no volume yet uses the bar's own price.
* **log returns**: ``ln(c_t / c_{t-1})``; the first is NaN.
* **rolling volatility(n)**: sample std (``ddof=1``) of the last ``n`` log returns,
  not annualised (bars are intraday and their spacing varies).
* **volume z-score(n)**: ``(v_t - mean) / std`` against the *previous* ``n`` values
  (``ddof=0``), so a burst does not dilute its own baseline; a zero-variance baseline
  gives 0 when ``v_t`` equals it and +/- ``ZSCORE_CAP`` otherwise; clipped to
  +/- ``ZSCORE_CAP``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import talib
from talib import stream as talib_stream

ZSCORE_CAP = 50.0
"""Bound of z-score style features: a finite, comparable value instead of inf on a flat baseline."""
COLLAPSED_BAND_REL = 1e-12
"""A Bollinger span at most this share of the middle band is collapsed (TA-Lib's running-sum noise)."""
FLAT_BASELINE_REL = 1e-12
"""A z-score baseline whose std (or a deviation from it) is at most this times ``max(|mean|, 1)`` is flat."""


def _f64(values: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"indicators take 1-D arrays, got shape {arr.shape}")
    return arr


def _leading_nans(values: np.ndarray) -> int:
    """How many NaNs open the series (TA-Lib starts its kernels after them)."""
    if len(values) == 0 or not np.isnan(values[0]):
        return 0
    finite = ~np.isnan(values)
    return int(np.argmax(finite)) if finite.any() else len(values)


def _check_period(name: str, period: int, minimum: int = 2) -> None:
    if int(period) != period or period < minimum:
        raise ValueError(f"{name} period must be an integer >= {minimum}, got {period!r}")


def sma(close: np.ndarray, period: int) -> np.ndarray:
    """Simple moving average of the last ``period`` values (TA-Lib ``SMA``)."""
    _check_period("SMA", period)
    return np.asarray(talib.SMA(_f64(close), timeperiod=period))


def ema(close: np.ndarray, period: int) -> np.ndarray:
    """EMA with ``alpha = 2/(period+1)``, SMA-seeded at index ``period-1`` (TA-Lib ``EMA``)."""
    _check_period("EMA", period)
    return np.asarray(talib.EMA(_f64(close), timeperiod=period))


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder RSI (TA-Lib ``RSI``), 100 when the smoothed loss is zero.

    TA-Lib returns 0 when both smoothed gain and loss are 0 (a flat series). A zero
    smoothed loss means "no losses", so those outputs become 100. A smoothed loss is 0
    exactly when no loss has occurred since the start of the series.
    """
    _check_period("RSI", period)
    c = _f64(close)
    out = np.asarray(talib.RSI(c, timeperiod=period))
    zeros = np.flatnonzero(out == 0.0)
    if zeros.size:
        losses_so_far = np.concatenate(([0], np.cumsum(np.diff(c) < 0)))
        out[zeros[losses_so_far[zeros] == 0]] = 100.0
    return out


class Macd(NamedTuple):
    line: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray


def macd(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD line/signal/histogram (TA-Lib ``MACD``; see the module doc for the seeding)."""
    _check_period("MACD fast", fast)
    _check_period("MACD slow", slow)
    _check_period("MACD signal", signal, minimum=1)
    if fast >= slow:
        raise ValueError(f"MACD fast ({fast}) must be below slow ({slow})")
    line, sig, hist = talib.MACD(_f64(close), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return Macd(np.asarray(line), np.asarray(sig), np.asarray(hist))


class Bollinger(NamedTuple):
    upper: np.ndarray
    middle: np.ndarray
    lower: np.ndarray
    percent_b: np.ndarray
    width: np.ndarray  # (upper - lower) / middle


def bollinger(close: np.ndarray, period: int = 20, num_std: float = 2.0) -> Bollinger:
    """Bollinger bands with the population std (TA-Lib ``BBANDS``, SMA middle) plus %B and width."""
    _check_period("Bollinger", period)
    if not num_std > 0:
        raise ValueError(f"Bollinger num_std must be > 0, got {num_std}")
    c = _f64(close)
    upper, middle, lower = talib.BBANDS(c, **bollinger_params(period, num_std))
    upper, middle, lower = np.asarray(upper), np.asarray(middle), np.asarray(lower)
    span = upper - lower
    # TA-Lib's running sums leave ~1e-13 of noise on a flat window: treat that as collapsed.
    # Comparisons with NaN are False, so the warm-up is excluded here and reset below.
    open_ = span > COLLAPSED_BAND_REL * np.abs(middle)
    percent_b = np.full(len(c), 0.5)
    np.divide(c - lower, span, out=percent_b, where=open_)
    width = np.zeros(len(c))
    np.divide(span, middle, out=width, where=open_)
    warm = min(len(c), period - 1 + _leading_nans(c))
    percent_b[:warm] = np.nan
    width[:warm] = np.nan
    return Bollinger(upper, middle, lower, percent_b, width)


def bollinger_params(period: int, num_std: float) -> dict[str, Any]:
    """TA-Lib ``BBANDS`` arguments of :func:`bollinger` (shared with its stream, :class:`BarStream`)."""
    return {"timeperiod": period, "nbdevup": num_std, "nbdevdn": num_std, "matype": talib.MA_Type.SMA}


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder ATR (TA-Lib ``ATR``): first output at index ``period``."""
    _check_period("ATR", period, minimum=1)
    return np.asarray(talib.ATR(_f64(high), _f64(low), _f64(close), timeperiod=period))


def anchored_vwap(price: np.ndarray, volume: np.ndarray, pv: np.ndarray, anchor_start: np.ndarray) -> np.ndarray:
    """Cumulative VWAP restarted where ``anchor_start`` is True (index 0 always starts one).

    ``pv`` is each row's ``sum(price*volume)`` (for bars: over the bar's trades, so the
    VWAP is exact, not a close-times-volume approximation); ``price`` is used only
    before the anchor has seen any volume.
    """
    p, v, pv_ = _f64(price), _f64(volume), _f64(pv)
    n = len(p)
    if n == 0:
        return np.empty(0)
    starts = np.asarray(anchor_start, dtype=bool).copy()
    starts[0] = True
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    cum_pv = np.cumsum(pv_)
    cum_v = np.cumsum(v)
    base_pv = np.concatenate(([0.0], cum_pv))[first][group]
    base_v = np.concatenate(([0.0], cum_v))[first][group]
    seg_pv = cum_pv - base_pv
    seg_v = cum_v - base_v
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(seg_v > 0, seg_pv / np.where(seg_v > 0, seg_v, 1.0), p)
    return vwap


def log_returns(close: np.ndarray) -> np.ndarray:
    """``ln(c_t / c_{t-1})``; index 0 is NaN."""
    c = _f64(close)
    out = np.full(len(c), np.nan)
    if len(c) > 1:
        out[1:] = np.log(c[1:] / c[:-1])
    return out


def rolling_std(values: np.ndarray, window: int, ddof: int = 1) -> np.ndarray:
    """Std of the last ``window`` values with ``ddof``; NaN unless all ``window`` are finite.

    pandas' rolling kernel (compiled, O(n)) is used because it returns an exact 0 on a
    constant window, where a cumulative-sum formula leaves rounding noise.
    """
    _check_period("rolling std", window)
    out = pd.Series(_f64(values)).rolling(window, min_periods=window).std(ddof=ddof)
    return out.to_numpy(dtype=np.float64)


def rolling_volatility(log_ret: np.ndarray, window: int) -> np.ndarray:
    """Sample std (ddof=1) of the last ``window`` log returns (not annualised).

    TA-Lib's ``STDDEV`` kernel (population std) times ``sqrt(n / (n - 1))``; leading
    NaNs (the first return) only delay the first output. An interior NaN would poison
    TA-Lib's running sums, so such input goes through :func:`rolling_std` instead.
    """
    _check_period("volatility", window)
    r = _f64(log_ret)
    if _has_interior_nan(r):
        return rolling_std(r, window, ddof=1)
    out = np.asarray(talib.STDDEV(r, timeperiod=window, nbdev=1.0))
    out *= np.sqrt(window / (window - 1))
    return out


def _previous(values: np.ndarray) -> np.ndarray:
    """``values`` shifted one step later (index t holds t-1), NaN first: "the previous n" as a plain window."""
    out = np.empty(len(values))
    if len(values):
        out[0] = np.nan
        out[1:] = values[:-1]
    return out


def _has_interior_nan(values: np.ndarray) -> bool:
    """NaNs after the first finite value poison TA-Lib's running sums (leading ones only delay them)."""
    return bool(np.isnan(values[_leading_nans(values) :]).any())


def trailing_mean(values: np.ndarray, window: int, *, include_current: bool = False) -> np.ndarray:
    """Mean of the last ``window`` values, excluding the current one unless asked (NaN in warm-up).

    TA-Lib's ``SMA`` kernel over the (shifted) values; input with interior NaNs goes
    through pandas' rolling mean, which skips nothing and stays NaN over them as well.
    """
    _check_period("trailing mean", window, minimum=1)
    v = _f64(values)
    x = v if include_current else _previous(v)
    if window == 1:
        return x.copy()
    if _has_interior_nan(x):
        return pd.Series(x).rolling(window, min_periods=window).mean().to_numpy(dtype=np.float64)
    return np.asarray(talib.SMA(x, timeperiod=window))


def volume_zscore(volume: np.ndarray, window: int) -> np.ndarray:
    """z-score of ``v_t`` against the previous ``window`` values (ddof=0), capped at +/- ZSCORE_CAP.

    TA-Lib's ``SMA`` and ``STDDEV`` (population) over the shifted volumes; a baseline whose
    values are all equal (TA-Lib ``MAX == MIN``) has std exactly 0, whatever rounding the
    running sums leave. Input with interior NaNs uses pandas' rolling kernels instead.
    """
    _check_period("volume z-score", window)
    v = _f64(volume)
    x = _previous(v)
    if _has_interior_nan(x):
        baseline = pd.Series(x).rolling(window, min_periods=window)
        mean = baseline.mean().to_numpy(dtype=np.float64)
        std = baseline.std(ddof=0).to_numpy(dtype=np.float64)
    else:
        mean = np.asarray(talib.SMA(x, timeperiod=window))
        flat_window = np.asarray(talib.MAX(x, timeperiod=window)) == np.asarray(talib.MIN(x, timeperiod=window))
        std = np.where(flat_window, 0.0, np.asarray(talib.STDDEV(x, timeperiod=window, nbdev=1.0)))
    diff = v - mean
    scale = np.maximum(np.abs(mean), 1.0)
    with np.errstate(invalid="ignore"):
        flat = std <= FLAT_BASELINE_REL * scale
    with np.errstate(invalid="ignore", divide="ignore"):
        on_flat = np.where(np.abs(diff) <= FLAT_BASELINE_REL * scale, 0.0, np.sign(diff) * ZSCORE_CAP)
        z = np.where(flat, on_flat, diff / np.where(flat, 1.0, std))
    z = np.clip(z, -ZSCORE_CAP, ZSCORE_CAP)
    z[np.isnan(mean)] = np.nan
    return z


def trade_rate_ratio(trade_count: np.ndarray, window: int) -> np.ndarray:
    """Trades in bar t over the mean trades per bar of the previous ``window`` bars."""
    base = trailing_mean(trade_count, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, _f64(trade_count) / np.where(base > 0, base, 1.0), np.nan)


# -- the same indicators one bar at a time (features/online.py) --------------------------------------
# TA-Lib's own streaming handles (``talib.stream``) carry each kernel above forward one closed bar
# at a time, bit-identical to the batch call on the same bars (TA-Lib's guarantee; the online
# property test checks it through every feature). The conventions the batch functions add on top
# of TA-Lib (the RSI's 100, the collapsed band, the capped z-score, ...) have a one-value form
# here, beside their batch form, so the online path has no formula of its own.


def _last(out: Any) -> Any:
    """The last value of a TA-Lib batch output (a float, or a tuple of floats for several outputs)."""
    if isinstance(out, tuple | list):
        return tuple(float(o[-1]) if len(o) else math.nan for o in out)
    return float(out[-1]) if len(out) else math.nan


class BarStream:
    """One TA-Lib function over a series of closed bars, carried forward in O(1) per bar.

    ``update(*bar)`` commits a closed bar; ``peek(*bar)`` is the value a bar would get as the
    next one, committing nothing (the forming bar, revised on every trade); ``value`` is the
    value at the last committed bar. While the history is shorter than TA-Lib needs to open a
    stream handle (its lookback + 1 bars), the batch function runs on the short history, which
    is by definition what the batch code reports for those bars (NaN in the warm-up).
    """

    __slots__ = ("_batch", "_handle", "_history", "_nan", "_open", "_params")

    def __init__(self, name: str, inputs: int = 1, outputs: int = 1, **params: Any) -> None:
        self._batch = getattr(talib, name)
        self._open = getattr(talib_stream, name)
        self._params = params
        self._handle: Any = None
        self._history: list[list[float]] = [[] for _ in range(inputs)]
        self._nan: Any = math.nan if outputs == 1 else (math.nan,) * outputs

    def seed(self, *history: np.ndarray) -> None:
        """Start from a run of closed bars at once (oldest first): the batch kernel's own pass over them."""
        for h, values in zip(self._history, history, strict=True):
            h.extend(np.asarray(values, dtype=np.float64).tolist())
        self._try_open()

    def update(self, *bar: float) -> None:
        if self._handle is not None:
            self._handle.update(*bar)
            return
        for h, x in zip(self._history, bar, strict=True):
            h.append(x)
        self._try_open()

    def peek(self, *bar: float) -> Any:
        if self._handle is not None:
            return self._handle.peek(*bar)
        arrays = [np.array([*h, x], dtype=np.float64) for h, x in zip(self._history, bar, strict=True)]
        return _last(self._batch(*arrays, **self._params))

    def copy(self) -> BarStream:
        """An independent stream at the same bar (TA-Lib clones its handle): the state to redo a bar close from."""
        twin = BarStream.__new__(BarStream)
        twin._batch, twin._open, twin._params, twin._nan = self._batch, self._open, self._params, self._nan
        twin._handle = self._handle.copy() if self._handle is not None else None
        twin._history = [list(h) for h in self._history]
        return twin

    @property
    def value(self) -> Any:
        if self._handle is not None:
            return self._handle.value
        if not self._history[0]:
            return self._nan
        return _last(self._batch(*(np.array(h, dtype=np.float64) for h in self._history), **self._params))

    def _try_open(self) -> None:
        try:
            self._handle = self._open(*(np.array(h, dtype=np.float64) for h in self._history), **self._params)
        except talib.InsufficientHistory:
            return
        self._history = [[] for _ in self._history]


def rsi_at(raw: float, any_loss: bool) -> float:
    """:func:`rsi`'s convention for one value: TA-Lib's 0 where no loss has occurred yet is 100."""
    return 100.0 if raw == 0.0 and not any_loss else raw


def bollinger_at(close: float, upper: float, middle: float, lower: float) -> tuple[float, float]:
    """:func:`bollinger`'s %B and width for one bar (NaN in the warm-up, 0.5 and 0 on collapsed bands)."""
    if math.isnan(middle):
        return math.nan, math.nan
    span = upper - lower
    if span > COLLAPSED_BAND_REL * abs(middle):
        return (close - lower) / span, span / middle
    return 0.5, 0.0


def volatility_at(std: float, window: int) -> float:
    """:func:`rolling_volatility` from TA-Lib's population std of the window: the sample std."""
    return std * math.sqrt(window / (window - 1))


def volume_zscore_at(volume: float, mean: float, std: float, flat_window: bool) -> float:
    """:func:`volume_zscore` for one bar from its baseline (mean, population std, all-equal) of the previous bars."""
    if math.isnan(mean):
        return math.nan
    if flat_window:
        std = 0.0
    diff = volume - mean
    scale = max(abs(mean), 1.0)
    if std <= FLAT_BASELINE_REL * scale:
        z = 0.0 if abs(diff) <= FLAT_BASELINE_REL * scale else math.copysign(ZSCORE_CAP, diff)
    else:
        z = diff / std
    return min(max(z, -ZSCORE_CAP), ZSCORE_CAP)


def trade_rate_ratio_at(trade_count: float, base: float) -> float:
    """:func:`trade_rate_ratio` for one bar from the mean trade count of the previous bars."""
    return trade_count / base if base > 0 else math.nan
