"""``decision_matrix.json``: the latest decision run, one row per symbol with each criterion's raw value and score.

``decision.decision_matrix`` writes ``<name>_raw``, ``<name>_score``, ``<name>_weight`` and
``<name>_label`` per enabled criterion of ``decision.criteria`` (the catalogue's rule for this
table), so the columns read follow the configuration.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.config import ProjectConfig
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, latest_run, missing
from financial_transactions.reporting.frames import iso, jsonable, num, records, to_utc
from financial_transactions.reporting.sources import Sources

KEY = "decision_matrix"
#: The per-symbol columns the panel shows.
COLUMNS = (
    "run_id",
    "created_at",
    "symbol",
    "asset_class",
    "rank",
    "direction_score",
    "risk_penalty",
    "final_score",
    "recommendation",
    "explanation",
    "flags",
)
#: Each enabled criterion's columns: ``<name>_<suffix>``.
CRITERION_FIELDS = ("raw", "score", "weight", "label")
EMPTY_MATRIX: dict[str, Any] = {"run_id": None, "at": None, "criteria": [], "rows": []}


def build(ctx: ExportContext) -> dict[str, Any]:
    t = ctx.cfg.decision.thresholds
    criteria = [
        {"name": name, "weight": c.weight, "enabled": c.enabled, "bands": [b.model_dump() for b in c.bands]}
        for name, c in ctx.cfg.decision.criteria.items()
    ]
    return ctx.document(
        "decision_matrix",
        {"matrix": guard("matrix", EMPTY_MATRIX, lambda: latest_matrix(ctx.sources, ctx.cfg))},
        thresholds={"strong_buy": t.strong_buy, "buy": t.buy, "hold": t.hold},
        criteria=criteria,
    )


def enabled_criteria(cfg: ProjectConfig) -> list[str]:
    """The criteria the matrix scores, in configuration order (the writer's columns)."""
    return [str(name) for name, c in cfg.decision.criteria.items() if c.enabled]


def latest_matrix(src: Sources, cfg: ProjectConfig) -> Section:
    """The newest run's rows, best rank first, with the criteria in configuration order."""
    fqn = src.fqn(KEY)
    names = enabled_criteria(cfg)
    df = src.read(KEY, (*COLUMNS, *(f"{n}_{f}" for n in names for f in CRITERION_FIELDS)))
    if df is None:
        return missing(EMPTY_MATRIX, [fqn], f"{fqn} does not exist yet (run fin-mlops decide)")
    if df.empty:
        return Section("empty", EMPTY_MATRIX, [fqn], "no decision run yet")
    run_id = latest_run(df, "run_id", "created_at")
    latest = df[df["run_id"] == run_id]
    rows: list[dict[str, Any]] = []
    for rec in records(latest):
        rows.append(
            {
                "symbol": str(rec["symbol"]),
                "asset_class": rec["asset_class"],
                "rank": num(rec["rank"]),
                "direction_score": num(rec["direction_score"], 4),
                "risk_penalty": num(rec["risk_penalty"], 4),
                "final_score": num(rec["final_score"], 4),
                "recommendation": rec["recommendation"],
                "explanation": rec["explanation"],
                "flags": rec["flags"],
                "criteria": {
                    n: {
                        "raw": num(rec[f"{n}_raw"]),
                        "score": num(rec[f"{n}_score"]),
                        "weight": num(rec[f"{n}_weight"]),
                        "label": rec[f"{n}_label"],
                    }
                    for n in names
                },
            }
        )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, -(r["final_score"] or 0)))
    data = {
        "run_id": jsonable(run_id),
        "at": iso(to_utc(latest["created_at"]).max()),
        "criteria": names if rows else [],
        "rows": rows,
    }
    return Section("ok", data, [fqn])
