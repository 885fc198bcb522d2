"""Structured Streaming: landing -> bronze -> silver, exactly once across restarts.

The stream reads the landing zone (Spark's file source locally, Auto Loader on
Databricks) with a checkpoint, and each micro-batch goes through ``foreachBatch``:

1. bronze: append the batch's rows for files that bronze does not hold yet;
2. silver / quarantine / bars: :func:`~financial_transactions.pipeline.layers.process_bronze_batch`
   (insert-only MERGE on ``trade_id``, MERGE on the quarantine and bar keys);
3. ``pipeline_runs``: one audit row, MERGEd on ``stream:<query id>:<batch id>``.

Why that is exactly-once: Spark logs a batch's files in the checkpoint *before*
running it and marks it committed only after ``foreachBatch`` returns. A process
killed mid-batch re-runs that same batch (same files, same batch timestamp) on
restart. Step 1 skips files bronze already committed (a Delta commit is atomic, so
a batch's files are all in or all out), and steps 2-3 are MERGEs, so replaying a
batch adds nothing and loses nothing.

Triggers: ``availableNow`` (drain what has landed, then stop; the default) or
``processingTime`` (the real-time mode, every ``pipeline.streaming.processing_time``).

Two runs end in gold: :func:`run_auto_loader` (the Databricks form of a pipeline
run, an ``availableNow`` drain) and :func:`stream_to_gold` (``fin-mlops pipeline
--stream``, either trigger); both rebuild gold for the symbols silver gained.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from financial_transactions.ingest.landing import ingested_files, landing_key
from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.layers import process_bronze_batch, refresh_gold
from financial_transactions.pipeline.runs import (
    LAYER_TABLES,
    PipelineResult,
    SilverResult,
    finish_run,
    record_run,
    run_row,
    table_versions,
)
from financial_transactions.runtime import Platform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

#: ``observer(event, batch_id)`` events, in order within a batch.
EVENTS = ("batch_start", "bronze_committed", "silver_committed", "batch_recorded")


@dataclass
class StreamTotals:
    """What this process's stream did (batches replayed after a restart count again)."""

    batches: int = 0
    files: int = 0
    bronze_rows_added: int = 0
    silver: SilverResult = field(default_factory=SilverResult)


