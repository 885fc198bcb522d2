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

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape

from financial_transactions.decision import stage as decision_stage
from financial_transactions.models import stage as models_stage
from financial_transactions.models.stage import NOT_RUN
from financial_transactions.monitoring import stage as monitoring_stage
from financial_transactions.pipeline import stage as pipeline_stage
from financial_transactions.replay import stage as replay_stage
from financial_transactions.reporting import stage as reporting_stage
from financial_transactions.runtime.context import RunContext
from financial_transactions.runtime.crashpoints import crashpoint
from financial_transactions.runtime.journal import RunJournal
from financial_transactions.runtime.tables import Column, DataTable

StageFn = Callable[[RunContext], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    description: str = ""
    #: stages whose output this one reads: it is skipped when one of them failed
    needs: tuple[str, ...] = ()
    #: runs Spark work: when a later stage does, the engine starts while the first one runs
    engine: bool = False


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
    Stage("pipeline", pipeline_stage.run_stage, "landing -> bronze -> silver -> gold (Delta)", ("ingest",), True),
    Stage("train", models_stage.run_stage, "features -> tournament -> validator -> gate", ("pipeline",)),
    Stage("shift", run_shift, "regime-shifted replay window 2 -> pipeline", ("pipeline",), True),
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
    journal: RunJournal | None = None,
) -> list[StageResult]:
    """Run stages in order; a failure skips only the stages that need it (see the module docstring).

    With a ``journal`` (``fin-mlops run``), each stage is recorded as it starts and ends, a stage the
    journal already holds as done (an interrupted run being resumed) is not run again, and ids are
    scoped to the run (see :mod:`financial_transactions.runtime.journal`).
    """
    selected = [s for s in (stages if stages is not None else STAGES) if (not only or s.name in only)]
    results: list[StageResult] = []
    broken: dict[str, str] = {}  # stage -> the failed stage it (transitively) needs
    if selected and not selected[0].engine and any(s.engine for s in selected[1:]):
        ctx.platform.start_engine()  # the JVM starts while the first stage (collecting) runs; not joined here
    for stage in selected:
        blocker = next((broken[n] for n in stage.needs if n in broken), None)
        if blocker is not None or stage.name in skip:
            if blocker is not None:
                broken[stage.name] = blocker
            why = f"needs {blocker}, which failed" if blocker is not None else None
            results.append(StageResult(stage.name, "skipped", 0.0, {}, why))
            continue
        if journal is not None and (done := journal.done(stage.name)) is not None:
            ctx.console.print(f"[dim]{stage.name}: done by the interrupted run {journal.run_id} (not run again)[/]")
            results.append(
                StageResult(stage.name, done["status"], 0.0, dict(done.get("summary") or {}), done.get("error"))
            )
            continue
        ctx.console.rule(f"[bold cyan]{stage.name}[/] {stage.description}")
        results.append(_run_one(ctx, stage, journal, broken))
        if journal is not None and results[-1].status != "failed":
            crashpoint(f"run.after_{stage.name}")
    if journal is not None:
        journal.finish()
    return results


def _run_one(ctx: RunContext, stage: Stage, journal: RunJournal | None, broken: dict[str, str]) -> StageResult:
    """One stage, recorded in the journal (when there is one) as started, then with its outcome."""
    start = time.perf_counter()
    scope = journal.stage(stage.name) if journal is not None else contextlib.nullcontext(1)
    with scope as attempt:
        if attempt > 1:
            ctx.console.print(f"[yellow]{stage.name}: resuming after an interrupted attempt (attempt {attempt})[/]")
        try:
            summary = stage.run(ctx) or {}
        except Exception as exc:  # a failed stage is reported, not swallowed: the run exits non-zero
            broken[stage.name] = stage.name
            ctx.console.print_exception(max_frames=8)
            result = StageResult(stage.name, "failed", time.perf_counter() - start, {}, f"{type(exc).__name__}: {exc}")
        else:
            reason = summary.pop(NOT_RUN, None)
            status = "not_run" if reason else "ok"
            result = StageResult(stage.name, status, time.perf_counter() - start, summary, reason)
    if journal is not None:
        journal.record(stage.name, result.status, result.summary, result.seconds, result.error)
    return result


def failed_stages(results: Sequence[StageResult]) -> list[str]:
    """The stages that really failed (what makes ``fin-mlops run`` exit non-zero)."""
    return [r.name for r in results if r.status == "failed"]


def summary_table(results: Sequence[StageResult]) -> DataTable:
    """One row per stage; the summary wraps (a path is folded, never cut) and the table fits the width."""
    colours = {"ok": "green", "not_run": "yellow", "failed": "red", "skipped": "yellow"}
    rows = []
    for r in results:
        figures = ", ".join(f"{k}={_fmt(v)}" for k, v in r.summary.items())
        text = f"{r.error}; {figures}" if r.error and figures else r.error or figures
        rows.append({"stage": r.name, "status": r.status, "seconds": round(r.seconds, 1), "summary": text})
    failed = failed_stages(results)
    columns = [
        Column("stage", "stage", ident=True, style="bold"),
        Column("status", "status", fmt=lambda row: f"[{colours[row['status']]}]{row['status'].replace('_', ' ')}[/]"),
        Column("seconds", "seconds", short="s", justify="right", fmt=lambda row: f"{row['seconds']:.1f}"),
        Column("summary", "summary", wrap=True, fmt=lambda row: escape(row["summary"])),
    ]
    caption = f"[red]failed: {', '.join(failed)}[/]" if failed else "[green]no stage failed[/]"
    return DataTable("stages", columns, rows, title="fin-mlops run", caption=caption)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
