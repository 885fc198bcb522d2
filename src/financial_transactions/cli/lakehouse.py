"""``fin-mlops tables show|history``: read a lakehouse table or its Delta history from the command line.

The local half of the RUNBOOK's SQL: every "verify" step that reads a table on
Databricks (``SELECT … FROM rollback_audit ORDER BY rolled_back_at DESC LIMIT 3``,
``DESCRIBE HISTORY … trade_features``) has the same read here, through the
platform's store, so the embedded engine and Databricks answer the same question.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from financial_transactions.cli.main import err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, out, show
from financial_transactions.runtime import Platform

tables_app = typer.Typer(
    name="tables",
    help="Read a lakehouse table (show) or its Delta history (history), like SELECT / DESCRIBE HISTORY.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(tables_app, name="tables")


def _refuse(message: str) -> typer.Exit:
    """An expected problem (unknown key, table not created, bad option): one line, exit 2."""
    err_console.print(f"[bold red]tables:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _fqn(platform: Platform, key: str, *, must_exist: bool = True) -> str:
    """The table's full name from its key in ``tables:`` (``trade_features``) or its full name."""
    cfg = platform.config
    keys = list(type(cfg.tables).model_fields)
    if key in keys:
        fqn = cfg.table(key)
    elif key in {cfg.table(k) for k in keys}:
        fqn = key
    else:
        raise _refuse(f"no table {key!r} in {cfg.source_path} (tables: {', '.join(keys)})")
    if must_exist and not platform.store.exists(fqn):
        raise _refuse(f"{fqn} does not exist yet (fin-mlops info lists the tables and their versions)")
    return fqn


def _cell(value: Any) -> Any:
    """JSON-ready cell: lists/dicts/arrays as compact JSON text, missing values as None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, sort_keys=True)
    try:
        if value is None or value != value:  # NaN / NaT / NA
            return None
    except (TypeError, ValueError):  # pd.NA compares ambiguously
        return None
    return value


def _where(filters: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in filters:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise _refuse(f"--where {item!r}: expected COLUMN=VALUE")
        out.append((column.strip(), value))
    return out


@tables_app.command("show")
def show_table(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="table key (trade_features, rollback_audit, …) or its full name"),
    columns: str | None = typer.Option(None, "--columns", help="comma-separated columns to show (default: all)"),
    where: list[str] = typer.Option([], "--where", help="COLUMN=VALUE (compared as text); repeat to AND"),
    sort: str | None = typer.Option(
        None, "--sort", help="comma-separated columns, each descending (ORDER BY a DESC, b DESC)"
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=100_000, help="rows to print (after --sort)"),
    version: int | None = typer.Option(None, "--version", min=0, help="Delta version to read (time travel)"),
    as_json: bool = JSON,
) -> None:
    """Print a table's rows, like SELECT … WHERE … ORDER BY … DESC LIMIT n."""
    platform = platform_from_ctx(ctx)
    fqn = _fqn(platform, key, must_exist=False)
    if not platform.store.exists(fqn):  # a configured table nothing has written yet: no rows is the answer
        out(as_json).print(f"{fqn} does not exist yet: no rows", highlight=False, soft_wrap=True)
        if as_json:
            show([DataTable("rows", [], [])], as_json)
        return
    frame = platform.store.read(fqn, version=version)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else list(frame.columns)
    filters = _where(where)
    order = [c.strip() for c in sort.split(",") if c.strip()] if sort else []
    named = wanted + [c for c, _ in filters] + order
    unknown = [c for c in named if c not in frame.columns]
    if unknown:
        raise _refuse(f"{fqn} has no column {', '.join(map(repr, unknown))} (columns: {', '.join(frame.columns)})")
    for column, value in filters:
        frame = frame[frame[column].astype(str) == value]
    if order:
        frame = frame.sort_values(order, ascending=False, kind="stable", na_position="last")
    total = len(frame)
    rows = [{c: _cell(v) for c, v in zip(wanted, values, strict=True)} for values in frame[wanted].head(limit).values]
    table = DataTable(
        "rows",
        [Column(c, c, ident=i == 0, wrap=i > 0) for i, c in enumerate(wanted)],
        rows,
        title=f"{fqn}" + (f" @ v{version}" if version is not None else ""),
        caption=f"{len(rows)} of {total} row(s)",
    )
    show([table], as_json)


@tables_app.command("history")
def history(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="table key (trade_features, rollback_audit, …) or its full name"),
    limit: int = typer.Option(10, "--limit", min=1, max=100_000, help="commits to print, newest first"),
    as_json: bool = JSON,
) -> None:
    """Print a table's Delta commits, newest first, like DESCRIBE HISTORY (a rollback's RESTORE shows here)."""
    platform = platform_from_ctx(ctx)
    fqn = _fqn(platform, key)
    rows = [
        {
            "version": entry["version"],
            "timestamp": entry["timestamp"],
            "operation": entry["operation"],
            "parameters": json.dumps(entry.get("parameters") or {}, default=str, sort_keys=True),
        }
        for entry in platform.store.history(fqn)[:limit]
    ]
    table = DataTable(
        "history",
        [
            Column("version", "version", ident=True, justify="right"),
            Column("timestamp", "timestamp", fmt=lambda r: escape(str(r["timestamp"])[:19])),
            Column("operation", "operation"),
            Column("parameters", "parameters", wrap=True),
        ],
        rows,
        title=f"{fqn} · Delta history",
    )
    show([table], as_json)
