"""The ``dashboard`` stage: the last stage of ``fin-mlops run``.

It exports the dashboard data from the tables the earlier stages wrote, writes
the markdown decision report, and prints where the page is so a user can open it.
``scripts/financial/export_dashboard_metrics.py`` (the Databricks task) calls
:func:`publish` too, so both engines publish the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from financial_transactions.reporting.export import ExportResult, export_dashboard
from financial_transactions.reporting.report import ReportResult, default_reports_dir, write_report
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext


@dataclass(frozen=True)
class Published:
    export: ExportResult
    report: ReportResult | None

    @property
    def where(self) -> Path:
        return self.export.index_html or self.export.out_dir

    @property
    def errors(self) -> list[str]:
        """Sections that failed to export (their files still say why)."""
        return sorted(k for k, s in self.export.section_statuses.items() if s == "error")


def publish(
    platform: Platform,
    *,
    out_dir: Path | None = None,
    reports_dir: Path | None = None,
    report: bool = True,
    max_bars_per_symbol: int = 2000,
    site_dir: Path | None = None,
) -> Published:
    """Dashboard export (exports volume by default) + decision report (the reports volume of the lakehouse)."""
    result = export_dashboard(platform, out_dir=out_dir, max_bars_per_symbol=max_bars_per_symbol, site_dir=site_dir)
    written = None
    if report:
        target = reports_dir if reports_dir is not None else default_reports_dir(platform)
        written = write_report(platform, target, documents=result.documents)
    return Published(result, written)


def run_stage(ctx: RunContext) -> dict[str, Any]:
    published = publish(ctx.platform)
    result, report = published.export, published.report
    statuses = result.section_statuses
    with_data = sum(1 for s in statuses.values() if s == "ok")
    problems = sorted(k for k, s in statuses.items() if s in ("missing", "error"))
    if problems:
        ctx.console.print(f"[yellow]dashboard sections without data:[/] {', '.join(problems)}", highlight=False)
    if report is not None:
        ctx.console.print(f"decision report: {report.markdown}", markup=False, highlight=False)
    ctx.console.print(f"dashboard: {published.where}", markup=False, highlight=False, soft_wrap=True)
    return {
        "sections_with_data": f"{with_data}/{len(statuses)}",
        "report": report.markdown.name if report is not None else None,
        "dashboard": str(published.where),
    }
