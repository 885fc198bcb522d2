"""The Spark Declarative Pipelines file under the real ``spark-pipelines`` CLI.

``fin-mlops pipeline --declarative`` generates the spec and runs the OSS CLI; its
bronze, silver, quarantine, bars and gold must equal the embedded runner's on the
same landing sample (gold compared value by value). A second run on the same
landing zone reads no file twice (bronze is a streaming table), so nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.pipeline.declarative import published_name
from financial_transactions.pipeline.gold_features import GOLD_KEYS
from financial_transactions.pipeline.reproduce import compare_frames
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TABLES = ["bronze_trades", "silver_trades", "silver_trades_quarantine", "silver_bars", "gold_trade_features"]


def test_sdp_file_runs_under_spark_pipelines_and_matches_the_runner(platform: Platform, spark: Any) -> None:
    sample.build(platform.paths.landing)
    result = _declarative(platform)
    assert result.exit_code == 0, result.output
    assert "declarative pipeline" in result.output and "silver_trades_quarantine" in result.output
    work = platform.paths.state_dir / "declarative"
    spec = yaml.safe_load((work / "spark-pipeline.yml").read_text())
    assert spec["configuration"]["fin_mlops.landing"] == str(platform.paths.landing.resolve())
    assert (work / "dlt_pipeline.py").resolve() == PROJECT_ROOT / "scripts" / "financial" / "dlt_pipeline.py"

    declarative = {t: pq.read_table(work / "warehouse" / published_name(platform.config, t)) for t in TABLES}
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

    again = _declarative(platform)  # incremental: the landing files were all read already
    assert again.exit_code == 0, again.output
    assert {
        t: pq.read_table(work / "warehouse" / published_name(platform.config, t)).num_rows for t in TABLES
    } == expected


def test_declarative_refuses_a_remote_engine(platform: Platform) -> None:
    result = _declarative(platform, "--spark-remote", "sc://127.0.0.1:1")
    assert result.exit_code == 2 and "drop --spark-remote" in result.output


def _declarative(platform: Platform, *options: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "--config",
            str(PROJECT_ROOT / "project_config.yml"),
            "--lakehouse-root",
            str(platform.lakehouse_root),
            *options,
            "pipeline",
            "--declarative",
        ],
    )
