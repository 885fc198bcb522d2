"""Online features == batch features: after every trade, the online row of the trade's bar equals the last
gold row :func:`build_gold_features` gives on all of that symbol's trades so far.

Tolerance (documented in :mod:`financial_transactions.features.online`): every BIGINT column and every
NaN position exactly; float columns within a relative 1e-9 (plus 1e-12 absolute, for values that are 0
in one computation and a rounding residue in the other, e.g. the std of a bar of equal prices).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.features.feature_engineering import build_gold_features, feature_columns, gold_columns
from financial_transactions.features.online import OnlineFeatures, OnlineTrade, seed_since, trades_of
from tests.features.trades import synthetic_trades
from tests.support import futures

REL, ABS = 1e-9, 1e-12
#: Short windows, so a few bars open every TA-Lib stream handle (the default config is covered below).
SMALL = FeaturesConfig(
    sma_windows=[2, 4],
    ema_windows=[3],
    rsi_period=3,
    macd={"fast": 2, "slow": 4, "signal": 2},
    bollinger={"period": 3, "num_std": 2.0},
    atr_period=2,
    volatility_window=3,
    volume_zscore_window=3,
    trade_rate_window=1,
)
MS = 1_000_000
BAR_NS = 60_000 * MS  # SMALL's bar interval (the default, 1 minute)
#: Starting points (UTC) just before session boundaries: NYSE pre-market open (04:00 NY), regular open
#: (09:30), close (16:00) and after-hours close (20:00), New York midnight, Friday's close into the
#: weekend, Globex's Sunday open (17:00 Chicago) and its daily break (16:00 Chicago).
STARTS = [
    pd.Timestamp("2025-03-07 08:57", tz="UTC"),  # 03:57 New York (EST)
    pd.Timestamp("2025-03-07 14:27", tz="UTC"),  # 09:27
    pd.Timestamp("2025-03-07 20:57", tz="UTC"),  # 15:57 Friday
    pd.Timestamp("2025-03-10 00:57", tz="UTC"),  # 20:57 Sunday New York, after the DST switch
    pd.Timestamp("2025-03-11 03:57", tz="UTC"),  # 23:57 New York
    pd.Timestamp("2025-03-09 21:57", tz="UTC"),  # 16:57 Sunday Chicago
    pd.Timestamp("2025-03-11 20:57", tz="UTC"),  # 15:57 Chicago
    pd.Timestamp("2025-11-28 17:57", tz="UTC"),  # 12:57 New York, an early close
]
ASSETS = {"AAPL": "equity", "BTCUSDT": "crypto", "ES": "future"}
SOURCES = {"equity": "finnhub", "crypto": "binance", "future": "cme"}


def _check_row(online: dict[str, Any], batch: pd.Series, cfg: FeaturesConfig, where: str) -> None:
    kinds = dict(gold_columns(cfg))
    for col in feature_columns(cfg):
        got, want = online[col], batch[col]
        if kinds[col] == "BIGINT":
            assert got == want, f"{where}: {col} online {got!r} != batch {want!r}"
            continue
        got, want = float(got), float(want)
        if math.isnan(want) or math.isnan(got):
            assert math.isnan(want) and math.isnan(got), f"{where}: {col} online {got!r} vs batch {want!r}"
            continue
        assert abs(got - want) <= REL * max(abs(got), abs(want)) + ABS, f"{where}: {col} online {got!r} != {want!r}"


def _frame(trades: list[OnlineTrade]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trade_id": [t.trade_id for t in trades],
            "source": [t.source for t in trades],
            "asset_class": [t.asset_class for t in trades],
            "symbol": [t.symbol for t in trades],
            "price": [t.price for t in trades],
            "volume": [t.volume for t in trades],
            "ts": pd.to_datetime([t.ts_ns for t in trades], unit="ns", utc=True),
        }
    )


#: Gaps between a symbol's trades, in ms: same millisecond, sub-second, seconds, about a bar, up to 2.5 days.
GAPS_MS = {
    "same": st.just(0),
    "ms": st.integers(1, 900),
    "s": st.integers(1, 40).map(lambda s: s * 1000),
    "bar": st.integers(40, 200).map(lambda s: s * 1000),
    "long": st.integers(1, 3600).map(lambda m: m * 60_000),
}


@st.composite
def streams(draw: st.DrawFn) -> list[OnlineTrade]:
    """Interleaved trades of 1-3 symbols: same-ms and identical prints, repeats of (price, size) across
    timestamps, flat runs, gaps of seconds to a weekend, shuffles inside a bar (ties ordered by trade_id), and
    trades delivered after later bars' (mostly one bar late, sometimes carried further)."""
    start = draw(st.sampled_from(STARTS)).value
    symbols = draw(st.lists(st.sampled_from(sorted(ASSETS)), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 70))
    gap_kind = st.sampled_from(["same", "ms", "ms", "s", "s", "bar", "long"])
    clock = {s: start for s in symbols}
    price = {s: draw(st.sampled_from([2.0, 187.5, 90_000.0])) for s in symbols}
    last: dict[str, OnlineTrade] = {}
    planned: list[OnlineTrade] = []
    for i in range(n):
        symbol = draw(st.sampled_from(symbols))
        kind = draw(gap_kind)
        prev = last.get(symbol)
        if prev is not None and kind == "same" and draw(st.booleans()):  # an identical print
            trade = prev._replace(trade_id=f"t{i:05d}")
        else:
            clock[symbol] += draw(GAPS_MS[kind]) * MS
            move = draw(st.sampled_from([0, 0, 0, 1, -1, 2, -2, 40]))
            price[symbol] = max(0.01, round(price[symbol] * (1 + move * 1e-4), 6))
            volume = draw(st.sampled_from([0.0, 1.0, 100.0, 100.0, 250.5, 1e6]))
            asset = ASSETS[symbol]
            trade = OnlineTrade(symbol, clock[symbol], price[symbol], volume, f"t{i:05d}", SOURCES[asset], asset)
        last[symbol] = trade
        planned.append(trade)
    # arrival order: a trade may come after later ones of its own bar, or after a later bar's first trade (a
    # swap in one pass, so a trade carried past several later ones can end up two or more bars late)
    arrival = list(planned)
    for i in range(len(arrival) - 1):
        a, b = arrival[i], arrival[i + 1]
        same_bar = a.ts_ns // BAR_NS == b.ts_ns // BAR_NS
        if a.symbol == b.symbol and draw(st.integers(0, 1 if same_bar else 2)) == 0:
            arrival[i], arrival[i + 1] = b, a
    return arrival


