"""StreamProcessor: checkpointed landing -> bronze -> silver, exactly once across a kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from financial_transactions.pipeline.runs import table_counts
from financial_transactions.pipeline.stream import BatchProgress, StreamProcessor, stream_to_gold
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


def _assert_exactly_once(platform: Platform, runs_recorded: int) -> None:
    store, cfg = platform.store, platform.config
    counts = table_counts(platform)
    assert {k: counts[k] for k in EXPECTED} == EXPECTED
    silver = store.read(cfg.table("silver_trades"), columns=["trade_id"])
    assert silver["trade_id"].is_unique
    bronze = store.read(cfg.table("bronze_trades"), columns=["_source_file"])
    assert bronze["_source_file"].nunique() == 8  # every file once, none twice
    runs = store.read(cfg.table("pipeline_runs"), columns=["run_id", "mode"])
    assert runs["run_id"].is_unique and set(runs["mode"]) == {"stream"}
    assert len(runs) == runs_recorded  # one row per run, however many batches it took


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
    runs = platform.store.read(platform.config.table("pipeline_runs"))
    assert len(runs) == 1 and runs["bronze_rows"].iloc[0] < sample.BRONZE_ROWS  # ...but the run's row stops at batch 0

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
    _assert_exactly_once(platform, runs_recorded=2)  # the crashed run's row and the restart's
    assert processor.checkpoint.is_relative_to(platform.paths.checkpoints)

    assert StreamProcessor(platform, trigger="availableNow").run().batches == 0  # nothing left to read
    _assert_exactly_once(platform, runs_recorded=2)  # a run that read no batch records nothing


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
    _assert_exactly_once(platform, runs_recorded=1)  # the killed run wrote no row (it died in batch 0)


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
        _assert_exactly_once(platform, runs_recorded=1)

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
    runs = platform.store.read(platform.config.table("pipeline_runs"), columns=["run_id", "files_ingested"])
    assert runs["run_id"].tolist() == [processor.run_id] and runs["files_ingested"].tolist() == [9]


def test_a_two_batch_stream_run_is_one_pipeline_runs_row_with_cumulative_counts(platform: Platform, spark: Any) -> None:
    """Batch 0 writes the run's row, batch 1 rewrites it with the sums, stream_to_gold finishes it."""
    files = sample.build(platform.paths.landing)
    # Spark's file source takes the oldest files first, in an arbitrary order among equal mtimes: the
    # labels' order, 1 s apart, makes the batches F1-F4 and F5-F8 (F6's re-fetch of F5's bar then meets
    # it in one batch, and the bars' upserts sum to BAR_ROWS whatever the file system's mtime resolution)
    start = time.time() - 60
    for i, label in enumerate(sorted(files)):
        os.utime(files[label], (start + i, start + i))
    fqn = platform.config.table("pipeline_runs")
    after_batch_0: list[Any] = []
    progress: list[BatchProgress] = []

    def observer(event: str, batch_id: int) -> None:
        if (event, batch_id) == ("batch_recorded", 0):
            after_batch_0.append(platform.store.read(fqn))

    processor = StreamProcessor(
        platform, trigger="availableNow", max_files_per_trigger=FILES_PER_BATCH, observer=observer,
        on_batch=progress.append,
    )  # fmt: skip
    result = stream_to_gold(processor)

    (first,) = after_batch_0
    assert first["run_id"].tolist() == [processor.run_id] and first["finished_at"].isna().all()  # still going
    assert first["files_ingested"].tolist() == [FILES_PER_BATCH]
    assert first["bronze_rows"].tolist() == [progress[0].rows_in]

    assert [b.batch_id for b in progress] == [0, 1]
    assert [b.files for b in progress] == [FILES_PER_BATCH, FILES_PER_BATCH]
    assert sum(b.rows_in for b in progress) == sample.BRONZE_ROWS
    assert sum(b.silver_inserted for b in progress) == sample.SILVER_ROWS
    assert sum(b.quarantine_inserted for b in progress) == sample.QUARANTINE_ROWS
    assert [b.gold_rows for b in progress] == [0, 0]  # no on_gold: gold is built once at the end
    assert all(b.seconds > 0 for b in progress)

    gold_rows = table_counts(platform)["gold_trade_features"]
    assert gold_rows > 0
    runs = platform.store.read(fqn)
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["run_id"] == processor.run_id == result.run_id
    assert row["mode"] == "stream" and not pd.isna(row["finished_at"])
    assert row["files_ingested"] == 8
    assert row["bronze_rows"] == sample.BRONZE_ROWS
    assert row["silver_inserted"] == sample.SILVER_ROWS
    assert row["quarantine_inserted"] == sample.QUARANTINE_ROWS
    assert row["bars_upserted"] == sample.BAR_ROWS
    assert row["gold_rows_written"] == gold_rows
    assert row["gold_version"] == result.versions["gold_trade_features"] >= 0
