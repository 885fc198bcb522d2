"""A SparkSession off Databricks: Spark Connect or an embedded ``local[*]`` JVM.

The local runtime (``runtime/local.py``) is the caller: a Spark Connect session
(``--spark-remote`` or ``SPARK_REMOTE``) when one is named, else an embedded session
for laptops and CI. On Databricks the runtime takes the cluster's own session.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.config.project import DEFAULT_DRIVER_JAVA_OPTIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Delta Lake release whose jars the embedded engine loads (``make delta-jars`` reads both pins).
#: ``configure_spark_with_delta_pip`` would ask for the pip package's version (4.4.1), whose jars
#: Maven Central does not carry; 4.4.0 is the newest ``delta-spark`` built for Spark 4.2.
DELTA_VERSION = "4.4.0"
#: The Spark line the Delta artifact is built for (``delta-spark_<line>_2.13``): pyspark's major.minor.
DELTA_SPARK_LINE = "4.2"
#: A folder holding the Delta jars; overrides the cache (``make delta-jars`` fills the cache).
DELTA_JARS_ENV = "FIN_MLOPS_DELTA_JARS"
#: The root of the jar cache (default ``~/.cache/financial-ai-mlops/jars``).
JAR_CACHE_ENV = "FIN_MLOPS_JAR_CACHE"
#: The driver's log4j2 configuration (package data): WARN lines of the JVM's start stay off the terminal.
LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


#: The root of the JVM archive cache (default ``~/.cache/financial-ai-mlops/jvm``).
JVM_CACHE_ENV = "FIN_MLOPS_JVM_CACHE"
#: Set to ``0`` to start embedded sessions without the archive (e.g. to measure its effect).
JVM_ARCHIVE_ENV = "FIN_MLOPS_JVM_ARCHIVE"
#: Silences the JVM's own messages about archives (one that does not match is skipped, and says so).
CDS_QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def _java() -> Path | None:
    """The ``java`` Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def _spark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def archive_path() -> Path | None:
    """The archive for this JVM and these Spark jars (present or not); None when there is no ``java``."""
    java = _java()
    if java is None:
        return None
    key = hashlib.sha256()
    for part in (java, java.parent.parent / "lib" / "server" / "libjvm.so"):
        stat = part.stat() if part.exists() else None
        key.update(f"{part}:{stat.st_size if stat else 0}:{stat.st_mtime_ns if stat else 0}\n".encode())
    jars = _spark_jars()
    key.update(f"{jars}\n".encode())  # the archive records the class path: another venv's jars do not map
    for jar in sorted(jars.glob("*.jar")):
        key.update(f"{jar.name}:{jar.stat().st_size}\n".encode())
    cache = os.environ.get(JVM_CACHE_ENV) or str(Path.home() / ".cache" / "financial-ai-mlops" / "jvm")
    return Path(cache).expanduser() / f"spark-{key.hexdigest()[:16]}.jsa"


def archive_options(java_options: str) -> str:
    """The JVM options that map the archive, when it is built and the caller names no archive of its own."""
    if os.environ.get(JVM_ARCHIVE_ENV, "1") == "0" or "SharedArchiveFile" in java_options:
        return ""
    if "ArchiveClassesAtExit" in java_options:
        return ""
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {CDS_QUIET}" if path is not None and path.is_file() else ""


def delta_artifact() -> str:
    """The Maven coordinates of the pinned Delta Lake Spark artifact."""
    return f"io.delta:delta-spark_{DELTA_SPARK_LINE}_2.13:{DELTA_VERSION}"


