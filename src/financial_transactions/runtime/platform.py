"""``Platform``: config + lakehouse root + the runtime, with the engine, store, paths and MLflow it resolves once."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.config import CredentialRef, ProjectConfig
from financial_transactions.lakehouse.paths import LakehousePaths
from financial_transactions.lakehouse.store import DeltaStore
from financial_transactions.lakehouse.tracking import MlflowSettings, configure_mlflow
from financial_transactions.runtime.base import Runtime
from financial_transactions.runtime.local import LocalRuntime
from financial_transactions.runtime.select import detect_runtime

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LAKEHOUSE_ROOT_ENV = "FIN_MLOPS_LAKEHOUSE_ROOT"


def default_lakehouse_root(cfg: ProjectConfig) -> Path:
    """``<project>/<local.state_dir>/<env>``; relative state dirs resolve next to the config file."""
    env_root = os.environ.get(LAKEHOUSE_ROOT_ENV)
    if env_root:
        return Path(env_root).resolve()
    state = Path(cfg.local.state_dir)
    if not state.is_absolute():
        base = cfg.source_path.parent if cfg.source_path else Path.cwd()
        state = base / state
    return (state / cfg.env).resolve()


@dataclass
class Platform:
    """One process's view of the platform; ``runtime`` is everything that differs by platform."""

    config: ProjectConfig
    lakehouse_root: Path
    spark_remote: str | None = None
    runtime: Runtime = field(default_factory=LocalRuntime)
    _spark: SparkSession | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        config: ProjectConfig,
        *,
        lakehouse_root: str | Path | None = None,
        spark_remote: str | None = None,
        runtime: Runtime | None = None,
    ) -> Platform:
        """``runtime`` defaults to the one this process runs on (:func:`detect_runtime`)."""
        root = Path(lakehouse_root).resolve() if lakehouse_root else default_lakehouse_root(config)
        return cls(config=config, lakehouse_root=root, spark_remote=spark_remote, runtime=runtime or detect_runtime())

    @property
    def engine(self) -> str:
        return self.runtime.engine(self.config, self.spark_remote)

    @property
    def spark(self) -> SparkSession:
        """Created on first use: most stages never need a JVM."""
        if self._spark is None:
            self._spark = self.runtime.spark_session(self.config, self.spark_remote)
        return self._spark

    def start_engine(self) -> Future[SparkSession]:
        """:attr:`spark` created on a helper thread; ``result()`` joins it (and raises what it raised).

        The JVM's start is mostly single-threaded class loading: on two cores it overlaps work that
        does not need it (collecting, reading landing files as Arrow). Spark's own lock makes it one
        session however many threads ask.
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-start")
        started = pool.submit(lambda: self.spark)
        pool.shutdown(wait=False)
        return started

    @cached_property
    def store(self) -> DeltaStore:
        return self.runtime.store(self.lakehouse_root, lambda: self.spark, self.config)

    @cached_property
    def paths(self) -> LakehousePaths:
        return self.runtime.paths(self.lakehouse_root, self.config)

    @cached_property
    def mlflow(self) -> MlflowSettings:
        return self.runtime.mlflow_settings(self.paths, self.config)

    @property
    def reports_dir(self) -> Path:
        """Where the markdown decision report goes: the ``reports`` volume of this lakehouse.

        Locally ``<lakehouse root>/Volumes/<catalog>/<schema>/reports``, so a report follows
        ``--lakehouse-root`` like every other output (it used to land in ``./reports`` whatever
        the root); on Databricks the UC volume, since a job's working directory is gone when it ends.
        """
        return self.paths.reports

    def secret(self, ref: CredentialRef) -> str | None:
        """``ref`` resolved: its environment variable, then this platform's secret store."""
        return ref.resolve(self.runtime.read_secret)

    def configure_mlflow(self) -> str:
        """Set tracking/registry URIs and the experiment; returns the experiment id."""
        return configure_mlflow(self.mlflow)

    def table(self, key: str) -> str:
        return self.config.table(key)

    def tables(self) -> list[str]:
        """Every table that exists in this env's catalog.schema."""
        return self.store.list_tables(self.config.catalog, self.config.schema_name)
