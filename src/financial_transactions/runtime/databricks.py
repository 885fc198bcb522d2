"""``DatabricksRuntime``: a cluster or serverless task in a Databricks workspace.

The cluster's own Spark session, Unity Catalog Delta tables through Spark SQL
(``SparkDeltaStore``) and volumes, MLflow on the workspace with the ``databricks-uc``
registry, secret scopes, ``dbutils`` job task values, the Jobs API and the Model
Serving endpoint (databricks-sdk), the UC Feature Engineering client and Lakehouse
Monitoring. The pipeline is the bundle's Lakeflow pipeline / Auto Loader.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from financial_transactions.lakehouse.paths import LakehousePaths
from financial_transactions.lakehouse.store import DeltaStore, SparkDeltaStore
from financial_transactions.lakehouse.tracking import MlflowSettings
from financial_transactions.runtime.base import DriftWindowMode, NotOnThisRuntime, Runtime, T
from financial_transactions.runtime.launchers import DatabricksJobLauncher, DatabricksPipelineUpdate, TaskValueOnly
from financial_transactions.runtime.serving_endpoint import ModelServingManager, ServingUpdate
from financial_transactions.runtime.task_values import set_task_value

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from pyspark.sql import SparkSession

    from financial_transactions.config import ProjectConfig
    from financial_transactions.config.monitoring import RetrainingConfig
    from financial_transactions.config.pipeline import PipelineConfig
    from financial_transactions.runtime.launchers import Launcher
    from financial_transactions.runtime.task_values import TaskValues

#: The MLflow registry URI of Unity Catalog models.
UC_REGISTRY = "databricks-uc"


def _default_workspace() -> WorkspaceClient:
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient()


class DatabricksRuntime(Runtime):
    """``workspace`` builds the databricks-sdk client (default: unified auth, the job's own identity)."""

    name: ClassVar[str] = "databricks"
    auto_loader: ClassVar[bool] = True
    default_drift_window: ClassVar[DriftWindowMode] = "recent"
    lakehouse_monitors: ClassVar[bool] = True

    def __init__(self, workspace: Callable[[], WorkspaceClient] | None = None) -> None:
        self.workspace = workspace or _default_workspace

    def engine(self, config: ProjectConfig, spark_remote: str | None) -> str:
        return "databricks"

    def spark_session(self, config: ProjectConfig, spark_remote: str | None) -> SparkSession:
        """The cluster's active session; its JVM and settings are the cluster's, not the config's."""
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        return active if active is not None else SparkSession.builder.getOrCreate()

    def store(self, lakehouse_root: Path, spark: Callable[[], SparkSession], config: ProjectConfig) -> DeltaStore:
        return SparkDeltaStore(spark())

    def paths(self, lakehouse_root: Path, config: ProjectConfig) -> LakehousePaths:
        """``/Volumes/<catalog>/<schema>/<volume>``: the lakehouse root plays no part."""
        return LakehousePaths(root=lakehouse_root, catalog=config.catalog, schema=config.schema_name, databricks=True)

    def mlflow_settings(self, paths: LakehousePaths, config: ProjectConfig) -> MlflowSettings:
        """The workspace tracking server; the experiment the bundle deployed (an absolute ``--experiment``
        path: its parent folder exists), else ``/Shared/<project>/<env>/<name>``."""
        name = config.models.experiment_name
        return MlflowSettings(
            tracking_uri="databricks",
            registry_uri=UC_REGISTRY,
            artifact_location=None,
            experiment_name=name if name.startswith("/") else f"/Shared/{config.project.name}/{config.env}/{name}",
        )

    def reports_dir(self, paths: LakehousePaths) -> Path:
        """The ``reports`` volume: a job's working directory is gone when the job ends."""
        return Path(paths.reports)

    def read_secret(self, scope: str, key: str) -> str | None:
        """A secret scope value through databricks-sdk, base64-decoded as the REST API returns it."""
        resp = self.workspace().secrets.get_secret(scope=scope, key=key)
        if resp.value is None:
            return None
        return base64.b64decode(resp.value).decode("utf-8")

    def set_task_value(self, key: str, value: str | int | bool, task_values: TaskValues | None = None) -> bool:
        """``dbutils.jobs.taskValues`` of this job run (or ``task_values``); False, logged, outside a job run."""
        return set_task_value(key, value, task_values)

    def max_files_per_trigger(self, pipeline: PipelineConfig) -> int:
        return pipeline.autoloader.max_files_per_trigger

    def ensure_dir(self, path: Path) -> None:
        return None  # volumes are Unity Catalog objects the bundle creates, and Spark creates what is inside

    def fixed_landing(self, config: ProjectConfig) -> str | None:
        return str(self.paths(Path("/"), config).landing)  # the root plays no part in volume paths

    def reset_lakehouse(self, lakehouse_root: Path) -> None:
        raise NotOnThisRuntime(
            "the Databricks lakehouse is Unity Catalog: only the embedded engine's local lakehouse can be deleted"
        )

    def check_declarative(self) -> None:
        raise NotOnThisRuntime("on Databricks the bundle's Lakeflow pipeline runs dlt_pipeline.py")

    def retraining_launcher(
        self,
        config: RetrainingConfig,
        *,
        in_process: Callable[[], Launcher],
        task_values: TaskValues | None = None,
    ) -> Launcher:
        """The task value for the workflow's ``condition_task``, or ``jobs.run_now`` (``retraining.launch``)."""
        if config.launch == "task_value":
            return TaskValueOnly(config.task_value_key, task_values)
        return DatabricksJobLauncher(self.workspace(), config)

    def serve_champion(
        self, config: ProjectConfig, champion: int, *, manager: ModelServingManager | None = None
    ) -> ServingUpdate:
        """Create or update the Model Serving endpoint and wait (``serving.endpoint_wait_seconds``) for READY."""
        mgr = manager or ModelServingManager.from_config(config)
        result = mgr.deploy(champion=champion, wait_seconds=config.serving.endpoint_wait_seconds)
        return ServingUpdate(True, result.describe())

    def feature_client(self, factory: Callable[[], T | None]) -> T | None:
        """The UC Feature Engineering client, so feature tables carry primary keys and lineage."""
        return factory()

    def pipeline_refresher(
        self, pipeline_id: str | None, *, in_process: Callable[[], dict[str, Any]]
    ) -> Callable[[], dict[str, Any]]:
        """An update of the bundle's Lakeflow pipeline through the Pipelines API, waited for."""
        if not pipeline_id:
            raise NotOnThisRuntime(
                "on Databricks the pipeline driver updates the bundle's Lakeflow pipeline: pass --pipeline-id "
                "${resources.pipelines.financial_streaming_dlt.id}"
            )
        return DatabricksPipelineUpdate(self.workspace(), pipeline_id)
