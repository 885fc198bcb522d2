"""The ``train`` stage of ``fin-mlops run``: tournament -> validator -> gate, with its tables printed."""

from __future__ import annotations

from typing import Any

from financial_transactions.models.report import outcome_renderables
from financial_transactions.models.training import run_training
from financial_transactions.runtime.context import RunContext


def run_stage(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.platform.config
    outcome = run_training(ctx.platform, git_sha=ctx.git_sha)
    for renderable in outcome_renderables(
        outcome, model_name=cfg.model_name, precision_at_k=cfg.models.precision_at_k, fixed_fpr=cfg.models.fixed_fpr
    ):
        ctx.console.print(renderable)
    return outcome.summary()
