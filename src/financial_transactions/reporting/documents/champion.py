"""``champion.json``: the registry's aliases and versions, the promotion gate's decisions and the rollbacks."""

from __future__ import annotations

from typing import Any

from financial_transactions.reporting.documents.audit import audit_events
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, sorted_by_time
from financial_transactions.reporting.frames import iso, maybe_json, num, records
from financial_transactions.reporting.sources import Sources

KEY = "champion_challenger_audit"
#: The ``models.champion_challenger.ChampionChallenger`` audit columns the panel reads by name (it shows all).
NAMED = (
    "decision_id",
    "decided_at",
    "decision",
    "reason",
    "supersedes",
    "champion_primary",
    "challenger_primary",
)


def build(ctx: ExportContext) -> dict[str, Any]:
    reg = ctx.registry
    registry = Section(
        reg.status,
        {"name": reg.name, "aliases": reg.aliases, "versions": reg.versions},
        [ctx.platform.mlflow.registry_uri],
        reg.message,
    )
    return ctx.document(
        "champion",
        {
            "registry": registry,
            "decisions": guard("decisions", [], lambda: gate_decisions(ctx.sources)),
            "rollbacks": guard("rollbacks", [], lambda: audit_events(ctx.sources, "rollback_audit")),
        },
    )


def gate_decisions(src: Sources) -> Section:
    """Every gate decision, oldest first; a REJECT that cancels a failed PROMOTE marks it ``superseded``."""
    fqn = src.fqn(KEY)
    df = src.read(KEY, require=NAMED)
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops train)")
    if df.empty:
        return Section("empty", [], [fqn], "no gate decision yet")
    cancelled = {str(v) for v in df["supersedes"].dropna()}
    rows: list[dict[str, Any]] = []
    for rec in records(sorted_by_time(df, "decided_at", descending=False)):
        row = {k: maybe_json(v) for k, v in rec.items()}
        row["at"] = iso(rec["decided_at"])
        row["decision"] = str(rec["decision"] or "")
        row["reason"] = rec["reason"] or None
        row["superseded"] = str(rec["decision_id"]) in cancelled
        row["champion_score"] = num(rec["champion_primary"])
        row["challenger_score"] = num(rec["challenger_primary"])
        rows.append(row)
    return Section("ok", rows, [fqn])