class StreamProcessor:
    """Landing -> bronze -> silver with a checkpoint and ``foreachBatch`` MERGEs."""

    def __init__(
        self,
        platform: Platform,
        *,
        trigger: Literal["availableNow", "processingTime"] | None = None,
        processing_time: str | None = None,
        max_files_per_trigger: int | None = None,
        checkpoint: Path | str | None = None,
        observer: Callable[[str, int], None] | None = None,
    ) -> None:
        streaming = platform.config.pipeline.streaming
        self.platform = platform
        self.trigger = trigger or streaming.trigger
        self.processing_time = processing_time or streaming.processing_time
        self.max_files_per_trigger = max_files_per_trigger or platform.runtime.max_files_per_trigger(
            platform.config.pipeline
        )
        self.checkpoint = Path(checkpoint) if checkpoint else platform.paths.checkpoint(streaming.checkpoint_name)
        self.observer = observer or (lambda _event, _batch: None)
        self.totals = StreamTotals()
        self._lock = threading.Lock()
        self._query_id: str | None = None

    # -- the source ---------------------------------------------------------------
    def source(self) -> DataFrame:
        platform = self.platform
        landing = platform.paths.landing
        platform.runtime.ensure_dir(landing)
        return bronze_ingest.read_landing_stream(
            platform.spark,
            str(landing),
            max_files_per_trigger=self.max_files_per_trigger,
            auto_loader=platform.runtime.auto_loader,
            schema_location=str(platform.paths.checkpoint(platform.config.pipeline.autoloader.schema_location_name)),
            schema_evolution_mode=platform.config.pipeline.autoloader.schema_evolution_mode,
        )

    # -- one micro-batch -------------------------------------------------------------
    def query_id(self) -> str:
        """The stream's id from its checkpoint (stable across restarts, new after a reset)."""
        if self._query_id is None:
            meta = self.checkpoint / "metadata"
            self._query_id = json.loads(meta.read_text()).get("id", "unknown") if meta.exists() else "unknown"
        return self._query_id

    def process_batch(self, batch: DataFrame, batch_id: int) -> None:
        """``foreachBatch``: bronze append (new files only), silver MERGEs, audit row."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        platform = self.platform
        started = datetime.now(UTC)
        tick = time.perf_counter()
        self.observer("batch_start", batch_id)
        batch = batch.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            files = [r["_source_file"] for r in batch.select("_source_file").distinct().collect()]
            if not files:
                return
            already = ingested_files(platform)
            fresh = [f for f in files if landing_key(f) not in already]
            bronze_rows = 0
            if fresh:
                new_rows = batch.where(F.col("_source_file").isin(fresh))
                bronze_rows = new_rows.count()
                platform.store.write_spark(platform.config.table("bronze_trades"), new_rows, mode="append")
            self.observer("bronze_committed", batch_id)
            seconds_bronze = time.perf_counter() - tick

            tick = time.perf_counter()
            silver = process_bronze_batch(platform, batch)
            self.observer("silver_committed", batch_id)

            result = PipelineResult(
                run_id=f"stream:{self.query_id()}:{batch_id}",
                mode="stream",
                files_discovered=len(files),
                files_ingested=len(fresh),
                bronze_rows_added=bronze_rows,
                silver=silver,
            )
            result.seconds = {"bronze": seconds_bronze, "silver": time.perf_counter() - tick}
            result.versions = table_versions(platform)
            record_run(platform, run_row(result, platform, started, silver.watermark))
            self.observer("batch_recorded", batch_id)
            with self._lock:
                self.totals.batches += 1
                self.totals.files += len(fresh)
                self.totals.bronze_rows_added += bronze_rows
                self.totals.silver.add(silver)
            log.info(
                "stream batch %s: %d file(s), %d bronze row(s), %d silver insert(s), %d quarantined",
                batch_id,
                len(fresh),
                bronze_rows,
                silver.silver_inserted,
                silver.quarantine_inserted,
            )
        finally:
            batch.unpersist()

    # -- running ---------------------------------------------------------------------
    def start(self) -> StreamingQuery:
        self.platform.runtime.ensure_dir(self.checkpoint.parent)
        writer = (
            self.source()
            .writeStream.queryName(f"fin_mlops_{self.platform.config.pipeline.streaming.checkpoint_name}")
            .option("checkpointLocation", str(self.checkpoint))
            .foreachBatch(self.process_batch)
        )
        if self.trigger == "availableNow":
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=self.processing_time)
        query = writer.start()
        self._query_id = str(query.id)
        return query

    def run(self, *, timeout: float | None = None) -> StreamTotals:
        """Run until the landing zone is drained (``availableNow``) or ``timeout`` seconds pass.

        A ``processingTime`` stream runs until ``timeout`` (forever when None) and
        then stops after its in-flight batch. A failed batch raises here.
        """
        query = self.start()
        wait = None if timeout is None else max(1, round(timeout))
        try:
            finished = query.awaitTermination(wait)
            if finished is False:
                query.stop()
        finally:
            if query.isActive:
                query.stop()
        error = query.exception()
        if error is not None:
            raise RuntimeError(f"stream {query.name} failed: {error}")
        return self.totals


# -- runs that end in gold -------------------------------------------------------------
def run_auto_loader(platform: Platform, *, full_refresh: bool = False) -> PipelineResult:
    """Databricks: Auto Loader ``availableNow`` into bronze + silver, then gold.

    ``full_refresh`` resets the checkpoint and empties the layer tables first (an
    overwrite commit, so their history is kept), and then gold is rebuilt whole.
    """
    started = datetime.now(UTC)
    processor = StreamProcessor(platform, trigger="availableNow")
    if full_refresh:
        shutil.rmtree(processor.checkpoint, ignore_errors=True)
        for key in LAYER_TABLES:
            fqn = platform.config.table(key)
            if platform.store.exists(fqn):
                empty = platform.store.to_spark(fqn, platform.spark).limit(0)
                platform.store.write_spark(fqn, empty, mode="overwrite")
    tick = time.perf_counter()
    totals = processor.run()
    result = PipelineResult(
        run_id=uuid.uuid4().hex,
        mode="full_refresh" if full_refresh else ("incremental" if totals.batches else "up_to_date"),
        files_ingested=totals.files,
        bronze_rows_added=totals.silver.bronze_rows,
        silver=totals.silver,
    )
    result.seconds["bronze+silver"] = time.perf_counter() - tick
    tick = time.perf_counter()
    if full_refresh or totals.silver.silver_inserted:
        result.gold_rows_written = refresh_gold(
            platform, None if full_refresh else totals.silver.symbols, overwrite=full_refresh
        )
        result.gold_symbols = ["*"] if full_refresh else totals.silver.symbols
    result.seconds["gold"] = time.perf_counter() - tick
    return finish_run(platform, result, started, totals.silver.watermark, record=result.changed)


def stream_to_gold(processor: StreamProcessor, *, timeout: float | None = None) -> PipelineResult:
    """Run ``processor`` (until drained, ``timeout`` or Ctrl-C), then rebuild gold for what silver gained.

    Each micro-batch already recorded its own ``pipeline_runs`` row; the gold
    refresh is recorded as one more row, and only when silver gained trades.
    A Ctrl-C stops the stream after its committed batches and still refreshes gold.
    """
    platform = processor.platform
    started = datetime.now(UTC)
    try:
        totals = processor.run(timeout=timeout)
    except KeyboardInterrupt:
        totals = processor.totals
    result = PipelineResult(
        run_id=f"stream-{started:%Y%m%dT%H%M%S}",
        mode="stream" if totals.batches else "up_to_date",
        files_ingested=totals.files,
        bronze_rows_added=totals.bronze_rows_added,
        silver=totals.silver,
    )
    if totals.silver.silver_inserted:
        result.gold_rows_written = refresh_gold(platform, totals.silver.symbols)
        result.gold_symbols = totals.silver.symbols
    return finish_run(platform, result, started, totals.silver.watermark, record=bool(totals.silver.silver_inserted))
