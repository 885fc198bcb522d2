"""The embedded medallion run: landing -> bronze -> silver (+ quarantine, bars) -> gold.

It applies the same DataFrame helpers as the declarative pipeline file and the
stream processor, and persists every layer as Delta through ``platform.store``.

Incremental and idempotent:

* **bronze** reads only landing files whose name is not yet in
  ``bronze_trades._source_file``: a file is never read twice, and a re-run on the
  same landing zone writes nothing;
* **silver** takes the bronze rows ingested after the watermark recorded by the
  last successful run in ``pipeline_runs`` (so a run that died between the bronze
  commit and the silver MERGE is finished by the next one) and MERGEs them
  insert-only on ``trade_id``; quarantine and bars MERGE on their keys;
* **gold** is rebuilt for the symbols that gained silver rows and MERGEd on
  ``(symbol, bar_start)``. Every commit is a Delta version, so an earlier gold is
  one time-travel read away and
  :func:`~financial_transactions.pipeline.reproduce.reproduce_gold` can rebuild it
  from the silver version recorded for it.

``full_refresh=True`` rebuilds every layer from all landing files (overwrite
commits, history kept). On a Databricks runtime bronze + silver run as the
Auto Loader stream (:func:`~financial_transactions.pipeline.stream.run_auto_loader`,
``availableNow``), then gold as here.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from financial_transactions.ingest.landing import ingested_files
from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.layers import process_bronze_batch, refresh_gold_counts
from financial_transactions.pipeline.runs import PipelineResult, finish_run, last_watermark
from financial_transactions.pipeline.stream import run_auto_loader
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint

log = logging.getLogger(__name__)


def _pending_bronze(platform: Platform, watermark: datetime | None) -> bool:
    """Does bronze hold rows newer than ``watermark`` (e.g. left by a run that died)?

    Answered from the ``_ingested_at`` column alone, without starting a Spark job.
    """
    column = platform.store.read_arrow(platform.config.table("bronze_trades"), columns=["_ingested_at"])
    newest = pc.max(column.column("_ingested_at")).as_py()
    if newest is None:
        return False
    if watermark is None:
        return True
    newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    return bool(newest > watermark)


class PipelineRunner:
    """Incremental, idempotent landing -> gold on one Platform."""

    def __init__(self, platform: Platform, *, progress: Callable[[str], None] | None = None) -> None:
        self.platform = platform
        self.progress = progress or (lambda _msg: None)

    def run(self, *, full_refresh: bool = False) -> PipelineResult:
        if self.platform.runtime.auto_loader:
            return run_auto_loader(self.platform, full_refresh=full_refresh)
        return self._run_local(full_refresh=full_refresh)

    def _finish(self, result: PipelineResult, started: datetime, watermark: datetime | None) -> PipelineResult:
        return finish_run(self.platform, result, started, watermark, record=result.changed)

    def _run_local(self, *, full_refresh: bool) -> PipelineResult:
        platform = self.platform
        started = datetime.now(UTC)
        watermark = None if full_refresh else last_watermark(platform)
        # The run's rows are "pending" while their _ingested_at is above the watermark:
        # keep the stamp strictly increasing even if the wall clock stepped back.
        ingested_at = started.replace(microsecond=(started.microsecond // 1000) * 1000)
        if watermark is not None and ingested_at <= watermark:
            ingested_at = watermark + timedelta(milliseconds=1)
        result = PipelineResult(run_id=uuid.uuid4().hex, mode="full_refresh" if full_refresh else "incremental")

        # bronze ---------------------------------------------------------------------
        tick = time.perf_counter()
        self.progress("bronze: listing landing files")
        landing = bronze_ingest.list_landing_files(platform.paths.landing)
        result.files_discovered = len(landing)
        todo = landing if full_refresh else bronze_ingest.new_files(landing, ingested_files(platform))
        bronze_fqn = platform.config.table("bronze_trades")
        # rows a killed run left in bronze (the watermark only moves when a run finishes): their silver
        # MERGE may have committed without gold, so this run rebuilds their symbols' gold even if it adds none
        left_behind = not full_refresh and platform.store.exists(bronze_fqn) and _pending_bronze(platform, watermark)
        if todo:
            self.progress(f"bronze: ingesting {len(todo)} new file(s)")
            engine = platform.start_engine()  # the JVM starts while bronze is read without it
            scans = bronze_ingest.scan_files(todo)
            rows = bronze_ingest.read_landing_arrow(scans, ingested_at)
            before = platform.store.count(bronze_fqn) if platform.store.exists(bronze_fqn) and not full_refresh else 0
            if rows is not None:
                if full_refresh:
                    platform.store.overwrite(bronze_fqn, rows)
                else:
                    platform.store.append(bronze_fqn, rows)
            else:
                engine.result()
                bronze = bronze_ingest.read_landing_batch(platform.spark, todo, ingested_at, scans=scans)
                platform.store.write_spark(bronze_fqn, bronze, mode="overwrite" if full_refresh else "append")
            engine.result()
            result.bronze_rows_added = platform.store.count(bronze_fqn) - before
            result.files_ingested = len(todo)
            crashpoint("pipeline.after_bronze")
        elif full_refresh:
            raise FileNotFoundError(f"--full-refresh: no landing files under {platform.paths.landing}")
        result.seconds["bronze"] = time.perf_counter() - tick

        # silver ---------------------------------------------------------------------
        tick = time.perf_counter()
        if not platform.store.exists(bronze_fqn) or (not todo and not _pending_bronze(platform, watermark)):
            result.mode = "up_to_date"
            return self._finish(result, started, None)
        from pyspark.sql import functions as F

        pending = platform.store.to_spark(bronze_fqn, platform.spark)
        if watermark is not None:
            pending = pending.where(F.col("_ingested_at") > F.lit(watermark))
        self.progress("silver: applying expectations, session types and trade-id MERGE")
        silver = process_bronze_batch(platform, pending, overwrite=full_refresh)
        result.silver = silver
        result.seconds["silver"] = time.perf_counter() - tick
        crashpoint("pipeline.after_silver")

        # gold -----------------------------------------------------------------------
        tick = time.perf_counter()
        if full_refresh:
            self.progress("gold: rebuilding every symbol")
            result.gold = refresh_gold_counts(platform, None, overwrite=True)
            result.gold_rows_written = result.gold.total
            result.gold_symbols = ["*"]
        elif silver.silver_inserted or (left_behind and silver.symbols):
            # a left-behind batch whose MERGE inserted nothing new is the redo of a run killed after silver:
            # its gold was never rebuilt. Gold is rebuilt from each symbol's full silver history, so doing it
            # again is idempotent. A re-landed copy of finished files inserts nothing and rewrites no gold.
            self.progress(f"gold: rebuilding {len(silver.symbols)} symbol(s)")
            result.gold = refresh_gold_counts(platform, silver.symbols)
            result.gold_rows_written = result.gold.total
            result.gold_symbols = silver.symbols
        result.seconds["gold"] = time.perf_counter() - tick
        return self._finish(result, started, silver.watermark)
