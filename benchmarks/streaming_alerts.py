"""Trade-to-alert latency: replay server -> collector -> stream (5 s trigger) -> champion -> webhook receiver.

The whole live path on ``local[2]``, nothing simulated in between:

1. the Finnhub-compatible replay server (``ReplayHub``, speed 1: real time) plays ``--symbols`` equities,
   one trade a second each, and in every minute of every symbol one trade 5% off the walk (a spike);
   it timestamps each trade when its frame is written to the socket;
2. ``FinnhubCollector`` lands them as NDJSON files (``--flush`` seconds, the collectors' flush interval);
3. ``fin-mlops pipeline --stream``'s query (``StreamProcessor``, processingTime ``--trigger``) refines
   landing -> bronze -> silver -> gold, and ``LiveScorer`` scores the touched bars with a real champion
   (LightGBM pyfunc trained here on synthetic bars, labelled by their largest intrabar move);
4. an HTTP webhook receiver on 127.0.0.1 timestamps each alert's POST.

Latency = the receiver's arrival time - the server's send time of the bar's spike trade. The target is
p99 <= 10 s with a 5 s trigger; the trigger interval is printed as the peer (a bar can wait a whole
interval before the next micro-batch starts), and so are the flush interval and the micro-batch times.

Usage: python benchmarks/streaming_alerts.py [--minutes 4] [--symbols 6] [--trigger "5 seconds"] [--flush 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.config.collectors import BackoffConfig, ReplayConfig
from financial_transactions.ingest.collectors import FinnhubCollector
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from financial_transactions.runtime import Platform

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "JPM", "GOOGL", "META", "TSLA"]


class Receiver:
    """A webhook receiver on 127.0.0.1 that stamps each POST's arrival (time.time()) with its body."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                receiver.posts.append((arrived, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}/hook"


