"""``fin-mlops drift`` and ``fin-mlops rollback``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import typer
from rich.markup import escape

from financial_transactions.cli.main import err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, out, show


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
    app.command("rollback")(rollback)


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        err_console.print(f"[red]{option} must be an ISO timestamp (e.g. 2026-03-09T14:30:00Z), got {value!r}[/]")
        raise typer.Exit(code=2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def drift(
    ctx: typer.Context,
    reference_window: int = typer.Option(1, "--reference-window", min=1, max=1000, help="replay window (reference)"),
    current_window: int = typer.Option(2, "--current-window", min=1, max=1000, help="replay window (current)"),
    recent: bool = typer.Option(
        False, "--recent", help="latest drift.current_hours vs the drift.reference_hours before (production mode)"
    ),
    reference_start: str | None = typer.Option(None, "--reference-start", help="ISO time, overrides the window"),
    reference_end: str | None = typer.Option(None, "--reference-end", help="ISO time (exclusive)"),
    current_start: str | None = typer.Option(None, "--current-start", help="ISO time, overrides the window"),
    current_end: str | None = typer.Option(None, "--current-end", help="ISO time (exclusive)"),
    reference_version: int | None = typer.Option(
        None, "--reference-version", min=0, help="Delta version (time travel)"
    ),
    current_version: int | None = typer.Option(None, "--current-version", min=0, help="Delta version (time travel)"),
    trigger: bool = typer.Option(True, "--trigger/--no-trigger", help="let the retraining trigger decide"),
    launch: bool = typer.Option(True, "--launch/--no-launch", help="run retraining when triggered"),
    record: bool | None = typer.Option(
        None,
        "--record/--no-record",
        help="write monitoring rows and send alerts (default: only with --trigger; --no-trigger is a diagnostic run)",
    ),
    as_json: bool = JSON,
) -> None:
    """PSI/JS per feature, the champion's performance, and the retraining trigger's decision."""
    from financial_transactions.lakehouse import TableNotFound
    from financial_transactions.monitoring.cycle import (
        all_ground_truth,
        ground_truth_path,
        recent_windows,
        replay_window,
        run_cycle,
    )
    from financial_transactions.monitoring.render import drift_table, print_decisions

    platform = platform_from_ctx(ctx)
    try:
        if recent:
            reference, current = recent_windows(platform)
            truth = all_ground_truth(platform)
        else:
            reference = replay_window(platform, reference_window)
            current = replay_window(platform, current_window)
            truth = [ground_truth_path(platform, current_window)]
        reference = replace(
            reference,
            start=_when(reference_start, "--reference-start") or reference.start,
            end=_when(reference_end, "--reference-end") or reference.end,
            version=reference_version,
        )
        current = replace(
            current,
            start=_when(current_start, "--current-start") or current.start,
            end=_when(current_end, "--current-end") or current.end,
            version=current_version,
        )
        keep = trigger if record is None else record
        cycle = run_cycle(platform, reference, current, ground_truth=truth, trigger=trigger, launch=launch, record=keep)
    except (ValueError, LookupError) as exc:
        err_console.print(f"[bold red]drift:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except TableNotFound as exc:  # a --reference/--current-version the table never had, or no table yet
        hint = (
            " (list the versions with `fin-mlops tables history <table>`)"
            if reference_version is not None or current_version is not None
            else ""
        )
        err_console.print(f"[bold red]drift:[/] {escape(str(exc))}{hint}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    show([drift_table(cycle.drift)], as_json)
    print_decisions(out(as_json), cycle)
    if not keep:
        out(as_json).print("[dim]diagnostic run: nothing recorded, no alert sent (--record to keep it)[/]")


def rollback(
    ctx: typer.Context,
    to_version: int | None = typer.Option(None, "--to-version", help="roll back to this version (default: previous)"),
    restore_features: bool = typer.Option(
        False, "--restore-features", help="also RESTORE the feature tables to the versions the target was trained on"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the plan, change nothing"),
    reason: str | None = typer.Option(None, "--reason", help="why (kept in rollback_audit)"),
    force: bool = typer.Option(False, "--force", help="roll back to a version the gate rejected, after the warning"),
    as_json: bool = JSON,
) -> None:
    """Re-point champion to the previous champion (or --to-version N), optionally restoring feature tables."""
    from financial_transactions.monitoring.rollback import ModelRollback, RollbackFailed, RollbackRefused

    platform = platform_from_ctx(ctx)
    try:
        result = ModelRollback(platform).run(
            to_version, restore_features=restore_features, dry_run=dry_run, reason=reason, force=force
        )
    except RollbackRefused as exc:
        err_console.print(f"[bold red]rollback refused:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except RollbackFailed as exc:
        err_console.print(f"[bold red]rollback failed:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    steps = result.plan.describe()
    plan = DataTable(
        "plan",
        [Column("step", "step", wrap=True)],
        [{"step": line, "warning": line.startswith("WARNING")} for line in steps],
        title=f"rollback plan · env {platform.config.env}" + (" · DRY RUN" if dry_run else ""),
        row_styles=["yellow" if line.startswith("WARNING") else None for line in steps],
    )
    outcome = [] if dry_run else [
        {"rollback_id": result.rollback_id, "status": result.status, "serving": str(result.serving)}
    ]  # fmt: skip
    show([plan, DataTable("result", [], outcome)] if as_json else [plan], as_json)
    console = out(as_json)
    if dry_run:
        console.print("dry run: nothing changed", highlight=False, soft_wrap=True)
        return
    if not as_json:
        console.print(f"rollback {result.rollback_id}: {result.status}", highlight=False, soft_wrap=True)
        console.print(f"serving: {result.serving}", highlight=False, soft_wrap=True, markup=False)
    if result.serving_failed:
        raise typer.Exit(code=1)
