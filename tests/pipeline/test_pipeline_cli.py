"""``fin-mlops pipeline`` in-process: option checks, the streaming mode, time travel errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _invoke(root: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["--config", str(PROJECT_ROOT / "project_config.yml"), "--lakehouse-root", str(root), "pipeline", *args]
    )


def test_conflicting_options_are_refused_before_anything_runs(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "--as-of-version", "0", "--full-refresh")
    assert result.exit_code == 2 and "only reads history" in result.output
    result = _invoke(tmp_path, "--stream", "--trigger", "sometimes")
    assert result.exit_code == 2 and "availableNow or processingTime" in result.output
    assert not (tmp_path / "mlops_dev").exists()


def test_time_travel_to_a_missing_table_is_a_clear_error(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "--as-of-version", "3")
    assert result.exit_code == 2
    assert "gold_trade_features does not exist" in result.output


def test_stream_mode_drains_landing_then_builds_gold(
    tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("financial_transactions.runtime.local.get_spark", lambda **_kw: spark)
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    sample.build(Platform.create(cfg, lakehouse_root=tmp_path).paths.landing)

    result = _invoke(tmp_path, "--stream", "--trigger", "availableNow")
    assert result.exit_code == 0, result.output
    assert "pipeline run (stream)" in result.output
    store = LocalDeltaStore(tmp_path)
    assert store.count(cfg.table("silver_trades")) == sample.SILVER_ROWS
    assert store.count(cfg.table("silver_trades_quarantine")) == sample.QUARANTINE_ROWS
    assert store.count(cfg.table("gold_trade_features")) > 0
    gold = store.count(cfg.table("gold_trade_features"))
    runs = store.read(cfg.table("pipeline_runs"))
    assert len(runs) == 1  # the run's one row, not one per micro-batch plus one for gold
    assert runs["mode"].tolist() == ["stream"] and runs["gold_rows_written"].tolist() == [gold]
    # a progress line per micro-batch (one here: max_files_per_trigger 1000 > 8 files), scored live so gold per batch
    run_id = runs["run_id"].iloc[0]
    lines = result.output.splitlines()
    assert f"stream (availableNow) started, run {run_id}" in lines
    batch = [line for line in lines if line.startswith("batch ")]
    assert len(batch) == 1
    out_rows = sample.SILVER_ROWS + sample.QUARANTINE_ROWS
    assert batch[0].startswith(
        f"batch 0: {sample.BRONZE_ROWS} row(s) in from 8 new file(s) -> {out_rows} out "
        f"(silver +{sample.SILVER_ROWS}, quarantine +{sample.QUARANTINE_ROWS}, gold {gold}) in "
    )
    assert batch[0].endswith("s") and float(batch[0].rsplit(" in ", 1)[1][:-1]) > 0

    idle = _invoke(tmp_path, "--stream", "--trigger", "availableNow")
    assert idle.exit_code == 0 and "nothing new in the landing zone" in idle.output
