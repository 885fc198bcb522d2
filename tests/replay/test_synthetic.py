"""The seeded synthetic market: sessions, 24/7 crypto, identical prints, news, blatant and subtle anomalies, shift."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from financial_transactions.config.collectors import ReplayConfig
from financial_transactions.market.calendar import NEW_YORK, classify_sessions
from financial_transactions.replay.market import ANOMALY_TYPES, MarketData
from financial_transactions.replay.synthetic import (
    CORR_CROSS,
    CORR_CRYPTO,
    CORR_EQUITY,
    MINUTES_PER_YEAR,
    RUN_MAX,
    build_synthetic_market,
    symbol_spec,
    window_days,
)
from tests.support.ingest import CRYPTO, EQUITIES, small_replay

DEFAULT = ReplayConfig()  # the shipped defaults: what `fin-mlops run` replays
DEFAULT_EQUITIES = ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"]
DEFAULT_CRYPTO = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


@pytest.fixture(scope="module")
def default_market() -> MarketData:
    return build_synthetic_market(DEFAULT, DEFAULT_EQUITIES, DEFAULT_CRYPTO)


def _frame(market: MarketData) -> pd.DataFrame:
    f = market.frame.copy()
    f["asset"] = [market.asset_classes[i] for i in market.sym.tolist()]
    f["minute"] = f["ts"] // 60_000
    f["buyer_maker"] = market.buyer_maker
    return f


def test_seeded_and_deterministic(small_market: MarketData) -> None:
    again = build_synthetic_market(small_replay(), EQUITIES, CRYPTO)
    for col in ("sym", "ts", "price", "volume", "anomaly"):
        assert np.array_equal(getattr(again, col), getattr(small_market, col))
    other = build_synthetic_market(small_replay(seed=7), EQUITIES, CRYPTO)
    assert not np.array_equal(other.price[:100], small_market.price[:100])


def test_default_market_size_and_dst_window(default_market: MarketData) -> None:
    market = default_market
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
    """Blatant anomalies (``anomaly_subtlety=0``) stand out of normal minutes on the feature their type names."""
    cfg = small_replay(trading_days=2, anomaly_rate=0.03, anomaly_subtlety=0.0)
    market = build_synthetic_market(cfg, EQUITIES, CRYPTO)
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


def _normal_prices(market: MarketData, bucket_ms: int) -> pd.DataFrame:
    """Last normal (unlabelled) print per symbol and time bucket: one column per symbol."""
    f = market.frame[market.frame.anomaly == 0]
    return f.groupby(["symbol", f.ts // bucket_ms * bucket_ms], observed=True).price.last().unstack(0)


def _mean_pair_corr(corr: pd.DataFrame, left: list[str], right: list[str]) -> float:
    return float(np.mean([corr.loc[a, b] for a in left for b in right if a != b and (left != right or a < b)]))


def test_cross_symbol_returns_are_correlated_as_configured(default_market: MarketData) -> None:
    """5-minute returns measured from the printed trades follow the configured correlation structure."""
    closes = _normal_prices(default_market, 300_000)
    returns = pd.DataFrame(np.log(closes)).diff()
    stamps = pd.Series(pd.to_datetime(returns.index, unit="ms", utc=True))
    regular = (classify_sessions(stamps, "equity") == "regular").to_numpy()
    corr = returns[regular].corr()  # equities only move much while the market is open
    equity = _mean_pair_corr(corr, DEFAULT_EQUITIES, DEFAULT_EQUITIES)
    cross = _mean_pair_corr(corr, DEFAULT_EQUITIES, DEFAULT_CRYPTO)
    crypto = _mean_pair_corr(returns.corr(), DEFAULT_CRYPTO, DEFAULT_CRYPTO)  # crypto: around the clock
    assert abs(equity - CORR_EQUITY) < 0.15, equity  # configured 0.55; bid/ask bounce dilutes a little
    assert abs(crypto - CORR_CRYPTO) < 0.15, crypto  # configured 0.75
    assert abs(cross - CORR_CROSS) < 0.15, cross  # configured 0.15
    assert crypto > equity > cross > 0
    assert all(float(corr.loc["AAPL", other]) > 0.25 for other in DEFAULT_EQUITIES[1:])  # each pair, not just the mean


def test_volatility_clusters_but_returns_stay_unpredictable(default_market: MarketData) -> None:
    """GARCH(1,1): |returns| are autocorrelated for many lags while the returns themselves are not."""
    closes = _normal_prices(default_market, 60_000)
    for symbol in DEFAULT_CRYPTO:  # 24/7: no session profile to fake clustering
        series = closes[symbol].dropna()
        full = series.reindex(np.arange(series.index.min(), series.index.max() + 1, 60_000)).ffill()
        r = np.diff(np.log(full.to_numpy()))
        size = np.abs(r - r.mean())
        lags = range(1, 11)
        clustered = np.mean([np.corrcoef(size[:-k], size[k:])[0, 1] for k in lags])
        shuffled = np.random.default_rng(0).permutation(size)
        baseline = np.mean([np.corrcoef(shuffled[:-k], shuffled[k:])[0, 1] for k in lags])
        assert len(r) > 5000
        assert clustered > 0.04 and clustered > baseline + 0.03, (symbol, clustered, baseline)
        assert abs(np.corrcoef(r[:-1], r[1:])[0, 1]) < 0.05, symbol


def _per_minute(minutes: np.ndarray, lo: int, hi: int) -> float:
    return float(np.count_nonzero((minutes >= lo) & (minutes < hi))) / (hi - lo)


def _equity_minutes(market: MarketData) -> tuple[pd.Series, np.ndarray, pd.Series]:
    f = market.frame[(market.frame.anomaly == 0) & market.frame.symbol.isin(market.symbols_of("equity"))]
    ts = pd.Series(pd.to_datetime(f.ts.to_numpy(), unit="ms", utc=True))
    ny = ts.dt.tz_convert(NEW_YORK)
    return ny.dt.date, (ny.dt.hour * 60 + ny.dt.minute).to_numpy(), classify_sessions(ts, "equity")


def test_intraday_volume_profile_is_u_shaped(default_market: MarketData) -> None:
    days, minutes, _ = _equity_minutes(default_market)
    for day in default_market.trading_days:
        m = minutes[(days == day).to_numpy()]
        opening, midday, closing = _per_minute(m, 570, 600), _per_minute(m, 720, 840), _per_minute(m, 930, 960)
        assert opening > 1.5 * midday and closing > 1.5 * midday, (day, opening, midday, closing)
        extended = max(_per_minute(m, 240, 570), _per_minute(m, 960, 1200))
        assert extended < 0.2 * midday, day  # pre-market and after-hours are thin
    f = default_market.frame
    volume = f[f.symbol.isin(DEFAULT_EQUITIES) & (f.anomaly == 0)].volume.to_numpy()
    opening_volume = volume[(minutes >= 570) & (minutes < 600)].sum() / 30
    assert opening_volume > 1.5 * volume[(minutes >= 720) & (minutes < 840)].sum() / 120  # shares, not just prints


def test_early_close_day_ends_the_regular_session_and_its_rush_at_13_00() -> None:
    """2026-11-27 (the day after Thanksgiving): regular 09:30-13:00, after-hours 13:00-17:00."""
    market = build_synthetic_market(small_replay(start_date=date(2026, 11, 27)), EQUITIES, CRYPTO)
    assert market.trading_days == [date(2026, 11, 27)]
    _, minutes, sessions = _equity_minutes(market)
    regular, after = minutes[(sessions == "regular").to_numpy()], minutes[(sessions == "after_hours").to_numpy()]
    assert regular.min() >= 570 and regular.max() < 780
    assert after.min() >= 780 and after.max() < 1020 and len(after) > 0
    assert _per_minute(minutes, 1020, 1200) == 0  # 17:00-20:00 is closed on an early-close day
    midday = _per_minute(minutes, 660, 720)
    assert _per_minute(minutes, 750, 780) > 1.5 * midday  # the closing rush comes before 13:00 ...
    assert _per_minute(minutes, 780, 1020) < 0.2 * midday  # ... and after-hours stays thin
    assert len(after) < 0.1 * len(regular)


def test_crypto_trades_every_hour_of_every_calendar_day(default_market: MarketData) -> None:
    f = default_market.frame
    crypto = f[f.symbol.isin(DEFAULT_CRYPTO)]
    hours = pd.to_datetime(crypto.ts, unit="ms", utc=True).dt.floor("h")
    per_hour = crypto.groupby([crypto.symbol, hours], observed=True).size().unstack(0)
    first = pd.Timestamp(default_market.trading_days[0]).tz_localize(NEW_YORK).tz_convert("UTC")
    last = pd.Timestamp(default_market.trading_days[-1] + pd.Timedelta(days=1)).tz_localize(NEW_YORK)
    expected_hours = pd.date_range(first, last.tz_convert("UTC"), freq="h", inclusive="left")
    assert len(expected_hours) == 95  # Fri 2026-03-06 .. Mon 2026-03-09 New York, 23-hour DST Sunday included
    assert list(per_hour.index) == list(expected_hours) and (per_hour.fillna(0) > 0).all().all()
    sessions = classify_sessions(pd.Series(pd.to_datetime(crypto.ts.to_numpy(), unit="ms", utc=True)), "equity")
    assert (sessions == "closed").mean() > 0.4  # most crypto prints happen while NYSE is shut (weekend, nights)
    assert set(classify_sessions(pd.Series(expected_hours), "crypto")) == {"continuous"}


def test_runs_of_identical_prints_are_consecutive_in_the_tape(small_market: MarketData) -> None:
    """Runs of identical prints (same symbol, ms, price, size) in a row, for equities and crypto alike:
    mostly 2-4 copies, geometrically fewer the longer, with an occasional long run (a sweep of equal lots)."""
    f = small_market.frame[small_market.frame.anomaly == 0]
    everywhere: list[int] = []
    for symbol in small_market.symbols:
        tape = f[f.symbol == symbol][["ts", "price", "volume"]].to_numpy()
        same_as_previous = (tape[1:] == tape[:-1]).all(axis=1)
        starts = np.flatnonzero(np.diff(np.concatenate([[0], same_as_previous.astype(int)])) == 1)
        ends = np.flatnonzero(np.diff(np.concatenate([same_as_previous.astype(int), [0]])) == -1)
        lengths = ends - starts + 2  # a run of k identical prints has k-1 "same as previous" steps
        assert len(lengths) >= 10, symbol
        assert lengths.min() >= 2 and lengths.max() <= RUN_MAX, symbol
        assert set(lengths.tolist()) >= {2, 3, 4}, symbol
        everywhere += lengths.tolist()
    counts = np.bincount(everywhere)
    assert counts[2] > counts[3] > counts[4] > counts[5]  # geometric body
    long_runs = [n for n in everywhere if n > 5]
    assert len(long_runs) >= 5 and max(long_runs) >= 10, long_runs  # the tail: normal, unlabelled
    assert len(long_runs) < 0.15 * len(everywhere)  # ... but occasional


def _events(market: MarketData) -> pd.DataFrame:
    """One row per labelled symbol-minute: its type and the sizes the generator drew for it."""
    f = _frame(market)
    sigma = {s: np.sqrt(symbol_spec(s, a).annual_vol ** 2 / MINUTES_PER_YEAR[a])
             for s, a in zip(market.symbols, market.asset_classes, strict=True)}  # fmt: skip
    normal_size = f[f.anomaly == 0].groupby("symbol", observed=True).volume.median()
    rows = []
    for (symbol, minute), bar in f.groupby(["symbol", "minute"], observed=True):
        codes = set(bar.anomaly) - {0}
        if not codes:
            continue
        (code,) = codes  # events are spaced apart: one type per minute
        normal, event = bar[bar.anomaly == 0], bar[bar.anomaly == code]
        row: dict[str, object] = {"symbol": symbol, "minute": minute, "kind": ANOMALY_TYPES[code], "n": len(event)}
        if row["kind"] == "price_spike" and len(normal):
            row["sigmas"] = float(np.abs(np.log(event.price / normal.price.median())).max() / sigma[symbol])
        elif row["kind"] == "volume_burst":
            row["count_x"] = len(event) / max(len(normal), 3)
            row["size_x"] = float(event.volume.median() / normal_size[symbol])
        elif row["kind"] == "wash_trade":
            row["groups"] = event.groupby("ts").size().tolist()
            row["gaps_ms"] = np.diff(np.unique(event.ts.to_numpy())).astype(np.int64).tolist()
            row["pairs"] = len(event.groupby(["price", "volume"]))
            row["sides"] = event.groupby("ts").buyer_maker.agg(["min", "max"]).to_numpy().tolist()
        rows.append(row)
    return pd.DataFrame(rows)


def _stale_runs(events: pd.DataFrame) -> list[int]:
    """Lengths (minutes) of the runs of consecutive stale-price minutes."""
    runs: list[int] = []
    for _, g in events[events.kind == "stale_price"].groupby("symbol"):
        minutes = np.sort(g.minute.to_numpy())
        cuts = np.flatnonzero(np.diff(minutes) != 1) + 1
        runs += np.diff(np.concatenate([[0], cuts, [len(minutes)]])).tolist()
    return runs


@pytest.fixture(scope="module")
def blatant_and_subtle() -> tuple[pd.DataFrame, pd.DataFrame]:
    def events(subtlety: float) -> pd.DataFrame:
        cfg = small_replay(trading_days=2, anomaly_rate=0.03, anomaly_subtlety=subtlety)
        return _events(build_synthetic_market(cfg, EQUITIES, CRYPTO))

    return events(0.0), events(1.0)


def test_subtle_anomalies_are_sized_like_normal_trading(blatant_and_subtle: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """``anomaly_subtlety`` 0: every anomaly blatant; 1: every anomaly inside normal behaviour's range."""
    blatant, subtle = blatant_and_subtle
    for frame in (blatant, subtle):
        assert set(frame.kind) == {"price_spike", "volume_burst", "wash_trade", "stale_price"}

    # price spikes: 15-40 sigma (at least 0.8 %) vs 3-8 sigma (measured from the minute's median print)
    spikes_b, spikes_s = blatant[blatant.kind == "price_spike"].sigmas, subtle[subtle.kind == "price_spike"].sigmas
    assert spikes_b.min() > 14 and spikes_s.max() < 12 and 3 <= spikes_s.median() <= 8

    # volume bursts: 8-20x the minute's prints at 10-40x the size vs 2-5x at 2-5x
    bursts_b, bursts_s = blatant[blatant.kind == "volume_burst"], subtle[subtle.kind == "volume_burst"]
    assert bursts_b.count_x.min() >= 7.5 and bursts_s.count_x.between(1.5, 5.0).all()
    assert bursts_b.size_x.min() > 8 and bursts_s.size_x.max() < 10 and 2 <= bursts_s.size_x.median() <= 5

    # wash trades: one (price, size) printed back and forth at distinct timestamps (legs alternating sides):
    # 20-50 identical prints in 3-6 same-ms legs of at least 2 vs 3-8 prints over 2-4 legs 1-15 s apart
    wash_b, wash_s = blatant[blatant.kind == "wash_trade"], subtle[subtle.kind == "wash_trade"]
    assert (wash_b.pairs == 1).all() and (wash_s.pairs == 1).all()
    assert wash_b.n.between(20, 50).all() and wash_b.groups.map(lambda g: 3 <= len(g) <= 6 and min(g) >= 2).all()
    assert wash_s.n.between(3, 8).all() and wash_s.groups.map(lambda g: 2 <= len(g) <= 4).all()
    assert wash_s.gaps_ms.map(lambda g: min(g) >= 1_000 and max(g) <= 15_000).all()
    assert set(wash_s.groups.map(len)) == {2, 3, 4}
    for sides in pd.concat([wash_b.sides, wash_s.sides]):  # each leg one side, the legs alternate
        assert [lo for lo, hi in sides] == [hi for lo, hi in sides] == [k % 2 == 1 for k in range(len(sides))]

    # stale prices: 3-8 frozen minutes padded to >= 8 prints a minute vs 1-2 minutes of the minute's own prints
    runs_b, runs_s = _stale_runs(blatant), _stale_runs(subtle)
    assert min(runs_b) >= 3 and max(runs_b) <= 8 and max(runs_s) <= 2 and len(runs_s) >= 3
    assert blatant[blatant.kind == "stale_price"].n.min() >= 8
    assert subtle[subtle.kind == "stale_price"].n.min() < 8  # no padding: a thin minute stays thin


