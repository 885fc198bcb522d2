"""``fin-mlops run``: every stage, in order, on one Platform.

A stage is ``def run_stage(ctx: RunContext) -> dict[str, Any]``; the dict holds
the figures shown in the run's summary table. A later stage takes what it needs
from the tables and landing zone the earlier ones wrote (the drift stage finds
window 2's ground truth where the shift stage landed it), never from the context,
so a stage can run alone with ``--only``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from financial_transactions.decision import stage as decision_stage
from financial_transactions.models import stage as models_stage
from financial_transactions.monitoring import stage as monitoring_stage
from financial_transactions.pipeline import stage as pipeline_stage
from financial_transactions.replay import stage as replay_stage
from financial_transactions.reporting import stage as reporting_stage
from financial_transactions.runtime.context import RunContext

StageFn = Callable[[RunContext], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    description: str = ""


@dataclass
class StageResult:
    name: str
    status: str  # ok | failed | skipped
    seconds: float
    summary: dict[str, Any]
    error: str | None = None


def run_shift(ctx: RunContext) -> dict[str, Any]:
    """Replay a regime-shifted second window and refine it, so drift has a current window to judge."""
    ingested = replay_stage.run_shift_ingest(ctx)
    refined = pipeline_stage.run_stage(ctx)
    return {**{f"ingest_{k}": v for k, v in ingested.items()}, **refined}


#: The end-to-end order.
STAGES: list[Stage] = [
    Stage("ingest", replay_stage.run_ingest, "replay window 1 -> collectors -> landing"),
    Stage("pipeline", pipeline_stage.run_stage, "landing -> bronze -> silver -> gold (Delta)"),
    Stage("train", models_stage.run_stage, "features -> tournament -> validator -> gate"),
    Stage("shift", run_shift, "regime-shifted replay window 2 -> pipeline"),
    Stage("drift", monitoring_stage.run_stage, "PSI/JS drift, performance, retraining"),
    Stage("backtest", decision_stage.run_backtest, "champion predictions + backtests"),
    Stage("decide", decision_stage.run_decide, "weighted decision matrix"),
    Stage("dashboard", reporting_stage.run_stage, "dashboard export + decision report"),
]


def run_stages(
    ctx: RunContext,
    stages: Sequence[Stage] | None = None,
    *,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
) -> list[StageResult]:
    """Run stages in order; after a failure the rest are skipped (they depend on it)."""
    selected = [s for s in (stages if stages is not None else STAGES) if (not only or s.name in only)]
    results: list[StageResult] = []
    failed = False
    for stage in selected:
        if failed or stage.name in skip:
            results.append(StageResult(stage.name, "skipped", 0.0, {}))
            continue
        ctx.console.rule(f"[bold cyan]{stage.name}[/] {stage.description}")
        start = time.perf_counter()
        try:
            summary = stage.run(ctx) or {}
            results.append(StageResult(stage.name, "ok", time.perf_counter() - start, summary))
        except Exception as exc:  # a failed stage is reported, not swallowed: the run exits non-zero
            failed = True
            ctx.console.print_exception(max_frames=8)
            results.append(
                StageResult(stage.name, "failed", time.perf_counter() - start, {}, f"{type(exc).__name__}: {exc}")
            )
    return results


def summary_table(results: Sequence[StageResult]) -> Table:
    table = Table(title="fin-mlops run", show_lines=False)
    table.add_column("stage", style="bold")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("summary")
    colours = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for r in results:
        text = r.error or ", ".join(f"{k}={_fmt(v)}" for k, v in r.summary.items())
        table.add_row(r.name, f"[{colours[r.status]}]{r.status}[/]", f"{r.seconds:.1f}", text)
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
