"""Job entry point: stream Binance-protocol trades into the landing volume.

On Databricks the collectors' continuous job runs it with ``--continuous``: it runs until the
job is cancelled (SIGTERM: the landing writer flushes, the lease is released, exit 0),
reconnects with backoff however often the feed drops, and holds the feed's lease so exactly one
collector is connected; the platform restarts a run that fails. The trade stream needs no key.
``--duration`` (default ``collectors.crypto.duration_seconds``) collects for a fixed time
instead. Locally, point it at the replay::

    FIN_MLOPS_CRYPTO_WS_URL=ws://127.0.0.1:18767 \
        python scripts/financial/collect_crypto_stream.py --env dev --continuous
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.ingest.jobs import run_stream
from financial_transactions.ingest.redaction import CollectorError


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: config)")
    parser.add_argument("--continuous", action="store_true", help="run until SIGTERM (the always-on job)")
    parser.add_argument("--url", default=None, help="stream base URL (default: collectors.crypto.ws_url)")


def main() -> None:
    args, platform = script_platform("Stream Binance-protocol trades into the landing zone", _extra)
    if args.continuous and args.duration is not None:
        print("--continuous runs until stopped: drop --duration", file=sys.stderr)
        sys.exit(2)
    try:
        counters = run_stream(platform, "crypto", args.duration, continuous=args.continuous, url=args.url)
    except CollectorError as exc:
        print(f"crypto collector failed: {exc}", file=sys.stderr)
        sys.exit(1)
    for key, value in counters.as_dict().items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
