"""Shared fixtures: one local SparkSession per test run; the lakehouse and MLflow registry fixtures.

The lakehouse (``config``, ``lakehouse_root``, ``platform``, ``platform_factory``) and MLflow registry
(``mlflow_registry``) fixtures live in ``tests/support`` and are registered here as plugins.
"""

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

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ("tests.support.lakehouse", "tests.support.mlflow_registry")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The one local SparkSession of the test run (local[2], UI off, 2 shuffle partitions).

    It carries Delta's SQL extension and catalog with the jars ``make delta-jars`` cached, as a
    Databricks runtime does, so native Delta SQL runs here; managed tables stay in a tmp warehouse.
    """
    from financial_transactions.lakehouse.engine import get_spark

    session = get_spark(
        master="local[2]",
        driver_memory="2g",
        shuffle_partitions=2,
        app_name="fin-mlops-tests",
        delta=True,
        warehouse_dir=tmp_path_factory.mktemp("spark-warehouse"),
    )
    yield session
    session.stop()
