"""The Spark Declarative Pipelines file under the real ``spark-pipelines`` CLI.

It must produce the same bronze, silver, quarantine, bars and gold as the embedded
runner on the same landing sample (gold compared value by value).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from financial_transactions.dlt.declarative import local_spec, write_spec
from financial_transactions.dlt.gold_features import GOLD_KEYS
from financial_transactions.dlt.runner import PipelineRunner, compare_frames
from financial_transactions.lakehouse import Platform
from tests.pipeline import landing_sample as sample

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_FILE = PROJECT_ROOT / "scripts" / "financial" / "dlt_pipeline.py"
TABLES = ["bronze_trades", "silver_trades", "silver_trades_quarantine", "silver_bars", "gold_trade_features"]


def test_sdp_file_runs_under_spark_pipelines_and_matches_the_runner(
    platform: Platform, spark: Any, tmp_path: Path
) -> None:
    sample.build(platform.paths.landing)
    work = tmp_path / "sdp"
    work.mkdir()
    (work / "dlt_pipeline.py").symlink_to(PIPELINE_FILE)
    spec = write_spec(
        work / "spark-pipeline.yml",
        local_spec(
            name="financial_medallion_test",
            storage=work / "storage",
            landing=platform.paths.landing,
            config_path=PROJECT_ROOT / "project_config.yml",
            env="dev",
            library="dlt_pipeline.py",
        ),
    )
    warehouse = work / "warehouse"
    cli = Path(sys.executable).parent / "spark-pipelines"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run(
        [
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
            "--conf",
            "spark.sql.shuffle.partitions=2",
        ],
        cwd=work,  # the embedded Derby metastore lands here, not in the repo
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "Run is COMPLETED" in proc.stdout, (proc.stdout + proc.stderr)[-4000:]

    declarative = {t: pq.read_table(warehouse / t) for t in TABLES}
    runner = PipelineRunner(platform).run()
    expected = {
        "bronze_trades": sample.BRONZE_ROWS,
        "silver_trades": sample.SILVER_ROWS,
        "silver_trades_quarantine": sample.QUARANTINE_ROWS,
        "silver_bars": sample.BAR_ROWS,
        "gold_trade_features": runner.counts["gold_trade_features"],
    }
    assert {t: declarative[t].num_rows for t in TABLES} == expected
    assert {t: runner.counts[t] for t in TABLES} == expected

    silver_ids = sorted(declarative["silver_trades"].column("trade_id").to_pylist())
    runner_ids = sorted(platform.store.read(platform.config.table("silver_trades"))["trade_id"])
    assert silver_ids == runner_ids
    quarantine = declarative["silver_trades_quarantine"].to_pandas().set_index("quarantine_id")
    assert list(quarantine.loc["bad-two-rules", "failed_rules"]) == ["symbol_valid", "price_positive"]

    gold_sdp = declarative["gold_trade_features"].to_pandas()
    gold_runner = platform.store.read(platform.config.table("gold_trade_features"))
    same, worst, detail = compare_frames(gold_runner, gold_sdp, GOLD_KEYS)
    assert same, f"{detail} (max |diff| {worst})"
