"""The embedded medallion runner: landing -> bronze -> silver (+ quarantine, bars) -> gold.

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
  one time-travel read away and :func:`reproduce_gold` can rebuild it from the
  silver version recorded for it.

``full_refresh=True`` rebuilds every layer from all landing files (overwrite
commits, history kept). On a Databricks runtime bronze + silver run as the
Auto Loader stream (:class:`~financial_transactions.pipeline.stream.StreamProcessor`
with ``availableNow``), then gold as here.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from financial_transactions.pipeline import bronze_ingest, expectations, gold_features, silver_transform
from financial_transactions.runtime import Platform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


log = logging.getLogger(__name__)

#: Logical table keys written by the pipeline, in layer order.
LAYER_TABLES = (
    "bronze_trades",
    "silver_trades",
    "silver_trades_quarantine",
    "silver_bars",
    "gold_trade_features",
)
SILVER_KEYS = ["trade_id"]
QUARANTINE_KEYS = ["quarantine_id"]
BAR_KEYS = ["bar_id"]


@dataclass
class SilverResult:
    """What one bronze batch did to silver, quarantine and bars."""

    bronze_rows: int = 0
    silver_inserted: int = 0
    quarantine_inserted: int = 0
    bars_upserted: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    symbols: list[str] = field(default_factory=list)
    watermark: datetime | None = None

    def add(self, other: SilverResult) -> None:
        self.bronze_rows += other.bronze_rows
        self.silver_inserted += other.silver_inserted
        self.quarantine_inserted += other.quarantine_inserted
        self.bars_upserted += other.bars_upserted
        for rule, n in other.quarantine_by_rule.items():
            self.quarantine_by_rule[rule] = self.quarantine_by_rule.get(rule, 0) + n
        self.symbols = sorted(set(self.symbols) | set(other.symbols))
        if other.watermark is not None and (self.watermark is None or other.watermark > self.watermark):
            self.watermark = other.watermark


@dataclass
class PipelineResult:
    run_id: str
    mode: str  # incremental | full_refresh | up_to_date | stream
    files_discovered: int = 0
    files_ingested: int = 0
    bronze_rows_added: int = 0
    silver: SilverResult = field(default_factory=SilverResult)
    gold_rows_written: int = 0
    gold_symbols: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    quarantine_totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.mode != "up_to_date"

    def summary(self) -> dict[str, Any]:
        """Figures for ``fin-mlops run``'s summary table."""
        return {
            "mode": self.mode,
            "files": self.files_ingested,
            "bronze": self.counts.get("bronze_trades", 0),
            "silver": self.counts.get("silver_trades", 0),
            "quarantine": self.counts.get("silver_trades_quarantine", 0),
            "bars": self.counts.get("silver_bars", 0),
            "gold": self.counts.get("gold_trade_features", 0),
            "gold_version": self.versions.get("gold_trade_features", -1),
        }


# -- table helpers ----------------------------------------------------------------
def ingested_files(platform: Platform) -> set[str]:
    """Canonical names of the landing files already in bronze."""
    fqn = platform.config.table("bronze_trades")
    if not platform.store.exists(fqn):
        return set()
    column = platform.store.read_arrow(fqn, columns=["_source_file"]).column("_source_file")
    return {bronze_ingest.canonical_file(f) for f in pc.unique(column).to_pylist() if f}


def last_watermark(platform: Platform) -> datetime | None:
    """The newest bronze ``_ingested_at`` a successful run has carried into silver."""
    fqn = platform.config.table("pipeline_runs")
    if not platform.store.exists(fqn):
        return None
    column = platform.store.read_arrow(fqn, columns=["bronze_watermark"]).column("bronze_watermark")
    newest = pc.max(column).as_py()
    if newest is None:
        return None
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


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


def _write(
    platform: Platform, key: str, sdf: DataFrame, keys: list[str], *, overwrite: bool, update: bool = False
) -> tuple[int, int]:
    """Overwrite, first write, or MERGE ``sdf`` into table ``key``; returns (rows written, version)."""
    store = platform.store
    fqn = platform.config.table(key)
    if overwrite or not store.exists(fqn):
        # A new or overwritten table holds exactly this write: count it from the Delta log
        # instead of evaluating the DataFrame twice.
        version = store.write_spark(fqn, sdf, mode="overwrite" if overwrite else "append")
        return store.count(fqn), version
    result = store.merge_spark(fqn, sdf, keys, update=update)
    return result.inserted + (result.updated if update else 0), result.version


