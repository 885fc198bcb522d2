"""Vendor frame parsers: receiving-side ids, validation, and fuzzing (nothing escapes, all accounted for)."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from financial_transactions.ingest.records import (
    FrameContext,
    _finnhub_trade,
    eastern_label_to_epoch_ms,
    parse_alphavantage,
    parse_binance,
    parse_finnhub,
    trade_id,
)

CTX = FrameContext("finnhub", "finnhub", "20260306T143000Z-abc123", 3, 17, 1_772_807_400_456)
BCTX = FrameContext("binance", "binance", "run-b", 2, 5, 1_772_807_400_456)
TS = 1_772_807_400_123  # 2026-03-06T14:30:00.123Z


def _lines(parsed: Any) -> list[dict[str, Any]]:
    """The frame's landing records in position order (the hot path groups them by symbol)."""
    return sorted((orjson.loads(line) for _, line in parsed.landing_lines()), key=lambda r: r["position"])


def test_identical_prints_get_distinct_ids_from_the_receiving_side() -> None:
    trade = {"s": "AAPL", "p": 187.12, "v": 100, "t": TS, "c": ["1", "12"]}
    frame = orjson.dumps({"type": "trade", "data": [trade, trade, trade]})
    parsed = parse_finnhub(frame, CTX)
    recs = _lines(parsed)
    assert parsed.kind == "trade" and not parsed.rejects
    assert [r["trade_id"] for r in recs] == [trade_id("finnhub", CTX.collector_run, 3, 17, p) for p in range(3)]
    assert recs[0]["trade_id"] == "finnhub-20260306T143000Z-abc123-c3-m17-p0"
    assert len({r["trade_id"] for r in recs}) == 3
    assert {(r["symbol"], r["price"], r["volume"], r["ts"]) for r in recs} == {("AAPL", 187.12, 100.0, TS)}
    # the same frame parsed again (reprocessing) gives the same ids: stable once written
    assert [r["trade_id"] for r in _lines(parse_finnhub(frame, CTX))] == [r["trade_id"] for r in recs]
    assert recs[0] | {"trade_id": None} == {
        "trade_id": None,
        "record_type": "trade",
        "source": "finnhub",
        "symbol": "AAPL",
        "price": 187.12,
        "volume": 100.0,
        "ts": TS,
        "conditions": ["1", "12"],
        "exchange_trade_id": None,
        "is_buyer_maker": None,
        "ingested_at": CTX.received_at,
        "collector": "finnhub",
        "collector_run": CTX.collector_run,
        "connection": 3,
        "msg_seq": 17,
        "position": 0,
    }


def test_bad_entries_are_quarantined_one_by_one_and_the_rest_land() -> None:
    data = [
        {"s": "AAPL", "p": 187.1, "v": 100, "t": TS},
        {"s": "AAPL", "p": -1.0, "v": 100, "t": TS},
        {"s": "AAPL", "p": 0, "v": 100, "t": TS},
        {"p": 187.1, "v": 100, "t": TS},
        {"s": "AAPL", "p": "187.1", "v": 100, "t": TS},
        {"s": "AAPL", "p": 187.1, "v": -5, "t": TS},
        {"s": "AAPL", "p": 187.1, "v": 100, "t": CTX.received_at + 2 * 86_400_000},
        {"s": "AAPL", "p": 187.1, "v": 100, "t": TS, "c": [{"x": 1}]},
        "not an object",
        {"s": "MSFT", "p": 410, "v": 3.5, "t": TS, "c": [1]},
    ]
    parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), CTX)
    recs = _lines(parsed)
    assert [r["position"] for r in recs] == [0, 9]
    assert recs[1]["price"] == 410.0 and recs[1]["conditions"] == ["1"]
    assert [r.reason for r in parsed.rejects] == [
        "non-positive price",
        "non-positive price",
        "missing or invalid symbol 's'",
        "missing or non-numeric price 'p'",
        "negative volume",
        "missing or out-of-range timestamp 't' (more than a day after the receive time, or before 1970)",
        "ill-typed conditions 'c'",
        "trade entry is not an object",
    ]
    assert orjson.loads(parsed.rejects[0].raw) == data[1]


