"""Spark <-> Delta round trip of 1,000,000 rows through the lakehouse store.

Prints the time to get a Delta table into Spark (``store.to_spark``: Spark reads
the snapshot's Parquet files) and back (``store.write_spark``: Arrow batches to
delta-rs), next to the peer measured in the same run: ``spark.createDataFrame``
on the same rows as a pandas DataFrame (Arrow-enabled), materialised the same way.

Usage: python benchmarks/lakehouse.py [--rows N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.lakehouse.engine import get_spark

FQN = "mlops_bench.financial_transactions.trades"


def make_trades(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    symbols = np.array(["AAPL", "MSFT", "NVDA", "AMZN", "JPM", "BTCUSDT", "ETHUSDT", "SOLUSDT"])
    return pd.DataFrame(
        {
            "trade_id": [f"finnhub-r1-c1-m{i // 10}-p{i % 10}" for i in range(n)],
            "symbol": symbols[rng.integers(0, len(symbols), n)],
            "price": rng.lognormal(5, 0.5, n),
            "volume": rng.integers(1, 1000, n).astype("float64"),
            "ts": pd.Timestamp("2026-03-06T14:30:00Z") + pd.to_timedelta(np.arange(n) * 10, unit="ms"),
        }
    )


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    spark = get_spark(master="local[2]", shuffle_partitions=4)
    pdf = make_trades(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalDeltaStore(Path(tmp))
        store.append(FQN, pdf)
        # warm-up: JVM class loading and Python worker start-up, not part of either figure
        spark.createDataFrame(pdf.head(1000)).write.format("noop").mode("overwrite").save()
        store.to_spark(FQN, spark).limit(1000).write.format("noop").mode("overwrite").save()

        peer = timed(lambda: spark.createDataFrame(pdf).write.format("noop").mode("overwrite").save())
        read = timed(lambda: store.to_spark(FQN, spark).write.format("noop").mode("overwrite").save())
        sdf = store.to_spark(FQN, spark)
        write = timed(lambda: store.write_spark(FQN + "_copy", sdf, mode="overwrite"))
        assert store.count(FQN + "_copy") == args.rows
        peer_back = timed(lambda: sdf.toPandas())

    n = args.rows
    print(f"rows: {n:,}")
    print(f"Delta -> Spark  (store.to_spark)             {read:6.2f} s  {n / read:12,.0f} rows/s")
    print(f"Spark -> Delta  (store.write_spark)          {write:6.2f} s  {n / write:12,.0f} rows/s")
    print(f"peer: spark.createDataFrame(pandas_df)       {peer:6.2f} s  {n / peer:12,.0f} rows/s")
    print(f"peer: DataFrame.toPandas()                   {peer_back:6.2f} s  {n / peer_back:12,.0f} rows/s")
    print(f"ratio read  vs createDataFrame(pandas): {peer / read:5.2f}x faster")
    print(f"ratio round trip vs createDataFrame(pandas)+toPandas: {(peer + peer_back) / (read + write):5.2f}x faster")
    spark.stop()


if __name__ == "__main__":
    main()
