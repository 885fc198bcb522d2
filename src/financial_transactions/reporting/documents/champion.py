"""``champion.json``: registry aliases and versions, training attempts, gate decisions and rollbacks."""

from __future__ import annotations

from typing import Any

from financial_transactions.features.feedback import VERDICTS, feedback_counts
from financial_transactions.reporting.documents.audit import audit_events
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, sorted_by_time
from financial_transactions.reporting.frames import iso, maybe_json, num, records
from financial_transactions.reporting.sources import Sources

KEY = "champion_challenger_audit"
TRAINING_KEY = "training_runs"
#: The ``models.training`` attempt columns the panel reads (it shows all).
TRAINING_NAMED = ("run_id", "started_at", "status", "reason", "remedy", "winner", "test_pr_auc", "label_sources")
#: Attempts shown, newest first: why the latest did or did not train is what a reader needs.
TRAINING_SHOWN = 20
FEEDBACK_KEY = "analyst_feedback"
EMPTY_FEEDBACK: dict[str, int] = dict.fromkeys(VERDICTS, 0)
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
            "training": guard("training", [], lambda: training_attempts(ctx.sources)),
            "feedback": guard("feedback", dict(EMPTY_FEEDBACK), lambda: feedback_verdicts(ctx.sources)),
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


def training_attempts(src: Sources) -> Section:
    """The latest training attempts, newest first: the outcome, or why it did not train and what to do."""
    fqn = src.fqn(TRAINING_KEY)
    df = src.read(TRAINING_KEY, require=TRAINING_NAMED)
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops train)")
    if df.empty:
        return Section("empty", [], [fqn], "no training attempt yet")
    rows: list[dict[str, Any]] = []
    for rec in records(sorted_by_time(df, "started_at", descending=True).head(TRAINING_SHOWN)):
        row = {k: maybe_json(v) for k, v in rec.items()}
        row["at"] = iso(rec["started_at"])
        row["test_pr_auc"] = num(rec["test_pr_auc"])
        rows.append(row)
    return Section("ok", rows, [fqn])


def feedback_verdicts(src: Sources) -> Section:
    """Analysts' latest verdicts per kind (confirmed / dismissed): the labels that outrank every other source."""
    fqn = src.fqn(FEEDBACK_KEY)
    df = src.read(FEEDBACK_KEY, require=("symbol", "bar_start", "verdict", "decided_at"))
    if df is None:
        return missing(dict(EMPTY_FEEDBACK), [fqn], "no analyst verdict yet (fin-mlops feedback confirm|dismiss)")
    return Section("ok" if not df.empty else "empty", feedback_counts(df), [fqn])
