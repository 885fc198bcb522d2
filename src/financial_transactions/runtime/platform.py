"""``Platform``: config + engine + store + paths + MLflow, resolved once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse.engine import get_spark, is_databricks_runtime
from financial_transactions.lakehouse.paths import LakehousePaths
from financial_transactions.lakehouse.store import DeltaStore, LocalDeltaStore, SparkDeltaStore
from financial_transactions.lakehouse.tracking import MlflowSettings, configure_mlflow, mlflow_settings

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
    config: ProjectConfig
    lakehouse_root: Path
    spark_remote: str | None = None
    is_databricks: bool = False
    _spark: SparkSession | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        config: ProjectConfig,
        *,
        lakehouse_root: str | Path | None = None,
        spark_remote: str | None = None,
    ) -> Platform:
        databricks = is_databricks_runtime()
        root = Path(lakehouse_root).resolve() if lakehouse_root else default_lakehouse_root(config)
        return cls(config=config, lakehouse_root=root, spark_remote=spark_remote, is_databricks=databricks)

    @property
    def engine(self) -> str:
        if self.is_databricks:
            return "databricks"
        if self.spark_remote or os.environ.get("SPARK_REMOTE"):
            return f"spark-connect ({self.spark_remote or os.environ.get('SPARK_REMOTE')})"
        return f"embedded ({self.config.local.spark_master})"

    @property
    def spark(self) -> SparkSession:
        """Created on first use: most stages never need a JVM."""
        if self._spark is None:
            self._spark = get_spark(
                remote=self.spark_remote,
                master=self.config.local.spark_master,
                driver_memory=self.config.local.driver_memory,
                shuffle_partitions=self.config.pipeline.shuffle_partitions,
                driver_java_options=self.config.local.driver_java_options,
            )
        return self._spark

    @cached_property
    def store(self) -> DeltaStore:
        if self.is_databricks:
            return SparkDeltaStore(self.spark)
        return LocalDeltaStore(self.lakehouse_root)

    @cached_property
    def paths(self) -> LakehousePaths:
        return LakehousePaths(
            root=self.lakehouse_root,
            catalog=self.config.catalog,
            schema=self.config.schema_name,
            databricks=self.is_databricks,
        )

    @cached_property
    def mlflow(self) -> MlflowSettings:
        return mlflow_settings(
            state_dir=self.paths.state_dir,
            experiment=self.config.models.experiment_name,
            project=self.config.project.name,
            env=self.config.env,
            databricks=self.is_databricks,
        )

    def configure_mlflow(self) -> str:
        """Set tracking/registry URIs and the experiment; returns the experiment id."""
        return configure_mlflow(self.mlflow)

    def table(self, key: str) -> str:
        return self.config.table(key)

    def tables(self) -> list[str]:
        """Every table that exists in this env's catalog.schema."""
        return self.store.list_tables(self.config.catalog, self.config.schema_name)
