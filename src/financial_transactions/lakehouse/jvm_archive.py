"""A class-data-sharing (AppCDS) archive for the embedded Spark JVM.

Most of an embedded session's start, and of its first queries, is the JVM reading,
parsing and verifying thousands of Spark classes from jars. A dynamic CDS archive holds
them already parsed and verified, and every later JVM maps it. Measured on 2 cores:
the JVM's CPU to start and run a first query fell from 15-16 s to 9-10 s (README, "Two
engines, one code path"). Which archive a JVM maps is the engine's (``engine.archive_path``).

``make jvm-archive`` (``python -m financial_transactions.lakehouse.jvm_archive``) builds it
once into the cache. Its name is keyed by the ``java`` binary and pyspark's jars, so a
JVM never meets an archive of another JVM or Spark. It only ever appears whole: the
dump goes to a side file, is checked by a JVM that must map it, and is then renamed into
place. A truncated archive crashes the JVM that maps it. Without an archive, sessions
start as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.lakehouse.engine import CDS_QUIET, archive_path, get_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _workload(spark: SparkSession, scratch: Path) -> None:
    """Queries touching the classes the platform's Spark work loads: readers, writers, joins, windows, Arrow."""
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    lines = [
        f'{{"symbol":"S{i % 3}","ts":{1_700_000_000_000 + i},"price":{100 + i * 0.5},"id":"t{i}"}}' for i in range(60)
    ]
    (scratch / "trades.json").write_text("\n".join(lines), encoding="utf-8")
    trades = spark.read.schema("symbol string, ts long, price double, id string").json(str(scratch / "trades.json"))
    typed = trades.withColumn("at", F.timestamp_millis("ts")).withColumn("bar", F.date_trunc("minute", F.col("at")))
    names = spark.createDataFrame(pa.table({"symbol": ["S0", "S1", "S2"], "weight": [1.0, 2.0, 3.0]}))
    window = Window.partitionBy("symbol").orderBy("ts")
    joined = (
        typed.join(F.broadcast(names), "symbol", "left")
        .withColumn("n", F.row_number().over(window))
        .withColumn("prev", F.lag("price").over(window))
        .dropDuplicates(["id"])
    )
    observation = Observation("archive")
    bars = (
        joined.observe(observation, F.count(F.lit(1)).alias("rows"))
        .groupBy("symbol", "bar")
        .agg(F.first("price").alias("open"), F.max("price"), F.sum("weight"), F.collect_set("id"), F.count("*"))
    )
    bars.write.mode("overwrite").partitionBy("symbol").parquet(str(scratch / "bars"))
    spark.read.parquet(str(scratch / "bars")).orderBy("bar").toArrow()
    _ = observation.get
    joined.groupBy("symbol").applyInPandas(lambda frame: frame.head(1), schema=joined.schema).toArrow()
    spark.createDataFrame(pd.DataFrame({"x": [1.0, 2.0]})).selectExpr("sum(x)").collect()


def build(*, force: bool = False) -> Path | None:
    """Build the archive unless it exists (or ``force``); its path, or None when there is no ``java``."""
    from pyspark.sql import SparkSession

    path = archive_path()
    if path is None or (path.is_file() and not force):
        return path
    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("the JVM archive is dumped when its JVM exits: build it in a process without Spark")
    path.parent.mkdir(parents=True, exist_ok=True)
    dump = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    spark = get_spark(master="local[2]", driver_java_options=f"-XX:ArchiveClassesAtExit={dump} {CDS_QUIET}")
    try:
        with tempfile.TemporaryDirectory(prefix="fin-mlops-jvm-archive-") as scratch:
            _workload(spark, Path(scratch))
    finally:
        gateway = spark.sparkContext._gateway
        spark.stop()
        jvm = getattr(gateway, "proc", None)
        if gateway is not None:
            gateway.shutdown()
        if jvm is not None:  # the JVM exits on its stdin's EOF, and dumps the archive as it exits
            jvm.stdin.close()
            jvm.wait(timeout=300)
    if jvm is None or jvm.returncode != 0:  # a JVM that died while dumping leaves a partial file
        dump.unlink(missing_ok=True)
        raise RuntimeError(f"the JVM that dumps the archive exited with {getattr(jvm, 'returncode', None)}")
    try:
        _check(dump)
        os.replace(dump, path)
    finally:
        dump.unlink(missing_ok=True)
    return path


def _check(dump: Path) -> None:
    """A Spark JVM started with ``-Xshare:on`` must map the archive: that JVM refuses to start otherwise.

    A JVM that crashes on it writes its ``hs_err`` report into a folder removed afterwards, not into
    the working directory.
    """
    with tempfile.TemporaryDirectory(prefix="fin-mlops-jvm-probe-") as errors:
        done = subprocess.run(
            [sys.executable, "-m", "financial_transactions.lakehouse.jvm_archive", "--probe", str(dump), errors],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"a JVM could not map the archive {dump}: {' '.join(tail)[:400]}")


def _probe(dump: Path, errors: Path) -> None:
    options = f"-XX:SharedArchiveFile={dump} -Xshare:on -XX:ErrorFile={errors}/hs_err_%p.log {CDS_QUIET}"
    get_spark(master="local[1]", driver_java_options=options).range(3).count()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the embedded Spark JVM's class-data-sharing archive.")
    parser.add_argument("--force", action="store_true", help="rebuild it even when it exists")
    parser.add_argument("--probe", type=Path, nargs=2, help=argparse.SUPPRESS)  # a fresh dump's check
    args = parser.parse_args(argv)
    if args.probe is not None:
        _probe(*args.probe)
        return 0
    path = archive_path()
    if path is not None and path.is_file() and not args.force:
        print(f"JVM archive: {path} (up to date)")
        return 0
    try:
        built = build(force=args.force)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"JVM archive not built ({exc}); Spark starts without it", file=sys.stderr)
        return 0
    print(f"JVM archive: {built}" if built else "JVM archive: no java found; Spark starts without it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
