"""A SparkSession off Databricks: Spark Connect or an embedded ``local[*]`` JVM.

The local runtime (``runtime/local.py``) is the caller: a Spark Connect session
(``--spark-remote`` or ``SPARK_REMOTE``) when one is named, else an embedded session
for laptops and CI. On Databricks the runtime takes the cluster's own session.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from financial_transactions.config.project import DEFAULT_DRIVER_JAVA_OPTIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
    """The Spark Connect session for ``remote`` (or ``SPARK_REMOTE``), else the embedded one.

    ``driver_java_options`` only applies to the embedded JVM.
    """
    from pyspark.sql import SparkSession

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
