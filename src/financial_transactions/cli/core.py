"""``fin-mlops info`` and ``fin-mlops run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from financial_transactions.cli.main import console, err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, key_value_table, show
from financial_transactions.runtime import NotOnThisRuntime, Platform


def register(app: typer.Typer) -> None:
    app.command("info")(info)
    app.command("run")(run)


def info(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Show the resolved config, engine, lakehouse root, registry and tables."""
    platform = platform_from_ctx(ctx)
    show([_settings_table(platform), _tables_table(platform)], as_json)


def _settings_table(platform: Platform) -> DataTable:
    cfg = platform.config
    rows = [
        ("config file", str(cfg.source_path)),
        ("config hash", cfg.config_hash),
        ("catalog.schema", f"{cfg.catalog}.{cfg.schema_name}"),
        ("engine", platform.engine),
        ("lakehouse root", str(platform.lakehouse_root)),
        ("landing", str(platform.paths.landing)),
        ("checkpoints", str(platform.paths.checkpoints)),
        ("reports", str(platform.reports_dir)),
        ("MLflow tracking", platform.mlflow.tracking_uri),
        ("MLflow registry", platform.mlflow.registry_uri),
        ("registered model", cfg.model_name),
        ("symbols", ", ".join(cfg.symbols.all)),
        ("Finnhub", cfg.collectors.finnhub.ws_url),
        ("Alpha Vantage", cfg.collectors.alphavantage.base_url),
        ("crypto stream", cfg.collectors.crypto.ws_url),
    ]
    return key_value_table("settings", rows, key="setting", title=f"financial-ai-mlops · env {cfg.env}")


def _tables_table(platform: Platform) -> DataTable:
    cfg = platform.config
    rows = []
    for key in type(cfg.tables).model_fields:
        fqn = cfg.table(key)
        exists = platform.store.exists(fqn)
        rows.append(
            {
                "key": key,
                "table": fqn,
                "rows": platform.store.count(fqn) if exists else None,
                "version": platform.store.version(fqn) if exists else None,
            }
        )
    columns = [
        Column("key", "key", ident=True),
        Column("table", "table", fmt=lambda r: escape(r["table"].split(".")[-1])),
        Column("rows", "rows", justify="right", fmt=lambda r: "[dim]-[/]" if r["rows"] is None else f"{r['rows']:,}"),
        Column(
            "version",
            "version",
            justify="right",
            fmt=lambda r: "[dim]-[/]" if r["version"] is None else str(r["version"]),
        ),
    ]
    return DataTable(
        "tables",
        columns,
        rows,
        title=f"tables in {cfg.catalog}.{cfg.schema_name}",
        caption="- = not created yet" if any(r["version"] is None for r in rows) else None,
    )


def user_file_updates(
    csv: Path | None, parquet: Path | None, kind: str | None, symbol: str | None, asset_class: str | None
) -> dict[str, Any]:
    """``replay`` settings for ``--csv/--parquet PATH [--kind] [--symbol] [--asset-class]``; errors exit 2."""
    if csv is not None and parquet is not None:
        err_console.print("[red]give --csv or --parquet, not both[/]")
        raise typer.Exit(code=2)
    path = csv or parquet
    if path is None:
        if kind or symbol or asset_class:
            err_console.print("[red]--kind, --symbol and --asset-class describe a --csv/--parquet file[/]")
            raise typer.Exit(code=2)
        return {}
    if not path.is_file():
        err_console.print(f"[red]{path}: no such file[/]")
        raise typer.Exit(code=2)
    updates: dict[str, Any] = {"csv_path": str(path.resolve())}
    for key, value in (("csv_kind", kind), ("csv_symbol", symbol), ("csv_asset_class", asset_class)):
        if value is not None:
            updates[key] = value
    return updates


def with_replay_updates(platform: Platform, updates: dict[str, Any]) -> Platform:
    """The platform with its config's ``replay`` section updated (validated: bad values exit 2)."""
    if not updates:
        return platform
    cfg = platform.config
    try:
        replay = type(cfg.replay).model_validate({**cfg.replay.model_dump(), **updates})
    except ValueError as exc:
        err_console.print(f"[red]replay settings: {exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None
    platform.config = cfg.model_copy(update={"replay": replay})
    return platform


def run(
    ctx: typer.Context,
    only: list[str] = typer.Option([], "--only", help="run just these stages (repeatable)"),
    skip: list[str] = typer.Option([], "--skip", help="skip these stages (repeatable)"),
    fresh: bool = typer.Option(False, "--fresh", help="delete this env's local lakehouse first (embedded engine only)"),
    csv: Path | None = typer.Option(None, "--csv", help="run on this CSV of trades or OHLCV bars instead"),
    parquet: Path | None = typer.Option(None, "--parquet", help="run on this Parquet file of trades or bars"),
    kind: str | None = typer.Option(None, "--kind", help="trades, bars or auto (default: by the columns)"),
    symbol: str | None = typer.Option(None, "--symbol", help="the instrument of a file without a symbol column"),
    asset_class: str | None = typer.Option(None, "--asset-class", help="equity, crypto or future for every symbol"),
) -> None:
    """Run every stage end to end: replay, ingest, pipeline, train, drift, backtest, decide, dashboard."""
    from financial_transactions.orchestration import STAGES, failed_stages, run_stages, summary_table
    from financial_transactions.runtime.context import RunContext
    from financial_transactions.runtime.crashpoints import check_target
    from financial_transactions.runtime.journal import RunJournal, fingerprint

    try:
        check_target()
    except ValueError as exc:
        err_console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None

    platform = with_replay_updates(platform_from_ctx(ctx), user_file_updates(csv, parquet, kind, symbol, asset_class))
    if fresh:
        try:
            platform.runtime.reset_lakehouse(platform.lakehouse_root)
        except NotOnThisRuntime:
            err_console.print("[red]--fresh only applies to the embedded engine[/]")
            raise typer.Exit(code=2) from None
        console.print(f"[dim]fresh lakehouse at {platform.lakehouse_root}[/]")
    unknown = sorted(set(only) | set(skip) - {s.name for s in STAGES})
    if unknown:
        err_console.print(
            f"[red]unknown stage(s): {', '.join(unknown)}; stages: {', '.join(s.name for s in STAGES)}[/]"
        )
        raise typer.Exit(code=2)
    run_ctx = RunContext(platform=platform, console=console)
    journal = RunJournal.open(
        platform.paths.run_journal,
        fingerprint(platform.config.config_hash, platform.config.replay.model_dump(mode="json"), only, skip),
    )
    if journal.resumed:
        done = [name for name in journal.stages if journal.done(name)]
        console.print(
            f"[yellow]resuming the interrupted run {journal.run_id}: done {', '.join(done) or 'nothing yet'}; "
            f"interrupted in {', '.join(journal.interrupted()) or 'no stage'}[/]",
            highlight=False,
        )
    results = run_stages(run_ctx, only=only or None, skip=skip, journal=journal)
    console.print(summary_table(results))
    failed = failed_stages(results)
    if failed:
        err_console.print(f"[red]failed: {', '.join(failed)}[/]")
        raise typer.Exit(code=1)
