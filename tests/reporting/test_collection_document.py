"""``collection.json``: the ``collector_gaps`` rows per feed, newest day first, with the down share and status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from financial_transactions.ingest.health import events_dir
from financial_transactions.ingest.jobs import record_gaps
from financial_transactions.reporting.export import build_documents, export_context
from financial_transactions.runtime import Platform

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC).timestamp()


def _log(landing: Path, feed: str, run: str, events: list[tuple[float, str, dict[str, object]]]) -> None:
    path = events_dir(landing, feed) / f"{run}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps({"event": k, "at": T0 + t, **x}) + b"\n" for t, k, x in events))


def test_the_document_shows_each_feeds_days_with_down_share_and_status(platform: Platform) -> None:
    now = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    docs = build_documents(export_context(platform, now=now))
    assert docs["collection"]["sections"]["gaps"]["status"] == "missing"  # nothing collected yet: not a crash
    landing = Path(platform.paths.landing)
    # finnhub: 1000 s connected, a 30 s server drop, 970 s more, clean stop; binance: one clean hour, no drop
    _log(landing, "finnhub", "f1", [
        (0, "start", {}), (0, "connect", {}), (1000, "disconnect", {"landed": 80}), (1030, "connect", {}),
        (2000, "stop", {"clean": True, "landed": 120}),
    ])  # fmt: skip
    _log(landing, "binance", "b1", [(0, "start", {}), (0, "connect", {}), (3600, "stop", {"clean": True, "landed": 9})])
    record_gaps(platform, now=T0 + 5000)
    section = build_documents(export_context(platform, now=now))["collection"]["sections"]["gaps"]
    assert section["status"] == "ok" and section["sources"] == [platform.config.table("collector_gaps")]
    rows = [{k: r[k] for k in ("feed", "day", "downtime_seconds", "disconnects", "down_share", "status",
                               "trades_landed")} for r in section["data"]]  # fmt: skip
    assert rows == [
        {"feed": "binance", "day": "2026-03-09", "downtime_seconds": 0.0, "disconnects": 0, "down_share": 0.0,
         "status": "ok", "trades_landed": 9},
        {"feed": "finnhub", "day": "2026-03-09", "downtime_seconds": 30.0, "disconnects": 1, "down_share": 0.015,
         "status": "alert", "trades_landed": 120},
    ]  # fmt: skip
