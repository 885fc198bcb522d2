"""Golden values: every indicator against TA-Lib and against a plain-loop reference of the
documented convention, on a fixed series, to 1e-6 after the warm-up; plus causality."""

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
