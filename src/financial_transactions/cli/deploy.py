"""``fin-mlops bundle-check``: the Databricks bundle, UC SQL, workflows and secrets policy, checked offline.

The checks live in :mod:`financial_transactions.deploy`, whose dependencies (jsonschema, sqlglot)
come with the ``deploy`` extra, not with the wheel that jobs install: the command imports them
when it runs, and says which extra to install when they are missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from financial_transactions.cli.main import console, err_console

if TYPE_CHECKING:
    from financial_transactions.deploy.findings import BundleCheckReport

#: The third-party packages of the ``deploy`` extra (pyproject.toml).
DEPLOY_EXTRA_MODULES = ("jsonschema", "sqlglot")
MISSING_EXTRA = "bundle-check needs the deploy extra: pip install 'financial-ai-mlops[deploy]'"

_STATUS = {
    "passed": "[green]passed[/]",
    "warned": "[yellow]warnings[/]",
    "failed": "[bold red]FAILED[/]",
    "skipped": "[dim]skipped[/]",
}


def register(app: typer.Typer) -> None:
    app.command("bundle-check")(bundle_check)


def bundle_check(
    root: Path | None = typer.Option(None, "--root", help="project root (default: the folder holding databricks.yml)"),
    schema: Path | None = typer.Option(
        None,
        "--schema",
        envvar="FIN_MLOPS_BUNDLE_SCHEMA",
        help="bundle JSON schema from `databricks bundle schema` (default: ../shared/databricks/bundle_schema.json)",
    ),
    require_schema: bool = typer.Option(False, "--require-schema", help="fail instead of skipping without a schema"),
    require_actionlint: bool = typer.Option(
        False, "--require-actionlint", help="fail instead of skipping when actionlint is not installed"
    ),
    secret_scan: bool = typer.Option(False, "--secret-scan", help="also scan the git tree for secret-like strings"),
    show_warnings: bool = typer.Option(True, "--warnings/--no-warnings", help="list warnings, not only errors"),
) -> None:
    """Validate databricks.yml + resources/*.yml against the bundle schema and the platform's rules, offline."""
    try:
        # lazy: the deploy extra is optional (a job's environment has the wheel without it)
        from financial_transactions.deploy.bundle_check import check_bundle, find_project_root
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in DEPLOY_EXTRA_MODULES:
            raise
        err_console.print(MISSING_EXTRA, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    try:
        project = root.resolve() if root else find_project_root()
    except FileNotFoundError as exc:
        err_console.print(f"[bold red]bundle-check:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    if schema is not None and not schema.is_file():  # a named schema that is not there is an error, never a skip
        err_console.print(
            f"[bold red]bundle-check:[/] schema {escape(str(schema))} (--schema / FIN_MLOPS_BUNDLE_SCHEMA) "
            "is not a file; "
            "generate it with `databricks bundle schema > bundle_schema.json`",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    with console.status("checking the bundle…"):
        report = check_bundle(
            project,
            schema_path=schema,
            require_schema=require_schema,
            require_actionlint=require_actionlint,
            secrets=secret_scan,
        )
    print_report(report, show_warnings=show_warnings)
    if not report.ok:
        raise typer.Exit(code=1)


def print_report(report: BundleCheckReport, *, show_warnings: bool = True) -> None:
    summary = Table(title=f"bundle-check · {report.root}", title_justify="left")
    summary.add_column("check", no_wrap=True)
    summary.add_column("status", no_wrap=True)
    summary.add_column("errors", justify="right")
    summary.add_column("warnings", justify="right")
    summary.add_column("detail", overflow="fold")
    for result in report.results:
        errors = sum(1 for f in result.findings if f.severity == "error")
        warnings = len(result.findings) - errors
        detail = escape(result.skipped or result.title + (f" · {result.detail}" if result.detail else ""))
        summary.add_row(
            result.name,
            _STATUS[result.status],
            str(errors) if errors else "",
            str(warnings) if warnings else "",
            detail,
        )
    console.print(summary)
    shown = [f for f in report.findings if show_warnings or f.severity == "error"]
    if shown:
        table = Table(title="findings", title_justify="left", show_lines=False)
        table.add_column("", no_wrap=True)
        table.add_column("where", overflow="fold")
        table.add_column("message", overflow="fold")
        for finding in shown:
            mark = "[bold red]error[/]" if finding.severity == "error" else "[yellow]warning[/]"
            where = escape(finding.where)
            if finding.path and finding.file:
                where += f"\n[dim]{escape(finding.path)}[/]"
            table.add_row(mark, where, escape(finding.message))
        console.print(table)
    verdict = (
        f"[bold green]bundle OK[/] ({len(report.warnings)} warning(s))"
        if report.ok
        else f"[bold red]{len(report.errors)} error(s)[/], {len(report.warnings)} warning(s)"
    )
    console.print(verdict)
