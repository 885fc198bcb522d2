"""Job entry point: export the dashboard metrics (JSON + data.js + page) and the decision report.

Databricks runs it as the last ``spark_python_task`` of ``financial-retraining-workflow``; like
the ``dashboard`` stage of ``fin-mlops run`` (the same :func:`publish`), it writes the dashboard
to the exports volume and ``<date>-decision-report.md`` with its PNG charts to the reports volume.
Locally: ``python scripts/financial/export_dashboard_metrics.py --env dev``.
Exit code 1 when a section failed to export (the files are still written, naming the error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from financial_transactions.entrypoints import script_platform
from financial_transactions.reporting.stage import publish


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default=None, help="default: the exports volume")
    parser.add_argument("--max-bars", type=int, default=2000, help="latest bars kept per symbol")
    parser.add_argument(
        "--reports-dir", default=None, help="default: ./reports locally, the reports volume on Databricks"
    )
    parser.add_argument("--no-report", action="store_true", help="export the dashboard only")


#: The page ships beside this script in the bundle's synced files (the wheel holds only the package).
SITE_DIR = Path(__file__).resolve().parents[2] / "dashboard"


def main() -> int:
    args, platform = script_platform("Export dashboard metrics and the decision report from the tables", _extra)
    published = publish(
        platform,
        out_dir=Path(args.out_dir) if args.out_dir else None,
        reports_dir=Path(args.reports_dir) if args.reports_dir else None,
        report=not args.no_report,
        max_bars_per_symbol=args.max_bars,
        site_dir=SITE_DIR if (SITE_DIR / "index.html").is_file() else None,
    )
    if published.report is not None:
        print(f"decision report: {published.report.markdown}")
    print(f"dashboard: {published.where}")
    if published.errors:
        print(f"sections that failed to export: {', '.join(published.errors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
