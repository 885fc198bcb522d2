"""The backtest/decide stages and CLI on a real lakehouse with a real registered champion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.cli.main import app
from financial_transactions.config import ProjectConfig
from financial_transactions.decision.predictions import NoChampion, synthesize_predictions
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.orchestration import STAGES, run_stages
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext
from tests.support.gold import gold_frame, synthetic_trades, train_champion, train_cutoff_of, write_gold

SYMBOLS = {"AAPL": 190.0, "ETHUSDT": 3_000.0}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[tuple[Platform, pd.DataFrame, int]]:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    root = tmp_path_factory.mktemp("stage") / "lakehouse"
    platform = Platform.create(cfg, lakehouse_root=root)
    gold = gold_frame(platform, synthetic_trades(SYMBOLS, 180, seed=13))
    write_gold(platform, gold)
    version = train_champion(platform, gold, n_estimators=15, seed=4)
    yield platform, gold, version


def test_predictions_append_only_new_rows(lake: tuple[Platform, pd.DataFrame, int]) -> None:
    platform, gold, version = lake
    first = synthesize_predictions(platform)
    assert first.model_version == str(version) and first.rows_scored == len(gold) and first.table_version == 0
    again = synthesize_predictions(platform)
    assert again.rows_scored == 0 and again.table_version is None  # nothing new: no new Delta version
    preds = platform.store.read(platform.config.table("synthesized_predictions"))
    assert len(preds) == len(gold) and set(preds["model_version"]) == {str(version)}
    # every row records the newest bar its model was trained on (from the registry lineage)
    assert first.train_cutoff == train_cutoff_of(gold) and (preds["train_cutoff"] == train_cutoff_of(gold)).all()
    expected = ModelRegistry.from_platform(platform).load(version).predict(gold.reset_index(drop=True))
    merged = (
        gold[["symbol", "bar_start"]].assign(want=expected["score"].to_numpy()).merge(preds, on=["symbol", "bar_start"])
    )
    np.testing.assert_allclose(merged["score"], merged["want"], atol=1e-12)
    assert first.rows_flagged == int(preds["label"].sum())


def test_no_champion_is_a_positive_answer(tmp_path: Path, config: ProjectConfig) -> None:
    empty = Platform.create(config, lakehouse_root=tmp_path / "empty")
    with pytest.raises(NoChampion, match="@champion does not exist yet"):
        synthesize_predictions(empty)


def test_stages_run_in_order(lake: tuple[Platform, pd.DataFrame, int]) -> None:
    platform, _, version = lake
    names = [s.name for s in STAGES]
    assert names.index("backtest") < names.index("decide") < names.index("dashboard")
    ctx = RunContext(platform=platform, console=Console(width=200, record=True))
    results = run_stages(ctx, only=["backtest", "decide"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    backtest, decide = results
    assert backtest.summary["champion"] == str(version)
    assert backtest.summary["results"] == 2 * 3  # 2 symbols x 3 strategies
    assert decide.summary["symbols"] == len(platform.config.symbols.all)
    stored = platform.store.read(platform.config.table("backtest_results"))
    newest = stored[stored["created_at"] == stored["created_at"].max()]  # the rows of this backtest run
    assert backtest.summary["benchmarks"] == 2  # buy-and-hold of each symbol, over the same bars
    assert (
        len(newest) == backtest.summary["results"] + backtest.summary["benchmarks"]
        and newest["run_id"].nunique() == 1
        and newest["run_id"].iloc[0]
    )
    text = ctx.console.export_text()
    assert "decision matrix" in text and "AAPL" in text


def test_cli_backtest_and_decide(
    lake: tuple[Platform, pd.DataFrame, int], project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, _, _ = lake
    monkeypatch.setenv("COLUMNS", "250")
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "backtest", "--as-of-version", "0", "--strategy", "model", "--no-write"])
    assert res.exit_code == 0, res.output
    assert "predictions v0" in res.output and "model" in res.output
    piped = runner.invoke(app, [*base, "backtest", "--strategy", "sma_cross", "--no-score", "--no-write", "--json"])
    assert piped.exit_code == 0, piped.output
    rows = json.loads(piped.stdout)["backtest"]
    assert [(r["symbol"], r["strategy"], r["benchmark"]) for r in rows] == [
        ("AAPL", "buy_and_hold", True), ("AAPL", "sma_cross", False),
        ("ETHUSDT", "buy_and_hold", True), ("ETHUSDT", "sma_cross", False),
    ]  # fmt: skip
    for held, strategy in (rows[0:2], rows[2:4]):
        assert strategy["excess_return"] == pytest.approx(strategy["total_return"] - held["total_return"], abs=1e-12)
        assert held["cagr"] is None and strategy["cagr"] is None  # 180 minutes of bars: no CAGR
    bad = runner.invoke(app, [*base, "backtest", "--as-of-version", "0", "--as-of-timestamp", "2026-01-01"])
    assert bad.exit_code == 2 and "not both" in bad.output
    missing = runner.invoke(app, [*base, "backtest", "--as-of-version", "42"])
    assert missing.exit_code == 1 and "has no version 42" in missing.output
    res = runner.invoke(app, [*base, "decide"])
    assert res.exit_code == 0, res.output
    assert "decision matrix" in res.output and "Insufficient data" in res.output
    latest = platform.store.read(platform.config.table("decision_matrix"))
    assert latest["run_id"].nunique() >= 1 and set(platform.config.symbols.all) <= set(latest["symbol"])
