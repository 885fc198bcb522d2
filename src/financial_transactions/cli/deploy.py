"""``fin-mlops bundle-check``: the Databricks bundle, UC SQL, workflows and secrets policy, checked offline.

The checks live in :mod:`financial_transactions.deploy`, whose dependencies (jsonschema, sqlglot)
come with the ``deploy`` extra, not with the wheel that jobs install: the command imports them
when it runs, and says which extra to install when they are missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from financial_transactions.cli.main import console, err_console
from financial_transactions.cli.tables import JSON, Column, DataTable, out, show

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
    as_json: bool = JSON,
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
    with out(as_json).status("checking the bundle…"):
        report = check_bundle(
            project,
            schema_path=schema,
            require_schema=require_schema,
            require_actionlint=require_actionlint,
            secrets=secret_scan,
        )
    print_report(report, show_warnings=show_warnings, as_json=as_json)
    if not report.ok:
        raise typer.Exit(code=1)


def print_report(report: BundleCheckReport, *, show_warnings: bool = True, as_json: bool = False) -> None:
    """The checks (one row each), the findings, and the verdict; ``as_json``: the two tables' records only."""
    checks = []
    for result in report.results:
        errors = sum(1 for f in result.findings if f.severity == "error")
        checks.append(
            {
                "check": result.name,
                "status": result.status,
                "errors": errors,
                "warnings": len(result.findings) - errors,
                "detail": result.skipped or result.title + (f" · {result.detail}" if result.detail else ""),
            }
        )
    summary = DataTable(
        "checks",
        [
            Column("check", "check", ident=True),
            Column("status", "status", fmt=lambda r: _STATUS[r["status"]]),
            Column("errors", "errors", short="err", justify="right", fmt=lambda r: str(r["errors"] or "")),
            Column("warnings", "warnings", short="warn", justify="right", fmt=lambda r: str(r["warnings"] or "")),
            Column("detail", "detail", wrap=True),
        ],
        checks,
        title=f"bundle-check · {report.root}",
    )
    shown = [
        {"severity": f.severity, "where": f.where, "path": f.path if f.file else None, "message": f.message}
        for f in report.findings
        if show_warnings or f.severity == "error"
    ]

    def where(row: dict[str, Any]) -> str:
        return escape(row["where"]) + (f"\n[dim]{escape(row['path'])}[/]" if row["path"] else "")

    findings = DataTable(
        "findings",
        [
            Column(
                "severity",
                "",
                fmt=lambda r: "[bold red]error[/]" if r["severity"] == "error" else "[yellow]warning[/]",
            ),
            Column("where", "where", ident=True, fmt=where),
            Column("message", "message", wrap=True),
        ],
        shown,
        title="findings",
    )
    if as_json:
        show([summary, findings], as_json)
        return
    show([summary, findings] if shown else [summary], as_json)
    verdict = (
        f"[bold green]bundle OK[/] ({len(report.warnings)} warning(s))"
        if report.ok
        else f"[bold red]{len(report.errors)} error(s)[/], {len(report.warnings)} warning(s)"
    )
    console.print(verdict)
