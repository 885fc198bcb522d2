"""Job entry point: stream Finnhub trades into the landing volume for ``--duration`` seconds.

Databricks runs it on a schedule (5 minutes by default, ``collectors.finnhub.duration_seconds``);
the API key comes from the secret scope. Locally, point it at the replay::

    FINNHUB_API_KEY=any FIN_MLOPS_FINNHUB_WS_URL=ws://127.0.0.1:18765 \
        python scripts/financial/collect_finnhub_stream.py --env dev
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.ingest.jobs import run_finnhub
from financial_transactions.ingest.redaction import CollectorError


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: config)")
    parser.add_argument("--url", default=None, help="WebSocket URL (default: collectors.finnhub.ws_url)")


def main() -> None:
    args, platform = script_platform("Stream Finnhub trades into the landing zone", _extra)
    try:
        counters = run_finnhub(platform, args.duration, url=args.url)
    except CollectorError as exc:
        print(f"finnhub collector failed: {exc}", file=sys.stderr)
        sys.exit(1)
    for key, value in counters.as_dict().items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
