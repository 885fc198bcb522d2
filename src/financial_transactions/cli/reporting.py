"""``fin-mlops dashboard`` and ``fin-mlops report``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from financial_transactions.cli.main import console, err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, show


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
    app.command("report")(report)


_STATUS_STYLE = {"ok": "green", "empty": "yellow", "missing": "dim", "error": "bold red"}


def dashboard(
    ctx: typer.Context,
    out_dir: Path | None = typer.Option(None, "--out-dir", help="where to write (default: the exports volume)"),
    max_bars: int = typer.Option(2000, "--max-bars", min=10, max=1_000_000, help="latest bars kept per symbol"),
    top_anomalies: int = typer.Option(25, "--top-anomalies", min=1, max=10_000, help="rows in the anomaly table"),
    as_json: bool = JSON,
) -> None:
    """Export the dashboard's JSON (+ data.js and the static page) from the tables, and print its path."""
    from financial_transactions.reporting.export import export_dashboard

    platform = platform_from_ctx(ctx)
    result = export_dashboard(platform, out_dir=out_dir, max_bars_per_symbol=max_bars, top_anomalies=top_anomalies)
    rows = [
        {"file": f"{kind}.json", "section": name, "status": section["status"], "note": section["message"]}
        for kind, doc in result.documents.items()
        for name, section in doc["sections"].items()
    ]
    table = DataTable(
        "sections",
        [
            Column("file", "file", ident=True),
            Column("section", "section", ident=True),
            Column("status", "status", fmt=lambda r: f"[{_STATUS_STYLE.get(r['status'], 'white')}]{r['status']}[/]"),
            Column("note", "note", wrap=True),
        ],
        rows,
        title=f"dashboard export · env {platform.config.env}",
    )
    where = str(result.index_html or result.out_dir)
    show([table, DataTable("dashboard", [], [{"path": where}])] if as_json else [table], as_json)
    errors = [k for k, s in result.section_statuses.items() if s == "error"]
    if errors:
        err_console.print(f"[red]sections that failed to export: {', '.join(errors)} (see the log above)[/]")
    if result.index_html is None:
        err_console.print("[yellow]dashboard/ page not found next to the package; wrote the data files only[/]")
    if not as_json:
        console.print(f"dashboard: {where}", markup=False, highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(code=1)


def report(
    ctx: typer.Context,
    out_dir: Path | None = typer.Option(
        None,
        "--out-dir",
        help="default: the lakehouse's reports volume (<lakehouse root>/Volumes/<catalog>/<schema>/reports)",
    ),
    report_date: str | None = typer.Option(None, "--date", help="date in the file name, YYYY-MM-DD (default: today)"),
) -> None:
    """Write <date>-decision-report.md with PNG charts, from the tables, into the lakehouse's reports volume."""
    from financial_transactions.reporting.report import default_reports_dir, write_report

    platform = platform_from_ctx(ctx)
    when: date | None = None
    if report_date is not None:
        try:
            when = date.fromisoformat(report_date)
        except ValueError:
            err_console.print(f"[red]--date must be YYYY-MM-DD, got {report_date!r}[/]")
            raise typer.Exit(code=2) from None
    target = out_dir if out_dir is not None else default_reports_dir(platform)
    result = write_report(platform, target, report_date=when)
    for chart in result.charts:
        console.print(f"chart: {chart}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {result.markdown}", markup=False, highlight=False, soft_wrap=True)
