"""``fin-mlops feedback confirm|dismiss``: a verdict lands in ``analyst_feedback``; the latest per bar wins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.config import ProjectConfig
from financial_transactions.features.feedback import load_feedback
from financial_transactions.runtime import Platform


def test_confirm_then_dismiss_records_who_and_the_latest_verdict_wins(tmp_path: Path, project_root: Path) -> None:
    config = str(project_root / "project_config.yml")
    base = ["--config", config, "--env", "dev", "--lakehouse-root", str(tmp_path), "feedback"]
    bar = ["--symbol", "SPX", "--bar-start", "2018-12-24T00:00:00"]
    first = CliRunner().invoke(app, [*base, "confirm", *bar, "--by", "ana"], terminal_width=200)
    assert first.exit_code == 0, first.output
    assert "confirmed SPX bar 2018-12-24 00:00Z by ana" in first.output
    second = CliRunner().invoke(app, [*base, "dismiss", *bar, "--by", "bo", "--note", "index rebalance"])
    assert second.exit_code == 0, second.output

    platform = Platform.create(ProjectConfig.from_yaml(Path(config), "dev"), lakehouse_root=tmp_path)
    latest = load_feedback(platform)
    assert len(latest) == 1
    row = latest.iloc[0]
    assert row["verdict"] == "dismissed" and row["analyst"] == "bo" and row["note"] == "index rebalance"
    assert pd.Timestamp(row["bar_start"]) == pd.Timestamp("2018-12-24", tz="UTC") and row["channel"] == "cli"


def test_a_verdict_without_a_reviewer_is_refused_in_one_line(tmp_path: Path, project_root: Path) -> None:
    args = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path), "feedback"]
    result = CliRunner().invoke(app, [*args, "confirm", "--symbol", "SPX", "--bar-start", "2018-12-24", "--by", " "])
    assert result.exit_code == 2 and "analyst must name who reviewed the bar" in result.output
    assert "Traceback" not in result.output
