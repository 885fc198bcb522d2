"""``LocalRuntime``: a laptop or CI.

Embedded PySpark (or Spark Connect with ``--spark-remote``), delta-rs tables under
the lakehouse root, MLflow on SQLite in the state dir, secrets from the environment
only, no job task values, no serving endpoint (the local API follows the champion
alias by itself) and retraining in this process.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from financial_transactions.lakehouse.engine import get_spark
from financial_transactions.lakehouse.paths import LakehousePaths
from financial_transactions.lakehouse.store import DeltaStore, LocalDeltaStore, SparkDeltaStore
from financial_transactions.lakehouse.tracking import MlflowSettings, local_mlflow_settings
from financial_transactions.runtime.base import DriftWindowMode, Runtime, T
from financial_transactions.runtime.serving_endpoint import ServingUpdate
from financial_transactions.runtime.task_values import set_task_value

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from financial_transactions.config import ProjectConfig
    from financial_transactions.config.monitoring import RetrainingConfig
    from financial_transactions.config.pipeline import PipelineConfig
    from financial_transactions.runtime.launchers import Launcher
    from financial_transactions.runtime.serving_endpoint import ModelServingManager
    from financial_transactions.runtime.task_values import TaskValues

log = logging.getLogger(__name__)


class LocalRuntime(Runtime):
    name: ClassVar[str] = "local"
    auto_loader: ClassVar[bool] = False
    default_drift_window: ClassVar[DriftWindowMode] = "replay"
    lakehouse_monitors: ClassVar[bool] = False

    def engine(self, config: ProjectConfig, spark_remote: str | None) -> str:
        remote = spark_remote or os.environ.get("SPARK_REMOTE")
        if remote:
            return f"spark-connect ({remote})"
        return f"embedded ({config.local.spark_master})"

    def spark_session(self, config: ProjectConfig, spark_remote: str | None) -> SparkSession:
        return get_spark(
            remote=spark_remote,
            master=config.local.spark_master,
            driver_memory=config.local.driver_memory,
            shuffle_partitions=config.pipeline.shuffle_partitions,
            driver_java_options=config.local.driver_java_options,
            delta=config.local.table_store == "spark-delta",
        )

    def store(self, lakehouse_root: Path, spark: Callable[[], SparkSession], config: ProjectConfig) -> DeltaStore:
        """``local.table_store``: delta-rs, or Spark SQL on native Delta as on Databricks (same folders)."""
        if config.local.table_store == "spark-delta":
            return SparkDeltaStore(spark(), root=lakehouse_root)
        return LocalDeltaStore(lakehouse_root)

    def paths(self, lakehouse_root: Path, config: ProjectConfig) -> LakehousePaths:
        return LakehousePaths(root=lakehouse_root, catalog=config.catalog, schema=config.schema_name, databricks=False)

    def mlflow_settings(self, paths: LakehousePaths, config: ProjectConfig) -> MlflowSettings:
        return local_mlflow_settings(state_dir=paths.state_dir, experiment=config.models.experiment_name)

    def reports_dir(self, paths: LakehousePaths) -> Path:
        """``./reports`` of the working directory: next to the project, where analysts look."""
        return Path.cwd() / "reports"

    def read_secret(self, scope: str, key: str) -> str | None:
        """No secret scopes off Databricks: the environment variable is the local secret store."""
        log.debug("secret %s/%s: no secret scope on the local runtime", scope, key)
        return None

    def set_task_value(self, key: str, value: str | int | bool, task_values: TaskValues | None = None) -> bool:
        """Only an explicit ``task_values`` target (a test double) receives values: no job runs here."""
        if task_values is None:
            return False
        return set_task_value(key, value, task_values)

    def max_files_per_trigger(self, pipeline: PipelineConfig) -> int:
        return pipeline.streaming.max_files_per_trigger

    def ensure_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def fixed_landing(self, config: ProjectConfig) -> str | None:
        return None  # under a lakehouse root the pipeline's Spark conf names

    def reset_lakehouse(self, lakehouse_root: Path) -> None:
        """Empty at once: the old tree is renamed aside and deleted on a helper thread.

        A tree left half-deleted when the process ended (``<root>.old-*``) goes with the next reset.
        """
        for left in lakehouse_root.parent.glob(f"{lakehouse_root.name}.old-*"):
            shutil.rmtree(left, ignore_errors=True)
        if not lakehouse_root.exists():
            return
        aside = lakehouse_root.with_name(f"{lakehouse_root.name}.old-{uuid.uuid4().hex[:8]}")
        lakehouse_root.rename(aside)
        threading.Thread(target=shutil.rmtree, args=(aside, True), name="lakehouse-reset", daemon=True).start()

    def check_declarative(self) -> None:
        return None  # spark-pipelines runs on its own local engine

    def retraining_launcher(
        self,
        config: RetrainingConfig,
        *,
        in_process: Callable[[], Launcher],
        task_values: TaskValues | None = None,
    ) -> Launcher:
        return in_process()

    def serve_champion(
        self, config: ProjectConfig, champion: int, *, manager: ModelServingManager | None = None
    ) -> ServingUpdate:
        return ServingUpdate(
            False,
            f"endpoint {config.serving.endpoint_name} not updated: not on Databricks "
            "(the local API, fin-mlops serve, follows the champion alias by itself)",
        )

    def feature_client(self, factory: Callable[[], T | None]) -> T | None:
        return None  # the feature tables are plain Delta tables in the local store

    def pipeline_refresher(
        self, pipeline_id: str | None, *, in_process: Callable[[], dict[str, Any]]
    ) -> Callable[[], dict[str, Any]]:
        """The embedded runner in this process (a ``pipeline_id`` names a Databricks pipeline: ignored here)."""
        return in_process
