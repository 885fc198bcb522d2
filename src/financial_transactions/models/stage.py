"""The ``train`` stage of ``fin-mlops run``: tournament -> validator -> gate, with its tables printed.

Training that cannot run (no data yet, too few labelled positives in a slice, every model
failed) is an expected condition of real data: the stage says why in one line, the current
champion stays, and the run goes on (``not_run`` in the summary, shown on the dashboard).
"""

from __future__ import annotations

from typing import Any

from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.report import outcome_renderables
from financial_transactions.models.training import attempt_training
from financial_transactions.runtime.context import RunContext

#: The summary key that tells ``fin-mlops run`` the stage ran but could not do its work (exit 0).
NOT_RUN = "not_run"


def run_stage(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.platform.config
    attempt = attempt_training(ctx.platform, git_sha=ctx.git_sha)
    if attempt.outcome is None:
        champion = _champion(ctx)
        ctx.console.print(
            f"[yellow]training did not run: {attempt.reason}[/]\n[dim]what to do: {attempt.remedy}; "
            f"the champion stays ({champion})[/]",
            highlight=False,
        )
        return {NOT_RUN: attempt.reason, "champion": champion, "label_sources": attempt.label_sources or {}}
    for renderable in outcome_renderables(
        attempt.outcome,
        model_name=cfg.model_name,
        precision_at_k=cfg.models.precision_at_k,
        fixed_fpr=cfg.models.fixed_fpr,
    ):
        ctx.console.print(renderable)
    summary = attempt.outcome.summary()
    summary["label_sources"] = attempt.label_sources or {}
    recall = attempt.recall_by_type or {}
    for source in ("injected", "ground_truth"):
        if recall.get(source):
            per = ", ".join(f"{k} {v['flagged']}/{v['bars']} ({v['recall']:.2f})" for k, v in recall[source].items())
            ctx.console.print(f"champion v{recall['model_version']} held-out recall on {source} anomalies: {per}")
            summary[f"{source}_recall"] = {k: v["recall"] for k, v in recall[source].items()}
    return summary


def _champion(ctx: RunContext) -> str:
    """``v<N>`` of the current champion, or ``none yet``; a registry that cannot be asked says so."""
    try:
        registry = ModelRegistry.from_platform(ctx.platform)
        version = registry.champion_version() if registry.exists() else None
    except Exception as exc:  # the registry's state is informative here, not the stage's result
        return f"unknown ({type(exc).__name__})"
    return f"v{version}" if version is not None else "none yet"
