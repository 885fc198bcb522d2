"""Golden values: every indicator as frozen literal numbers on a fixed inline series (computed once by
plain-Python reference loops of the documented conventions, and equal to TA-Lib's), then against
TA-Lib and the same reference loops on a longer seeded series, to 1e-6 after the warm-up; plus causality."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import talib

from financial_transactions.features import indicators as ind

TOL = 1e-6


@pytest.fixture(scope="module")
def series() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240607)
    n = 400
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.004, n)) * close
    high = close + spread * rng.random(n)
    low = close - spread * rng.random(n)
    volume = np.round(rng.lognormal(8, 0.6, n))
    return {"close": close, "high": np.maximum(high, close), "low": np.minimum(low, close), "volume": volume}


# --- plain-loop references of the documented conventions -----------------------------------


def ref_sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for t in range(n - 1, len(x)):
        out[t] = sum(x[t - n + 1 : t + 1]) / n
    return out


def ref_ema(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """SMA-seeded EMA whose seed window begins at ``start``."""
    out = np.full(len(x), np.nan)
    alpha = 2.0 / (n + 1)
    seed_at = start + n - 1
    if seed_at >= len(x):
        return out
    value = sum(x[start : seed_at + 1]) / n
    out[seed_at] = value
    for t in range(seed_at + 1, len(x)):
        value = alpha * x[t] + (1 - alpha) * value
        out[t] = value
    return out


def ref_rsi(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    d = np.diff(x)
    gains, losses = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = sum(gains[:n]) / n, sum(losses[:n]) / n

    def value(g: float, lo: float) -> float:
        return 100.0 if lo == 0 else 100.0 - 100.0 / (1.0 + g / lo)

    out[n] = value(ag, al)
    for t in range(n + 1, len(x)):
        ag = (ag * (n - 1) + gains[t - 1]) / n
        al = (al * (n - 1) + losses[t - 1]) / n
        out[t] = value(ag, al)
    return out


def ref_atr(h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(c), np.nan)
    tr = [max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])) for t in range(1, len(c))]
    value = sum(tr[:n]) / n
    out[n] = value
    for t in range(n + 1, len(c)):
        value = (value * (n - 1) + tr[t - 1]) / n
        out[t] = value
    return out


def assert_close_after_warmup(actual: np.ndarray, expected: np.ndarray, first_valid: int) -> None:
    assert np.isnan(actual[:first_valid]).all(), "warm-up must be NaN"
    assert np.isnan(expected[:first_valid]).all()
    np.testing.assert_allclose(actual[first_valid:], expected[first_valid:], rtol=0, atol=TOL)


# --- hand-computed goldens on tiny series -------------------------------------------------


def test_hand_computed_sma_ema_rsi() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(ind.sma(x, 3)[2:], [2.0, 3.0, 4.0])
    # seed = mean(1,2,3) = 2, alpha = 0.5: 0.5*4 + 0.5*2 = 3, then 0.5*5 + 0.5*3 = 4
    np.testing.assert_allclose(ind.ema(x, 3)[2:], [2.0, 3.0, 4.0], atol=1e-12)
    np.testing.assert_allclose(ind.ema(np.array([2.0, 4.0, 6.0, 0.0]), 3)[2:], [4.0, 2.0], atol=1e-12)
    # RSI(2) of 1, 3, 2: gains (2, 0), losses (0, 1) -> 100 * 1 / (1 + 0.5) = 66.666...
    np.testing.assert_allclose(ind.rsi(np.array([1.0, 3.0, 2.0]), 2)[2], 100.0 * 1.0 / 1.5, atol=1e-9)


def test_rsi_is_100_without_losses_even_when_flat() -> None:
    assert ind.rsi(np.arange(30.0), 14)[-1] == 100.0
    flat = ind.rsi(np.full(30, 5.0), 14)
    assert np.isnan(flat[:14]).all()
    assert (flat[14:] == 100.0).all()  # TA-Lib prints 0 here; the documented convention is 100
    # a single loss anywhere before t and TA-Lib's value stands
    x = np.concatenate(([5.0, 4.0], np.full(28, 5.0)))
    np.testing.assert_allclose(ind.rsi(x, 14)[14:], talib.RSI(x, 14)[14:], atol=TOL)


def test_bollinger_hand_computed_population_std() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    bb = ind.bollinger(x, 4, 2.0)
    std = np.sqrt(np.mean((x - 2.5) ** 2))  # population: 1.1180...
    assert bb.middle[3] == pytest.approx(2.5)
    assert bb.upper[3] == pytest.approx(2.5 + 2 * std, abs=1e-9)
    assert bb.lower[3] == pytest.approx(2.5 - 2 * std, abs=1e-9)
    assert bb.percent_b[3] == pytest.approx((4.0 - bb.lower[3]) / (4 * std), abs=1e-9)
    flat = ind.bollinger(np.full(25, 7.0), 20, 2.0)
    assert (flat.percent_b[19:] == 0.5).all() and (flat.width[19:] == 0.0).all()


def test_anchored_vwap_hand_computed() -> None:
    price = np.array([10.0, 11.0, 12.0, 20.0, 22.0])
    volume = np.array([1.0, 3.0, 0.0, 2.0, 2.0])
    pv = price * volume
    anchor = np.array([True, False, False, True, False])
    vwap = ind.anchored_vwap(price, volume, pv, anchor)
    np.testing.assert_allclose(vwap, [10.0, 43.0 / 4, 43.0 / 4, 20.0, 21.0])
    # an anchor that has seen no volume yet falls back to the price
    np.testing.assert_allclose(ind.anchored_vwap(price, np.zeros(5), np.zeros(5), anchor), price)


# --- frozen literal goldens: a fixed 60-bar series, values from plain-Python reference loops ---

# The literals below were computed once by independent loops that follow the documented
# conventions (SMA-seeded EMAs, fast EMA of MACD seeded at slow - fast, Wilder RSI/ATR seeded
# with plain means, population std for Bollinger, sample std for volatility, the previous 50
# volumes with ddof=0 for the z-score) and pasted here; they also match TA-Lib (checked below).
# They pin the numbers: a change in a kernel, a library upgrade or a convention shows up here.

# fmt: off
G_CLOSE = np.array([
    50.59, 49.73, 50.08, 50.12, 50.10, 49.17, 49.82, 50.25, 50.21, 50.41,
    49.23, 49.76, 49.11, 49.38, 49.42, 48.86, 49.03, 48.36, 48.95, 48.79,
    49.04, 49.40, 49.14, 48.93, 49.45, 49.64, 50.51, 49.94, 50.75, 51.23,
    50.82, 51.35, 51.57, 50.97, 50.60, 50.30, 49.92, 50.11, 50.57, 49.44,
    49.64, 48.58, 48.62, 47.68, 48.13, 47.49, 47.44, 46.63, 45.69, 46.25,
    46.03, 46.57, 45.87, 45.61, 46.61, 45.07, 45.02, 45.15, 45.98, 45.57,
])
G_HIGH = np.array([
    50.73, 49.99, 50.20, 50.17, 50.13, 49.42, 50.42, 50.49, 50.44, 50.46,
    49.54, 49.95, 49.40, 49.57, 49.63, 49.32, 49.52, 48.37, 49.41, 49.14,
    49.10, 49.49, 49.34, 49.18, 49.71, 49.81, 50.78, 50.00, 50.80, 51.36,
    51.14, 51.65, 51.83, 51.78, 50.87, 50.56, 50.19, 50.21, 50.62, 49.61,
    49.84, 48.73, 48.82, 47.87, 48.32, 47.68, 47.47, 46.72, 45.84, 46.44,
    46.35, 46.71, 46.03, 45.64, 46.84, 45.31, 45.28, 45.17, 46.06, 46.12,
])
G_LOW = np.array([
    50.19, 49.67, 49.77, 50.06, 49.96, 49.08, 49.59, 49.84, 50.10, 50.33,
    49.06, 49.67, 48.98, 49.23, 49.20, 48.81, 48.89, 48.35, 48.64, 48.64,
    48.91, 49.15, 49.06, 48.83, 49.34, 49.58, 50.23, 49.75, 50.53, 50.75,
    50.81, 50.86, 51.21, 50.71, 50.59, 50.14, 49.71, 49.91, 50.44, 49.31,
    49.40, 48.21, 48.58, 47.50, 47.55, 47.35, 46.92, 46.39, 45.45, 45.81,
    45.81, 46.28, 45.85, 45.58, 46.57, 45.02, 44.90, 44.99, 45.92, 45.56,
])
G_VOLUME = np.array([
    2462.0, 2465.0, 1350.0, 896.0, 1433.0, 1295.0, 1026.0, 949.0, 1330.0, 4852.0,
    379.0, 1509.0, 706.0, 686.0, 895.0, 940.0, 1669.0, 863.0, 916.0, 3417.0,
    1132.0, 687.0, 793.0, 1248.0, 1181.0, 2841.0, 1448.0, 755.0, 1535.0, 1794.0,
    2529.0, 1369.0, 1277.0, 1465.0, 633.0, 1404.0, 1303.0, 1214.0, 323.0, 958.0,
    1199.0, 634.0, 1439.0, 839.0, 692.0, 1057.0, 1374.0, 834.0, 1594.0, 1347.0,
    1601.0, 1387.0, 894.0, 1246.0, 2902.0, 956.0, 610.0, 2421.0, 903.0, 925.0,
])
G_VWAP_ANCHORS = (0, 30)  # session starts
GOLDEN: dict[str, dict[int, float]] = {
    "sma_10": {9: 50.0480000000, 30: 49.9810000000, 59: 45.7480000000},
    "ema_12": {11: 49.9558333333, 30: 50.0850174008, 59: 46.0315158048},
    "rsi_14": {14: 40.5492730210, 30: 56.7102985467, 59: 38.9790844469},
    "macd_line": {33: 0.3393580110, 45: -0.5182657936, 59: -1.0380743295},
    "macd_signal": {33: 0.0126041102, 45: -0.2007059250, 59: -1.0239610897},
    "macd_hist": {33: 0.3267539009, 45: -0.3175598686, 59: -0.0141132398},
    "bb_upper": {19: 50.7837411283, 40: 51.7131384192, 59: 49.2618121904},
    "bb_middle": {19: 49.5685000000, 40: 50.2140000000, 59: 46.6815000000},
    "bb_lower": {19: 48.3532588717, 40: 48.7148615808, 59: 44.1011878096},
    "bb_percent_b": {19: 0.1796931976, 40: 0.3085567041, 59: 0.2846190852},
    "atr_14": {14: 0.6385714286, 30: 0.6275534065, 59: 0.7272489626},
    "vwap": {0: 50.5900000000, 29: 49.7658496732, 30: 50.8200000000, 59: 47.9380963862},
    "log_return": {1: -0.0171455556, 30: -0.0080353201, 59: -0.0089569141},
    "volatility_20": {20: 0.0110116057, 40: 0.0105011962, 59: 0.0146922323},
    "volume_zscore_50": {50: 0.3348427625, 55: -0.4740557490, 59: -0.5064604507},
}
# fmt: on


def _ours_on_golden_series() -> dict[str, np.ndarray]:
    """Every indicator of :mod:`indicators` on the fixed series, named like :data:`GOLDEN`."""
    m = ind.macd(G_CLOSE, 12, 26, 9)
    bb = ind.bollinger(G_CLOSE, 20, 2.0)
    anchors = np.isin(np.arange(len(G_CLOSE)), G_VWAP_ANCHORS)
    log_ret = ind.log_returns(G_CLOSE)
    return {
        "sma_10": ind.sma(G_CLOSE, 10),
        "ema_12": ind.ema(G_CLOSE, 12),
        "rsi_14": ind.rsi(G_CLOSE, 14),
        "macd_line": m.line,
        "macd_signal": m.signal,
        "macd_hist": m.histogram,
        "bb_upper": bb.upper,
        "bb_middle": bb.middle,
        "bb_lower": bb.lower,
        "bb_percent_b": bb.percent_b,
        "atr_14": ind.atr(G_HIGH, G_LOW, G_CLOSE, 14),
        "vwap": ind.anchored_vwap(G_CLOSE, G_VOLUME, G_CLOSE * G_VOLUME, anchors),
        "log_return": log_ret,
        "volatility_20": ind.rolling_volatility(log_ret, 20),
        "volume_zscore_50": ind.volume_zscore(G_VOLUME, 50),
    }


FIRST_VALID = {"sma_10": 9, "ema_12": 11, "rsi_14": 14, "macd_line": 33, "macd_signal": 33, "macd_hist": 33,
               "bb_upper": 19, "bb_middle": 19, "bb_lower": 19, "bb_percent_b": 19, "atr_14": 14, "vwap": 0,
               "log_return": 1, "volatility_20": 20, "volume_zscore_50": 50}  # fmt: skip


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_frozen_golden_values(name: str) -> None:
    """Literal expected numbers at indices after the warm-up, to 1e-6, and NaN during the warm-up."""
    actual = _ours_on_golden_series()[name]
    assert np.isnan(actual[: FIRST_VALID[name]]).all() and not np.isnan(actual[FIRST_VALID[name] :]).any()
    for index, expected in GOLDEN[name].items():
        assert actual[index] == pytest.approx(expected, abs=TOL), (name, index)


def test_frozen_golden_values_are_talibs() -> None:
    """The literals are TA-Lib's numbers too, wherever TA-Lib has the indicator."""
    line, signal, hist = talib.MACD(G_CLOSE, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(G_CLOSE, 20, 2.0, 2.0, talib.MA_Type.SMA)
    log_ret = np.log(G_CLOSE[1:] / G_CLOSE[:-1])
    talib_values = {
        "sma_10": talib.SMA(G_CLOSE, 10),
        "ema_12": talib.EMA(G_CLOSE, 12),
        "rsi_14": talib.RSI(G_CLOSE, 14),
        "macd_line": line,
        "macd_signal": signal,
        "macd_hist": hist,
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "atr_14": talib.ATR(G_HIGH, G_LOW, G_CLOSE, 14),
        # TA-Lib's STDDEV is the population std over the returns (which start at bar 1)
        "volatility_20": np.concatenate(([np.nan], talib.STDDEV(log_ret, 20, 1.0) * np.sqrt(20 / 19))),
    }
    for name, values in talib_values.items():
        for index, expected in GOLDEN[name].items():
            assert values[index] == pytest.approx(expected, abs=TOL), (name, index)


# --- TA-Lib and reference on the fixed series ---------------------------------------------


@pytest.mark.parametrize("n", [10, 30])
def test_sma_golden(series: dict[str, np.ndarray], n: int) -> None:
    c = series["close"]
    assert_close_after_warmup(ind.sma(c, n), talib.SMA(c, n), n - 1)
    assert_close_after_warmup(ind.sma(c, n), ref_sma(c, n), n - 1)


@pytest.mark.parametrize("n", [12, 26])
def test_ema_golden(series: dict[str, np.ndarray], n: int) -> None:
    c = series["close"]
    assert_close_after_warmup(ind.ema(c, n), talib.EMA(c, n), n - 1)
    assert_close_after_warmup(ind.ema(c, n), ref_ema(c, n), n - 1)


def test_rsi_golden(series: dict[str, np.ndarray]) -> None:
    c = series["close"]
    assert_close_after_warmup(ind.rsi(c, 14), talib.RSI(c, 14), 14)
    assert_close_after_warmup(ind.rsi(c, 14), ref_rsi(c, 14), 14)


def test_macd_golden(series: dict[str, np.ndarray]) -> None:
    c = series["close"]
    m = ind.macd(c, 12, 26, 9)
    line, signal, hist = talib.MACD(c, 12, 26, 9)
    first = 26 + 9 - 2
    for actual, expected in ((m.line, line), (m.signal, signal), (m.histogram, hist)):
        assert_close_after_warmup(actual, expected, first)
    # reference: fast EMA seeded at index slow - fast, signal = SMA-seeded EMA(9) of the line
    ref_line = ref_ema(c, 12, start=26 - 12) - ref_ema(c, 26)
    ref_signal = ref_ema(ref_line, 9, start=25)
    assert_close_after_warmup(m.line, np.where(np.arange(len(c)) >= first, ref_line, np.nan), first)
    assert_close_after_warmup(m.signal, ref_signal, first)
    assert_close_after_warmup(m.histogram, ref_line - ref_signal, first)


def test_bollinger_golden(series: dict[str, np.ndarray]) -> None:
    c = series["close"]
    bb = ind.bollinger(c, 20, 2.0)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    for actual, expected in ((bb.upper, upper), (bb.middle, middle), (bb.lower, lower)):
        assert_close_after_warmup(actual, expected, 19)
    windows = np.lib.stride_tricks.sliding_window_view(c, 20)
    std = np.concatenate((np.full(19, np.nan), windows.std(axis=1, ddof=0)))
    mean = ref_sma(c, 20)
    assert_close_after_warmup(bb.upper, mean + 2 * std, 19)
    ref_b = (c - (mean - 2 * std)) / (4 * std)
    assert_close_after_warmup(bb.percent_b, ref_b, 19)
    assert_close_after_warmup(bb.width, 4 * std / mean, 19)


def test_atr_golden(series: dict[str, np.ndarray]) -> None:
    h, lo, c = series["high"], series["low"], series["close"]
    assert_close_after_warmup(ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14), 14)
    assert_close_after_warmup(ind.atr(h, lo, c, 14), ref_atr(h, lo, c, 14), 14)


