"""``fin-mlops train``: features -> tournament -> validator -> gate, with a leaderboard and the decision."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from financial_transactions.cli.main import console, err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, show


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("deploy-model")(deploy)
    app.command("models")(models)


def models(
    ctx: typer.Context,
    as_json: bool = JSON,
) -> None:
    """Every registered version: aliases, the gate's decision, metrics and dates (what --to-version can target)."""
    import json
    from datetime import UTC, datetime

    from financial_transactions.models.registry import ModelRegistry, RegistryError
    from financial_transactions.monitoring.rollback import gate_decision_of

    platform = platform_from_ctx(ctx)
    try:
        registry = ModelRegistry.from_platform(platform)
        rows = registry.versions() if registry.exists() else []
    except RegistryError as exc:
        err_console.print(f"[red]{exc}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    for row in rows:
        decided = gate_decision_of(platform, row["version"]) or {}
        row["gate_decision"] = None if decided.get("decision") is None else str(decided["decision"])
        row["gate_reason"] = None if decided.get("reason") is None else str(decided["reason"])
        for key in ("created", "updated"):
            ms = row.pop(f"{key}_ms")
            row[key] = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else None
    table = DataTable(
        "versions",
        [
            Column("version", "version", ident=True, justify="right", fmt=lambda r: f"v{r['version']}"),
            Column("aliases", "aliases", fmt=lambda r: escape(", ".join(r["aliases"]) or "-")),
            Column("gate_decision", "gate", wrap=True, fmt=_gate_cell),
            Column("metrics", "metrics", wrap=True, fmt=_metrics_cell),
            Column("created", "created", fmt=lambda r: (r["created"] or "-")[:16].replace("T", " ")),
        ],
        rows,
        title=f"{registry.name} · registered versions",
    )
    if as_json:  # the model's name beside its versions: a script needs both
        print(json.dumps({"model": registry.name, "versions": table.records()}, indent=2, default=str))
        return
    if not rows:
        console.print(f"{registry.name}: no registered version yet (`fin-mlops train` registers one)")
        return
    show([table], as_json)


def _gate_cell(row: dict[str, Any]) -> str:
    gate = row["gate_decision"] or "-"
    return escape(f"{gate} ({row['gate_reason']})" if row["gate_reason"] else gate)


def _metrics_cell(row: dict[str, Any]) -> str:
    return escape(", ".join(f"{k} {v:.3g}" for k, v in sorted(row["metrics"].items())[:4]) or "-")


def train(
    ctx: typer.Context,
    git_sha: str | None = typer.Option(None, "--git-sha", help="provenance tag (default: this checkout's HEAD)"),
    as_json: bool = JSON,
) -> None:
    """Train the four-model tournament, validate the winner, register it and run the champion/challenger gate.

    Exit code 0 when the gate decided (PROMOTE or REJECT), 1 when the winner failed
    validation or the gate failed closed (registry/loading error, alert sent).
    """
    from financial_transactions.models.report import outcome_renderables, outcome_tables
    from financial_transactions.models.training import TrainingFailed, run_training

    platform = platform_from_ctx(ctx)
    cfg = platform.config
    try:
        outcome = run_training(platform, git_sha=git_sha)
    except (TrainingFailed, ValueError) as exc:  # ValueError: data that cannot be split or ranked, with the reason
        err_console.print(f"[bold red]training failed[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    k, fpr = cfg.models.precision_at_k, cfg.models.fixed_fpr
    if as_json:
        show(outcome_tables(outcome, precision_at_k=k, fixed_fpr=fpr), as_json)
    else:
        for renderable in outcome_renderables(outcome, model_name=cfg.model_name, precision_at_k=k, fixed_fpr=fpr):
            console.print(renderable)
    if outcome.status == "validation_failed" or (outcome.decision is not None and outcome.decision.error):
        raise typer.Exit(code=1)


def deploy(
    ctx: typer.Context,
    version: int | None = typer.Option(
        None, "--version", min=1, help="gate this registered version first (default: deploy the current champion)"
    ),
    git_sha: str | None = typer.Option(None, "--git-sha", help="provenance tag for the audit row"),
) -> None:
    """Deploy the champion: optionally gate a version, then load and smoke-score the champion pyfunc."""
    from financial_transactions.models.deployment import DeploymentError, deploy_champion
    from financial_transactions.models.report import decision_panel

    platform = platform_from_ctx(ctx)
    try:
        outcome = deploy_champion(platform, version=version, git_sha=git_sha)
    except DeploymentError as exc:
        err_console.print(f"[bold red]deploy failed[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    if outcome.decision is not None:
        console.print(decision_panel(outcome.decision, platform.config.model_name))
    console.print(outcome.describe())
    if outcome.decision is not None and outcome.decision.error:
        raise typer.Exit(code=1)
