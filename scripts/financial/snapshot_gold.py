"""Job entry point: the job-owned snapshot of gold that the other jobs pin versions of.

Databricks runs it in ``financial-api-ingestion-workflow`` right after the pipeline refresh: it
merges the pipeline's materialized view ``gold_trade_features_mv`` into the Delta table
``gold_trade_features`` (a materialized view has no time travel, the jobs need it;
``financial_transactions.pipeline.snapshot``). Locally the embedded runner writes
``gold_trade_features`` itself, so ``python scripts/financial/snapshot_gold.py --env dev`` only
reports its version.
"""

from __future__ import annotations

import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.lakehouse.errors import LakehouseError
from financial_transactions.pipeline.snapshot import snapshot_published


def main() -> int:
    _args, platform = script_platform("Snapshot the pipeline's gold view into the job-owned gold table")
    try:
        snapshots = snapshot_published(platform)
    except (LakehouseError, LookupError) as exc:
        print(f"gold snapshot failed: {exc}", file=sys.stderr)
        return 1
    for snap in snapshots:
        origin = f"merged from {snap.source}" if snap.source else "written by the embedded runner"
        print(f"{snap.target} version {snap.version} ({origin}; +{snap.inserted} rows, {snap.updated} updated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
