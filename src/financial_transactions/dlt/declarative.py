"""Settings for the declarative pipeline file, read from Spark conf.

``scripts/financial/dlt_pipeline.py`` runs under ``spark-pipelines`` locally and
under Lakeflow on Databricks; both hand settings over as Spark conf (the spec's or
the pipeline's ``configuration`` block). Only where to find things travels that
way; every rule bound and feature window comes from ``project_config.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from financial_transactions.config import DEFAULT_CONFIG_FILE, ProjectConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONF_CONFIG = "fin_mlops.config"
CONF_ENV = "fin_mlops.env"
CONF_LANDING = "fin_mlops.landing"
CONF_AUTO_LOADER = "fin_mlops.auto_loader"
CONF_SCHEMA_LOCATION = "fin_mlops.schema_location"
CONF_MAX_FILES = "fin_mlops.max_files_per_trigger"


def _find_config(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / DEFAULT_CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class DeclarativeSettings:
    config: ProjectConfig
    landing: str
    auto_loader: bool
    schema_location: str
    max_files_per_trigger: int

    def table_name(self, key: str) -> str:
        """The dataset name: the physical table name (the pipeline's catalog/schema qualify it)."""
        return self.config.table(key).split(".")[-1]

    @classmethod
    def from_spark_conf(cls, spark: SparkSession, *, near: Path | None = None) -> DeclarativeSettings:
        def conf(key: str) -> str | None:
            value = spark.conf.get(key, None)
            return value if value not in (None, "") else None

        on_databricks = bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
        config_path = conf(CONF_CONFIG)
        path = Path(config_path) if config_path else _find_config(near or Path.cwd())
        if path is None:
            raise FileNotFoundError(
                f"set Spark conf {CONF_CONFIG} to the project_config.yml path (none found near {near or Path.cwd()})"
            )
        cfg = ProjectConfig.from_yaml(path, conf(CONF_ENV) or "dev")
        volumes = f"/Volumes/{cfg.catalog}/{cfg.schema_name}"
        landing = conf(CONF_LANDING) or (f"{volumes}/landing" if on_databricks else None)
        if landing is None:
            raise ValueError(f"set Spark conf {CONF_LANDING} to the landing zone path")
        auto_loader_conf = conf(CONF_AUTO_LOADER)
        auto_loader = on_databricks if auto_loader_conf is None else auto_loader_conf.lower() == "true"
        schema_location = conf(CONF_SCHEMA_LOCATION) or (
            f"{volumes}/checkpoints/{cfg.pipeline.autoloader.schema_location_name}"
        )
        max_files = int(conf(CONF_MAX_FILES) or cfg.pipeline.autoloader.max_files_per_trigger)
        return cls(cfg, landing, auto_loader, schema_location, max_files)


def local_spec(
    *,
    name: str,
    storage: Path,
    landing: Path,
    config_path: Path,
    env: str,
    library: str,
    database: str | None = None,
) -> dict[str, Any]:
    """A ``spark-pipeline.yml`` document for a local ``spark-pipelines run``."""
    spec: dict[str, Any] = {
        "name": name,
        "storage": storage.resolve().as_uri(),
        "configuration": {
            CONF_CONFIG: str(config_path.resolve()),
            CONF_ENV: env,
            CONF_LANDING: str(landing.resolve()),
            CONF_AUTO_LOADER: "false",
        },
        "libraries": [{"glob": {"include": library}}],
    }
    if database:
        spec["database"] = database
    return spec


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
