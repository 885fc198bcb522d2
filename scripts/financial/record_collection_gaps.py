"""Job entry point: measure connection-down seconds per stream feed and day into ``collector_gaps``.

Reads every collector run's connect/disconnect/heartbeat/stop events under
``<landing>/_collection/`` and merges one row per (feed, UTC day): idempotent, so the scheduled
ingestion job can run it every hour. Locally: ``fin-mlops ingest gaps``.
"""

from __future__ import annotations

from financial_transactions.entrypoints import script_platform
from financial_transactions.ingest.jobs import record_gaps


def main() -> None:
    _, platform = script_platform("Record collector gaps per feed and day")
    for row in record_gaps(platform):
        print(
            f"{row['feed']} {row['day']}: down {row['downtime_seconds']:.1f}s, {row['disconnects']} disconnect(s), "
            f"longest gap {row['longest_gap_seconds']:.1f}s, {row['trades_landed']} trades landed"
        )


if __name__ == "__main__":
    main()
