"""The CLI core commands (help, info, config errors) and the run's stop-at-first-failure."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.orchestration import Stage, run_stages
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext


def test_cli_help_and_info(tmp_path: Path, project_root: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "info" in result.output and "run" in result.output
    result = runner.invoke(
        app,
        ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path), "info"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "mlops_dev.financial_transactions" in result.output
    assert "silver_trades" in result.output
    assert str(tmp_path) in result.output


def test_cli_reports_config_errors_cleanly(tmp_path: Path, project_root: Path) -> None:
    result = CliRunner().invoke(
        app, ["--env", "qa", "--config", str(project_root / "project_config.yml"), "info"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "unknown env 'qa'" in result.output
    assert result.output.startswith("config error ") and "[/]" not in result.output  # styled, not raw markup

    bad = tmp_path / "project_config.yml"
    bad.write_text((project_root / "project_config.yml").read_text().replace("  bins: 10", "  bins: 1"))
    result = CliRunner().invoke(app, ["--config", str(bad), "info"], terminal_width=200)
    assert result.exit_code == 2
    assert "field drift.bins: Input should be greater than or equal to 2 (value: 1)" in result.output


def test_a_failure_skips_only_the_stages_that_need_it_and_is_reported(platform: Platform) -> None:
    from rich.console import Console

    calls: list[str] = []

    def ok(ctx: RunContext) -> dict[str, int]:
        calls.append("ok")
        return {"rows": 3}

    def boom(ctx: RunContext) -> dict[str, int]:
        calls.append("boom")
        raise ValueError("bad landing file landing/x.ndjson")

    stages = [Stage("a", ok), Stage("b", boom), Stage("c", ok, needs=("b",)), Stage("d", ok, needs=("c",)),
              Stage("e", ok)]  # fmt: skip
    ctx = RunContext(platform=platform, console=Console(record=True))
    results = run_stages(ctx, stages)
    assert [r.status for r in results] == ["ok", "failed", "skipped", "skipped", "ok"]
    assert results[0].summary == {"rows": 3}
    assert results[1].error == "ValueError: bad landing file landing/x.ndjson"
    assert results[3].error == "needs b, which failed"
    assert calls == ["ok", "boom", "ok"]