def process_bronze_batch(platform: Platform, bronze: DataFrame, *, overwrite: bool = False) -> SilverResult:
    """Bronze rows -> silver_trades / silver_trades_quarantine / silver_bars.

    Shared by the runner and the stream processor's ``foreachBatch``. MERGEs make
    it safe to apply the same rows twice (a restarted micro-batch, a crashed run).

    Two passes over the batch, not three: the quarantine pass also measures the whole
    batch (rows, watermark, per-rule failures, symbols) through an observation on the
    flagged rows, and its result, the quarantined rows (the exception, not the rule),
    comes back as Arrow to be merged. Silver and bars then stream from bronze straight
    into their writes, each only when the batch has any.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    cfg = platform.config
    trade_rules, bar_rules = expectations.rules_for(cfg)
    typed = silver_transform.typed_records(bronze, cfg.symbols.crypto)
    flagged = expectations.flag(typed, trade_rules, bar_rules)
    failures = F.col(expectations.FAILED_RULES)
    failed = F.size(failures) > 0
    is_trade = ~failed & (F.col("record_type") == "trade")
    rule_names = list(dict.fromkeys([*trade_rules, *bar_rules]))
    observation = Observation(f"silver_batch_{uuid.uuid4().hex}")
    measured = flagged.observe(
        observation,
        F.count(F.lit(1)).alias("rows"),
        F.max(F.col("_ingested_at")).alias("watermark"),
        F.count(F.when(failed, 1)).alias("invalid"),
        F.count(F.when(is_trade, 1)).alias("trades"),
        F.count(F.when(~failed & (F.col("record_type") == "bar"), 1)).alias("bars"),
        F.collect_set(F.when(is_trade, F.col("symbol"))).alias("symbols"),
        *[F.count(F.when(F.array_contains(failures, name), 1)).alias(f"rule_{i}") for i, name in enumerate(rule_names)],
    )
    _, invalid = expectations.split_by_rules(measured, silver_transform.TYPED_COLUMNS)
    quarantined = silver_transform.quarantine(invalid).toArrow()  # the pass that also fills the observation
    stats = observation.get
    result = SilverResult(bronze_rows=int(stats["rows"] or 0))
    if result.bronze_rows == 0 and not overwrite:
        return result
    if stats["watermark"] is not None:
        wm = stats["watermark"]
        result.watermark = wm if wm.tzinfo else wm.replace(tzinfo=UTC)
    result.quarantine_by_rule = {
        name: int(stats[f"rule_{i}"]) for i, name in enumerate(rule_names) if int(stats[f"rule_{i}"])
    }
    if quarantined.num_rows or overwrite:
        result.quarantine_inserted = _write_rows(
            platform, "silver_trades_quarantine", quarantined, QUARANTINE_KEYS, overwrite=overwrite
        )
    valid, _ = expectations.split_by_rules(flagged, silver_transform.TYPED_COLUMNS)
    if int(stats["trades"]) or overwrite:
        silver = silver_transform.silver_trades(valid)
        result.silver_inserted, _ = _write(platform, "silver_trades", silver, SILVER_KEYS, overwrite=overwrite)
        if result.silver_inserted:
            result.symbols = sorted(stats["symbols"])
    if int(stats["bars"]) or overwrite:
        bars = silver_transform.silver_bars(valid)
        result.bars_upserted, _ = _write(platform, "silver_bars", bars, BAR_KEYS, overwrite=overwrite, update=True)
    return result


def _write_rows(platform: Platform, key: str, rows: pa.Table, keys: list[str], *, overwrite: bool) -> int:
    """Overwrite table ``key`` with ``rows``, or insert the ones whose keys are new; returns rows written."""
    store = platform.store
    fqn = platform.config.table(key)
    if overwrite:
        store.overwrite(fqn, rows)
        return rows.num_rows
    return store.merge(fqn, rows, keys, update=False).inserted


def refresh_gold(platform: Platform, symbols: Iterable[str] | None, *, overwrite: bool = False) -> int:
    """Rebuild gold for ``symbols`` (all when None) from their full silver history."""
    from pyspark.sql import functions as F

    store = platform.store
    silver_fqn = platform.config.table("silver_trades")
    if not store.exists(silver_fqn):
        return 0
    silver = store.to_spark(silver_fqn, platform.spark)
    wanted = sorted(set(symbols)) if symbols is not None else None
    if wanted is not None:
        if not wanted:
            return 0
        silver = silver.where(F.col("symbol").isin(wanted))
    gold = gold_features.gold_trade_features(silver, platform.config.features)
    rows, _ = _write(platform, "gold_trade_features", gold, gold_features.GOLD_KEYS, overwrite=overwrite, update=True)
    return rows


def record_run(platform: Platform, row: dict[str, Any]) -> None:
    """Append one audit row to ``pipeline_runs`` (MERGE on run_id: a replayed batch records once)."""
    frame = pd.DataFrame([row])
    for column in ("started_at", "finished_at", "bronze_watermark"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    platform.store.merge(platform.config.table("pipeline_runs"), frame, ["run_id"], update=False)


def table_versions(platform: Platform) -> dict[str, int]:
    store = platform.store
    out = {}
    for key in LAYER_TABLES:
        fqn = platform.config.table(key)
        out[key] = store.version(fqn) if store.exists(fqn) else -1
    return out


def table_counts(platform: Platform) -> dict[str, int]:
    store = platform.store
    out = {}
    for key in LAYER_TABLES:
        fqn = platform.config.table(key)
        out[key] = store.count(fqn) if store.exists(fqn) else 0
    return out


def quarantine_totals(platform: Platform) -> dict[str, int]:
    """Rows in quarantine per broken rule (a row breaking two rules counts under both)."""
    fqn = platform.config.table("silver_trades_quarantine")
    if not platform.store.exists(fqn):
        return {}
    column = platform.store.read_arrow(fqn, columns=[expectations.FAILED_RULES]).column(expectations.FAILED_RULES)
    flat = pc.list_flatten(column)
    if len(flat) == 0:
        return {}
    counts = pc.value_counts(flat).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in sorted(counts, key=lambda c: str(c["values"]))}


def run_row(
    result: PipelineResult,
    platform: Platform,
    started: datetime,
    watermark: datetime | None,
) -> dict[str, Any]:
    versions = result.versions
    return {
        "run_id": result.run_id,
        "mode": result.mode,
        "engine": platform.engine,
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "files_ingested": result.files_ingested,
        "bronze_rows": result.bronze_rows_added,
        "silver_inserted": result.silver.silver_inserted,
        "quarantine_inserted": result.silver.quarantine_inserted,
        "bars_upserted": result.silver.bars_upserted,
        "gold_rows_written": result.gold_rows_written,
        "gold_symbols": ",".join(result.gold_symbols),
        "quarantine_by_rule": json.dumps(result.silver.quarantine_by_rule, sort_keys=True),
        "bronze_watermark": watermark,
        "bronze_version": versions.get("bronze_trades", -1),
        "silver_version": versions.get("silver_trades", -1),
        "quarantine_version": versions.get("silver_trades_quarantine", -1),
        "silver_bars_version": versions.get("silver_bars", -1),
        "gold_version": versions.get("gold_trade_features", -1),
        "seconds_bronze": round(result.seconds.get("bronze", 0.0), 3),
        "seconds_silver": round(result.seconds.get("silver", 0.0), 3),
        "seconds_gold": round(result.seconds.get("gold", 0.0), 3),
    }


# -- the runner ---------------------------------------------------------------------
class PipelineRunner:
    """Incremental, idempotent landing -> gold on one Platform."""

    def __init__(self, platform: Platform, *, progress: Callable[[str], None] | None = None) -> None:
        self.platform = platform
        self.progress = progress or (lambda _msg: None)

    def run(self, *, full_refresh: bool = False) -> PipelineResult:
        if self.platform.is_databricks:
            return self._run_auto_loader(full_refresh=full_refresh)
        return self._run_local(full_refresh=full_refresh)

    def _finish(self, result: PipelineResult, started: datetime, watermark: datetime | None) -> PipelineResult:
        result.versions = table_versions(self.platform)
        result.counts = table_counts(self.platform)
        result.quarantine_totals = quarantine_totals(self.platform)
        if result.changed:
            record_run(self.platform, run_row(result, self.platform, started, watermark))
        return result

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
        if todo:
            self.progress(f"bronze: ingesting {len(todo)} new file(s)")
            bronze = bronze_ingest.read_landing_batch(platform.spark, todo, ingested_at)
            before = platform.store.count(bronze_fqn) if platform.store.exists(bronze_fqn) and not full_refresh else 0
            platform.store.write_spark(bronze_fqn, bronze, mode="overwrite" if full_refresh else "append")
            result.bronze_rows_added = platform.store.count(bronze_fqn) - before
            result.files_ingested = len(todo)
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

        # gold -----------------------------------------------------------------------
        tick = time.perf_counter()
        if full_refresh:
            self.progress("gold: rebuilding every symbol")
            result.gold_rows_written = refresh_gold(platform, None, overwrite=True)
            result.gold_symbols = ["*"]
        elif silver.silver_inserted:
            self.progress(f"gold: rebuilding {len(silver.symbols)} symbol(s)")
            result.gold_rows_written = refresh_gold(platform, silver.symbols)
            result.gold_symbols = silver.symbols
        result.seconds["gold"] = time.perf_counter() - tick
        return self._finish(result, started, silver.watermark)

    def _run_auto_loader(self, *, full_refresh: bool) -> PipelineResult:
        """Databricks: Auto Loader ``availableNow`` into bronze + silver, then gold."""
        from financial_transactions.pipeline.stream import StreamProcessor

        platform = self.platform
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
        return self._finish(result, started, totals.silver.watermark)


# -- time travel ------------------------------------------------------------------------
@dataclass
class GoldReproduction:
    gold_version: int
    silver_version: int | None
    rows: int
    symbols: int
    reproduced: bool | None  # None when no run recorded which silver version made this gold
    max_abs_diff: float | None = None
    detail: str = ""


def reproduce_gold(platform: Platform, version: int) -> GoldReproduction:
    """Read gold as of ``version`` and rebuild it from the silver version that produced it.

    ``pipeline_runs`` records, for each run, the gold and silver versions it left;
    rebuilding gold from that silver snapshot must give the same rows and values.
    """
    store = platform.store
    gold_fqn = platform.config.table("gold_trade_features")
    old = store.read(gold_fqn, version=version)
    keys = gold_features.GOLD_KEYS
    out = GoldReproduction(
        gold_version=version,
        silver_version=None,
        rows=len(old),
        symbols=int(old["symbol"].nunique()) if len(old) else 0,
        reproduced=None,
    )
    runs_fqn = platform.config.table("pipeline_runs")
    if not store.exists(runs_fqn):
        out.detail = "no pipeline_runs table: cannot tell which silver version produced this gold"
        return out
    runs = store.read(runs_fqn, columns=["gold_version", "silver_version", "finished_at"])
    match = runs[runs["gold_version"] == version].sort_values("finished_at")
    if match.empty:
        out.detail = f"no pipeline run left gold at version {version}"
        return out
    silver_version = int(match["silver_version"].iloc[-1])
    out.silver_version = silver_version
    silver = store.to_spark(platform.config.table("silver_trades"), platform.spark, version=silver_version)
    rebuilt = gold_features.gold_trade_features(silver, platform.config.features).toPandas()
    out.reproduced, out.max_abs_diff, out.detail = compare_frames(old, rebuilt, keys)
    return out


def compare_frames(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> tuple[bool, float, str]:
    """Same keys, same columns, numeric values equal within 1e-9 relative (NaN == NaN)."""
    import numpy as np

    if sorted(left.columns) != sorted(right.columns):
        return False, float("nan"), f"columns differ: {sorted(set(left.columns) ^ set(right.columns))}"
    if len(left) != len(right):
        return False, float("nan"), f"row counts differ: {len(left)} vs {len(right)}"
    a = _normalise(left, keys)
    b = _normalise(right[left.columns], keys)
    if not a[keys].equals(b[keys]):
        return False, float("nan"), "bar keys differ"
    worst = 0.0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")
            both_nan = np.isnan(xv) & np.isnan(yv)
            diff = np.where(both_nan, 0.0, np.abs(xv - yv))
            if np.isnan(diff).any():
                return False, float("nan"), f"column {column}: NaN in one side only"
            worst = max(worst, float(diff.max()) if len(diff) else 0.0)
            if not np.allclose(np.where(both_nan, 0, xv), np.where(both_nan, 0, yv), rtol=1e-9, atol=1e-12):
                return False, worst, f"column {column} differs"
        elif not x.astype("string").fillna("<NA>").equals(y.astype("string").fillna("<NA>")):
            return False, worst, f"column {column} differs"
    return True, worst, "identical"


def _normalise(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            series = pd.to_datetime(out[column], utc=True)
            out[column] = series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)
