"""Job entry point: export the dashboard metrics (JSON + data.js + page) from the tables.

Databricks runs it as a ``spark_python_task``; it writes to the exports volume.
Locally: ``python scripts/financial/export_dashboard_metrics.py --env dev``.
"""

from __future__ import annotations

import argparse

from financial_transactions.entrypoints import script_platform
from financial_transactions.reporting.export import export_dashboard


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default=None, help="default: the exports volume")
    parser.add_argument("--max-bars", type=int, default=2000, help="latest bars kept per symbol")


def main() -> None:
    args, platform = script_platform("Export dashboard metrics from the lakehouse tables", _extra)
    result = export_dashboard(platform, out_dir=args.out_dir, max_bars_per_symbol=args.max_bars)
    print(f"dashboard: {result.index_html or result.out_dir}")


if __name__ == "__main__":
    main()
