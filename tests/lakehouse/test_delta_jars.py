"""The Delta jars: pinned once (lakehouse/engine.py), fetched by ``make delta-jars``, found offline by the session."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from financial_transactions.lakehouse import engine
from financial_transactions.lakehouse.engine import (
    DELTA_JARS_ENV,
    DELTA_SPARK_LINE,
    DELTA_VERSION,
    JAR_CACHE_ENV,
    delta_artifact,
    delta_jars,
    delta_jars_dir,
    has_delta,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PROJECT = Path(__file__).resolve().parents[2]


def test_the_pin_matches_the_installed_pyspark() -> None:
    import pyspark

    assert ".".join(pyspark.__version__.split(".")[:2]) == DELTA_SPARK_LINE
    assert delta_artifact() == f"io.delta:delta-spark_{DELTA_SPARK_LINE}_2.13:{DELTA_VERSION}"


def test_the_jar_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DELTA_JARS_ENV, raising=False)
    monkeypatch.setenv(JAR_CACHE_ENV, str(tmp_path / "cache"))
    assert delta_jars_dir() == tmp_path / "cache" / f"delta-{DELTA_VERSION}-spark{DELTA_SPARK_LINE}"
    monkeypatch.setenv(DELTA_JARS_ENV, str(tmp_path / "mine"))
    assert delta_jars_dir() == tmp_path / "mine"


def test_missing_jars_say_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DELTA_JARS_ENV, str(tmp_path))
    (tmp_path / "unrelated.jar").write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"not in .*: run `make delta-jars`"):
        delta_jars()
    monkeypatch.setattr("pyspark.__version__", "9.9.0")
    with pytest.raises(RuntimeError, match=r"built for Spark .* pyspark 9\.9\.0 is installed"):
        delta_jars()


def test_make_fetches_the_pinned_artifact_once(tmp_path: Path) -> None:
    """``make -n`` shows the Maven call for the engine's pin; a complete cache is left alone."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FIN_MLOPS_JAR_CACHE": str(tmp_path / "jars")}
    plan = subprocess.run(["make", "-n", "delta-jars"], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert f"<artifactId>delta-spark_{DELTA_SPARK_LINE}_2.13</artifactId>" in plan.stdout
    assert f"<version>{DELTA_VERSION}</version>" in plan.stdout
    assert "dependency:copy-dependencies" in plan.stdout
    done = tmp_path / "jars" / f"delta-{DELTA_VERSION}-spark{DELTA_SPARK_LINE}"
    done.mkdir(parents=True)
    (done / ".complete").write_bytes(b"")
    cached = subprocess.run(["make", "-q", "delta-jars"], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert cached.returncode == 0  # up to date: no Maven, no network


def test_the_test_session_runs_native_delta_from_the_cache(spark: SparkSession) -> None:
    assert has_delta(spark)
    jars = spark.conf.get("spark.jars") or ""
    assert f"delta-spark_{DELTA_SPARK_LINE}_2.13-{DELTA_VERSION}.jar" in jars
    assert str(engine.delta_jars_dir()) in jars
    assert spark.conf.get("spark.jars.packages", None) in (None, "")  # nothing resolved at start-up
    assert spark.conf.get("spark.sql.catalog.spark_catalog") == engine.DELTA_CATALOG
