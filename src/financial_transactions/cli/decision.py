"""``fin-mlops backtest`` and ``fin-mlops decide``."""

from __future__ import annotations

import typer
from rich.markup import escape

from financial_transactions.cli.main import err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, out, show


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
    app.command("decide")(decide)


def backtest(
    ctx: typer.Context,
    as_of_version: int | None = typer.Option(
        None, "--as-of-version", min=0, help="evaluate the predictions of this Delta version of synthesized_predictions"
    ),
    as_of_timestamp: str | None = typer.Option(
        None, "--as-of-timestamp", help="evaluate the predictions (and gold bars) as of this ISO-8601 instant (UTC)"
    ),
    strategy: list[str] | None = typer.Option(
        None, "--strategy", "-s", help="sma_cross, macd or model (repeatable; default: backtest.strategies)"
    ),
    mode: str | None = typer.Option(None, "--mode", help="long_flat or long_short (default: backtest.mode)"),
    score: bool = typer.Option(
        True, "--score/--no-score", help="append the champion's predictions for new gold rows first (latest runs only)"
    ),
    write: bool = typer.Option(True, "--write/--no-write", help="append the results to backtest_results"),
    as_json: bool = JSON,
) -> None:
    """Backtest the configured strategies per symbol; --as-of-* replays the predictions that existed then."""
    from financial_transactions.decision.backtester import Backtester
    from financial_transactions.decision.predictions import NoChampion, synthesize_predictions
    from financial_transactions.decision.render import backtest_table
    from financial_transactions.lakehouse.errors import LakehouseError
    from financial_transactions.models.registry import RegistryError

    if as_of_version is not None and as_of_timestamp is not None:
        err_console.print("[red]give --as-of-version or --as-of-timestamp, not both[/]")
        raise typer.Exit(code=2)
    valid = {"sma_cross", "macd", "model"}
    bad = [s for s in strategy or [] if s not in valid]
    if bad or (mode is not None and mode not in ("long_flat", "long_short")):
        err_console.print(f"[red]unknown strategy {bad} or mode {mode!r}; strategies: {sorted(valid)}[/]")
        raise typer.Exit(code=2)
    if as_of_timestamp is not None:
        import pandas as pd

        try:
            pd.Timestamp(as_of_timestamp)
        except ValueError:
            err_console.print(f"[red]--as-of-timestamp is not an ISO-8601 instant: {as_of_timestamp!r}[/]")
            raise typer.Exit(code=2) from None
    platform = platform_from_ctx(ctx)
    console = out(as_json)
    if score and as_of_version is None and as_of_timestamp is None:
        try:
            run = synthesize_predictions(platform)
            console.print(
                f"champion v{run.model_version}: {run.rows_scored} new predictions "
                f"({run.rows_flagged} flagged) -> synthesized_predictions v{run.table_version}"
            )
        except NoChampion as exc:
            console.print(f"[yellow]{exc}; the model strategy is skipped[/]")
        except (LakehouseError, RegistryError) as exc:
            err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
            raise typer.Exit(code=1) from None
    backtester = Backtester(platform)
    try:
        report = backtester.run(
            as_of_version=as_of_version,
            as_of_timestamp=as_of_timestamp,
            strategies=strategy or None,  # type: ignore[arg-type]
            mode=mode,
        )
    except (LakehouseError, ValueError) as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=1) from None
    criterion = platform.config.decision.criteria.get("backtest")
    show([backtest_table(report, criterion, cagr_min_years=platform.config.backtest.cagr_min_years)], as_json)
    for skip in report.skipped:
        console.print(f"[dim]skipped {skip['symbol']} {skip['strategy']}: {skip['reason']}[/]")
    if write:
        version = backtester.write(report)
        replay = "; a replay of the past: the decision matrix keeps reading the latest current run"
        kind = report.inputs.run_kind
        console.print(f"backtest_results v{version} (run {report.run_id}, {kind}{replay if kind == 'as_of' else ''})")


def decide(
    ctx: typer.Context,
    write: bool = typer.Option(True, "--write/--no-write", help="append the matrix to the decision_matrix table"),
    as_json: bool = JSON,
) -> None:
    """Score every symbol on the configured criteria and print the coloured, ranked decision matrix."""
    from financial_transactions.decision.decision_matrix import DecisionMatrix
    from financial_transactions.decision.render import decision_table

    platform = platform_from_ctx(ctx)
    console = out(as_json)
    dm = DecisionMatrix(platform)
    result = dm.build()
    show([decision_table(result.matrix, list(platform.config.decision.normalized_weights()))], as_json)
    read = ", ".join(f"{k} v{v}" for k, v in result.sources.items() if v is not None) or "no tables yet"
    console.print(f"[dim]read: {read}; missing policy: {platform.config.decision.missing_policy}[/]")
    if write:
        version = dm.write(result)
        console.print(f"decision_matrix v{version} (run {result.run_id})")
