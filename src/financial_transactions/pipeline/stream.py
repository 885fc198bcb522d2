"""Structured Streaming: landing -> bronze -> silver, exactly once across restarts.

The stream reads the landing zone (Spark's file source locally, Auto Loader on
Databricks) with a checkpoint, and each micro-batch goes through ``foreachBatch``:

1. bronze: append the batch's rows for files that bronze does not hold yet;
2. silver / quarantine / bars: :func:`~financial_transactions.pipeline.layers.process_bronze_batch`
   (insert-only MERGE on ``trade_id``, MERGE on the quarantine and bar keys);
3. ``pipeline_runs``: the run's one row (``stream-<start>-<random>``), MERGEd with the
   run's cumulative counts after each batch; :func:`stream_to_gold` finishes it
   (``finished_at`` is empty while the run is going).

Why that is exactly-once: Spark logs a batch's files in the checkpoint *before*
running it and marks it committed only after ``foreachBatch`` returns. A process
killed mid-batch re-runs that same batch (same files, same batch timestamp) on
restart. Step 1 skips files bronze already committed (a Delta commit is atomic, so
a batch's files are all in or all out), and step 2 is MERGEs, so replaying a
batch adds nothing and loses nothing (the restart is a new run, whose row counts the
replayed batch's zero new rows).

Triggers: ``availableNow`` (drain what has landed, then stop; the default) or
``processingTime`` (the real-time mode, every ``pipeline.streaming.processing_time``).

Live scoring: with ``on_gold`` set, each micro-batch also rebuilds gold for the
symbols its trades touch (a MERGE on the gold key, so a replayed batch rewrites the
same rows) and hands the touched bars to the callback as a :class:`GoldUpdate`.
Higher layers attach the champion's scoring this way
(:class:`~financial_transactions.monitoring.live_scoring.LiveScorer`): the pipeline
imports nothing from monitoring or models.

Two runs end in gold: :func:`run_auto_loader` (the Databricks form of a pipeline
run, an ``availableNow`` drain) and :func:`stream_to_gold` (``fin-mlops pipeline
--stream``, either trigger); both rebuild gold for the symbols silver gained.
"""

from __future__ import annotations

