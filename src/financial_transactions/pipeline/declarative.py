"""Settings for the declarative pipeline file, read from Spark conf.

``scripts/financial/dlt_pipeline.py`` runs under ``spark-pipelines`` locally and
under Lakeflow on Databricks; both hand settings over as Spark conf (the spec's or
the pipeline's ``configuration`` block). Only where to find things travels that
way, plus the expectation thresholds: ``fin_mlops.expectations.*`` keys override
``pipeline.expectations`` of ``project_config.yml`` (validated with the same bounds) and the
one rule set in :mod:`financial_transactions.pipeline.expectations` is built from the result.
Feature windows always come from ``project_config.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from financial_transactions.config import DEFAULT_CONFIG_FILE, ProjectConfig
from financial_transactions.config.pipeline import EXPECTATION_CONFS, expectation_overrides
from financial_transactions.lakehouse.catalog import LAYER_TABLES
from financial_transactions.runtime.select import detect_runtime

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONF_CONFIG = "fin_mlops.config"
CONF_ENV = "fin_mlops.env"
CONF_LANDING = "fin_mlops.landing"
CONF_AUTO_LOADER = "fin_mlops.auto_loader"
CONF_SCHEMA_LOCATION = "fin_mlops.schema_location"
CONF_MAX_FILES = "fin_mlops.max_files_per_trigger"
#: The schema the pipeline publishes to (the bundle's ``${var.schema}``: per user in dev); overrides
#: ``project.schema`` so the default Auto Loader schema location is in that schema's checkpoints volume.
CONF_SCHEMA = "fin_mlops.schema"

#: Tables the jobs read at pinned Delta versions (drift, scoring, backtests, the decision matrix). Delta time
#: travel works on streaming tables, not on the materialized views a pipeline publishes
#: (https://docs.databricks.com/aws/en/ldp/limitations), so the pipeline publishes each of these as
#: ``<name>`` + :data:`MV_SUFFIX` and the ingestion job's ``snapshot_gold`` task merges it into the job-owned
#: Delta table ``<name>`` (:mod:`financial_transactions.pipeline.snapshot`). The embedded runner writes
#: ``<name>`` directly, so every engine's jobs read the same table.
SNAPSHOT_KEYS: tuple[str, ...] = ("gold_trade_features",)
MV_SUFFIX = "_mv"


def published_name(cfg: ProjectConfig, key: str) -> str:
    """The dataset name the pipeline publishes table ``key`` under (catalog and schema qualify it)."""
    physical = cfg.table(key).split(".")[-1]
    return physical + MV_SUFFIX if key in SNAPSHOT_KEYS else physical


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

    def published_name(self, key: str) -> str:
        """The dataset name the pipeline publishes ``key`` under (:func:`published_name`)."""
        return published_name(self.config, key)

    @classmethod
    def from_spark_conf(cls, spark: SparkSession, *, near: Path | None = None) -> DeclarativeSettings:
        def conf(key: str) -> str | None:
            value = spark.conf.get(key, None)
            return value if value not in (None, "") else None

        runtime = detect_runtime()  # no Platform here: the pipeline process picks its own
        config_path = conf(CONF_CONFIG)
        path = Path(config_path) if config_path else _find_config(near or Path.cwd())
        if path is None:
            raise FileNotFoundError(
                f"set Spark conf {CONF_CONFIG} to the project_config.yml path (none found near {near or Path.cwd()})"
            )
        cfg = ProjectConfig.from_yaml(path, conf(CONF_ENV) or "dev")
        schema = conf(CONF_SCHEMA)
        if schema is not None and schema != cfg.schema_name:
            project = type(cfg.project).model_validate({**cfg.project.model_dump(by_alias=True), "schema": schema})
            cfg = cfg.model_copy(update={"project": project})
        thresholds = expectation_overrides(cfg.pipeline.expectations, {key: conf(key) for key in EXPECTATION_CONFS})
        if thresholds != cfg.pipeline.expectations:
            cfg = cfg.model_copy(update={"pipeline": cfg.pipeline.model_copy(update={"expectations": thresholds})})
        volumes = f"/Volumes/{cfg.catalog}/{cfg.schema_name}"
        landing = conf(CONF_LANDING) or runtime.fixed_landing(cfg)
        if landing is None:
            raise ValueError(f"set Spark conf {CONF_LANDING} to the landing zone path")
        auto_loader_conf = conf(CONF_AUTO_LOADER)
        auto_loader = runtime.auto_loader if auto_loader_conf is None else auto_loader_conf.lower() == "true"
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
    spark_conf: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``spark-pipeline.yml`` document for a local ``spark-pipelines run``.

    ``spark_conf`` holds runtime (session) Spark settings; static ones (catalog
    implementation, warehouse dir) must go on the command line as ``--conf``.
    """
    spec: dict[str, Any] = {
        "name": name,
        "storage": storage.resolve().as_uri(),
        "configuration": {
            **(spark_conf or {}),
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


# -- running the declarative pipeline locally ------------------------------------------------
PIPELINE_FILE = Path("scripts") / "financial" / "dlt_pipeline.py"
DATASET_KEYS = LAYER_TABLES


@dataclass(frozen=True)
class DeclarativeRun:
    """A finished local ``spark-pipelines run``: where it wrote and what it holds."""

    spec: Path
    warehouse: Path
    counts: dict[str, int]
    seconds: float
    log_tail: str


def pipeline_file(cfg: ProjectConfig) -> Path:
    """``scripts/financial/dlt_pipeline.py`` of the checkout that holds ``project_config.yml``."""
    roots = [cfg.source_path.parent] if cfg.source_path else []
    roots += [Path.cwd(), *Path(__file__).resolve().parents]
    for root in roots:
        candidate = root / PIPELINE_FILE
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"{PIPELINE_FILE} not found next to the config or above {Path(__file__).parent}")


def run_local(
    cfg: ProjectConfig,
    *,
    landing: Path,
    work: Path,
    full_refresh: bool = False,
    timeout: float = 1800,
) -> DeclarativeRun:
    """Run the pipeline file with the OSS ``spark-pipelines`` CLI (hive catalog, parquet tables).

    ``work`` holds the generated spec, the pipeline storage (stream checkpoints), the
    warehouse and the embedded Derby metastore. Raises with the CLI's output tail
    when the run does not complete.
    """
    import shutil
    import subprocess
    import sys
    import time

    import pyarrow.dataset as ds

    if cfg.source_path is None:
        raise ValueError("the declarative run needs a config loaded from a file (the pipeline reads it again)")
    cli = Path(sys.executable).parent / "spark-pipelines"
    if not cli.exists():
        found = shutil.which("spark-pipelines")
        if found is None:
            raise FileNotFoundError("spark-pipelines not found: install pyspark with the 'pipelines' extra")
        cli = Path(found)
    work.mkdir(parents=True, exist_ok=True)
    library = work / PIPELINE_FILE.name
    source = pipeline_file(cfg)
    if library.is_symlink() or library.exists():
        library.unlink()
    library.symlink_to(source)
    spec = write_spec(
        work / "spark-pipeline.yml",
        local_spec(
            name=f"financial_medallion_{cfg.env}",
            storage=work / "storage",
            landing=landing,
            config_path=cfg.source_path,
            env=cfg.env,
            library=library.name,
            spark_conf={
                "spark.sql.session.timeZone": "UTC",
                "spark.sql.shuffle.partitions": str(cfg.pipeline.shuffle_partitions),
            },
        ),
    )
    warehouse = work / "warehouse"
    # Only the static settings go on the command line: spark-pipelines 4.2 silently drops
    # every --conf once it is given more than four (measured), and then writes to ./spark-warehouse.
    command = [
        str(cli),
        "run",
        "--spec",
        str(spec),
        "--conf",
        "spark.sql.catalogImplementation=hive",
        "--conf",
        f"spark.sql.warehouse.dir={warehouse}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    if full_refresh:
        command.append("--full-refresh-all")
    env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.pop("SPARK_REMOTE", None)  # the CLI starts its own Connect server
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"spark-pipelines run did not finish within {timeout:.0f}s (spec {spec})") from exc
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "Run is COMPLETED" not in proc.stdout:
        raise RuntimeError(f"spark-pipelines run failed (exit {proc.returncode}):\n{output[-4000:]}")
    counts = {}
    for key in DATASET_KEYS:
        folder = warehouse / published_name(cfg, key)
        if not folder.is_dir():  # a completed run that wrote elsewhere is a failure, not zero rows
            raise RuntimeError(f"spark-pipelines reported COMPLETED but wrote no {folder}:\n{output[-2000:]}")
        counts[key] = ds.dataset(str(folder), format="parquet").count_rows()
    return DeclarativeRun(spec, warehouse, counts, seconds, proc.stdout[-2000:])
