"""``collector_gaps`` rows from hand-written event logs: every rule of ``ingest.health``, exact values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from financial_transactions.ingest.health import collection_health, events_dir, read_events

DAY1, DAY2 = date(2026, 3, 9), date(2026, 3, 10)
T0 = datetime(2026, 3, 9, 23, 0, tzinfo=UTC).timestamp()  # 23:00 UTC on day 1


def _log(landing: Path, feed: str, run: str, events: list[tuple[float, str, dict[str, Any]]]) -> None:
    path = events_dir(landing, feed) / f"{run}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as fh:
        for offset, kind, extra in events:
            fh.write(orjson.dumps({"event": kind, "feed": feed, "run_id": run, "at": T0 + offset, **extra}) + b"\n")


def _row(feed: str, day: date, **values: Any) -> dict[str, Any]:
    return {"feed": feed, "day": day, **values}


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "computed_at"} for r in rows]


def test_crash_restart_midnight_and_a_clean_stop_give_exact_rows(tmp_path: Path) -> None:
    # run a: connects at +0, the server drops it at +600, reconnects at +610, then is killed (last heartbeat +3000)
    _log(tmp_path, "finnhub", "a", [
        (0, "start", {}), (0, "connect", {}), (300, "heartbeat", {"landed": 100}),
        (600, "disconnect", {"reason": "closed by server", "landed": 150}), (610, "connect", {}),
        (3000, "heartbeat", {"landed": 900}),
    ])  # fmt: skip
    # run b: the continuous job's restart takes over; connects at +3090, stops cleanly at +7200 (day 2, 01:00)
    _log(tmp_path, "finnhub", "b", [
        (3080, "start", {}), (3090, "connect", {}), (7200, "stop", {"clean": True, "landed": 400}),
    ])  # fmt: skip
    # binance: one run stopped cleanly while disconnected: the down time ends at its stop, nothing after
    _log(tmp_path, "binance", "c", [
        (0, "start", {}), (10, "connect", {}), (100, "disconnect", {"reason": "no frame for 60s", "landed": 7}),
        (130, "stop", {"clean": True, "landed": 7}),
    ])  # fmt: skip
    # a torn last line (a crash mid-write) is skipped and counted, never fatal
    with (events_dir(tmp_path, "binance") / "c.ndjson").open("ab") as fh:
        fh.write(b'{"event":"heartbeat","at":17')
    now = T0 + 10_000
    rows = _strip(collection_health(tmp_path, ["finnhub", "binance"], now=now, stale_after=30.0))
    assert rows == [
        # day 1 (23:00-24:00 UTC): a connected 0-600 and 610-3000 (its last heartbeat), b from 3090;
        # down 600-610 (the server's close) and 3000-3090 (the crash until the restart connects)
        _row("finnhub", DAY1, downtime_seconds=100.0, connected_seconds=600.0 + 2390.0 + 510.0, disconnects=2,
             longest_gap_seconds=90.0, runs=2, trades_landed=900),
        # day 2: b connected from midnight until its clean stop; nothing is counted after a clean stop
        _row("finnhub", DAY2, downtime_seconds=0.0, connected_seconds=3600.0, disconnects=0,
             longest_gap_seconds=0.0, runs=1, trades_landed=400),
        # binance: down from the dead connection until the run's clean stop, nothing after it
        _row("binance", DAY1, downtime_seconds=30.0, connected_seconds=90.0, disconnects=1,
             longest_gap_seconds=30.0, runs=1, trades_landed=7),
    ]  # fmt: skip
    assert read_events(tmp_path, "binance").torn_lines == 1


def test_a_crash_with_no_restart_is_an_outage_until_now_and_a_live_run_is_connected(tmp_path: Path) -> None:
    _log(tmp_path, "finnhub", "dead", [(0, "start", {}), (0, "connect", {}), (100, "heartbeat", {"landed": 5})])
    _log(tmp_path, "binance", "live", [(0, "start", {}), (5, "connect", {}), (590, "heartbeat", {"landed": 3})])
    rows = _strip(collection_health(tmp_path, ["finnhub", "binance"], now=T0 + 600, stale_after=30.0))
    assert rows == [
        _row("finnhub", DAY1, downtime_seconds=500.0, connected_seconds=100.0, disconnects=1,
             longest_gap_seconds=500.0, runs=1, trades_landed=5),
        _row("binance", DAY1, downtime_seconds=0.0, connected_seconds=595.0, disconnects=0,
             longest_gap_seconds=0.0, runs=1, trades_landed=3),
    ]  # fmt: skip


def test_overlapping_runs_during_a_handover_leave_no_gap(tmp_path: Path) -> None:
    _log(tmp_path, "binance", "old", [(0, "connect", {}), (100, "stop", {"clean": True, "landed": 1})])
    _log(tmp_path, "binance", "new", [(90, "connect", {}), (200, "stop", {"clean": True, "landed": 2})])
    (row,) = _strip(collection_health(tmp_path, ["binance"], now=T0 + 300, stale_after=30.0))
    assert (row["downtime_seconds"], row["disconnects"], row["connected_seconds"]) == (0.0, 0, 210.0)
