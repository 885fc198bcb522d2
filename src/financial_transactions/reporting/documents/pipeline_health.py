"""``pipeline_health.json``: rows per layer, quarantine, freshness, collector counters and pipeline runs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from financial_transactions.lakehouse.catalog import LAYER_TABLES, TableKind, specs_of
from financial_transactions.replay.window import MARKER as INGEST_MARKER
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, raw_rows
from financial_transactions.reporting.frames import as_list, iso, jsonable, maybe_json, num, records, to_utc
from financial_transactions.reporting.sources import Sources

log = logging.getLogger(__name__)

#: Status thresholds of the overview (documented in docs/RUNBOOK.md).
QUARANTINE_WARN_SHARE = 0.01
QUARANTINE_ALERT_SHARE = 0.05
STALE_INGEST_HOURS = 24.0
PIPELINE_RUNS_SHOWN = 50
QUARANTINE_SAMPLES = 20
#: The collector sources whose ``<source>_<counter>`` figures the ingest marker's summary holds.
COLLECTOR_SOURCES = ("finnhub", "binance", "alphavantage")

#: Tables shown as "rows per layer", in data-flow order: the pipeline's layers, the feature tables, the predictions.
LAYER_KEYS = (*LAYER_TABLES, *(s.key for s in specs_of(TableKind.FEATURE)), "synthesized_predictions")

QUARANTINE = "silver_trades_quarantine"
#: The quarantine columns the panel shows (the silver expectations write them).
QUARANTINE_COLUMNS = ("failed_rules", "source", "symbol", "price", "volume", "ts", "_ingested_at")
#: Per silver table, the column holding the event time (trades have a timestamp, bars a start).
EVENT_COLUMN = {"silver_trades": "ts", "silver_bars": "bar_start"}

EMPTY_QUARANTINE: dict[str, Any] = {
    "total": 0,
    "silver_rows": 0,
    "share": None,
    "by_rule": [],
    "by_source": [],
    "latest": [],
    "thresholds": {"warn_share": QUARANTINE_WARN_SHARE, "alert_share": QUARANTINE_ALERT_SHARE},
}


def build(ctx: ExportContext) -> dict[str, Any]:
    src = ctx.sources
    return ctx.document(
        "pipeline_health",
        {
            "layers": guard("layers", [], lambda: layers(src)),
            "quarantine": guard("quarantine", EMPTY_QUARANTINE, lambda: quarantine(src)),
            "collector_quarantine": guard("collector_quarantine", [], lambda: collector_quarantine(src)),
            "freshness": guard("freshness", [], lambda: freshness(src, ctx.now)),
            "collectors": guard("collectors", [], lambda: collectors(src)),
            "runs": guard("runs", [], lambda: pipeline_runs(src)),
        },
    )


def layers(src: Sources) -> Section:
    rows: list[dict[str, Any]] = []
    for key in LAYER_KEYS:
        info = src.info(key)
        rows.append(
            {
                "key": key,
                "table": info.fqn,
                "exists": info.exists,
                "rows": info.rows,
                "version": info.version,
                "last_commit": info.last_commit,
                "last_operation": info.last_operation,
            }
        )
    sources = [r["table"] for r in rows]
    if not any(r["exists"] for r in rows):
        return missing(rows, sources, "no pipeline table exists yet (run fin-mlops run)")
    return Section("ok", rows, sources)


def quarantine(src: Sources) -> Section:
    fqn = src.fqn(QUARANTINE)
    df = src.read(QUARANTINE, QUARANTINE_COLUMNS)
    silver = src.info("silver_trades")
    if df is None:
        if silver.exists:  # the pipeline ran and quarantined nothing: the table is created on first use
            data = {**EMPTY_QUARANTINE, "silver_rows": silver.rows, "share": 0.0}
            return Section("empty", data, [fqn, silver.fqn], "no row quarantined (no quarantine table yet)")
        return missing(EMPTY_QUARANTINE, [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
    by_rule: dict[str, int] = {}
    for value in df["failed_rules"]:
        for rule in as_list(value):
            by_rule[rule] = by_rule.get(rule, 0) + 1
    by_source = {str(k): int(v) for k, v in df["source"].fillna("unknown").value_counts().items()}
    total = len(df)
    valid = silver.rows or 0
    latest = df.assign(_o=to_utc(df["_ingested_at"])).sort_values("_o", ascending=False, kind="stable")
    samples = [
        {
            "source": jsonable(r["source"]),
            "symbol": jsonable(r["symbol"]),
            "price": num(r["price"]),
            "volume": num(r["volume"]),
            "ts": iso(r["ts"]),
            "rules": as_list(r["failed_rules"]),
        }
        for r in raw_rows(latest.head(QUARANTINE_SAMPLES))
    ]
    share = total / (total + valid) if (total + valid) else None
    data = {
        "total": total,
        "silver_rows": valid,
        "share": num(share),
        "by_rule": [{"rule": r, "rows": n} for r, n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_source": [{"source": s, "rows": n} for s, n in sorted(by_source.items())],
        "latest": samples,
        "thresholds": {"warn_share": QUARANTINE_WARN_SHARE, "alert_share": QUARANTINE_ALERT_SHARE},
    }
    return Section("ok" if total else "empty", data, [fqn, silver.fqn], "" if total else "no row quarantined")


def collector_quarantine(src: Sources) -> Section:
    """Messages the collectors could not parse, counted per (source, reason)."""
    where = str(src.collector_quarantine_root)
    files = src.collector_quarantine_files()
    if not files:
        if not src.landing.is_dir():
            return missing([], [where], "no landing zone yet (run fin-mlops ingest)")
        return Section("empty", [], [where], "collectors quarantined nothing")
    counts: dict[tuple[str, str], int] = {}
    for row in src.ndjson(files):
        k = (str(row.get("source", "unknown")), str(row.get("reason", "unknown")))
        counts[k] = counts.get(k, 0) + 1
    data = [{"source": s, "reason": r, "rows": n} for (s, r), n in sorted(counts.items())]
    return Section("ok" if data else "empty", data, [where])


def freshness(src: Sources, now: datetime) -> Section:
    """Per source: first and latest event, latest ingest and its age (``warn`` past ``STALE_INGEST_HOURS``)."""
    sources: list[str] = []
    rows: list[dict[str, Any]] = []
    for key, event_col in EVENT_COLUMN.items():
        fqn = src.fqn(key)
        sources.append(fqn)
        df = src.read(key, ("source", event_col, "ingested_at"))
        if df is None or df.empty:
            continue
        frame = pd.DataFrame({"source": df["source"].fillna("unknown")})
        frame["event"] = to_utc(df[event_col])
        frame["ingest"] = to_utc(df["ingested_at"])
        for source, grp in frame.groupby("source", sort=True):
            latest_ingest = grp["ingest"].max()
            age_h = (pd.Timestamp(now) - latest_ingest).total_seconds() / 3600 if pd.notna(latest_ingest) else None
            status = "missing" if age_h is None else ("ok" if age_h <= STALE_INGEST_HOURS else "warn")
            rows.append(
                {
                    "source": str(source),
                    "table": fqn,
                    "rows": len(grp),
                    "first_event": iso(grp["event"].min()),
                    "latest_event": iso(grp["event"].max()),
                    "latest_ingest": iso(latest_ingest),
                    "ingest_age_hours": num(age_h, 3),
                    "status": status,
                }
            )
    if not rows:
        return missing([], sources, "no silver data yet (run fin-mlops pipeline)")
    return Section("ok", rows, sources)


def collectors(src: Sources) -> Section:
    """Collector counters the ingest stage left in each replay window's marker.

    The marker's ``summary`` holds flat ``<source>_<counter>`` figures (trades, quarantined,
    reconnects, Alpha Vantage bars); they become one row per (window, source).
    """
    where = str(src.platform.paths.ground_truth_root / "*" / INGEST_MARKER)
    files = src.ingest_markers()
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("unreadable ingest marker %s", path)
            continue
        summary = payload.get("summary") if isinstance(payload, dict) else None
        if not isinstance(summary, dict):
            continue
        window = str(summary.get("window") or path.parent.name)
        per_source: dict[str, dict[str, Any]] = {}
        for key, value in summary.items():
            source, _, counter = str(key).partition("_")
            if source in COLLECTOR_SOURCES and counter:
                per_source.setdefault(source, {})[counter] = jsonable(value)
        for source, counters in sorted(per_source.items()):
            rows.append(
                {
                    "window": window,
                    "source": source,
                    **counters,
                    "seconds": num(summary.get("seconds")),
                    "reused": jsonable(summary.get("reused")),
                    "recorded_at": iso(datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)),
                }
            )
    if not rows:
        return missing([], [where], "the ingest stage left no collector counters (run fin-mlops run)")
    return Section("ok", rows, [str(f) for f in files])


def pipeline_runs(src: Sources) -> Section:
    """The embedded runner's audit rows (files, rows per layer, seconds), newest first."""
    fqn = src.fqn("pipeline_runs")
    runs = src.read("pipeline_runs", require=("started_at",))
    if runs is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
    if runs.empty:
        return Section("empty", [], [fqn], "no pipeline run recorded")
    runs = runs.assign(_o=to_utc(runs["started_at"])).sort_values("_o", ascending=False).drop(columns="_o")
    rows = [{k: maybe_json(v) for k, v in rec.items()} for rec in records(runs.head(PIPELINE_RUNS_SHOWN))]
    return Section("ok", rows, [fqn])
