"""Shared fixtures: one local SparkSession per test run, tmp lakehouses, config."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.pop("SPARK_REMOTE", None)  # tests own their engine; a user's Connect URL must not leak in
os.environ.pop("DATABRICKS_RUNTIME_VERSION", None)

from financial_transactions.config import ProjectConfig
from financial_transactions.runtime import Platform

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The one local SparkSession of the test run (local[2], UI off, 2 shuffle partitions)."""
    from financial_transactions.lakehouse.engine import get_spark

    session = get_spark(master="local[2]", driver_memory="2g", shuffle_partitions=2, app_name="fin-mlops-tests")
    yield session
    session.stop()


@pytest.fixture
def config() -> ProjectConfig:
    return ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")


@pytest.fixture
def lakehouse_root(tmp_path: Path) -> Path:
    root = tmp_path / "lakehouse"
    root.mkdir()
    return root


@pytest.fixture
def platform(config: ProjectConfig, lakehouse_root: Path, request: pytest.FixtureRequest) -> Platform:
    """A Platform on a fresh tmp lakehouse; shares the session Spark when a test asks for it."""
    p = Platform.create(config, lakehouse_root=lakehouse_root)
    if "spark" in request.fixturenames:
        p._spark = request.getfixturevalue("spark")
    return p
