"""StreamProcessor: checkpointed landing -> bronze -> silver, exactly once across a kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.dlt.runner import table_counts
from financial_transactions.lakehouse import Platform
from financial_transactions.streaming.stream_processor import StreamProcessor
from tests.pipeline import landing_sample as sample

WORKER = Path(__file__).with_name("stream_worker.py")
EXPECTED = {
    "bronze_trades": sample.BRONZE_ROWS,
    "silver_trades": sample.SILVER_ROWS,
    "silver_trades_quarantine": sample.QUARANTINE_ROWS,
    "silver_bars": sample.BAR_ROWS,
}
# 8 sample files, 4 per micro-batch.
FILES_PER_BATCH = 4
BATCHES = 2


class Crash(RuntimeError):
    pass


def _assert_exactly_once(platform: Platform) -> None:
    store, cfg = platform.store, platform.config
    counts = table_counts(platform)
    assert {k: counts[k] for k in EXPECTED} == EXPECTED
    silver = store.read(cfg.table("silver_trades"), columns=["trade_id"])
    assert silver["trade_id"].is_unique
    bronze = store.read(cfg.table("bronze_trades"), columns=["_source_file"])
    assert bronze["_source_file"].nunique() == 8  # every file once, none twice
    runs = store.read(cfg.table("pipeline_runs"), columns=["run_id", "mode"])
    assert runs["run_id"].is_unique and set(runs["mode"]) == {"stream"}
    assert len(runs) == BATCHES


def test_failed_batch_is_replayed_without_duplicates_then_stream_is_idle(platform: Platform, spark: Any) -> None:
    """Batch 1's MERGEs commit, then it fails before Spark marks it done: the restart replays it."""
    sample.build(platform.paths.landing)
    events: list[tuple[str, int]] = []

    def crash_once(event: str, batch_id: int) -> None:
        events.append((event, batch_id))
        if (event, batch_id) == ("silver_committed", 1):
            raise Crash("injected failure after the silver MERGE of batch 1")

    with pytest.raises(Exception, match="injected failure"):
        StreamProcessor(
            platform, trigger="availableNow", max_files_per_trigger=FILES_PER_BATCH, observer=crash_once
        ).run()
    assert events[:4] == [("batch_start", 0), ("bronze_committed", 0), ("silver_committed", 0), ("batch_recorded", 0)]
    partial = table_counts(platform)
    assert partial["bronze_trades"] == sample.BRONZE_ROWS  # batch 1's bronze and silver are in...
    assert len(platform.store.read(platform.config.table("pipeline_runs"))) == 1  # ...but it was never recorded

    replayed: list[int] = []
    processor = StreamProcessor(
        platform,
        trigger="availableNow",
        max_files_per_trigger=FILES_PER_BATCH,
        observer=lambda e, b: replayed.append(b) if e == "batch_start" else None,
    )
    totals = processor.run()
    assert replayed == [1]  # the uncommitted batch runs again, with the same files
    assert totals.files == 0 and totals.bronze_rows_added == 0  # bronze skipped files it already holds
    assert totals.silver.silver_inserted == 0  # the trade-id MERGE found every row already there
    _assert_exactly_once(platform)
    assert processor.checkpoint.is_relative_to(platform.paths.checkpoints)

    assert StreamProcessor(platform, trigger="availableNow").run().batches == 0  # nothing left to read
    _assert_exactly_once(platform)


def test_sigkill_mid_batch_then_restart_is_exactly_once(platform: Platform, spark: Any) -> None:
    """A real crash: the driver process is SIGKILLed between the bronze commit and silver."""
    sample.build(platform.paths.landing)
    checkpoint = platform.paths.checkpoints / "kill_test"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(platform.lakehouse_root), str(checkpoint), "bronze_committed", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "bronze_committed 0"
    killed = table_counts(platform)
    assert 0 < killed["bronze_trades"] < sample.BRONZE_ROWS  # batch 0's bronze commit survived the kill
    assert killed["silver_trades"] == 0  # its silver MERGE never ran

    restarted: list[int] = []
    StreamProcessor(
        platform,
        trigger="availableNow",
        max_files_per_trigger=FILES_PER_BATCH,
        checkpoint=checkpoint,
        observer=lambda e, b: restarted.append(b) if e == "batch_start" else None,
    ).run()
    assert restarted == [0, 1]  # batch 0 is replayed (bronze skips its files), then batch 1
    _assert_exactly_once(platform)
