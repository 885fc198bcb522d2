"""No dead ends: an expected reason not to work is ``not run`` (exit 0), a real failure names itself."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console

from financial_transactions.models.stage import NOT_RUN
from financial_transactions.orchestration import STAGES, Stage, failed_stages, run_stages, summary_table
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext
from financial_transactions.runtime.local import LocalRuntime


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
    assert [s.name for s in STAGES if s.engine] == ["pipeline", "shift"]  # so the JVM starts during ingest
    assert needs["dashboard"] == ()
    assert needs["drift"] == ("shift",) and needs["decide"] == ("backtest",)
    assert "train" not in {n for deps in needs.values() for n in deps}  # no stage waits on a champion being trained


class _RecordingRuntime(LocalRuntime):
    """The embedded runtime, recording from which thread the engine was asked for (a sentinel comes back)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.threads: list[str] = []

    def spark_session(self, config: Any, spark_remote: str | None) -> Any:
        self.threads.append(threading.current_thread().name)
        self.asked.set()
        return object()


def test_the_engine_starts_while_the_first_stage_runs_when_a_later_stage_needs_it(platform: Platform) -> None:
    runtime = _RecordingRuntime()
    engine_platform = Platform(config=platform.config, lakehouse_root=platform.lakehouse_root, runtime=runtime)
    seen: list[bool] = []

    def collect(ctx: RunContext) -> dict[str, Any]:
        seen.append(runtime.asked.wait(timeout=30))  # the engine was asked for while this stage ran
        return {}

    def refine(ctx: RunContext) -> dict[str, Any]:
        return {"engine": ctx.platform.spark is not None}

    stages = [Stage("ingest", collect), Stage("pipeline", refine, needs=("ingest",), engine=True)]
    results = run_stages(RunContext(platform=engine_platform, console=Console(record=True)), stages)
    assert seen == [True] and [r.status for r in results] == ["ok", "ok"]
    assert runtime.threads == ["engine-start_0"]  # once, on the helper thread: the stage reused that session

    def quick(ctx: RunContext) -> dict[str, Any]:
        return {}

    # a plan whose first stage needs the engine itself, or that never needs it, starts nothing ahead
    for plan in (
        [Stage("pipeline", refine, engine=True), Stage("ingest", quick)],
        [Stage("ingest", quick), Stage("dashboard", quick)],
    ):
        runtime.threads.clear()
        alone = Platform(config=platform.config, lakehouse_root=platform.lakehouse_root, runtime=runtime)
        run_stages(RunContext(platform=alone, console=Console(record=True)), plan)
        assert not any(name.startswith("engine-start") for name in runtime.threads)
