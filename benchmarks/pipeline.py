"""Landing -> gold throughput of the embedded pipeline runner.

Writes N trades (default 1,000,000: 5 equities + 3 crypto pairs over two trading
days, runs of identical prints with distinct ids, 0.1% bad rows) as NDJSON landing
files in the contract layout, then runs ``PipelineRunner`` on ``local[2]`` and
prints the time per layer (bronze, silver, gold) and end-to-end trades/s.

A warm-up run on a small sample in another lakehouse first pays the JVM's
class loading and the Python workers' start-up, which are not per-trade costs.
A second run on the same landing zone shows the idempotent no-op.

Usage: python benchmarks/pipeline.py [--trades N] [--files F]
Target: at least 50,000 trades/s end to end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.dlt.runner import PipelineResult, PipelineRunner
from financial_transactions.lakehouse import Platform
from financial_transactions.lakehouse.engine import get_spark

TARGET = 50_000
EQUITIES = ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"]
CRYPTO = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def make_landing(landing: Path, trades: int, files: int, seed: int = 7) -> int:
    """Write ``trades`` records into ``files`` NDJSON files; returns the bad-row count."""
    rng = np.random.default_rng(seed)
    symbols = np.array(EQUITIES + CRYPTO)
    sym = symbols[rng.integers(0, len(symbols), trades)]
    crypto = np.isin(sym, CRYPTO)
    start = pd.Timestamp("2026-03-06T09:00:00Z").value // 1_000_000
    ts = start + np.sort(rng.integers(0, 2 * 86_400_000, trades))
    # runs of identical prints: every 20th trade repeats its predecessor's ts/price/volume
    price = np.round(rng.lognormal(5, 0.4, trades), 2)
    volume = rng.integers(1, 500, trades).astype("float64")
    repeat = np.arange(trades) % 20 == 19
    ts[repeat] = ts[np.where(repeat)[0] - 1]
    price[repeat] = price[np.where(repeat)[0] - 1]
    volume[repeat] = volume[np.where(repeat)[0] - 1]
    sym[repeat] = sym[np.where(repeat)[0] - 1]
    crypto = np.isin(sym, CRYPTO)
    bad = rng.random(trades) < 0.001
    price[bad] = -1.0
    frame = pd.DataFrame(
        {
            "trade_id": [f"bench-r1-c1-m{i // 10}-p{i % 10}" for i in range(trades)],
            "record_type": "trade",
            "source": np.where(crypto, "binance", "finnhub"),
            "symbol": sym,
            "price": price,
            "volume": volume,
            "ts": ts,
            "conditions": [["1", "12"]] * trades,
            "exchange_trade_id": None,
            "is_buyer_maker": None,
            "ingested_at": ts + 150,
            "collector": np.where(crypto, "crypto", "finnhub"),
            "collector_run": "bench",
            "connection": 1,
            "msg_seq": np.arange(trades) // 10,
            "position": np.arange(trades) % 10,
        }
    )
    for i, chunk in enumerate(np.array_split(np.arange(trades), files)):
        part = frame.iloc[chunk]
        first = part.iloc[0]
        day = pd.Timestamp(int(first["ts"]), unit="ms").strftime("%Y-%m-%d")
        folder = landing / str(first["source"]) / f"date={day}" / f"symbol={first['symbol']}"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".bench-{i:06d}.ndjson.tmp"
        part.to_json(tmp, orient="records", lines=True)
        tmp.rename(folder / f"bench-{i:06d}.ndjson")
    return int(bad.sum())


def platform_on(root: Path, spark: object) -> Platform:
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=root)
    platform._spark = spark  # type: ignore[assignment]
    return platform


def report(result: PipelineResult, trades: int, wall: float) -> None:
    print(f"  files ingested      {result.files_ingested:>12,}")
    for layer in ("bronze", "silver", "gold"):
        seconds = result.seconds.get(layer, 0.0)
        rate = trades / seconds if seconds else float("inf")
        print(f"  {layer:<8} {seconds:>8.2f} s   {rate:>12,.0f} trades/s")
    print(f"  rows: {json.dumps(result.counts)}")
    total = trades / wall
    verdict = "PASS" if total >= TARGET else "FAIL"
    print(f"  end to end {wall:>6.2f} s   {total:>12,.0f} trades/s   (target >= {TARGET:,}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    spark = get_spark(master="local[2]", driver_memory="4g", shuffle_partitions=4, app_name="bench-pipeline")
    with tempfile.TemporaryDirectory() as tmp:
        warm = platform_on(Path(tmp) / "warmup", spark)
        make_landing(warm.paths.landing, 20_000, 4, seed=1)
        PipelineRunner(warm).run()

        platform = platform_on(Path(tmp) / "bench", spark)
        tick = time.perf_counter()
        bad = make_landing(platform.paths.landing, args.trades, args.files)
        took = time.perf_counter() - tick
        print(f"landing: {args.trades:,} trades in {args.files} files ({bad} bad) in {took:.1f} s")

        tick = time.perf_counter()
        result = PipelineRunner(platform).run()
        wall = time.perf_counter() - tick
        print(f"pipeline landing -> gold on local[2], {args.trades:,} trades:")
        report(result, args.trades, wall)
        expected_silver = args.trades - bad
        assert result.counts["silver_trades"] == expected_silver, (result.counts, expected_silver)
        assert result.counts["silver_trades_quarantine"] == bad, (result.counts, bad)

        tick = time.perf_counter()
        again = PipelineRunner(platform).run()
        took = time.perf_counter() - tick
        print(f"re-run on the same landing zone: {again.mode} in {took:.2f} s, rows {again.counts}")
    spark.stop()


if __name__ == "__main__":
    main()
