"""The ``dashboard`` stage: the last stage of ``fin-mlops run``.

It exports the dashboard data from the tables the earlier stages wrote, writes
the markdown decision report, and prints where the page is so a user can open it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from financial_transactions.orchestration import RunContext
from financial_transactions.reporting.export import export_dashboard, write_json
from financial_transactions.reporting.frames import iso
from financial_transactions.reporting.report import default_reports_dir, write_report

#: ``ctx.state`` keys under which the ingest stage may hand over its collectors' counters.
COUNTER_KEYS = ("collector_counters", "ingest_counters")


def persist_collector_counters(ctx: RunContext) -> Path | None:
    """Keep the ingest stage's in-memory collector counters as a stats file the export reads."""
    counters = next((ctx.state[k] for k in COUNTER_KEYS if ctx.state.get(k)), None)
    if counters is None:
        return None
    rows: list[dict[str, Any]] = []
    if isinstance(counters, list):
        rows = [dict(r) for r in counters if isinstance(r, dict)]
    elif isinstance(counters, dict):
        for name, value in counters.items():
            rows.append(
                {"collector": name, **value} if isinstance(value, dict) else {"collector": name, "value": value}
            )
    folder = Path(ctx.platform.paths.state_dir) / "collector_stats"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"run-{stamp}.json"
    write_json(path, {"collectors": [{**r, "recorded_at": iso(datetime.now(tz=UTC))} for r in rows]})
    return path


def run_stage(ctx: RunContext) -> dict[str, Any]:
    persist_collector_counters(ctx)
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
