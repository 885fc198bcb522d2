"""The markdown decision report, the CLI commands, the script and the run stage."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.orchestration import STAGES
from financial_transactions.reporting import stage as reporting_stage
from financial_transactions.reporting.report import md, write_report
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext

from .lakehouse_fixture import XSS_SYMBOL, write_platform_tables

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_sections_tables_and_charts(platform: Platform, tmp_path: Path) -> None:
    write_platform_tables(platform)
    result = write_report(platform, tmp_path / "reports", report_date=date(2026, 3, 9))
    assert result.markdown == tmp_path / "reports" / "2026-03-09-decision-report.md"
    text = result.markdown.read_text()
    for heading in (
        "## Executive summary",
        "## Decision matrix",
        "## Top anomalies",
        "## Model and drift status",
        "## Backtest",
    ):
        assert heading in text
    assert "Top opportunity: **AAPL** (Strong Buy, score 4.20)" in text
    assert "| 1 | AAPL | Strong Buy | 4.20 |" in text
    assert "| – | random_forest | failed |" in text and "MemoryError: forced failure" in text
    assert "Last gate decision: **REJECT**" in text
    assert "2 of 3 features drifted" in text and "decision **drift**: 2/3 features drifted." in text
    assert "| sma_cross | AAPL | 4.00% |" in text
    # data is text in any markdown viewer: the hostile symbol is escaped, never raw HTML
    assert XSS_SYMBOL not in text and md(XSS_SYMBOL) in text
    names = sorted(p.name for p in result.charts)
    assert names == ["anomalies.png", "decision_matrix.png", "drift.png", "equity-macd.png", "equity-sma_cross.png"]
    for chart in result.charts:
        assert chart.read_bytes()[:8] == PNG_MAGIC and chart.stat().st_size > 5000
        assert f"]({chart.parent.name}/{chart.name})" in text


def test_report_on_an_empty_lakehouse_says_what_is_missing(platform: Platform, tmp_path: Path) -> None:
    result = write_report(platform, tmp_path, report_date=date(2026, 3, 9))
    text = result.markdown.read_text()
    assert result.charts == []
    assert "No decision matrix yet." in text
    assert "_No data (missing):" in text and "fin-mlops decide" in text


def test_cli_dashboard_and_report(platform: Platform, tmp_path: Path, project_root: Path) -> None:
    write_platform_tables(platform)
    runner = CliRunner()
    common = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    res = runner.invoke(app, [*common, "dashboard", "--max-bars", "40"])
    assert res.exit_code == 0, res.output
    index = Path(platform.paths.exports) / "index.html"
    assert f"dashboard: {index}" in res.output.replace("\n", "")
    assert (Path(platform.paths.exports) / "data.js").is_file()
    res = runner.invoke(app, [*common, "report", "--out-dir", str(tmp_path / "r"), "--date", "2026-03-09"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "2026-03-09-decision-report.md").is_file()
    res = runner.invoke(app, [*common, "report", "--date", "09/03/2026"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.output


def test_script_entry_point(platform: Platform, project_root: Path, tmp_path: Path) -> None:
    write_platform_tables(platform)
    out = tmp_path / "exports"
    proc = subprocess.run(
        [
            sys.executable,
            str(project_root / "scripts/financial/export_dashboard_metrics.py"),
            "--env",
            "dev",
            "--config",
            str(project_root / "project_config.yml"),
            "--lakehouse-root",
            str(platform.lakehouse_root),
            "--out-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # the report goes to the lakehouse's reports volume, not to ./reports
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "reports").exists()
    report = next(platform.paths.reports.glob("*-decision-report.md"))
    assert proc.stdout.splitlines() == [f"decision report: {report}", f"dashboard: {out / 'index.html'}"]
    assert (out / "market.json").is_file()
    assert "## Decision matrix" in report.read_text(encoding="utf-8")


def test_dashboard_is_the_last_stage_and_prints_the_path(platform: Platform, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert STAGES[-1].name == "dashboard"
    assert STAGES[-1].run is reporting_stage.run_stage
    write_platform_tables(platform)
    monkeypatch.chdir(tmp_path)
    console = Console(record=True, width=400)
    ctx = RunContext(platform=platform, console=console)
    summary = STAGES[-1].run(ctx)
    index = Path(platform.paths.exports) / "index.html"
    assert summary["dashboard"] == str(index)
    # the fixture writes no training_runs, analyst_feedback, collector_gaps or anomaly_alerts
    assert summary["sections_with_data"] == "22/27"
    assert f"dashboard: {index}" in console.export_text()
    report = platform.paths.reports / summary["report"]
    assert report.is_file()  # written under the lakehouse's reports volume, named in the summary
