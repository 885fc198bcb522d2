"""The embedded driver's log4j2 configuration: no WARN line of the JVM's start on the terminal, errors still shown."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from financial_transactions.lakehouse.engine import LOG4J2_CONFIG, java_options_with_logging

PROJECT = Path(__file__).resolve().parents[2]

#: A fresh process that starts the embedded engine, runs a job, then logs one WARN and one ERROR through log4j.
_PROBE = """
from financial_transactions.lakehouse.engine import get_spark
spark = get_spark(master="local[1]", shuffle_partitions=1)
print("rows", spark.range(3).count(), flush=True)
probe = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("fin_mlops_probe")
probe.warn("probe warning")
probe.error("probe error")
spark.stop()
"""


def test_the_configuration_ships_as_package_data_and_reaches_the_driver() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = project["tool"]["setuptools"]["package-data"]["financial_transactions"]
    package = PROJECT / "src" / "financial_transactions"
    assert LOG4J2_CONFIG.is_file() and LOG4J2_CONFIG.relative_to(package).as_posix() in shipped
    uri = LOG4J2_CONFIG.resolve().as_uri()
    assert java_options_with_logging("-XX:+UseParallelGC") == f"-XX:+UseParallelGC -Dlog4j2.configurationFile={uri}"
    assert java_options_with_logging("") == f"-Dlog4j2.configurationFile={uri}"
    mine = "-Dlog4j2.configurationFile=file:///etc/mine.properties"
    assert java_options_with_logging(mine) == mine  # an operator's own configuration wins


def test_a_fresh_driver_prints_no_jvm_warn_line_but_keeps_errors() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["rows 3"]
    lines = (proc.stdout + proc.stderr).splitlines()
    assert [line for line in lines if " WARN " in line] == []  # NativeCodeLoader and the probe's warning
    assert not any("Setting default log level" in line or "default log4j profile" in line for line in lines)
    assert [line.split(" ", 2)[2] for line in lines if " ERROR " in line] == ["ERROR fin_mlops_probe: probe error"]
