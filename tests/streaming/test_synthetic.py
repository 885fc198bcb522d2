"""The seeded synthetic market: sessions, 24/7 crypto, identical prints, visible labelled anomalies, regime shift."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from financial_transactions.config.collectors import ReplayConfig
from financial_transactions.market.calendar import classify_sessions
from financial_transactions.streaming.market_data import ANOMALY_TYPES, MarketData
from financial_transactions.streaming.synthetic import build_synthetic_market, window_days
from tests.streaming.helpers import CRYPTO, EQUITIES, small_replay

DEFAULT = ReplayConfig()  # the shipped defaults: what `fin-mlops run` replays


def _frame(market: MarketData) -> pd.DataFrame:
    f = market.frame.copy()
    f["asset"] = [market.asset_classes[i] for i in market.sym.tolist()]
    f["minute"] = f["ts"] // 60_000
    return f


def test_seeded_and_deterministic(small_market: MarketData) -> None:
    again = build_synthetic_market(small_replay(), EQUITIES, CRYPTO)
    for col in ("sym", "ts", "price", "volume", "anomaly"):
        assert np.array_equal(getattr(again, col), getattr(small_market, col))
    other = build_synthetic_market(small_replay(seed=7), EQUITIES, CRYPTO)
    assert not np.array_equal(other.price[:100], small_market.price[:100])


def test_default_market_size_and_dst_window() -> None:
    market = build_synthetic_market(DEFAULT, ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"], ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    assert 100_000 <= len(market) <= 300_000
    assert market.trading_days == [date(2026, 3, 6), date(2026, 3, 9)]  # around the 2026-03-08 DST change
    f = _frame(market)
    eq = f[f.asset == "equity"]
    sessions = classify_sessions(pd.Series(pd.to_datetime(eq.ts, unit="ms", utc=True)), "equity")
    assert "closed" not in set(sessions) and {"pre_market", "regular", "after_hours"} <= set(sessions)
    # the regular open is 14:30Z before the change and 13:30Z after it: activity follows New York time
    first_regular = (
        eq[(sessions == "regular").to_numpy()].groupby(pd.to_datetime(eq.ts, unit="ms", utc=True).dt.date).ts.min()
    )
    assert pd.to_datetime(first_regular.iloc[0], unit="ms", utc=True).strftime("%H:%M") == "14:30"
    assert pd.to_datetime(first_regular.iloc[1], unit="ms", utc=True).strftime("%H:%M") == "13:30"
    crypto = f[f.asset == "crypto"]
    hours = pd.to_datetime(crypto.ts, unit="ms", utc=True)
    assert set(hours.dt.hour) == set(range(24)) and {5, 6} <= set(hours.dt.weekday)  # 24/7, weekend included


def test_identical_print_runs_are_normal_and_common(small_market: MarketData) -> None:
    f = _frame(small_market)
    normal = f[f.anomaly == 0]
    dup = normal.duplicated(["symbol", "ts", "price", "volume"], keep=False)
    assert dup.mean() > 0.1
    assert small_market.counts()["trades"] == len(f)


def _bars(f: pd.DataFrame) -> pd.DataFrame:
    g = f.groupby(["symbol", "minute"], observed=True)
    bars = g.agg(
        n=("price", "size"),
        high=("price", "max"),
        low=("price", "min"),
        std=("price", "std"),
        volume=("volume", "sum"),
        label=("anomaly", "max"),
    )
    bars["dups"] = g.apply(
        lambda x: int(x.duplicated(["ts", "price", "volume"], keep=False).sum()), include_groups=False
    )
    bars["range"] = (bars.high - bars.low) / bars.low
    return bars.reset_index()


def test_every_anomaly_type_is_labelled_and_visible_in_minute_bars() -> None:
    market = build_synthetic_market(small_replay(trading_days=2, anomaly_rate=0.03), EQUITIES, CRYPTO)
    bars = _bars(_frame(market))
    normal = bars[bars.label == 0]
    labelled = {ANOMALY_TYPES[c] for c in bars.label.unique() if c}
    assert labelled == {"price_spike", "volume_burst", "wash_trade", "stale_price"}
    for name in labelled:
        sel = bars[bars.label == ANOMALY_TYPES.index(name)]
        assert len(sel) >= 3, name
        if name == "price_spike":  # far outside the normal minute's range
            assert sel.range.median() > 5 * normal.range.quantile(0.99)
        elif name == "volume_burst":
            ratio = sel.volume.median() / normal.volume.median()
            assert ratio > 20 and sel.n.median() > 5 * normal.n.median()
        elif name == "wash_trade":  # many identical prints in one minute
            assert sel.dups.min() >= 20 and sel.dups.median() > normal.dups.quantile(0.99)
        else:  # stale: frozen price, zero variance, with enough prints to see it
            assert (sel["std"].fillna(0) == 0).all() and (sel.n >= 8).all()


def test_ground_truth_file_matches_labels(tmp_path: Path, small_market: MarketData) -> None:
    path = small_market.write_ground_truth(tmp_path)
    assert path == tmp_path / "_ground_truth" / "window1" / "anomalies.ndjson"
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert len(lines) == int((small_market.anomaly > 0).sum()) > 0
    assert set(lines[0]) == {"source", "symbol", "ts", "price", "volume", "anomaly_type"}
    sources = {(x["symbol"], x["source"]) for x in lines}
    assert all(src == ("binance" if sym in CRYPTO else "finnhub") for sym, src in sources)
    assert not list(tmp_path.rglob(".*"))


def test_window_two_is_later_and_more_volatile() -> None:
    cfg = small_replay(trading_days=2)
    w1 = build_synthetic_market(cfg, EQUITIES, CRYPTO, window=1)
    w2 = build_synthetic_market(cfg, EQUITIES, CRYPTO, window=2)
    assert window_days(cfg, 2)[0] > window_days(cfg, 1)[-1] and w2.window == "window2"
    assert w2.ts.min() > w1.ts.max()

    def minute_vol(m: MarketData) -> float:
        f = _frame(m)
        f = f[(f.anomaly == 0) & (f.symbol == "AAPL")]
        closes = f.groupby("minute").price.last()
        return float(np.log(closes).diff().std())

    assert minute_vol(w2) > 1.8 * minute_vol(w1)
    normal_size = _frame(w1).query("anomaly == 0").volume.median()
    assert _frame(w2).query("anomaly == 0").volume.median() > 1.5 * normal_size


def test_alpha_vantage_bars_come_from_the_trades(small_market: MarketData) -> None:
    f = _frame(small_market)
    aapl = f[f.symbol == "AAPL"]
    bars = small_market.minute_bars("AAPL")
    assert len(bars) == aapl.minute.nunique()
    first = aapl[aapl.minute == aapl.minute.min()]
    assert bars.iloc[0].tolist() == [
        first.price.iloc[0], first.price.max(), first.price.min(), first.price.iloc[-1], first.volume.sum(),
    ]  # fmt: skip
    daily = small_market.daily_bars("AAPL")
    assert len(daily) == 10 + 1  # history_days + the window's day
    assert (daily.high >= daily[["open", "close"]].max(axis=1)).all()
    assert (daily.low <= daily[["open", "close"]].min(axis=1)).all()