def test_frame_kinds() -> None:
    assert parse_finnhub(b'{"type":"ping"}', CTX).kind == "ping"
    err = parse_finnhub(b'{"type":"error","msg":"Invalid symbol"}', CTX)
    assert (err.kind, err.message) == ("error", "Invalid symbol")
    for raw, reason in [
        (b"not json", "not JSON"),
        (b'{"type":"trade","data":{}}', "trade frame without a 'data' array"),
        (b'{"type":"news"}', "unknown message type 'news'"),
        (b"[1,2]", "frame is not a JSON object"),
        (b"\xff\xfe", "not JSON"),
    ]:
        parsed = parse_finnhub(raw, CTX)
        assert parsed.kind == "rejected" and len(parsed.rejects) == 1
        assert parsed.rejects[0].reason.startswith(reason)


def test_binance_raw_and_combined_events() -> None:
    event = {"e": "trade", "E": TS + 2, "s": "BTCUSDT", "t": 4242, "p": "85000.10", "q": "0.00120", "T": TS, "m": True}
    for frame in (event, {"stream": "btcusdt@trade", "data": event}):
        parsed = parse_binance(orjson.dumps(frame), BCTX)
        (rec,) = _lines(parsed)
        assert rec["trade_id"] == "binance-run-b-c2-m5-p0"
        assert (rec["price"], rec["volume"], rec["ts"]) == (85000.10, 0.0012, TS)
        assert rec["exchange_trade_id"] == "4242" and rec["is_buyer_maker"] is True
    assert parse_binance(b'{"result":null,"id":1}', BCTX).kind == "control"
    assert parse_binance(b'{"error":{"code":2,"msg":"bad"},"id":1}', BCTX).kind == "error"
    for bad, reason in [
        ({**event, "p": "-1"}, "non-positive price"),
        ({**event, "p": "nan"}, "missing or non-decimal price 'p'"),
        ({**event, "p": 85000.1}, "missing or non-decimal price 'p'"),
        ({**event, "e": "aggTrade"}, "unknown event type 'aggTrade'"),
        (
            {k: v for k, v in event.items() if k != "T"},
            "missing or out-of-range trade time 'T' (more than a day after the receive time, or before 1970)",
        ),
        ({**event, "m": "yes"}, "ill-typed buyer-maker flag 'm'"),
    ]:
        parsed = parse_binance(orjson.dumps(bad), BCTX)
        assert parsed.kind == "rejected" and parsed.rejects[0].reason == reason


def _av_body(series: dict[str, Any], key: str = "Time Series (1min)") -> bytes:
    return orjson.dumps({"Meta Data": {"2. Symbol": "AAPL"}, key: series})


def test_alphavantage_bars_rate_limits_and_errors() -> None:
    bar = {"1. open": "10.0", "2. high": "11.0", "3. low": "9.5", "4. close": "10.5", "5. volume": "1200"}
    parsed = parse_alphavantage(
        _av_body({"2026-03-06 09:30:00": bar, "2026-03-06 09:31:00": {**bar, "3. low": "10.9"}}),
        symbol="AAPL",
        interval="1min",
        received_at=1_773_100_000_000,  # the receive time: bars up to a day after it
        collector_run="r",
    )
    assert parsed.kind == "bars"
    (rec,) = parsed.records
    assert rec["ts"] == 1_772_807_400_000  # 09:30 EST = 14:30Z
    assert rec["trade_id"] == "alphavantage-AAPL-1min-1772807400000"
    assert (rec["open"], rec["high"], rec["low"], rec["close"], rec["price"], rec["volume"]) == (
        10.0, 11.0, 9.5, 10.5, 10.5, 1200.0,
    )  # fmt: skip
    assert parsed.rejects[0].reason == "inconsistent OHLC (low/high do not bound open/close)"
    daily = parse_alphavantage(
        _av_body({"2026-03-09": bar}, "Time Series (Daily)"),
        symbol="AAPL", interval="daily", received_at=1_773_100_000_000, collector_run="r",
    )  # fmt: skip
    assert daily.records[0]["ts"] == 1_773_063_000_000  # 09:30 EDT on the first day after the DST change
    for body, kind in [
        ({"Note": "Thank you for using Alpha Vantage! call frequency"}, "rate_limited"),
        ({"Information": "rate limit"}, "rate_limited"),
        ({"Error Message": "Invalid API call."}, "error"),
        ({"Meta Data": {}}, "rejected"),
    ]:
        assert (
            parse_alphavantage(orjson.dumps(body), symbol="X", interval="1min", received_at=1, collector_run="r").kind
            == kind
        )