def test_log_returns_volatility_volume_zscore_trade_rate(series: dict[str, np.ndarray]) -> None:
    c, v = series["close"], series["volume"]
    lr = ind.log_returns(c)
    assert np.isnan(lr[0])
    np.testing.assert_allclose(lr[1:], [np.log(c[t] / c[t - 1]) for t in range(1, len(c))], atol=1e-12)

    vol = ind.rolling_volatility(lr, 20)
    ref_vol = np.full(len(c), np.nan)
    for t in range(20, len(c)):
        ref_vol[t] = np.std(lr[t - 19 : t + 1], ddof=1)
    assert_close_after_warmup(vol, ref_vol, 20)
    # TA-Lib's STDDEV is the population std: the sample std is it times sqrt(n/(n-1))
    assert_close_after_warmup(vol, talib.STDDEV(lr, 20, 1.0) * np.sqrt(20 / 19), 20)

    z = ind.volume_zscore(v, 50)
    ref_z = np.full(len(v), np.nan)
    for t in range(50, len(v)):
        base = v[t - 50 : t]  # the previous 50 bars, not including t
        ref_z[t] = (v[t] - base.mean()) / base.std(ddof=0)
    assert_close_after_warmup(z, ref_z, 50)

    counts = np.round(series["volume"] / 100)
    rate = ind.trade_rate_ratio(counts, 5)
    ref_rate = np.full(len(v), np.nan)
    for t in range(5, len(v)):
        ref_rate[t] = counts[t] / counts[t - 5 : t].mean()
    assert_close_after_warmup(rate, ref_rate, 5)


