"""The ``backtest`` and ``decide`` stages of ``fin-mlops run``.

Each stage writes its run in one Delta commit under a run-scoped id (see runtime.journal): a
``fin-mlops run`` resumed after a crash between that commit and the journal's record finds the
rows and does not write the same run twice.
"""

from __future__ import annotations

import math
from typing import Any

from financial_transactions.decision.backtester import Backtester
from financial_transactions.decision.decision_matrix import DecisionMatrix
from financial_transactions.decision.predictions import NoChampion, synthesize_predictions
from financial_transactions.decision.render import backtest_table, decision_table
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext
from financial_transactions.runtime.crashpoints import crashpoint
from financial_transactions.runtime.journal import scoped_id


def _written(platform: Platform, key: str, run_id: str) -> int | None:
    """The table version holding ``run_id``'s rows, if an interrupted attempt already committed them."""
    fqn = platform.config.table(key)
    if not platform.store.exists(fqn):
        return None
    frame = platform.store.read(fqn, columns=["run_id"])
    return platform.store.version(fqn) if bool((frame["run_id"] == run_id).any()) else None


def run_backtest(ctx: RunContext) -> dict[str, Any]:
    """Score new gold rows with the champion (appending predictions), then backtest every strategy."""
    summary: dict[str, Any] = {}
    try:
        scoring = synthesize_predictions(ctx.platform)
        summary.update(predictions_added=scoring.rows_scored, champion=scoring.model_version)
    except NoChampion as exc:
        ctx.console.print(f"[yellow]{exc}; the model strategy is skipped[/]")
        summary["champion"] = "none"
    crashpoint("backtest.after_predictions")
    backtester = Backtester(ctx.platform)
    report = backtester.run()
    report.run_id = scoped_id("backtest.run", 16)
    version = _written(ctx.platform, "backtest_results", report.run_id)
    if version is None:
        version = backtester.write(report)
    crashpoint("backtest.after_results")
    criterion = ctx.platform.config.decision.criteria.get("backtest")
    ctx.console.print(backtest_table(report, criterion, cagr_min_years=ctx.platform.config.backtest.cagr_min_years))
    for skip in report.skipped:
        ctx.console.print(f"[dim]skipped {skip['symbol']} {skip['strategy']}: {skip['reason']}[/]")
    chosen = [r for r in report.results if r.strategy == ctx.platform.config.backtest.strategy]
    sharpes = [r.metrics["sharpe"] for r in chosen if math.isfinite(r.metrics["sharpe"])]
    band = ctx.platform.config.decision.criteria.get("backtest")
    edges = [r.metrics["deflated_edge"] for r in report.results if math.isfinite(r.metrics["deflated_edge"])]
    labels = [band.band_for(e).label for e in edges] if band is not None else []
    summary.update(
        results=len(report.results),
        benchmarks=len(report.benchmarks),  # buy-and-hold per backtested symbol (rows of their own, not trials)
        predictions_version=report.inputs.predictions_version,
        table_version=version,
        median_sharpe=float(sorted(sharpes)[len(sharpes) // 2]) if sharpes else "n/a",
        trials=len(report.results),
        **{f"deflated_{label.lower()}": labels.count(label) for label in dict.fromkeys(labels)},
    )
    return summary


def run_decide(ctx: RunContext) -> dict[str, Any]:
    """Build, print and store the ranked decision matrix."""
    dm = DecisionMatrix(ctx.platform)
    result = dm.build()
    result.run_id = scoped_id("decide.run", 16)
    result.matrix["run_id"] = result.run_id
    version = _written(ctx.platform, "decision_matrix", result.run_id)
    if version is None:
        version = dm.write(result)
    crashpoint("decide.after_matrix")
    ctx.console.print(decision_table(result.matrix, list(ctx.platform.config.decision.normalized_weights())))
    counts = result.matrix["recommendation"].value_counts().to_dict()
    top = result.matrix.iloc[0]
    return {
        "symbols": len(result.matrix),
        "top": f"{top['symbol']} ({top['recommendation']})",
        **{str(k): int(v) for k, v in counts.items()},
        "table_version": version,
    }
