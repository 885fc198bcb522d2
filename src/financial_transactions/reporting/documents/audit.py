"""``audit.json``: the retraining decisions, the alerts and the rollbacks, newest first, every column shown."""

from __future__ import annotations

from typing import Any

from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, sorted_by_time
from financial_transactions.reporting.frames import iso, maybe_json, records
from financial_transactions.reporting.sources import Sources

#: Per audit table: the column stamping each event, and the command whose run writes the table.
AUDIT_TABLES = {
    "retraining_audit": ("decided_at", "fin-mlops drift"),
    "alerts_audit": ("sent_at", "fin-mlops drift"),
    "rollback_audit": ("rolled_back_at", "fin-mlops rollback"),
}


def build(ctx: ExportContext) -> dict[str, Any]:
    src = ctx.sources
    return ctx.document(
        "audit",
        {
            "retraining": guard("retraining", [], lambda: audit_events(src, "retraining_audit")),
            "alerts": guard("alerts", [], lambda: audit_events(src, "alerts_audit")),
            "rollbacks": guard("rollbacks", [], lambda: audit_events(src, "rollback_audit")),
        },
    )


def audit_events(src: Sources, key: str) -> Section:
    """Every row of an audit table, newest first, with its event time as ``at``."""
    time_col, command = AUDIT_TABLES[key]
    fqn = src.fqn(key)
    df = src.read(key, require=(time_col,))
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet ({command} writes it)")
    if df.empty:
        return Section("empty", [], [fqn], "no event recorded")
    rows: list[dict[str, Any]] = []
    for rec in records(sorted_by_time(df, time_col)):
        row = {k: maybe_json(v) for k, v in rec.items()}
        row["at"] = iso(rec[time_col])
        rows.append(row)
    return Section("ok", rows, [fqn])
