"""``fin-mlops train``: features -> tournament -> validator -> gate, with a leaderboard and the decision."""

from __future__ import annotations

import typer

from financial_transactions.cli.main import console, err_console, platform_from_ctx


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("deploy-model")(deploy)


def train(
    ctx: typer.Context,
    git_sha: str | None = typer.Option(None, "--git-sha", help="provenance tag (default: this checkout's HEAD)"),
) -> None:
    """Train the four-model tournament, validate the winner, register it and run the champion/challenger gate.

    Exit code 0 when the gate decided (PROMOTE or REJECT), 1 when the winner failed
    validation or the gate failed closed (registry/loading error, alert sent).
    """
    from financial_transactions.models.report import outcome_renderables
    from financial_transactions.models.training import TrainingFailed, run_training

    platform = platform_from_ctx(ctx)
    cfg = platform.config
    try:
        outcome = run_training(platform, git_sha=git_sha)
    except (TrainingFailed, ValueError) as exc:  # ValueError: data that cannot be split or ranked, with the reason
        err_console.print(f"[bold red]training failed[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    for renderable in outcome_renderables(
        outcome, model_name=cfg.model_name, precision_at_k=cfg.models.precision_at_k, fixed_fpr=cfg.models.fixed_fpr
    ):
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
