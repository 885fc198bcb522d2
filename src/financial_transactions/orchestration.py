"""``fin-mlops run``: every stage, in order, on one Platform.

A stage is ``def run_stage(ctx: RunContext) -> dict[str, Any]``; the dict holds
the figures shown in the run's summary table. A later stage takes what it needs
from the tables and landing zone the earlier ones wrote (the drift stage finds
window 2's ground truth where the shift stage landed it), never from the context,
so a stage can run alone with ``--only``.

No dead ends: a stage that ran but could not do its work for an expected reason
(training with too few labelled positives, say) returns ``not_run: <reason>`` in its
summary and shows as ``not run``; the run goes on and exits 0. A stage that fails is a
real failure: only the stages that need its output (:attr:`Stage.needs`, transitively)
are skipped, the others (the dashboard always) still run, and the run exits non-zero
naming the failed stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from financial_transactions.decision import stage as decision_stage
from financial_transactions.models import stage as models_stage
from financial_transactions.models.stage import NOT_RUN
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
    #: stages whose output this one reads: it is skipped when one of them failed
    needs: tuple[str, ...] = ()


@dataclass
class StageResult:
    name: str
    status: str  # ok | not_run (an expected reason, see the module docstring) | failed | skipped
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
    Stage("pipeline", pipeline_stage.run_stage, "landing -> bronze -> silver -> gold (Delta)", ("ingest",)),
    Stage("train", models_stage.run_stage, "features -> tournament -> validator -> gate", ("pipeline",)),
    Stage("shift", run_shift, "regime-shifted replay window 2 -> pipeline", ("pipeline",)),
    Stage("drift", monitoring_stage.run_stage, "PSI/JS drift, performance, retraining", ("shift",)),
    Stage("backtest", decision_stage.run_backtest, "champion predictions + backtests", ("pipeline",)),
    Stage("decide", decision_stage.run_decide, "weighted decision matrix", ("backtest",)),
    Stage("dashboard", reporting_stage.run_stage, "dashboard export + decision report"),
]


def run_stages(
    ctx: RunContext,
    stages: Sequence[Stage] | None = None,
    *,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
) -> list[StageResult]:
    """Run stages in order; a failure skips only the stages that need it (see the module docstring)."""
    selected = [s for s in (stages if stages is not None else STAGES) if (not only or s.name in only)]
    results: list[StageResult] = []
    broken: dict[str, str] = {}  # stage -> the failed stage it (transitively) needs
    for stage in selected:
        blocker = next((broken[n] for n in stage.needs if n in broken), None)
        if blocker is not None or stage.name in skip:
            if blocker is not None:
                broken[stage.name] = blocker
            why = f"needs {blocker}, which failed" if blocker is not None else None
            results.append(StageResult(stage.name, "skipped", 0.0, {}, why))
            continue
        ctx.console.rule(f"[bold cyan]{stage.name}[/] {stage.description}")
        start = time.perf_counter()
        try:
            summary = stage.run(ctx) or {}
        except Exception as exc:  # a failed stage is reported, not swallowed: the run exits non-zero
            broken[stage.name] = stage.name
            ctx.console.print_exception(max_frames=8)
            results.append(
                StageResult(stage.name, "failed", time.perf_counter() - start, {}, f"{type(exc).__name__}: {exc}")
            )
            continue
        reason = summary.pop(NOT_RUN, None)
        status = "not_run" if reason else "ok"
        results.append(StageResult(stage.name, status, time.perf_counter() - start, summary, reason))
    return results


def failed_stages(results: Sequence[StageResult]) -> list[str]:
    """The stages that really failed (what makes ``fin-mlops run`` exit non-zero)."""
    return [r.name for r in results if r.status == "failed"]


def summary_table(results: Sequence[StageResult]) -> Table:
    table = Table(title="fin-mlops run", show_lines=False)
    table.add_column("stage", style="bold")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("summary")
    colours = {"ok": "green", "not_run": "yellow", "failed": "red", "skipped": "yellow"}
    for r in results:
        figures = ", ".join(f"{k}={_fmt(v)}" for k, v in r.summary.items())
        text = f"{r.error}; {figures}" if r.error and figures else r.error or figures
        table.add_row(r.name, f"[{colours[r.status]}]{r.status.replace('_', ' ')}[/]", f"{r.seconds:.1f}", text)
    failed = failed_stages(results)
    table.caption = f"[red]failed: {', '.join(failed)}[/]" if failed else "[green]no stage failed[/]"
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