import copy
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
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from financial_transactions.ingest.landing import ingested_files, landing_key
from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.layers import process_bronze_batch, refresh_gold_counts
from financial_transactions.pipeline.runs import (
    LAYER_TABLES,
    PipelineResult,
    SilverResult,
    WriteCounts,
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

#: ``observer(event, batch_id)`` events, in order within a batch (``gold_committed`` and
#: ``gold_delivered`` only with an ``on_gold`` callback).
EVENTS = ("batch_start", "bronze_committed", "silver_committed", "gold_committed", "gold_delivered", "batch_recorded")


@dataclass(frozen=True)
class GoldUpdate:
    """The gold bars one micro-batch touched, after gold holds them.

    ``bars``: one row per (symbol, bar_start) with ``trade_at`` (the newest trade of the
    bar in this batch, exchange time) and ``ingested_at`` (when the collector got it), both
    UTC. A replayed batch (after a crash) carries the same bars again.
    """

    batch_id: int
    query_id: str
    bars: pd.DataFrame
    gold_rows_written: int
    #: the bars' gold rows when computed in memory (:class:`BronzeFollower`); None: read them from gold
    gold: pd.DataFrame | None = None


def touched_bars(batch: DataFrame, bar_interval: str) -> pd.DataFrame:
    """(symbol, bar_start, trade_at, ingested_at) of the trade records in a bronze batch (epoch-floored bars)."""
    from pyspark.sql import functions as F

    from financial_transactions.config.bar_interval import interval_ns

    step = interval_ns(bar_interval) // 1_000_000
    trades = batch.where((F.col("record_type") == "trade") & F.col("symbol").isNotNull() & F.col("ts").isNotNull())
    rows = (
        trades.groupBy(F.col("symbol"), (F.floor(F.col("ts") / step) * step).alias("bar_ms"))
        .agg(F.max("ts").alias("trade_ms"), F.max("ingested_at").alias("ingested_ms"))
        .collect()
    )
    frame = pd.DataFrame(
        [(r["symbol"], r["bar_ms"], r["trade_ms"], r["ingested_ms"]) for r in rows],
        columns=["symbol", "bar_ms", "trade_ms", "ingested_ms"],
    )
    out = pd.DataFrame({"symbol": frame["symbol"].astype(object)})
    for name, column in (("bar_start", "bar_ms"), ("trade_at", "trade_ms"), ("ingested_at", "ingested_ms")):
        out[name] = pd.to_datetime(frame[column].astype("Int64"), unit="ms", utc=True)
    return out.sort_values(["symbol", "bar_start"], kind="stable").reset_index(drop=True)


@dataclass
class StreamTotals:
    """What this process's stream did (batches replayed after a restart count again)."""

    batches: int = 0
    files: int = 0
    bronze_rows_added: int = 0
    silver: SilverResult = field(default_factory=SilverResult)
    gold: WriteCounts = field(default_factory=WriteCounts)  # per-batch gold refreshes (with ``on_gold``)
    gold_symbols: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per layer, summed over the batches


@dataclass(frozen=True)
class BatchProgress:
    """What one micro-batch did, handed to ``StreamProcessor(on_batch=...)`` once it is recorded."""

    batch_id: int
    files: int  # landing files bronze took in (0 for a replayed batch)
    rows_in: int  # rows the micro-batch read from the landing zone
    silver_inserted: int
    quarantine_inserted: int
    gold_rows: int  # gold rows the batch refreshed (with ``on_gold``; else gold is built at the end)
    seconds: float

    @property
    def rows_out(self) -> int:
        return self.silver_inserted + self.quarantine_inserted


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
        on_gold: Callable[[GoldUpdate], None] | None = None,
        on_batch: Callable[[BatchProgress], None] | None = None,
    ) -> None:
        """``on_gold``: called in each micro-batch with the bars it touched, after gold holds them.

        ``on_batch``: called after each micro-batch is recorded, with what it did (progress display).
        """
        streaming = platform.config.pipeline.streaming
        self.platform = platform
        self.trigger = trigger or streaming.trigger
        self.processing_time = processing_time or streaming.processing_time
        self.max_files_per_trigger = max_files_per_trigger or platform.runtime.max_files_per_trigger(
            platform.config.pipeline
        )
        self.checkpoint = Path(checkpoint) if checkpoint else platform.paths.checkpoint(streaming.checkpoint_name)
        self.observer = observer or (lambda _event, _batch: None)
        self.on_gold = on_gold
        self.on_batch = on_batch
        self.totals = StreamTotals()
        self.started = datetime.now(UTC)
        #: this run's one ``pipeline_runs`` row (a restart is a new run)
        self.run_id = f"stream-{self.started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
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
        batch_tick = tick = time.perf_counter()
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
            seconds_silver = time.perf_counter() - tick
            gold, gold_symbols = WriteCounts(), list[str]()
            seconds = {"bronze": seconds_bronze, "silver": seconds_silver}
            if self.on_gold is not None:
                tick = time.perf_counter()
                gold, gold_symbols = self._gold_for_batch(batch, batch_id)
                seconds["gold"] = time.perf_counter() - tick

            with self._lock:  # the run's row with this batch added; the totals move once it is recorded
                totals = copy.deepcopy(self.totals)
                totals.batches += 1
                totals.files += len(fresh)
                totals.bronze_rows_added += bronze_rows
                totals.silver.add(silver)
                totals.gold = totals.gold + gold
                totals.gold_symbols = sorted(set(totals.gold_symbols) | set(gold_symbols))
                for layer, secs in seconds.items():
                    totals.seconds[layer] = totals.seconds.get(layer, 0.0) + secs
                record_run(platform, self.run_row(totals), update=True)
                self.totals = totals
            self.observer("batch_recorded", batch_id)
            if self.on_batch is not None:
                self.on_batch(
                    BatchProgress(
                        batch_id=batch_id,
                        files=len(fresh),
                        rows_in=silver.bronze_rows,
                        silver_inserted=silver.silver_inserted,
                        quarantine_inserted=silver.quarantine_inserted,
                        gold_rows=gold.total,
                        seconds=time.perf_counter() - batch_tick,
                    )
                )
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

    def run_row(self, totals: StreamTotals, *, mode: str = "stream", finished: bool = False) -> dict[str, Any]:
        """This run's ``pipeline_runs`` row from ``totals`` (``finished_at`` empty until ``finished``)."""
        result = self.result(totals, mode)
        result.versions = table_versions(self.platform)
        row = run_row(result, self.platform, self.started, totals.silver.watermark)
        if not finished:
            row["finished_at"] = None
        return row

    def result(self, totals: StreamTotals, mode: str) -> PipelineResult:
        """``totals`` as this run's :class:`PipelineResult`."""
        result = PipelineResult(
            run_id=self.run_id,
            mode=mode,
            files_ingested=totals.files,
            bronze_rows_added=totals.bronze_rows_added,
            silver=totals.silver,
        )
        result.gold = totals.gold
        result.gold_rows_written = totals.gold.total
        result.gold_symbols = list(totals.gold_symbols)
        result.seconds = dict(totals.seconds)
        return result

    def _gold_for_batch(self, batch: DataFrame, batch_id: int) -> tuple[WriteCounts, list[str]]:
        """Rebuild gold for the batch's symbols (a MERGE: a replay rewrites the same rows), then call ``on_gold``.

        It runs whether or not silver gained rows: a batch replayed after a crash finds
        its trades already in silver, and its bars must still reach gold and the callback.
        """
        assert self.on_gold is not None
        bars = touched_bars(batch, self.platform.config.features.bar_interval)
        if bars.empty:
            return WriteCounts(), []
        symbols = sorted(set(bars["symbol"]))
        counts = refresh_gold_counts(self.platform, symbols)
        self.observer("gold_committed", batch_id)
        self.on_gold(GoldUpdate(batch_id, self.query_id(), bars, counts.total))
        self.observer("gold_delivered", batch_id)
        return counts, symbols

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
        self.started = datetime.now(UTC)  # the run's row is written by its first batch
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


