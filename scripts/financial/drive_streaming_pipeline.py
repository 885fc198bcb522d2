"""Job entry point: the pipeline driver, continuous in market sessions and on a timer outside them.

The collectors' continuous job lands trades around the clock; this loop (a second continuous
job on Databricks) starts the medallion pipeline's incremental updates on the cadence of
``pipeline.cadence``: back to back while a market of ``session_markets`` is in session (the
market calendar decides, holidays and DST included), every ``off_session_interval_seconds``
outside, and at each session's open. On Databricks it updates the bundle's Lakeflow pipeline
(``--pipeline-id``) through the Pipelines API; locally it runs the embedded pipeline::

    python scripts/financial/drive_streaming_pipeline.py --env dev

SIGTERM (the job's cancel) lets a running update finish and exits 0.
"""

from __future__ import annotations

import argparse

from financial_transactions.entrypoints import script_platform
from financial_transactions.pipeline.cadence import drive


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline-id", default=None, help="the bundle's Lakeflow pipeline (Databricks)")
    parser.add_argument("--max-updates", type=int, default=None, help="stop after N updates (a one-off catch-up)")


def main() -> None:
    args, platform = script_platform("Drive the medallion pipeline on the market-session cadence", _extra)
    result = drive(
        platform,
        pipeline_id=args.pipeline_id,
        max_updates=args.max_updates,
        on_update=lambda decision, summary: print(f"update ({decision.reason}): {summary}", flush=True),
    )
    print(f"updates: {result.updates} ({result.in_session_updates} in session), failures: {result.failures}")


if __name__ == "__main__":
    main()
