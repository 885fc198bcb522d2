"""The ``pipeline`` stage of ``fin-mlops run``: an incremental run on the run's platform."""

from __future__ import annotations

from typing import Any

from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.runtime.context import RunContext


def run_stage(ctx: RunContext) -> dict[str, Any]:
    runner = PipelineRunner(ctx.platform, progress=lambda msg: ctx.console.print(f"[dim]{msg}[/]"))
    return runner.run().summary()