class BronzeFollower:
    """Databricks: follow the declarative pipeline's ``bronze_trades`` streaming table for live scoring.

    There the Lakeflow pipeline owns every layer (a dataset has one writer) and publishes
    gold as a materialized view, which cannot be streamed from. This query reads bronze
    (append-only) with its own checkpoint and trigger; per micro-batch it rebuilds the
    touched symbols' gold *in memory* from their bronze history through the same steps the
    pipeline runs (typed records, expectations, silver dedupe, the shared gold code) and
    hands the touched bars' rows to ``on_gold``. It writes no pipeline table.
    """

    def __init__(
        self,
        platform: Platform,
        on_gold: Callable[[GoldUpdate], None],
        *,
        processing_time: str | None = None,
        checkpoint: Path | str | None = None,
    ) -> None:
        self.platform = platform
        self.on_gold = on_gold
        self.processing_time = processing_time or platform.config.pipeline.streaming.processing_time
        name = f"{platform.config.pipeline.streaming.checkpoint_name}_live_scoring"
        self.checkpoint = Path(checkpoint) if checkpoint else platform.paths.checkpoint(name)
        self._query_id = "unknown"

    def gold_for(self, symbols: list[str]) -> DataFrame:
        """Gold of ``symbols`` from bronze, through the pipeline's own transformations."""
        from pyspark.sql import functions as F

        from financial_transactions.pipeline import expectations, gold_features, silver_transform

        cfg = self.platform.config
        bronze = self.platform.spark.read.table(cfg.table("bronze_trades")).where(F.col("symbol").isin(symbols))
        trade_rules, bar_rules = expectations.rules_for(cfg)
        classes = silver_transform.asset_classes(cfg.symbols, self.platform.paths.landing)
        flagged = expectations.flag(silver_transform.typed_records(bronze, classes), trade_rules, bar_rules)
        valid, _ = expectations.split_by_rules(flagged, silver_transform.TYPED_COLUMNS)
        return gold_features.gold_trade_features(silver_transform.silver_trades(valid), cfg.features)

    def process_batch(self, batch: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        bars = touched_bars(batch, self.platform.config.features.bar_interval)
        if bars.empty:
            return
        symbols = sorted(set(bars["symbol"]))
        since = bars["bar_start"].min().to_pydatetime()
        gold = self.gold_for(symbols).where(F.col("bar_start") >= F.lit(since)).toPandas()
        gold["bar_start"] = pd.to_datetime(gold["bar_start"], utc=True)
        self.on_gold(GoldUpdate(batch_id, self._query_id, bars, len(gold), gold=gold))

    def start(self) -> StreamingQuery:
        self.platform.runtime.ensure_dir(self.checkpoint.parent)
        source = self.platform.spark.readStream.table(self.platform.config.table("bronze_trades"))
        query = (
            source.writeStream.queryName("fin_mlops_live_scoring")
            .option("checkpointLocation", str(self.checkpoint))
            .foreachBatch(self.process_batch)
            .trigger(processingTime=self.processing_time)
            .start()
        )
        self._query_id = str(query.id)
        return query


# -- runs that end in gold -------------------------------------------------------------
def run_auto_loader(platform: Platform, *, full_refresh: bool = False) -> PipelineResult:
    """Databricks: Auto Loader ``availableNow`` into bronze + silver, then gold.

    ``full_refresh`` resets the checkpoint and empties the layer tables first (an
    overwrite commit, so their history is kept), and then gold is rebuilt whole.
    """
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
        run_id=processor.run_id,  # the row the batches kept current: finished here
        mode="full_refresh" if full_refresh else ("incremental" if totals.batches else "up_to_date"),
        files_ingested=totals.files,
        bronze_rows_added=totals.silver.bronze_rows,
        silver=totals.silver,
    )
    result.seconds["bronze+silver"] = time.perf_counter() - tick
    tick = time.perf_counter()
    if full_refresh or totals.silver.silver_inserted:
        symbols = None if full_refresh else totals.silver.symbols
        result.gold = refresh_gold_counts(platform, symbols, overwrite=full_refresh)
        result.gold_rows_written = result.gold.total
        result.gold_symbols = ["*"] if full_refresh else totals.silver.symbols
    result.seconds["gold"] = time.perf_counter() - tick
    return finish_run(platform, result, processor.started, totals.silver.watermark, record=result.changed, update=True)