def test_a_mixed_market_has_both_sizes() -> None:
    """At the shipped share both kinds are there, subtle ones in about that proportion."""
    assert 0 < DEFAULT.anomaly_subtlety < 1
    cfg = small_replay(trading_days=2, anomaly_rate=0.03, anomaly_subtlety=DEFAULT.anomaly_subtlety)
    spikes = _events(build_synthetic_market(cfg, EQUITIES, CRYPTO)).query("kind == 'price_spike'").sigmas.dropna()
    assert len(spikes) >= 30
    share = float((spikes < 12).mean())
    assert abs(share - DEFAULT.anomaly_subtlety) < 0.2, share


def _busy_volatile_minutes(market: MarketData) -> int:
    """Unlabelled symbol-minutes with >= 4x the prints and volume of their hour and a >= 3x typical move."""
    f = _frame(market)
    bars = f.groupby(["symbol", "minute"], observed=True).agg(
        n=("price", "size"), volume=("volume", "sum"), close=("price", "last"), label=("anomaly", "max")
    )
    found = 0
    for _, b in bars.groupby(level=0, observed=True):
        typical = b[["n", "volume"]].rolling(61, center=True, min_periods=10).median()
        move = np.log(b["close"]).diff().abs()
        busy = (b.n >= 4 * typical.n) & (b.volume >= 4 * typical.volume) & (b.label == 0)
        found += int((busy & (move >= 3 * move.rolling(61, center=True, min_periods=10).median())).sum())
    return found


def test_news_bursts_are_busy_volatile_and_unlabelled() -> None:
    """News minutes (``news_rate``) are busier and more volatile than their hour, and never in the ground truth.

    Without news a handful of minutes look like that by chance (thin hours, blocks); the shipped rate adds
    dozens more, which is what keeps "busy" or "volatile" from being a label on its own.
    """
    assert DEFAULT.news_rate > 0
    quiet = DEFAULT.model_copy(update={"news_rate": 0.0, "anomaly_rate": 0.0})
    newsy = DEFAULT.model_copy(update={"anomaly_rate": 0.0})  # the shipped news rate
    without = build_synthetic_market(quiet, DEFAULT_EQUITIES, DEFAULT_CRYPTO)
    with_news = build_synthetic_market(newsy, DEFAULT_EQUITIES, DEFAULT_CRYPTO)
    assert not with_news.anomaly.any()  # normal market behaviour: nothing labelled
    assert _busy_volatile_minutes(with_news) > 3 * max(_busy_volatile_minutes(without), 10)
