"""``leaderboard.json``: every tournament's models, ranked on the configured primary metric."""

from __future__ import annotations

from typing import Any

from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing
from financial_transactions.reporting.frames import iso, jsonable, num, records, to_utc
from financial_transactions.reporting.sources import Sources

KEY = "tournament_results"
#: Per model, in the order the page lists them: the test-slice metrics (``models.metrics.METRIC_NAMES``),
#: the decision threshold, scoring speed and training time; each a ``tournament_results`` column.
LEADERBOARD_METRICS = (
    "pr_auc",
    "roc_auc",
    "precision_at_k",
    "recall_at_fpr",
    "f1",
    "precision",
    "recall",
    "threshold",
    "inference_rows_per_s",
    "train_seconds",
)
#: The ``models.tournament.ModelTournament`` columns the leaderboard shows.
COLUMNS = (
    "tournament_id",
    "model",
    "status",
    "error",
    "rank",
    "is_winner",
    "mlflow_run_id",
    "created_at",
    *LEADERBOARD_METRICS,
)


def build(ctx: ExportContext) -> dict[str, Any]:
    primary = ctx.cfg.models.primary_metric
    return ctx.document(
        "leaderboard",
        {"runs": guard("runs", [], lambda: tournaments(ctx.sources, primary))},
        primary_metric=primary,
    )


def tournaments(src: Sources, primary: str) -> Section:
    """One entry per tournament, newest first; a tournament's models by rank, failed ones last."""
    fqn = src.fqn(KEY)
    df = src.read(KEY, COLUMNS)
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops train)")
    if df.empty:
        return Section("empty", [], [fqn], "no tournament has run")
    runs: list[dict[str, Any]] = []
    for run_id, grp in df.groupby("tournament_id", sort=False):
        models: list[dict[str, Any]] = []
        for rec in records(grp):
            metrics = {m: num(rec[m]) for m in LEADERBOARD_METRICS}
            models.append(
                {
                    "model": str(rec["model"]),
                    "status": str(rec["status"] or ("failed" if rec["error"] else "ok")),
                    "error": rec["error"],
                    "rank": num(rec["rank"]),
                    "is_winner": bool(rec["is_winner"] or False),
                    "mlflow_run_id": rec["mlflow_run_id"],
                    "metrics": {k: v for k, v in metrics.items() if v is not None},
                }
            )
        ranked = [m for m in models if m["status"] == "ok" and m["metrics"].get(primary) is not None]
        ranked.sort(key=lambda m: -(m["metrics"][primary] or 0.0))
        if not any(m["is_winner"] for m in models) and ranked:
            ranked[0]["is_winner"] = True
        for pos, m in enumerate(ranked, 1):
            if m["rank"] is None:
                m["rank"] = pos
        models.sort(key=lambda m: (m["rank"] is None, m["rank"] or 0, m["model"] or ""))
        winner = next((m["model"] for m in models if m["is_winner"]), None)
        runs.append(
            {
                "run_id": jsonable(run_id),
                "created_at": iso(to_utc(grp["created_at"]).max()),
                "winner": winner,
                "models": models,
            }
        )
    runs.sort(key=lambda r: r["created_at"] or "", reverse=True)
    return Section("ok", runs, [fqn])
