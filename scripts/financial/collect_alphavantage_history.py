"""Job entry point: daily + intraday OHLCV history from Alpha Vantage into the landing volume.

Rate-limited on the client (``collectors.alphavantage.calls_per_minute``), retried
with bounded backoff; a symbol whose call fails is reported while the others land.
Exits 1 when any symbol failed. The API key comes from the secret scope on
Databricks. Locally, point it at the replay (which allows 600 calls a minute, so
the vendor's free-tier pace of 5 need not apply)::

    ALPHAVANTAGE_API_KEY=any FIN_MLOPS_ALPHAVANTAGE_URL=http://127.0.0.1:18766 \
        python scripts/financial/collect_alphavantage_history.py --env dev --calls-per-minute 600
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.ingest.jobs import run_alphavantage
from financial_transactions.ingest.redaction import CollectorError


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="base URL (default: collectors.alphavantage.base_url)")
    parser.add_argument("--outputsize", choices=["compact", "full"], default=None)
    parser.add_argument("--calls-per-minute", type=int, default=None)


def main() -> None:
    args, platform = script_platform("Collect Alpha Vantage OHLCV history", _extra)
    try:
        results = run_alphavantage(
            platform, url=args.url, outputsize=args.outputsize, calls_per_minute=args.calls_per_minute
        )
    except CollectorError as exc:
        print(f"alphavantage collector failed: {exc}", file=sys.stderr)
        sys.exit(1)
    for r in results.values():
        print(f"{r.symbol}: {sum(r.bars.values())} bars" + (f"; errors: {r.errors}" if r.errors else ""))
    if any(not r.ok for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
