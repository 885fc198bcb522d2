"""A crafted landing zone whose every expected count is known by hand.

Files (NDJSON, landing contract layout):

* F1 finnhub AAPL, 10 trades: bar 14:30Z (5 trades, 3 of them identical prints with
  distinct ids), bar 14:31Z (2), pre-market, after-hours, closed (Fri evening).
* F2 finnhub MSFT, 7 trades around both 2026 DST changes and a holiday.
* F3 binance BTCUSDT, 2 trades (Saturday and Monday): continuous.
* F4 finnhub, 11 bad lines: one per rule, one breaking two rules, a string price
  (rescued) and a line that is not JSON.
* F5 alphavantage AAPL, 3 bars (one with high < low); F6 re-fetches bar 2.
* F7 a copy of F3 under another name (a collector re-flush): same trade ids.
* F8 finnhub NVDA, 1 trade with a field the schema does not know (``venue``).
* Noise that must be ignored: an in-flight ``.tmp`` file, ``_quarantine`` and
  ``_ground_truth`` folders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAY = 86_400_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def trade(
    trade_id: str | None, symbol: str, ts: str | int, price: Any, volume: Any, *, source: str = "finnhub", **extra: Any
) -> dict[str, Any]:
    ts_ms = ms(ts) if isinstance(ts, str) else ts
    record: dict[str, Any] = {
        "trade_id": trade_id,
        "record_type": "trade",
        "source": source,
        "symbol": symbol,
        "price": price,
        "volume": volume,
        "ts": ts_ms,
        "conditions": ["1", "12"] if source == "finnhub" else [],
        "exchange_trade_id": None,
        "is_buyer_maker": None,
        "ingested_at": ts_ms + 250,
        "collector": source,
        "collector_run": "run",
        "connection": 1,
        "msg_seq": 1,
        "position": 0,
    }
    if trade_id is None:
        del record["trade_id"]
    record.update(extra)
    return record


def bar(symbol: str, ts: str, o: float, h: float, low: float, c: float, v: float, *, ingested: str) -> dict[str, Any]:
    ts_ms = ms(ts)
    return {
        "trade_id": f"alphavantage-{symbol}-1min-{ts_ms}",
        "record_type": "bar",
        "source": "alphavantage",
        "symbol": symbol,
        "price": c,
        "volume": v,
        "ts": ts_ms,
        "open": o,
        "high": h,
        "low": low,
        "close": c,
        "interval": "1min",
        "ingested_at": ms(ingested),
        "collector": "alphavantage",
        "collector_run": "av",
    }


AAPL = [
    trade("fh-A1", "AAPL", "2026-03-06T14:30:00.100", 100.0, 10.0),
    trade("fh-A2a", "AAPL", "2026-03-06T14:30:10", 101.0, 20.0),
    trade("fh-A2b", "AAPL", "2026-03-06T14:30:10", 101.0, 20.0),
    trade("fh-A2c", "AAPL", "2026-03-06T14:30:10", 101.0, 20.0),
    trade("fh-A3", "AAPL", "2026-03-06T14:30:59.999", 99.5, 5.0),
    trade("fh-A4", "AAPL", "2026-03-06T14:31:05", 102.0, 1.0),
    trade("fh-A5", "AAPL", "2026-03-06T14:31:30", 100.5, 4.0),
    trade("fh-A6", "AAPL", "2026-03-06T13:00:00", 99.0, 1.0),  # 08:00 EST
    trade("fh-A7", "AAPL", "2026-03-06T21:30:00", 103.0, 2.0),  # 16:30 EST
    trade("fh-A8", "AAPL", "2026-03-07T01:30:00", 103.5, 1.0),  # 20:30 EST Friday
]
MSFT = [
    trade("fh-M0", "MSFT", "2026-03-06T20:30:00", 400.0, 1.0),  # 15:30 EST
    trade("fh-M1", "MSFT", "2026-03-09T13:30:00", 401.0, 1.0),  # 09:30 EDT (would be 08:30 EST)
    trade("fh-M2", "MSFT", "2026-03-09T13:15:00", 402.0, 1.0),  # 09:15 EDT
    trade("fh-M3", "MSFT", "2026-03-09T20:30:00", 403.0, 1.0),  # 16:30 EDT (would be 15:30 EST)
    trade("fh-M4", "MSFT", "2026-10-30T13:30:00", 404.0, 1.0),  # Friday 09:30 EDT
    trade("fh-M5", "MSFT", "2026-11-02T13:30:00", 405.0, 1.0),  # Monday 08:30 EST
    trade("fh-M6", "MSFT", "2025-12-25T15:00:00", 406.0, 1.0),  # Christmas 10:00 EST
]
#: A newer collector added a field: the trade stays valid, the field goes to _rescued_data.
DRIFT = [trade("fh-N1", "NVDA", "2026-03-06T15:00:00", 900.0, 3.0, venue="XNAS")]
BTC = [
    trade("bn-C1", "BTCUSDT", "2026-03-07T12:00:00", 90000.0, 0.5, source="binance", exchange_trade_id="111"),
    trade("bn-C2", "BTCUSDT", "2026-03-09T14:00:00", 90100.0, 0.25, source="binance", exchange_trade_id="112"),
]
_T = "2026-03-06T15:00:00"
BAD = [
    trade("bad-price", "AAPL", _T, 0.0, 1.0),
    trade("bad-volume", "AAPL", _T, 100.0, -1.0),
    trade("bad-symbol", "aapl!", _T, 100.0, 1.0),
    trade("bad-old-ts", "AAPL", "1969-12-31T23:59:00", 100.0, 1.0),  # before the 1970 floor
    trade("bad-source", "AAPL", _T, 100.0, 1.0, source="nyse"),
    trade(None, "AAPL", _T, 100.0, 1.0),
    trade("bad-record-type", "AAPL", _T, 100.0, 1.0, record_type="quote"),
    trade("bad-future-ts", "AAPL", ms(_T) + 2 * DAY, 100.0, 1.0, ingested_at=ms(_T)),
    trade("bad-two-rules", "", _T, -5.0, 1.0),
    trade("bad-string-price", "AAPL", _T, "abc", 1.0),
]
NOT_JSON = '{"trade_id": "broken", "price": '
BARS_1 = [
    bar("AAPL", "2026-03-06T14:30:00", 100.0, 101.0, 99.5, 99.5, 75.0, ingested="2026-03-06T14:35:00"),
    bar("AAPL", "2026-03-06T14:31:00", 102.0, 102.0, 100.5, 100.5, 5.0, ingested="2026-03-06T14:35:00"),
    bar("AAPL", "2026-03-06T14:32:00", 100.0, 99.0, 101.0, 100.0, 5.0, ingested="2026-03-06T14:35:00"),  # high < low
]
BARS_2 = [bar("AAPL", "2026-03-06T14:31:00", 102.0, 102.5, 100.5, 101.0, 6.0, ingested="2026-03-06T15:00:00")]

#: Expected counts after ingesting the whole sample.
BRONZE_ROWS = 10 + 7 + 2 + 11 + 3 + 1 + 2 + 1
SILVER_ROWS = 10 + 7 + 2 + 1
QUARANTINE_ROWS = 11 + 1
BAR_ROWS = 2
EXPECTED_SESSIONS = {
    "fh-A1": ("regular", "2026-03-06"),
    "fh-A6": ("pre_market", "2026-03-06"),
    "fh-A7": ("after_hours", "2026-03-06"),
    "fh-A8": ("closed", "2026-03-06"),
    "fh-M0": ("regular", "2026-03-06"),
    "fh-M1": ("regular", "2026-03-09"),
    "fh-M2": ("pre_market", "2026-03-09"),
    "fh-M3": ("after_hours", "2026-03-09"),
    "fh-M4": ("regular", "2026-10-30"),
    "fh-M5": ("pre_market", "2026-11-02"),
    "fh-M6": ("closed", "2025-12-25"),
    "fh-N1": ("regular", "2026-03-06"),
    "bn-C1": ("continuous", "2026-03-07"),
    "bn-C2": ("continuous", "2026-03-09"),
}
#: Rules each bad line must break (by trade_id; the id-less and non-JSON lines checked apart).
EXPECTED_RULES = {
    "bad-price": ["price_positive"],
    "bad-volume": ["volume_non_negative"],
    "bad-symbol": ["symbol_valid"],
    "bad-old-ts": ["ts_in_bounds"],
    "bad-source": ["source_known"],
    "bad-record-type": ["record_type_known"],
    "bad-future-ts": ["ts_in_bounds"],
    "bad-two-rules": ["symbol_valid", "price_positive"],
    "bad-string-price": ["price_positive"],
}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    return write_lines(path, [json.dumps(r) for r in records])


def build(landing: Path) -> dict[str, Path]:
    """Write the whole sample under ``landing``; returns the files by label."""
    files = {
        "F1": write_records(landing / "finnhub/date=2026-03-06/symbol=AAPL/runA-000001.ndjson", AAPL),
        "F2": write_records(landing / "finnhub/date=2026-03-06/symbol=MSFT/runA-000002.ndjson", MSFT),
        "F3": write_records(landing / "binance/date=2026-03-07/symbol=BTCUSDT/runB-000001.ndjson", BTC),
        "F4": write_lines(
            landing / "finnhub/date=2026-03-06/symbol=AAPL/runA-000003.ndjson",
            [json.dumps(r) for r in BAD] + [NOT_JSON],
        ),
        "F5": write_records(landing / "alphavantage/date=2026-03-06/symbol=AAPL/runC-000001.ndjson", BARS_1),
        "F6": write_records(landing / "alphavantage/date=2026-03-06/symbol=AAPL/runC-000002.ndjson", BARS_2),
        "F7": write_records(landing / "binance/date=2026-03-07/symbol=BTCUSDT/runB-000002.ndjson", BTC),
        "F8": write_records(landing / "finnhub/date=2026-03-06/symbol=NVDA/runD-000001.ndjson", DRIFT),
    }
    # Noise every reader must skip.
    write_records(landing / "finnhub/date=2026-03-06/symbol=AAPL/.runA-000004.ndjson.tmp", AAPL[:1])
    (landing / "_quarantine/finnhub/date=2026-03-06").mkdir(parents=True, exist_ok=True)
    (landing / "_quarantine/finnhub/date=2026-03-06/q-1.ndjson").write_text(
        json.dumps({"source": "finnhub", "received_at": 1, "reason": "not json", "raw": "x"}) + "\n"
    )
    write_records(landing / "_ground_truth/w1/anomalies.ndjson", [{"symbol": "AAPL", "ts": 1}])
    return files
