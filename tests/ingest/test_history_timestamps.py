"""Live-feed timestamp checks are relative to the receive time; a user's history of any age lands."""

from __future__ import annotations

import orjson

from financial_transactions.ingest.records import FrameContext, parse_alphavantage, parse_binance, parse_finnhub

RECEIVED = 1_772_807_400_456  # 2026-03-06T14:30:00.456Z
DAY = 86_400_000
T_1999 = 915_460_200_000  # 1999-01-04T14:30:00Z


def _ctx(max_age_ms: int | None = None) -> FrameContext:
    return FrameContext("finnhub", "finnhub", "run", 1, 1, RECEIVED, max_age_ms)


def test_finnhub_accepts_1999_history_and_rejects_a_trade_over_a_day_ahead_of_the_feed_clock() -> None:
    data = [
        {"s": "SPX", "p": 1229.2, "v": 100, "t": T_1999},
        {"s": "SPX", "p": 1229.2, "v": 100, "t": RECEIVED + DAY - 1},
        {"s": "SPX", "p": 1229.2, "v": 100, "t": RECEIVED + DAY + 1},
    ]
    parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), _ctx())
    assert parsed.count == 2
    assert len(parsed.rejects) == 1 and "more than a day after the receive time" in parsed.rejects[0].reason
    # the columnar hot path (every entry valid) reaches the same verdict on history
    whole = parse_finnhub(orjson.dumps({"type": "trade", "data": data[:1] * 3}), _ctx())
    assert whole.count == 3 and not whole.rejects


def test_a_live_feed_may_bound_the_past_relative_to_its_receive_time() -> None:
    data = [{"s": "SPX", "p": 1.0, "v": 1, "t": RECEIVED - 2 * DAY}, {"s": "SPX", "p": 1.0, "v": 1, "t": RECEIVED}]
    parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), _ctx(max_age_ms=DAY))
    assert parsed.count == 1 and len(parsed.rejects) == 1


def test_binance_trade_time_is_checked_against_the_receive_time() -> None:
    ctx = FrameContext("binance", "crypto", "run", 1, 1, RECEIVED)
    event = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 7, "p": "1.5", "q": "2", "T": T_1999, "m": False}
    assert parse_binance(orjson.dumps(event), ctx).kind == "trade"
    ahead = {**event, "T": RECEIVED + 2 * DAY}
    assert parse_binance(orjson.dumps(ahead), ctx).kind == "rejected"


def test_alphavantage_daily_bars_of_1999_parse_and_a_bar_dated_after_tomorrow_is_rejected() -> None:
    bar = {"1. open": "1.0", "2. high": "2.0", "3. low": "0.5", "4. close": "1.5", "5. volume": "10"}
    body = {"Meta Data": {}, "Time Series (Daily)": {"1999-12-31": bar, "2026-03-09": bar}}
    parsed = parse_alphavantage(
        orjson.dumps(body), symbol="SPX", interval="daily", received_at=RECEIVED, collector_run="r"
    )
    assert [r["ts"] for r in parsed.records] == [946_650_600_000]  # 1999-12-31 09:30 New York
    assert [r.reason for r in parsed.rejects] == ["bar time '2026-03-09' is more than a day after the receive time"]