def test_eastern_labels_across_dst() -> None:
    assert eastern_label_to_epoch_ms("2026-03-06 16:00:00", daily=False) == 1_772_830_800_000  # EST: 21:00Z
    assert eastern_label_to_epoch_ms("2026-03-09 16:00:00", daily=False) == 1_773_086_400_000  # EDT: 20:00Z
    assert eastern_label_to_epoch_ms("2026-13-01", daily=True) is None
    assert eastern_label_to_epoch_ms(20260306, daily=True) is None


# -- property-based fuzzing --------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
field_values = st.one_of(
    json_values,
    st.sampled_from(["AAPL", "BTCUSDT", "", " AAPL", "A" * 70]),
    st.floats(min_value=-10, max_value=1e6, allow_nan=False),
    st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000),
    st.lists(st.sampled_from(["1", "12", "37", 5, True, None]), max_size=3),
)
finnhub_entries = (
    st.fixed_dictionaries(
        {},
        optional={"s": field_values, "p": field_values, "v": field_values, "t": field_values, "c": field_values},
    )
    | json_values
)
finnhub_frames = st.one_of(
    st.builds(lambda data: {"type": "trade", "data": data}, st.lists(finnhub_entries, max_size=6)),
    st.builds(lambda t, d: {"type": t, "data": d}, st.sampled_from(["trade", "ping", "error", "x"]), json_values),
    json_values,
)