def stream_to_gold(processor: StreamProcessor, *, timeout: float | None = None) -> PipelineResult:
    """Run ``processor`` (until drained, ``timeout`` or Ctrl-C), then rebuild gold for what silver gained.

    The run has one ``pipeline_runs`` row: its first micro-batch writes it, each batch
    rewrites it with the cumulative counts, and this finishes it (``finished_at``, the gold
    refresh, the tables' versions), with mode ``stream`` or, when a batch failed,
    ``stream_failed``. A run that read no batch records nothing.
    A Ctrl-C stops the stream after its committed batches and still refreshes gold.
    """
    platform = processor.platform
    try:
        totals = processor.run(timeout=timeout)
    except KeyboardInterrupt:
        totals = processor.totals
    except Exception:
        if processor.totals.batches:  # what the committed batches did, and that the run failed
            record_run(platform, processor.run_row(processor.totals, mode="stream_failed", finished=True), update=True)
        raise
    result = processor.result(totals, "stream" if totals.batches else "up_to_date")
    if totals.silver.silver_inserted and processor.on_gold is None:  # with on_gold each batch refreshed gold
        tick = time.perf_counter()
        result.gold = refresh_gold_counts(platform, totals.silver.symbols)
        result.gold_rows_written = result.gold.total
        result.gold_symbols = totals.silver.symbols
        result.seconds["gold"] = time.perf_counter() - tick
    return finish_run(
        platform, result, processor.started, totals.silver.watermark, record=bool(totals.batches), update=True
    )
