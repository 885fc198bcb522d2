"""Which engine are we on, and a SparkSession for it.

One factory for the three cases so no caller needs to know which one applies:
an active Databricks runtime session, a Spark Connect session (``--spark-remote``
or ``SPARK_REMOTE``), or an embedded ``local[*]`` session for laptops and CI.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from financial_transactions.config.project import DEFAULT_DRIVER_JAVA_OPTIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def is_databricks_runtime() -> bool:
    """True inside a Databricks cluster or serverless task (the runtime sets this variable)."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def prepare_local_environment() -> None:
    """Environment a local Spark needs on this kind of machine.

    Python workers (UDFs, ``applyInPandas``) start ``python3`` from PATH unless
    ``PYSPARK_PYTHON`` names this interpreter, and then miss pandas; binding to
    loopback avoids slow reverse-DNS look-ups on machines without a network.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def get_spark(
    *,
    remote: str | None = None,
    master: str = "local[*]",
    driver_memory: str = "4g",
    shuffle_partitions: int = 4,
    app_name: str = "financial-ai-mlops",
    driver_java_options: str = DEFAULT_DRIVER_JAVA_OPTIONS,
) -> SparkSession:
    """Return the SparkSession for the current engine.

    ``driver_java_options`` only applies to the embedded JVM (a cluster's JVM is its own).
    """
    from pyspark.sql import SparkSession

    if is_databricks_runtime():
        active = SparkSession.getActiveSession()
        return active if active is not None else SparkSession.builder.getOrCreate()
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
    prepare_local_environment()
    java_home = os.environ.get("JAVA_HOME")
    if not java_home and not _which("java"):
        raise RuntimeError(
            "Java 17 is required for the embedded Spark engine but `java` was not found. "
            "Install it (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; "
            "macOS: `brew install openjdk@17`) or point --spark-remote at a Spark Connect server."
        )
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(max(2, shuffle_partitions)))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", driver_java_options)
        .config("spark.driver.host", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        .config("spark.driver.bindAddress", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _which(cmd: str) -> str | None:
    import shutil

    return shutil.which(cmd)