def _serialize(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # ints beyond 64 bits: send them as text, like a misbehaving server might
        return repr(value).encode()


def _no_parser_crash(parsed: Any) -> None:
    """The parsers quarantine their own crashes (a collector must survive them); the fuzzer must not."""
    crashes = [r.reason for r in parsed.rejects if r.reason.startswith("parser error")]
    assert not crashes, crashes


def _check_finnhub(raw: bytes) -> None:
    parsed = parse_finnhub(raw, CTX)  # must not raise
    assert parsed.kind in ("trade", "ping", "error", "rejected")
    _no_parser_crash(parsed)
    if parsed.kind == "rejected":
        assert len(parsed.rejects) == 1 and parsed.rejects[0].reason
    if parsed.kind == "trade":
        data = orjson.loads(raw)["data"]
        assert parsed.count + len(parsed.rejects) == len(data)
        for symbol, ts, line in parsed.records:  # (symbol, ts) picks the landing partition: it must be the line's
            rec = orjson.loads(line)
            assert (rec["symbol"], rec["ts"]) == (symbol, ts)
        for chunk in parsed.chunks:  # one symbol, one UTC day per chunk
            days = {orjson.loads(x)["ts"] // 86_400_000 for x in chunk.data.splitlines()}
            assert days == {chunk.ts // 86_400_000} and chunk.count == len(chunk.data.splitlines())
        for symbol, line in parsed.landing_lines():
            rec = orjson.loads(line)
            assert line.endswith(b"\n") and rec["symbol"] == symbol
            assert rec["price"] > 0 and math.isfinite(rec["price"]) and rec["volume"] >= 0
            # the hot path and the reference path agree field by field
            assert rec == _finnhub_trade(data[rec["position"]], CTX, rec["position"]), line


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(finnhub_frames)
def test_fuzz_finnhub_frames_are_parsed_or_quarantined(frame: Any) -> None:
    _check_finnhub(_serialize(frame))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_finnhub_arbitrary_bytes(raw: bytes) -> None:
    _check_finnhub(raw)


binance_events = st.fixed_dictionaries(
    {"e": st.sampled_from(["trade", "aggTrade"]) | json_scalars},
    optional={
        k: field_values | st.sampled_from(["85000.1", "0.001", "-1", "1e5", "nan", " 1"])
        for k in ("E", "s", "t", "p", "q", "T", "m")
    },
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(binance_events, st.builds(lambda d: {"stream": "x@trade", "data": d}, binance_events), json_values))
def test_fuzz_binance_frames_are_parsed_or_quarantined(frame: Any) -> None:
    parsed = parse_binance(_serialize(frame), BCTX)
    _no_parser_crash(parsed)
    assert parsed.kind in ("trade", "control", "error", "rejected")
    if parsed.kind == "trade":
        (rec,) = _lines(parsed)
        assert rec["price"] > 0 and rec["volume"] >= 0 and isinstance(rec["exchange_trade_id"], str)
    elif parsed.kind == "rejected":
        assert len(parsed.rejects) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        json_values,
        st.builds(
            lambda series: {"Meta Data": {}, "Time Series (1min)": series},
            st.dictionaries(
                st.sampled_from(["2026-03-06 09:30:00", "2026-03-06 09:31:00", "bad", "2026-03-06"]),
                st.fixed_dictionaries(
                    {},
                    optional={
                        k: st.sampled_from(["10.0", "9.0", "11.0", "-1", "x", "0"]) | json_scalars
                        for k in ("1. open", "2. high", "3. low", "4. close", "5. volume")
                    },
                )
                | json_values,
                max_size=4,
            ),
        ),
    )
)
def test_fuzz_alphavantage_bodies(body: Any) -> None:
    raw = _serialize(body)
    parsed = parse_alphavantage(raw, symbol="AAPL", interval="1min", received_at=1, collector_run="r")
    _no_parser_crash(parsed)
    assert parsed.kind in ("bars", "rate_limited", "error", "rejected")
    if parsed.kind == "bars":
        series = orjson.loads(raw)["Time Series (1min)"]
        assert len(parsed.records) + len(parsed.rejects) == len(series)
        for rec in parsed.records:
            assert rec["low"] <= min(rec["open"], rec["close"]) <= max(rec["open"], rec["close"]) <= rec["high"]


def test_hot_path_groups_a_mixed_frame_by_symbol_and_splits_at_midnight() -> None:
    warm = {"s": "MSFT", "p": 1.5, "v": 1, "t": TS, "c": ["1"]}
    parse_finnhub(orjson.dumps({"type": "trade", "data": [warm, {**warm, "s": "AAPL"}]}), CTX)  # caches symbols
    data = [
        {"s": "AAPL", "p": 187.12, "v": 100, "t": TS, "c": ["1"]},
        {"s": "MSFT", "p": 410.5, "v": 7, "t": TS + 1, "c": ["1"]},
        {"s": "AAPL", "p": 187.12, "v": 100, "t": TS, "c": ["1"]},
    ]
    parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), CTX)
    assert [(c.symbol, c.count) for c in parsed.chunks] == [("AAPL", 2), ("MSFT", 1)] and not parsed.records
    assert [r["position"] for r in _lines(parsed)] == [0, 1, 2]
    assert [r["trade_id"][-3:] for r in _lines(parsed)] == ["-p0", "-p1", "-p2"]
    midnight = 1_772_841_600_000  # 2026-03-07T00:00Z
    split = parse_finnhub(
        orjson.dumps({"type": "trade", "data": [{**data[0], "t": midnight - 1}, {**data[1], "t": midnight}]}), CTX
    )
    assert not split.chunks and [t for _, t, _ in split.records] == [midnight - 1, midnight]