def live_market(symbols: list[str], minutes: int, seed: int) -> tuple[MarketData, dict[tuple[str, int], int]]:
    """One trade a second per symbol from the next whole minute on; one spike per symbol and minute.

    Returns the market and (symbol, bar start ms) -> index of the bar's spike trade.
    """
    rng = np.random.default_rng(seed)
    start = (int(time.time()) // 60 + 1) * 60_000
    rows = []
    spikes: dict[tuple[str, int], int] = {}
    for k in range(len(symbols)):
        price = 100.0 + 50 * k
        spike_second = {m: int(rng.integers(5, 55)) for m in range(minutes)}
        for second in range(minutes * 60):
            price *= float(np.exp(rng.normal(0, 0.0004)))
            m, s = divmod(second, 60)
            px = price * 1.05 if s == spike_second[m] else price
            rows.append((start + second * 1000 + k * 7, k, px, float(rng.integers(1, 300)), s == spike_second[m]))
    rows.sort(key=lambda r: r[0])
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    for i, r in enumerate(rows):
        if r[4]:
            spikes[(symbols[r[1]], r[0] // 60_000 * 60_000)] = i
    n = len(rows)
    market = MarketData(
        window="bench",
        symbols=list(symbols),
        asset_classes=["equity"] * len(symbols),
        sym=np.array([r[1] for r in rows], dtype=np.int16),
        ts=ts,
        price=np.round(np.array([r[2] for r in rows]), 4),
        volume=np.array([r[3] for r in rows]),
        cond=np.zeros(n, dtype=np.int8),
        anomaly=np.zeros(n, dtype=np.int8),
        exchange_id=np.arange(n, dtype=np.int64),
        buyer_maker=np.zeros(n, dtype=bool),
        has_ground_truth=False,
    )
    return market, spikes


def train_champion(platform: Platform, seed: int = 0) -> int:
    """A small LightGBM champion on synthetic bars, labelled by their largest intrabar move (top 10%)."""
    import mlflow

    from financial_transactions.config.ml import LightGBMParams
    from financial_transactions.features.feature_engineering import build_gold_features, feature_columns
    from financial_transactions.models.algorithms import LightGBMModel
    from financial_transactions.models.data import TrainingData
    from financial_transactions.models.registry import ModelRegistry
    from financial_transactions.models.tournament import log_pyfunc

    rng = np.random.default_rng(seed)
    frames = []
    t0 = pd.Timestamp("2026-03-09 14:30", tz="UTC")
    for k, (symbol, price0) in enumerate({"AAPL": 180.0, "MSFT": 400.0}.items()):
        n = 480 * 6
        steps = rng.normal(0.0, 0.0008, n)
        spikes = rng.random(n) < 0.01
        steps[spikes] += rng.choice([-1, 1], spikes.sum()) * 0.01
        offsets = np.sort(rng.uniform(0, 480 * 60_000, n)).astype(np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "trade_id": [f"{symbol}-{i:06d}" for i in range(n)],
                    "source": "finnhub",
                    "asset_class": "equity",
                    "symbol": symbol,
                    "price": price0 * np.exp(np.cumsum(steps)),
                    "volume": rng.integers(1, 500, n).astype(float),
                    "ts": t0 + pd.to_timedelta(offsets + k, unit="ms"),
                }
            )
        )
    gold = build_gold_features(pd.concat(frames, ignore_index=True), platform.config.features)
    cols = feature_columns(platform.config.features)
    frame = gold.sort_values("bar_start", kind="stable").reset_index(drop=True)
    frame["label"] = (frame["max_abs_trade_return"] >= frame["max_abs_trade_return"].quantile(0.9)).astype(np.int64)
    a, b = int(len(frame) * 0.6), int(len(frame) * 0.8)
    data = TrainingData(
        train=frame.iloc[:a].reset_index(drop=True),
        validation=frame.iloc[a:b].reset_index(drop=True),
        test=frame.iloc[b:].reset_index(drop=True),
        feature_columns=cols,
        label_column="label",
    )
    model = LightGBMModel(LightGBMParams(n_estimators=20, num_leaves=8), random_state=seed, n_jobs=1)
    model.fit(data.train, data.validation, feature_columns=cols, label_column="label")
    registry = ModelRegistry.from_platform(platform)
    with mlflow.start_run(run_name="bench-streaming-alerts") as run:
        uri = log_pyfunc(model, data, metadata={"run_id": run.info.run_id}, input_example_rows=3)
    version = registry.register(uri)
    registry.set_alias("champion", version)
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=4)
    parser.add_argument("--symbols", type=int, default=6)
    parser.add_argument("--trigger", default="5 seconds")
    parser.add_argument("--flush", type=float, default=1.0, help="collector flush interval, seconds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from financial_transactions.lakehouse.engine import get_spark
    from financial_transactions.monitoring.alerting import AlertManager
    from financial_transactions.monitoring.live_scoring import LiveScorer
    from financial_transactions.pipeline.stream import StreamProcessor

    symbols = SYMBOLS[: args.symbols]
    cfg = ProjectConfig.from_yaml(ROOT / "project_config.yml", "dev")
    with tempfile.TemporaryDirectory(prefix="fin-mlops-bench-alerts-") as tmp:
        platform = Platform.create(cfg, lakehouse_root=Path(tmp) / "lake")
        platform._spark = get_spark(master="local[2]", driver_memory="2g", shuffle_partitions=2, app_name="bench")
        version = train_champion(platform)
        receiver = Receiver()
        scorer = LiveScorer(platform, alerts=AlertManager(cfg.alerting, url=receiver.url))
        batch_seconds: list[float] = []
        starts: dict[int, float] = {}
        first_done: list[float] = []  # wall time the first micro-batch (engine warm-up) finished

        def observer(event: str, batch_id: int) -> None:
            if event == "batch_start":
                starts[batch_id] = time.perf_counter()
            elif event == "batch_recorded":
                batch_seconds.append(time.perf_counter() - starts[batch_id])
                if not first_done:
                    first_done.append(time.time())

        processor = StreamProcessor(
            platform, trigger="processingTime", processing_time=args.trigger, on_gold=scorer, observer=observer
        )
        market, spikes = live_market(symbols, args.minutes, args.seed)
        replay_cfg = ReplayConfig(start_grace_seconds=1.0, history_days=0, finnhub_batch_size=50)
        hub = ReplayHub(market, replay_cfg, ports=(0, 0, 0), token=TOKEN, speed=1.0)
        sent_at = np.full(len(market), np.nan)
        deliver = hub.finnhub._deliver

        async def stamped(conn: Any, frames: list[bytes], carried: list[np.ndarray]) -> np.ndarray:
            delivered = await deliver(conn, frames, carried)
            sent_at[delivered] = time.time()  # the frame was written to the socket
            return delivered

        hub.finnhub._deliver = stamped  # type: ignore[method-assign]
        urls = hub.start()
        collector = FinnhubCollector(
            token=TOKEN,
            url=urls.finnhub,
            symbols=symbols,
            landing=platform.paths.landing,
            flush_interval_seconds=args.flush,
            backoff=BackoffConfig(initial_seconds=0.05, max_seconds=1.0),
            fsync=False,
        )
        done = threading.Event()
        collecting = threading.Thread(target=lambda: collector.run(stop_when=done.is_set), daemon=True)
        load = os.getloadavg()[0]
        query = processor.start()
        collecting.start()
        hub.finnhub.exhausted.wait(args.minutes * 60 + 120)
        time.sleep(args.flush + 30)  # the last files land, the last bars are scored and alerted
        done.set()
        query.stop()
        hub.stop()
        collecting.join(10)

    latencies, warm = [], []
    for arrived, body in receiver.posts:
        context = {f["text"].split("*\n")[0].strip("*"): f["text"].split("*\n")[1] for f in body["blocks"][2]["fields"]}
        key = (context["symbol"], int(pd.Timestamp(context["bar_start"]).value // 1_000_000))
        if key in spikes and not np.isnan(sent_at[spikes[key]]):
            latencies.append(arrived - sent_at[spikes[key]])
            if first_done and sent_at[spikes[key]] > first_done[0]:
                warm.append(arrived - sent_at[spikes[key]])
    lat, warm_lat = np.array(latencies), np.array(warm)
    print(f"champion v{version}; {len(symbols)} symbols x {args.minutes} min, one spike per symbol-minute "
          f"({len(spikes)} spikes); load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    print(f"alerts received: {len(receiver.posts)} ({len(lat)} on a spike bar); micro-batches: {len(batch_seconds)}, "
          f"median {np.median(batch_seconds):.2f} s, max {np.max(batch_seconds):.2f} s")  # fmt: skip
    if len(lat):
        print(f"trade-to-alert latency: p50 {np.percentile(lat, 50):.2f} s, p99 {np.percentile(lat, 99):.2f} s, "
              f"max {lat.max():.2f} s (target p99 <= 10 s)")  # fmt: skip
    if len(warm_lat):
        print(f"  spikes sent after the first micro-batch (engine warm) ({len(warm_lat)}): p50 "
              f"{np.percentile(warm_lat, 50):.2f} s, p99 {np.percentile(warm_lat, 99):.2f} s")  # fmt: skip
    per_layer = ", ".join(
        f"{k} {v / max(processor.totals.batches, 1):.2f} s" for k, v in processor.totals.seconds.items()
    )
    print(f"mean per micro-batch by layer: {per_layer} (live scoring runs inside gold)")
    print(f"peer: trigger interval {args.trigger}; collector flush interval {args.flush:g} s")
    print(f"scorer totals: {scorer.totals}  ({datetime.now(UTC):%Y-%m-%d %H:%M}Z)")


if __name__ == "__main__":
    main()
