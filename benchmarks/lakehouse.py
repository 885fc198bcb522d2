"""The two Delta engines side by side, and Spark <-> Delta round trips through the embedded default.

Part 1, engines: the same trades (``--rows``, default 1,000,000) through ``LocalDeltaStore``
(delta-rs) and ``SparkDeltaStore`` (Spark SQL on native Delta, the Databricks statements),
in one run on one Spark session: create (write), append, MERGE (``--merge-rows`` keys, half
updates, half inserts), a time-travel read of version 0, history, and the small commits the
loop makes most of (one-row guarded audit appends, ``--small`` of them). Each figure is printed
next to its peer on the other engine; the faster engine is the embedded default
(``local.table_store``).

Part 2, round trip: the time to get a delta-rs table into Spark (``store.to_spark``: Spark
reads the snapshot's Parquet files) and back (``store.write_spark``), next to
``spark.createDataFrame`` on the same rows as pandas (Arrow-enabled), materialised the same way.

Usage: python benchmarks/lakehouse.py [--rows N] [--merge-rows N] [--small N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.lakehouse import DeltaStore, LocalDeltaStore, SparkDeltaStore
from financial_transactions.lakehouse.engine import DELTA_VERSION, get_spark

FQN = "mlops_bench.financial_transactions.trades"
AUDIT = "mlops_bench.financial_transactions.audit"


def make_trades(n: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(7 + start)
    symbols = np.array(["AAPL", "MSFT", "NVDA", "AMZN", "JPM", "BTCUSDT", "ETHUSDT", "SOLUSDT"])
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "trade_id": [f"finnhub-r1-c1-m{i // 10}-p{i % 10}" for i in ids],
            "symbol": symbols[rng.integers(0, len(symbols), n)],
            "price": rng.lognormal(5, 0.5, n),
            "volume": rng.integers(1, 1000, n).astype("float64"),
            "ts": pd.Timestamp("2026-03-06T14:30:00Z") + pd.to_timedelta(ids * 10, unit="ms"),
        }
    )


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def engine_ops(store: DeltaStore, data: dict[str, pd.DataFrame], small: int) -> dict[str, float]:
    """Seconds per operation on ``store``; asserts each result so both engines do the same work."""
    out: dict[str, float] = {}
    rows = len(data["trades"])
    out["write (create)"] = timed(lambda: store.append(FQN, data["trades"]))
    out["append"] = timed(lambda: store.append(FQN, data["batch"]))
    merge = data["merge"]
    result = None

    def do_merge() -> None:
        nonlocal result
        result = store.merge(FQN, merge, keys=["trade_id"])

    out["MERGE"] = timed(do_merge)
    assert result is not None and result.inserted + result.updated == len(merge), result
    travel: list[int] = []
    out["time-travel read v0"] = timed(lambda: travel.append(store.read_arrow(FQN, version=0).num_rows))
    assert travel == [rows]
    out["history"] = timed(lambda: store.history(FQN))
    assert store.version(FQN) == 2
    store.append_if_version(AUDIT, pd.DataFrame({"event_id": ["e0"], "decision": ["none"]}), -1, ["event_id"])
    version = store.version(AUDIT)

    def audit_appends() -> None:
        v = version
        for i in range(small):
            row = pd.DataFrame({"event_id": [f"e{i + 1}"], "decision": ["triggered"]})
            v = store.append_if_version(AUDIT, row, v, ["event_id"])

    out["guarded 1-row append (each)"] = timed(audit_appends) / small
    assert store.count(AUDIT) == small + 1
    return out


def compare_engines(spark: Any, rows: int, merge_rows: int, small: int) -> None:
    half = merge_rows // 2
    data = {
        "trades": make_trades(rows),
        "batch": make_trades(rows // 10, start=rows),
        # half updates of existing keys, half new keys
        "merge": pd.concat([make_trades(half, start=0), make_trades(merge_rows - half, start=2 * rows)]),
    }
    data["merge"]["price"] = data["merge"]["price"] * 1.01
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: JVM class loading and Delta's first plans, not part of either figure
        warm = SparkDeltaStore(spark, root=Path(tmp) / "warm")
        warm.append(FQN, make_trades(1000))
        warm.merge(FQN, make_trades(100), keys=["trade_id"])
        warm.read_arrow(FQN, version=0)
        results["delta-rs"] = engine_ops(LocalDeltaStore(Path(tmp) / "rs"), data, small)
        results["spark-delta"] = engine_ops(SparkDeltaStore(spark, root=Path(tmp) / "spark"), data, small)
    print(f"engines: {rows:,} rows, append {rows // 10:,}, MERGE {merge_rows:,} keys, {small} guarded appends")
    print(f"{'operation':32s} {'delta-rs':>10s} {'spark-delta':>12s}  ratio")
    total = {"delta-rs": 0.0, "spark-delta": 0.0}
    for op in results["delta-rs"]:
        rs, sd = results["delta-rs"][op], results["spark-delta"][op]
        weight = small if "each" in op else 1
        total["delta-rs"] += rs * weight
        total["spark-delta"] += sd * weight
        faster = "delta-rs" if rs < sd else "spark-delta"
        print(f"{op:32s} {rs:9.3f}s {sd:11.3f}s  {max(rs, sd) / min(rs, sd):5.1f}x ({faster} faster)")
    winner = min(total, key=lambda k: total[k])
    print(
        f"{'all of the above':32s} {total['delta-rs']:9.2f}s {total['spark-delta']:11.2f}s  "
        f"{max(total.values()) / min(total.values()):5.1f}x ({winner} faster; Delta jars {DELTA_VERSION})"
    )


def round_trip(spark: Any, rows: int) -> None:
    pdf = make_trades(rows)
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
        assert store.count(FQN + "_copy") == rows
        peer_back = timed(lambda: sdf.toPandas())

    n = rows
    print(f"round trip (delta-rs store): {n:,} rows")
    print(f"Delta -> Spark  (store.to_spark)             {read:6.2f} s  {n / read:12,.0f} rows/s")
    print(f"Spark -> Delta  (store.write_spark)          {write:6.2f} s  {n / write:12,.0f} rows/s")
    print(f"peer: spark.createDataFrame(pandas_df)       {peer:6.2f} s  {n / peer:12,.0f} rows/s")
    print(f"peer: DataFrame.toPandas()                   {peer_back:6.2f} s  {n / peer_back:12,.0f} rows/s")
    print(f"ratio read  vs createDataFrame(pandas): {peer / read:5.2f}x faster")
    print(f"ratio round trip vs createDataFrame(pandas)+toPandas: {(peer + peer_back) / (read + write):5.2f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--merge-rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10)
    args = parser.parse_args()
    spark = get_spark(master="local[2]", shuffle_partitions=4, delta=True)
    compare_engines(spark, args.rows, args.merge_rows, args.small)
    print()
    round_trip(spark, args.rows)
    spark.stop()


if __name__ == "__main__":
    main()
