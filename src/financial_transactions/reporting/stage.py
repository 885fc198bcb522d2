"""The ``dashboard`` stage: the last stage of ``fin-mlops run``.

It exports the dashboard data from the tables the earlier stages wrote, writes
the markdown decision report, and prints where the page is so a user can open it.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.orchestration import RunContext
from financial_transactions.reporting.export import export_dashboard
from financial_transactions.reporting.report import default_reports_dir, write_report


def run_stage(ctx: RunContext) -> dict[str, Any]:
    result = export_dashboard(ctx.platform)
    statuses = result.section_statuses
    with_data = sum(1 for s in statuses.values() if s == "ok")
    problems = sorted(k for k, s in statuses.items() if s in ("missing", "error"))
    report = write_report(ctx.platform, default_reports_dir(ctx.platform), documents=result.documents)
    ctx.state["dashboard_path"] = str(result.index_html or result.out_dir)
    ctx.state["report_path"] = str(report.markdown)
    if problems:
        ctx.console.print(f"[yellow]dashboard sections without data:[/] {', '.join(problems)}", highlight=False)
    ctx.console.print(f"decision report: {report.markdown}", markup=False, highlight=False)
    where = result.index_html or result.out_dir
    ctx.console.print(f"dashboard: {where}", markup=False, highlight=False, soft_wrap=True)
    return {
        "sections_with_data": f"{with_data}/{len(statuses)}",
        "report": report.markdown.name,
        "dashboard": str(where),
    }
