"""Job entry point: streaming scoring and alerts, the champion scoring each new bar within seconds.

On Databricks (the bundle's continuous ``financial_streaming_alerts`` job, a 10 s trigger) the
Lakeflow pipeline owns the layers, so this follows its ``bronze_trades`` streaming table
(:class:`~financial_transactions.pipeline.stream.BronzeFollower`) and computes the touched bars'
gold in memory. Locally the embedded stream writes the layers itself and scores the bars it
lands in gold (``fin-mlops pipeline --stream --trigger processingTime`` does the same)::

    python scripts/financial/stream_alerts.py --env dev [--processing-time "5 seconds"] [--duration 60]

Alerts go to ``anomaly_alerts`` and the webhook (``alerting.live``); see docs/RUNBOOK.md.
"""

from __future__ import annotations

import argparse

from financial_transactions.entrypoints import script_platform
from financial_transactions.monitoring.live_scoring import LiveScorer
from financial_transactions.pipeline.stream import BronzeFollower, StreamProcessor, stream_to_gold


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processing-time", default=None, help='trigger interval (default: config), e.g. "10 seconds"')
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after N seconds (default: run until stopped)"
    )


def main() -> None:
    args, platform = script_platform("Streaming scoring: the champion scores new bars, alerts go out once", _extra)
    scorer = LiveScorer(platform)
    if platform.runtime.auto_loader:  # Databricks: the declarative pipeline owns the layers
        follower = BronzeFollower(platform, scorer, processing_time=args.processing_time)
        query = follower.start()
        query.awaitTermination(None if args.duration is None else max(1, round(args.duration)))
        query.stop()
    else:
        processor = StreamProcessor(
            platform, trigger="processingTime", processing_time=args.processing_time, on_gold=scorer
        )
        stream_to_gold(processor, timeout=args.duration)
    t = scorer.totals
    print(
        f"live scoring: {t.batches} batch(es), {t.bars_scored} bar(s) scored, {t.alerts_inserted} alert(s), "
        f"{t.delivered} delivered, not delivered: {t.undelivered or 'none'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