def _joins(trade: OnlineTrade, seen: list[OnlineTrade]) -> bool:
    """Whether the state takes ``trade`` after ``seen`` (its symbol's trades so far): not older than the
    symbol's bar before its latest (the last closed one)."""
    bars = sorted({t.ts_ns // BAR_NS for t in seen})
    return len(bars) < 2 or trade.ts_ns // BAR_NS >= bars[-2]


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(streams())
def test_online_row_after_every_trade_equals_batch(trades: list[OnlineTrade]) -> None:
    """The row a trade gets is its bar's batch row on the trades taken so far; a trade into the last closed
    bar (or a bar after it) rejoins and leaves the state as in order; an older one is late and changes nothing."""
    online = OnlineFeatures(SMALL)
    seen: dict[str, list[OnlineTrade]] = {}
    for k, trade in enumerate(trades):
        mine = seen.setdefault(trade.symbol, [])
        state = online.state(trade.symbol)
        assert state is not None
        before = state.row() if mine else None
        got = online.ingest([trade])
        assert got is not None
        if not _joins(trade, mine):
            assert got.late == [0] and got.rows == [], f"trade {k} ({trade})"
            assert before is not None and _same_rows([("", 0, state.row())], [("", 0, before)])
            continue
        assert got.late == [], f"trade {k} ({trade})"
        mine.append(trade)
        batch = build_gold_features(_frame(mine), SMALL)
        bar_start = trade.ts_ns // BAR_NS * BAR_NS
        ((symbol, start, row),) = got.rows
        assert (symbol, start) == (trade.symbol, bar_start)
        (at,) = [i for i, b in enumerate(batch["bar_start"]) if b.value == bar_start]
        _check_row(row, batch.iloc[at], SMALL, f"trade {k} ({trade})")
        if at != len(batch) - 1:  # rejoined: the open bar is the one in-order trades would have built
            _check_row(state.row(), batch.iloc[-1], SMALL, f"open bar after trade {k} ({trade})")
    for symbol, mine in seen.items():
        state = online.state(symbol)
        assert state is not None and state.bar is not None
        _check_row(state.row(), build_gold_features(_frame(mine), SMALL).iloc[-1], SMALL, f"{symbol} at the end")


def test_default_windows_over_a_day_of_trades() -> None:
    """The default config (MACD 12/26/9, z-score over 50 bars, ...) over 4,000 trades of two symbols,
    across pre-market, regular and after-hours (equity) and New York midnight (crypto): every bar's row
    at its last trade, a sample of rows mid-bar, and one call with all trades at once."""
    cfg = FeaturesConfig()
    trades = pd.concat(
        [
            synthetic_trades("AAPL", 2500, seed=3, start="2025-03-07 13:00:00", mean_gap_ms=15_000),
            synthetic_trades(
                "BTCUSDT",
                1500,
                seed=4,
                start="2025-03-07 04:30:00",
                mean_gap_ms=6000,
                asset_class="crypto",
                price0=90_000.0,
            ),
        ],
        ignore_index=True,
    ).drop(columns=["trade_date", "session_type"])
    gold = build_gold_features(trades, cfg)
    assert set(gold["session_type"]) == {"pre_market", "regular", "after_hours", "continuous"}
    expected = {(s, b.value): row for (s, b), row in gold.set_index(["symbol", "bar_start"]).iterrows()}
    one_by_one = OnlineFeatures(cfg)
    last_rows: dict[tuple[str, int], dict[str, Any]] = {}
    stream = trades_of(trades)
    for k, trade in enumerate(stream):
        got = one_by_one.ingest([trade])
        assert got is not None and got.late == []
        ((symbol, start, row),) = got.rows
        last_rows[(symbol, start)] = row
        if k % 150 == 0:  # mid-bar: the batch on the symbol's trades so far
            prefix = _frame([t for t in stream[: k + 1] if t.symbol == symbol])
            _check_row(row, build_gold_features(prefix, cfg).iloc[-1], cfg, f"trade {k}")
    assert set(last_rows) == set(expected) and len(expected) == len(gold)
    for key, row in last_rows.items():
        _check_row(row, expected[key], cfg, f"bar {key}")

    at_once = OnlineFeatures(cfg).ingest(trades_of(trades.sample(frac=1.0, random_state=5)))
    assert at_once is not None and at_once.late == [] and len(at_once.rows) == len(gold)
    for symbol, start, row in at_once.rows:
        _check_row(row, expected[(symbol, start)], cfg, f"bar {symbol} {start} (one call)")


def _history_and_new(cfg: FeaturesConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two symbols' trades, split at 15:15:30 UTC: the history gold was built from, and what streams in after."""
    trades = pd.concat(
        [
            synthetic_trades("AAPL", 1200, seed=8, start="2025-03-07 14:30:00", mean_gap_ms=4000),
            synthetic_trades("MSFT", 900, seed=9, start="2025-03-07 14:30:00", mean_gap_ms=5000, price0=390.0),
        ],
        ignore_index=True,
    ).drop(columns=["trade_date", "session_type"])
    cut = pd.Timestamp("2025-03-07 15:15:30", tz="UTC")  # mid-bar: the seeded open bar goes on
    return trades[trades["ts"] < cut], trades[trades["ts"] >= cut]


def test_seeded_from_gold_then_streaming_equals_batch_over_history_and_new() -> None:
    cfg = FeaturesConfig()
    history, new = _history_and_new(cfg)
    online = OnlineFeatures(cfg)
    gold = build_gold_features(history, cfg)
    assert online.seed(gold, history) == {"AAPL": 46, "MSFT": 46} == gold.groupby("symbol").size().to_dict()
    full = {
        s: trades_of(pd.concat([history[history["symbol"] == s], new[new["symbol"] == s]])) for s in ("AAPL", "MSFT")
    }
    checked = 0
    for k, trade in enumerate(trades_of(new)):
        got = online.ingest([trade])
        assert got is not None and got.late == []
        ((symbol, _, row),) = got.rows
        if k % 7 == 0 or k < 5:
            upto = full[symbol][: full[symbol].index(trade) + 1]
            _check_row(row, build_gold_features(_frame(upto), cfg).iloc[-1], cfg, f"new trade {k}")
            checked += 1
    assert checked == sum(1 for k in range(len(new)) if k % 7 == 0 or k < 5) and len(new) > 300


def test_a_seed_needs_silver_only_from_seed_since_on() -> None:
    """The service reads silver from ``seed_since(gold)``: a state seeded from that tail is the full seed's."""
    cfg = FeaturesConfig()
    history, new = _history_and_new(cfg)
    gold = build_gold_features(history, cfg)
    since = seed_since(gold)
    assert since is not None and since in set(gold["bar_start"])
    tail = history[history["ts"] >= since]
    assert 0 < len(tail) < len(history) / 10  # minutes of trades, not the history
    full, trimmed = OnlineFeatures(cfg), OnlineFeatures(cfg)
    assert full.seed(gold, history) == trimmed.seed(gold, tail)
    for trade in trades_of(new):
        a, b = full.ingest([trade]), trimmed.ingest([trade])
        assert a is not None and b is not None
        assert a.rows and _same_rows(a.rows, b.rows), trade
    assert seed_since(gold.iloc[:0]) is None


def _same_rows(a: list[tuple[str, int, dict[str, Any]]], b: list[tuple[str, int, dict[str, Any]]]) -> bool:
    """Equal rows, NaN equal to NaN."""
    if [(s, t) for s, t, _ in a] != [(s, t) for s, t, _ in b]:
        return False
    for (_, _, x), (_, _, y) in zip(a, b, strict=True):
        for key in x.keys() | y.keys():
            u, v = x.get(key), y.get(key)
            if not (u == v or (isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v))):
                return False
    return True


def test_a_futures_tape_online_equals_batch_with_one_vwap_per_globex_session() -> None:
    """The ES tape across both 2026 DST switches: every row as batch gives it, session VWAP included."""
    cfg = FeaturesConfig()
    tape = [
        OnlineTrade("ES", int(pd.Timestamp(t).value), price, float(size), f"es-{i:02d}", "finnhub", "future")
        for i, (t, price, size, _, _) in enumerate(futures.TAPE)
    ]
    online = OnlineFeatures(cfg)
    rows = []
    for k, trade in enumerate(tape):
        got = online.ingest([trade])
        assert got is not None and got.late == []
        ((_, _, row),) = got.rows
        _check_row(row, build_gold_features(_frame(tape[: k + 1]), cfg).iloc[-1], cfg, f"ES print {k}")
        rows.append(row)
    session_vwap = (6816.50 * 4 + 6817.00 + 6820.00 * 3) / 8  # Sunday's 17:00 CST open to Monday 08:30 CST
    assert abs(rows[-3]["vwap_deviation"] - (6820.00 / session_vwap - 1.0)) < 1e-15


def test_a_trade_of_the_bar_closed_last_rejoins_exactly_and_an_older_one_is_late() -> None:
    """Bars 15:00, 15:01 and 15:04 (open): a trade of 15:01 (mid-bar, then after its last print) and one of
    15:03 (no trade yet) join; the state is then bit for bit the one the same trades in order give, and
    each such trade's row is its bar's batch row. 15:00, and 15:01 once 15:03 has closed, are late."""
    online = OnlineFeatures(SMALL)
    t0 = pd.Timestamp("2025-03-07 15:00:10", tz="UTC").value
    first = [OnlineTrade("AAPL", t0 + i * 20_000 * MS, 100.0 + i, 10.0, f"a{i}") for i in range(6)]  # 15:00, 15:01
    first += [OnlineTrade("AAPL", t0 + (240 + i * 20) * 1000 * MS, 90.0 + i, 5.0, f"b{i}") for i in range(3)]  # 15:04
    got = online.ingest(first)
    assert got is not None and got.late == [] and len(got.rows) == 3
    state = online.state("AAPL")
    assert state is not None and state.closed.last_bar_id == (t0 + 60_000 * MS) // BAR_NS

    def unchanged_by(trade: OnlineTrade) -> None:
        before = state.row()
        late = online.ingest([trade])
        assert late is not None and late.late == [0] and late.rows == []
        assert _same_rows([("", 0, state.row())], [("", 0, before)])

    unchanged_by(OnlineTrade("AAPL", t0 + 5 * MS, 50.0, 1.0, "two-bars-back"))  # 15:00: two bars back
    joined = list(first)
    bar_1501, bar_1503 = t0 - 10_000 * MS + BAR_NS, t0 - 10_000 * MS + 3 * BAR_NS
    for batch, bars in (
        ([OnlineTrade("AAPL", t0 + 70_000 * MS, 50.0, 7.0, "c0")], [bar_1501]),  # 15:01:20, a new low mid-bar
        ([OnlineTrade("AAPL", t0 + 105_000 * MS, 104.0, 10.0, "c1")], [bar_1501]),  # 15:01:55, after its last
        (  # 15:03:30 (a bar between the closed one and the open one) with one of the open bar, in one call
            [
                OnlineTrade("AAPL", t0 + 260_000 * MS, 91.5, 3.0, "c3"),
                OnlineTrade("AAPL", t0 + 200_000 * MS, 95.0, 2.0, "c2"),
            ],
            [bar_1503, bar_1503 + BAR_NS],
        ),
    ):
        got = online.ingest(batch)
        assert got is not None and got.late == [] and [(s, b) for s, b, _ in got.rows] == [("AAPL", b) for b in bars]
        joined += batch
        gold = build_gold_features(_frame(joined), SMALL)
        at = {b.value: i for i, b in enumerate(gold["bar_start"])}
        for _, start, row in got.rows:
            _check_row(row, gold.iloc[at[start]], SMALL, f"bar {start} after {batch}")
        in_order = OnlineFeatures(SMALL)
        rows = in_order.ingest(sorted(joined, key=lambda t: (t.ts_ns, t.trade_id or "")))
        assert rows is not None and rows.late == []
        by_bar = {start: row for _, start, row in rows.rows}
        assert _same_rows(got.rows, [("AAPL", start, by_bar[start]) for start in bars])
        twin = in_order.state("AAPL")
        assert twin is not None and twin.bar is not None and state.bar is not None
        assert _same_rows([("", 0, state.row())], [("", 0, twin.row())])
        assert state.bar.trades == twin.bar.trades and state.carry.snapshot() == twin.carry.snapshot()
        assert state.closed.n == twin.closed.n == len(gold) - 1
    assert state.closed.last_bar_id == bar_1503 // BAR_NS
    unchanged_by(OnlineTrade("AAPL", t0 + 80_000 * MS, 60.0, 1.0, "now-two-bars-back"))  # 15:01 after 15:03 closed


def test_symbols_beyond_the_cap_are_not_held() -> None:
    online = OnlineFeatures(SMALL, max_symbols=1)
    t0 = pd.Timestamp("2025-03-07 15:00:10", tz="UTC").value
    got = online.ingest([OnlineTrade("AAPL", t0, 1.0, 1.0), OnlineTrade("MSFT", t0, 1.0, 1.0)])
    assert got is not None and [r[0] for r in got.rows] == ["AAPL"] and got.late == [1] and len(online) == 1


def test_concurrent_writers_on_one_symbol_end_where_one_writer_does() -> None:
    """8 threads send single trades of one bar in any interleaving; the bar (ordered by trade_id) is the batch's."""
    t0 = pd.Timestamp("2025-03-07 15:00:00", tz="UTC").value
    trades = [
        OnlineTrade("AAPL", t0 + (i % 50) * 1000 * MS, 100.0 + (i * 7 % 13) / 100, float(1 + i % 5), f"id{i:04d}")
        for i in range(400)
    ]
    online = OnlineFeatures(SMALL)

    def send(part: list[OnlineTrade]) -> None:
        for trade in part:  # the event loop's way first (never wait), a worker thread's when busy
            if online.ingest([trade], blocking=False) is None:
                online.ingest([trade])

    threads = [threading.Thread(target=send, args=(trades[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = online.state("AAPL").row()  # type: ignore[union-attr]
    _check_row(row, build_gold_features(_frame(trades), SMALL).iloc[-1], SMALL, "after 8 writers")
    assert online.state("AAPL").bar.n == 400  # type: ignore[union-attr]


def test_seeding_without_the_trades_of_the_replayed_bars_closes_every_gold_bar() -> None:
    """Silver missing the bars the replay would start from (or no silver): every gold bar is closed, so a
    trade in the last gold bar is late and the next bar opens on top of all of them."""
    cfg = FeaturesConfig()
    history, new = _history_and_new(cfg)
    history, new = history[history["symbol"] == "AAPL"], new[new["symbol"] == "AAPL"]
    gold = build_gold_features(history, cfg)
    assert gold["high"].iloc[-2] != gold["low"].iloc[-2]  # the replay would start at the bar before the last
    last_bar_only = history[history["ts"] >= gold["bar_start"].iloc[-1]]
    for silver in (last_bar_only, None):
        online = OnlineFeatures(cfg)
        assert online.seed(gold, silver) == {"AAPL": 46}
        in_last_bar = trades_of(last_bar_only)[0]
        got = online.ingest([in_last_bar])
        assert got is not None and got.late == [0] and got.rows == []
        later = [t for t in trades_of(new) if t.ts_ns > gold["bar_end"].iloc[-1].value][:1]
        nxt = online.ingest(later)
        assert nxt is not None and nxt.late == [] and online.state("AAPL").closed.n == 46  # type: ignore[union-attr]