def test_volume_zscore_flat_baseline_is_bounded() -> None:
    v = np.concatenate((np.full(10, 100.0), [100.0, 500.0, 10.0]))
    z = ind.volume_zscore(v, 10)
    assert z[10] == 0.0
    assert z[11] == ind.ZSCORE_CAP  # a burst over a flat baseline: capped, not inf
    assert np.isfinite(z[12])


def test_bad_periods_raise() -> None:
    x = np.arange(50.0)
    with pytest.raises(ValueError, match="SMA period"):
        ind.sma(x, 1)
    with pytest.raises(ValueError, match="fast"):
        ind.macd(x, 26, 12, 9)
    with pytest.raises(ValueError, match="1-D"):
        ind.ema(np.ones((3, 3)), 2)


CAUSAL: dict[str, Callable[[dict[str, np.ndarray]], list[np.ndarray]]] = {
    "sma": lambda s: [ind.sma(s["close"], 10)],
    "ema": lambda s: [ind.ema(s["close"], 12)],
    "rsi": lambda s: [ind.rsi(s["close"], 14)],
    "macd": lambda s: list(ind.macd(s["close"])),
    "bollinger": lambda s: list(ind.bollinger(s["close"])),
    "atr": lambda s: [ind.atr(s["high"], s["low"], s["close"], 14)],
    "vwap": lambda s: [
        ind.anchored_vwap(s["close"], s["volume"], s["close"] * s["volume"], np.arange(len(s["close"])) % 90 == 0)
    ],
    "volatility": lambda s: [ind.rolling_volatility(ind.log_returns(s["close"]), 20)],
    "volume_zscore": lambda s: [ind.volume_zscore(s["volume"], 50)],
    "trade_rate": lambda s: [ind.trade_rate_ratio(s["volume"], 5)],
}


@pytest.mark.parametrize("name", sorted(CAUSAL))
def test_no_look_ahead(series: dict[str, np.ndarray], name: str) -> None:
    """Rewriting every value after t leaves each output at or before t bit-for-bit unchanged."""
    cut = 250
    rng = np.random.default_rng(1)
    future = {k: v.copy() for k, v in series.items()}
    for k in future:
        future[k][cut + 1 :] *= rng.uniform(0.5, 1.5, len(future[k]) - cut - 1)
    future["high"] = np.maximum.reduce([future["high"], future["close"], future["low"]])
    future["low"] = np.minimum.reduce([future["low"], future["close"], future["high"]])
    before, after = CAUSAL[name](series), CAUSAL[name](future)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a[: cut + 1], b[: cut + 1])
        assert not np.allclose(a[cut + 2 :], b[cut + 2 :], equal_nan=True)  # the future did change
