"""The ``pipeline`` stage of ``fin-mlops run``: an incremental run on the run's platform."""

from __future__ import annotations

from typing import Any

from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.runtime.context import RunContext


def run_stage(ctx: RunContext) -> dict[str, Any]:
    runner = PipelineRunner(ctx.platform, progress=lambda msg: ctx.console.print(f"[dim]{msg}[/]"))
    result = runner.run()
    ctx.state["pipeline"] = result.summary()
    ctx.state["gold_version"] = result.versions.get("gold_trade_features", -1)
    ctx.state["silver_version"] = result.versions.get("silver_trades", -1)
    return result.summary()
