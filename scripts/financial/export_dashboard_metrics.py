"""Job entry point: export the dashboard metrics (JSON + data.js + page) from the tables.

Databricks runs it as a ``spark_python_task``; it writes to the exports volume.
Locally: ``python scripts/financial/export_dashboard_metrics.py --env dev``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from financial_transactions.entrypoints import script_platform
from financial_transactions.reporting.export import export_dashboard


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default=None, help="default: the exports volume")
    parser.add_argument("--max-bars", type=int, default=2000, help="latest bars kept per symbol")


#: The page ships beside this script in the bundle's synced files (the wheel holds only the package).
SITE_DIR = Path(__file__).resolve().parents[2] / "dashboard"


def main() -> None:
    args, platform = script_platform("Export dashboard metrics from the lakehouse tables", _extra)
    result = export_dashboard(
        platform,
        out_dir=Path(args.out_dir) if args.out_dir else None,
        max_bars_per_symbol=args.max_bars,
        site_dir=SITE_DIR if (SITE_DIR / "index.html").is_file() else None,
    )
    print(f"dashboard: {result.index_html or result.out_dir}")


if __name__ == "__main__":
    main()
