"""``Runtime``: everything that differs between a laptop and Databricks, behind one interface.

Modelled on Feast's provider (``feast/infra/provider.py`` with ``infra/local.py``): an
abstract class here, one subclass per environment (:class:`LocalRuntime`,
:class:`DatabricksRuntime`), picked once when the :class:`Platform` is created
(:func:`detect_runtime`). Code outside the ``runtime`` package never asks which platform
it is on; it calls the runtime, and ``tests/runtime/test_seam.py`` keeps it that way.

What a runtime owns: the Spark session, the Delta store, the file layout, the MLflow
tracking/registry location, secrets and job task values, the pipeline engine (Auto
Loader or the embedded incremental runner; declarative runs; ``--fresh``), the
retraining launcher, the serving updater, the reports folder, the default drift
window, the feature store client and the lakehouse monitors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from financial_transactions.config import ProjectConfig
    from financial_transactions.config.monitoring import RetrainingConfig
    from financial_transactions.config.pipeline import PipelineConfig
    from financial_transactions.lakehouse.paths import LakehousePaths
    from financial_transactions.lakehouse.store import DeltaStore
    from financial_transactions.lakehouse.tracking import MlflowSettings
    from financial_transactions.runtime.launchers import Launcher
    from financial_transactions.runtime.serving_endpoint import ModelServingManager, ServingUpdate
    from financial_transactions.runtime.task_values import TaskValues

T = TypeVar("T")

#: ``recent``: the latest ``drift.current_hours`` of gold against the hours before;
#: ``replay``: replay window 1 against the regime-shifted window 2.
DriftWindowMode = Literal["recent", "replay"]


class NotOnThisRuntime(RuntimeError):
    """An operation this platform does not offer; the message says what runs here instead."""


class Runtime(ABC):
    """One platform: how this process computes, stores, tracks, launches and serves."""

    #: ``local`` or ``databricks``: for messages and logs, never for branching.
    name: ClassVar[str]
    #: Pipeline engine: Auto Loader (``cloudFiles``, availableNow) reads the landing zone,
    #: instead of the embedded incremental file runner.
    auto_loader: ClassVar[bool]
    #: The windows ``detect_drift.py --mode auto`` compares.
    default_drift_window: ClassVar[DriftWindowMode]
    #: Databricks Lakehouse Monitoring exists here (a monitor over ``model_monitoring``).
    lakehouse_monitors: ClassVar[bool]

    # -- compute, storage, tracking ------------------------------------------------------
    @abstractmethod
    def engine(self, config: ProjectConfig, spark_remote: str | None) -> str:
        """A one-line description of the compute engine, for ``fin-mlops info`` and logs."""

    @abstractmethod
    def spark_session(self, config: ProjectConfig, spark_remote: str | None) -> SparkSession:
        """The SparkSession this platform computes with (built on first use by the Platform)."""

    @abstractmethod
    def store(self, lakehouse_root: Path, spark: Callable[[], SparkSession], config: ProjectConfig) -> DeltaStore:
        """The Delta table store; ``spark`` is called only by a store that needs a session."""

    @abstractmethod
    def paths(self, lakehouse_root: Path, config: ProjectConfig) -> LakehousePaths:
        """Where the volumes (landing, checkpoints, exports, reports, state) are."""

    @abstractmethod
    def mlflow_settings(self, paths: LakehousePaths, config: ProjectConfig) -> MlflowSettings:
        """Tracking server, model registry and the experiment's location."""

    @abstractmethod
    def reports_dir(self, paths: LakehousePaths) -> Path:
        """Where ``fin-mlops report`` and the dashboard stage write the markdown report."""

    # -- secrets and task values ------------------------------------------------------------
    @abstractmethod
    def read_secret(self, scope: str, key: str) -> str | None:
        """A secret from this platform's secret store (after the environment, see ``CredentialRef``)."""

    @abstractmethod
    def set_task_value(self, key: str, value: str | int | bool, task_values: TaskValues | None = None) -> bool:
        """Hand ``key`` to a job's ``condition_task``; False when there is no job to hand it to."""

    # -- the pipeline engine ----------------------------------------------------------------
    @abstractmethod
    def max_files_per_trigger(self, pipeline: PipelineConfig) -> int:
        """Files per streaming micro-batch: Auto Loader's setting, or the embedded stream's."""

    @abstractmethod
    def ensure_dir(self, path: Path) -> None:
        """Make ``path`` exist where the engine cannot create it itself (local directories)."""

    @abstractmethod
    def fixed_landing(self, config: ProjectConfig) -> str | None:
        """The landing zone when the platform fixes its path; None when a Spark conf must name it."""

    @abstractmethod
    def reset_lakehouse(self, lakehouse_root: Path) -> None:
        """Delete this env's lakehouse (``fin-mlops run --fresh``); raises :class:`NotOnThisRuntime`."""

    @abstractmethod
    def check_declarative(self) -> None:
        """Raise :class:`NotOnThisRuntime` unless ``spark-pipelines run`` can run the pipeline here."""

    # -- models, serving, features ------------------------------------------------------------
    @abstractmethod
    def retraining_launcher(
        self,
        config: RetrainingConfig,
        *,
        in_process: Callable[[], Launcher],
        task_values: TaskValues | None = None,
    ) -> Launcher:
        """What starts a triggered retraining; ``in_process`` builds the in-process (local) launcher."""

    @abstractmethod
    def serve_champion(
        self, config: ProjectConfig, champion: int, *, manager: ModelServingManager | None = None
    ) -> ServingUpdate:
        """Put ``champion`` behind the serving endpoint, or say why nothing needs deploying.

        Raises :class:`ServingError` when an endpoint update fails.
        """

    @abstractmethod
    def pipeline_refresher(
        self, pipeline_id: str | None, *, in_process: Callable[[], dict[str, Any]]
    ) -> Callable[[], dict[str, Any]]:
        """One incremental pipeline update, as the pipeline driver (``pipeline.cadence``) starts it here:
        ``in_process`` (the embedded runner) locally, the bundle's pipeline ``pipeline_id`` on Databricks."""

    @abstractmethod
    def feature_client(self, factory: Callable[[], T | None]) -> T | None:
        """The feature-store client ``factory`` builds where one is used; None where tables suffice."""