def delta_jars_dir() -> Path:
    """Where the Delta jars are: ``$FIN_MLOPS_DELTA_JARS``, else the versioned cache folder."""
    explicit = os.environ.get(DELTA_JARS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get(JAR_CACHE_ENV) or str(Path.home() / ".cache" / "financial-ai-mlops" / "jars")
    return Path(cache).expanduser() / f"delta-{DELTA_VERSION}-spark{DELTA_SPARK_LINE}"


def delta_jars() -> list[Path]:
    """The cached Delta jars; a clear error (what to run) when they are missing or for another Spark.

    Spark never resolves them over the network at start-up: ``make delta-jars`` fetched
    them once from Maven Central, so sessions start offline.
    """
    import pyspark

    line = ".".join(pyspark.__version__.split(".")[:2])
    if line != DELTA_SPARK_LINE:
        raise RuntimeError(
            f"the pinned Delta jars (delta-spark_{DELTA_SPARK_LINE}_2.13:{DELTA_VERSION}) are built for Spark "
            f"{DELTA_SPARK_LINE}, but pyspark {pyspark.__version__} is installed: update DELTA_SPARK_LINE and "
            "DELTA_VERSION in lakehouse/engine.py, then run `make delta-jars`"
        )
    folder = delta_jars_dir()
    jars = sorted(folder.glob("*.jar"))
    if not any(j.name.startswith(f"delta-spark_{DELTA_SPARK_LINE}_2.13-") for j in jars):
        raise RuntimeError(
            f"the Delta Lake jars ({delta_artifact()}) are not in {folder}: run `make delta-jars` "
            f"(fetches them from Maven Central once), or set {DELTA_JARS_ENV} to a folder that holds them"
        )
    return jars


def prepare_local_environment() -> None:
    """Environment a local Spark needs on this kind of machine.

    Python workers (UDFs, ``applyInPandas``) start ``python3`` from PATH unless
    ``PYSPARK_PYTHON`` names this interpreter, and then miss pandas; binding to
    loopback avoids slow reverse-DNS look-ups on machines without a network.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def java_options_with_logging(options: str) -> str:
    """``options`` plus ``-Dlog4j2.configurationFile`` naming :data:`LOG4J2_CONFIG`, unless they name one.

    ``setLogLevel("ERROR")`` runs only once the JVM is up; everything it logs while starting
    (the native-hadoop warning and others) follows the configuration the JVM starts with.
    """
    if "-Dlog4j2.configurationFile=" in options:
        return options
    return f"{options} -Dlog4j2.configurationFile={LOG4J2_CONFIG.resolve().as_uri()}".strip()


def get_spark(
    *,
    remote: str | None = None,
    master: str = "local[*]",
    driver_memory: str = "4g",
    shuffle_partitions: int = 4,
    app_name: str = "financial-ai-mlops",
    driver_java_options: str = DEFAULT_DRIVER_JAVA_OPTIONS,
    delta: bool = False,
    warehouse_dir: str | Path | None = None,
) -> SparkSession:
    """The Spark Connect session for ``remote`` (or ``SPARK_REMOTE``), else the embedded one.

    ``driver_java_options`` only applies to the embedded JVM (with the package's log4j2
    configuration added, see :func:`java_options_with_logging`). ``delta`` loads the cached
    Delta jars with Delta's SQL extension and catalog (``MERGE``, ``DESCRIBE HISTORY``,
    ``VERSION AS OF``, ``RESTORE`` in Spark SQL), as a Databricks runtime has them;
    ``warehouse_dir`` keeps managed tables out of the working directory. Both are static
    JVM settings: asking an already running session for Delta it lacks is an error.
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
    # Spark's classes mapped from the cached class-data-sharing archive when it is built (``make jvm-archive``)
    java_options = f"{driver_java_options} {archive_options(driver_java_options)}".strip()
    builder = SparkSession.builder
    if delta:
        builder = (
            builder.config("spark.jars", ",".join(str(j) for j in delta_jars()))
            .config("spark.sql.extensions", DELTA_EXTENSION)
            .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
            # Delta rebuilds a snapshot's state (the log replay) in 50 tasks by default: on an
            # embedded JVM that is most of a small table's read, MERGE or RESTORE time
            .config("spark.databricks.delta.snapshotPartitions", "1")
        )
    if warehouse_dir is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(Path(warehouse_dir).resolve()))
    spark = (
        builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(max(2, shuffle_partitions)))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", java_options_with_logging(java_options))
        .config("spark.driver.host", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        .config("spark.driver.bindAddress", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if delta and not has_delta(spark):
        raise RuntimeError(
            "a Spark session without Delta is already running in this process; Delta's extension and jars "
            "are fixed when the JVM starts: stop that session first (or create it with delta=True)"
        )
    return spark


def has_delta(spark: SparkSession) -> bool:
    """True when ``spark`` runs Delta's SQL extension (Delta SQL statements parse and run)."""
    return DELTA_EXTENSION in (spark.conf.get("spark.sql.extensions", "") or "")


def _which(cmd: str) -> str | None:
    import shutil

    return shutil.which(cmd)
