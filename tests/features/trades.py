"""Deterministic synthetic silver trades for the feature tests (no I/O, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from financial_transactions.market.calendar import classify_sessions, session_date


def synthetic_trades(
    symbol: str = "AAPL",
    n: int = 5000,
    *,
    seed: int = 7,
    start: str = "2025-03-07 14:30:00",
    mean_gap_ms: float = 900.0,
    asset_class: str = "equity",
    price0: float = 180.0,
) -> pd.DataFrame:
    """Silver-shaped trades: GBM-ish prices, lognormal sizes, some identical prints."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(mean_gap_ms, n).astype(np.int64)
    gaps[rng.random(n) < 0.05] = 0  # same-millisecond prints, as in real tapes
    ts_ms = pd.Timestamp(start, tz="UTC").value // 1_000_000 + np.cumsum(gaps)
    price = np.round(price0 * np.exp(np.cumsum(rng.normal(0, 2e-4, n))), 2)
    volume = np.round(rng.lognormal(4.0, 1.0, n))
    dup = np.flatnonzero(gaps == 0)
    price[dup] = price[dup - 1]  # identical prints: same ms, price and size
    volume[dup] = volume[dup - 1]
    ts = pd.Series(pd.to_datetime(ts_ms, unit="ms", utc=True))
    source = "binance" if asset_class == "crypto" else "finnhub"
    return pd.DataFrame(
        {
            "trade_id": [f"{source}-r1-c0-m{i // 10:07d}-p{i % 10}" for i in range(n)],
            "source": source,
            "asset_class": asset_class,
            "symbol": symbol,
            "price": price,
            "volume": volume,
            "ts": ts,
            "trade_date": session_date(ts),
            "session_type": classify_sessions(ts, asset_class),
        }
    )


def with_transient_and_persistent_events(
    trades: pd.DataFrame, *, seed: int = 3, events: int = 6
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inject, at random times, as many *persistent* moves as *transient* ones.

    Transient: a fat-finger print 4% off that the market ignores, a 1-minute volume
    burst. Persistent: a 4% re-pricing that stays, a 30-minute volume regime. At the
    bar where either starts the two look alike; only what follows tells them apart.
    Returns the trades and the events (kind, symbol, ts of the first affected trade).
    """
    rng = np.random.default_rng(seed)
    out = trades.copy().reset_index(drop=True)
    price = out["price"].to_numpy(dtype=np.float64).copy()
    volume = out["volume"].to_numpy(dtype=np.float64).copy()
    ts = out["ts"]
    n = len(out)
    slots = np.sort(rng.choice(np.arange(n // 20, n - n // 20), size=4 * events, replace=False))
    kinds = np.tile(["spike", "jump", "burst", "regime"], events)
    rng.shuffle(kinds)
    log = []
    for at, kind in zip(slots, kinds, strict=True):
        log.append({"kind": kind, "symbol": out["symbol"].iloc[at], "ts": ts.iloc[at]})
        sign = rng.choice([-1.0, 1.0])
        if kind == "spike":
            price[at] = np.round(price[at] * (1 + sign * 0.04), 2)
        elif kind == "jump":
            price[at:] = np.round(price[at:] * (1 + sign * 0.04), 2)
        else:
            start = ts.iloc[at].floor("1min")  # a burst fills exactly one 1-minute bar
            end = start + pd.Timedelta(minutes=1 if kind == "burst" else 30)
            window = ((ts >= start) & (ts < end)).to_numpy()
            volume[window] *= 20.0
    out["price"] = price
    out["volume"] = volume
    return out, pd.DataFrame(log)
