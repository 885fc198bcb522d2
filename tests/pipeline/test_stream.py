"""StreamProcessor: checkpointed landing -> bronze -> silver, exactly once across a kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.pipeline.runs import table_counts
from financial_transactions.pipeline.stream import StreamProcessor
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample

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


def test_processing_time_trigger_keeps_running_and_picks_up_files_that_land_later(
    platform: Platform, spark: Any
) -> None:
    """The real-time mode: the query stays up after draining, and a file landed later is one more batch."""
    import threading
    import time

    sample.build(platform.paths.landing)
    recorded: list[int] = []
    done = threading.Condition()

    def observer(event: str, batch_id: int) -> None:
        if event == "batch_recorded":
            with done:
                recorded.append(batch_id)
                done.notify_all()

    def wait_for(batches: int, deadline: float) -> None:
        with done:
            assert done.wait_for(lambda: len(recorded) >= batches, timeout=max(0.0, deadline - time.monotonic())), (
                f"only batches {recorded} within the deadline"
            )

    processor = StreamProcessor(
        platform, trigger="processingTime", processing_time="1 second", max_files_per_trigger=FILES_PER_BATCH,
        observer=observer,
    )  # fmt: skip
    assert (processor.trigger, processor.processing_time) == ("processingTime", "1 second")
    deadline = time.monotonic() + 240  # a bound, not a speed target: batches are a few seconds each here
    query = processor.start()
    try:
        wait_for(BATCHES, deadline)
        time.sleep(2.5)  # two more trigger intervals with nothing new: no batch, and the query is still up
        assert recorded == [0, 1] and query.isActive  # an availableNow query would have terminated by now
        _assert_exactly_once(platform)

        late = sample.trade("fh-LATE", "AAPL", "2026-03-06T15:10:00", 101.25, 7.0)
        sample.write_records(platform.paths.landing / "finnhub/date=2026-03-06/symbol=AAPL/runE-000001.ndjson", [late])
        wait_for(BATCHES + 1, deadline)
        assert query.isActive and query.exception() is None
    finally:
        query.stop()
    assert recorded == [0, 1, 2] and processor.totals.batches == 3
    assert processor.totals.files == 9 and processor.totals.bronze_rows_added == sample.BRONZE_ROWS + 1
    counts = table_counts(platform)
    assert counts["bronze_trades"] == sample.BRONZE_ROWS + 1 and counts["silver_trades"] == sample.SILVER_ROWS + 1
    silver = platform.store.read(platform.config.table("silver_trades"), columns=["trade_id", "session_type"])
    assert silver.set_index("trade_id").loc["fh-LATE", "session_type"] == "regular"  # 10:10 EST
    runs = platform.store.read(platform.config.table("pipeline_runs"), columns=["run_id"])
    assert sorted(runs["run_id"]) == sorted(f"stream:{query.id}:{b}" for b in (0, 1, 2))
