"""``collection.json``: how long each stream feed was down, per UTC day (the ``collector_gaps`` table).

A Finnhub WebSocket has no replay, so every second no collector was connected is trades lost for
good. The rows come from the collectors' own connect/disconnect/heartbeat/stop events
(``fin-mlops ingest gaps``, the ingestion job's ``record_collection_gaps`` task); the page shows the
latest days per feed, newest first, with the share of the day the feed was down.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing
from financial_transactions.reporting.frames import iso, records

KEY = "collector_gaps"
#: Days shown per feed (newest first).
MAX_DAYS = 14
#: A day with more down time than this share is ``alert``, any down time at all ``warn``.
ALERT_SHARE = 0.01
COLUMNS = (
    "feed",
    "day",
    "downtime_seconds",
    "connected_seconds",
    "disconnects",
    "longest_gap_seconds",
    "runs",
    "trades_landed",
    "computed_at",
)


def build(ctx: ExportContext) -> dict[str, Any]:
    return ctx.document("collection", {"gaps": guard("gaps", [], lambda: gap_days(ctx))})


def gap_days(ctx: ExportContext) -> Section:
    """The latest :data:`MAX_DAYS` rows per feed, newest first, each with its down share and status."""
    src = ctx.sources
    fqn = src.fqn(KEY)
    df = src.read(KEY, list(COLUMNS))
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (fin-mlops ingest gaps writes it)")
    if df.empty:
        return Section("empty", [], [fqn], "no collector event recorded yet")
    rows: list[dict[str, Any]] = []
    ordered = df.sort_values(["feed", "day"], ascending=[True, False], kind="stable")
    for feed in sorted(ordered["feed"].unique()):
        for rec in records(ordered[ordered["feed"] == feed].head(MAX_DAYS)):
            observed = float(rec["downtime_seconds"] or 0) + float(rec["connected_seconds"] or 0)
            share = float(rec["downtime_seconds"] or 0) / observed if observed > 0 else 0.0
            status = "alert" if share > ALERT_SHARE else "warn" if (rec["downtime_seconds"] or 0) > 0 else "ok"
            rows.append(
                {**rec, "day": str(rec["day"])[:10], "computed_at": iso(rec["computed_at"]),
                 "down_share": share, "status": status}
            )  # fmt: skip
    return Section("ok", rows, [fqn])
