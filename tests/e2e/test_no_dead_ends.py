"""No dead ends: an expected reason not to work is ``not run`` (exit 0), a real failure names itself."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from financial_transactions.models.stage import NOT_RUN
from financial_transactions.orchestration import STAGES, Stage, failed_stages, run_stages, summary_table
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext


def test_a_stage_that_could_not_work_is_not_run_and_the_later_stages_still_run(platform: Platform) -> None:
    def held(ctx: RunContext) -> dict[str, Any]:
        return {NOT_RUN: "cannot train: the test slice has 0 anomalous row(s) out of 446", "champion": "none yet"}

    def ok(ctx: RunContext) -> dict[str, Any]:
        return {"rows": 1}

    stages = [Stage("train", held), Stage("backtest", ok, needs=("train",)), Stage("dashboard", ok)]
    console = Console(record=True, width=200)
    results = run_stages(RunContext(platform=platform, console=console), stages)
    assert [r.status for r in results] == ["not_run", "ok", "ok"]
    assert results[0].error == "cannot train: the test slice has 0 anomalous row(s) out of 446"
    assert results[0].summary == {"champion": "none yet"}
    assert failed_stages(results) == []
    console.print(summary_table(results))
    text = console.export_text()
    assert "not run" in text and "no stage failed" in text and "Traceback" not in text


def test_the_end_to_end_order_runs_the_dashboard_whatever_failed() -> None:
    needs = {s.name: s.needs for s in STAGES}
    assert needs["dashboard"] == ()
    assert needs["drift"] == ("shift",) and needs["decide"] == ("backtest",)
    assert "train" not in {n for deps in needs.values() for n in deps}  # no stage waits on a champion being trained
