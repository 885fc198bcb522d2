"""Writing silver and gold: the steps the batch run and the stream's ``foreachBatch`` share.

Bronze rows become ``silver_trades`` / ``silver_trades_quarantine`` /
``silver_bars`` through :func:`process_bronze_batch`, and gold is rebuilt per
symbol by :func:`refresh_gold`. Every write is an overwrite, a first write or a
MERGE on the table's keys, so applying the same rows twice adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING

import pyarrow as pa

from financial_transactions.pipeline import expectations, gold_features, silver_transform
from financial_transactions.pipeline.runs import SilverResult, WriteCounts
from financial_transactions.runtime import Platform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SILVER_KEYS = ["trade_id"]
QUARANTINE_KEYS = ["quarantine_id"]
BAR_KEYS = ["bar_id"]


def _write(
    platform: Platform, key: str, sdf: DataFrame, keys: list[str], *, overwrite: bool, update: bool = False
) -> WriteCounts:
    """Overwrite, first write, or MERGE ``sdf`` into table ``key``; what it did to the rows."""
    store = platform.store
    fqn = platform.config.table(key)
    if overwrite or not store.exists(fqn):
        # A new or overwritten table holds exactly this write: count it from the Delta log
        # instead of evaluating the DataFrame twice.
        store.write_spark(fqn, sdf, mode="overwrite" if overwrite else "append")
        rows = store.count(fqn)
        return WriteCounts(rewritten=rows) if overwrite else WriteCounts(inserted=rows)
    result = store.merge_spark(fqn, sdf, keys, update=update)
    return WriteCounts(inserted=result.inserted, updated=result.updated if update else 0)


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
    typed = silver_transform.typed_records(bronze, silver_transform.asset_classes(cfg.symbols, platform.paths.landing))
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
        result.silver_inserted = _write(platform, "silver_trades", silver, SILVER_KEYS, overwrite=overwrite).total
        # the batch's symbols even when the MERGE inserted nothing: a batch whose rows are all in silver
        # already is the redo of a run killed before gold (the watermark only moves when a run finishes)
        result.symbols = sorted(stats["symbols"])
    if int(stats["bars"]) or overwrite:
        bars = silver_transform.silver_bars(valid)
        written = _write(platform, "silver_bars", bars, BAR_KEYS, overwrite=overwrite, update=True)
        result.bars_upserted = written.total
        result.bars_inserted, result.bars_updated = written.inserted + written.rewritten, written.updated
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
    """Rebuild gold for ``symbols`` (all when None) from their full silver history; rows written."""
    return refresh_gold_counts(platform, symbols, overwrite=overwrite).total


def refresh_gold_counts(platform: Platform, symbols: Iterable[str] | None, *, overwrite: bool = False) -> WriteCounts:
    """:func:`refresh_gold`, telling new bars (inserted) from recomputed ones (updated, or rewritten by overwrite)."""
    from pyspark.sql import functions as F

    store = platform.store
    silver_fqn = platform.config.table("silver_trades")
    if not store.exists(silver_fqn):
        return WriteCounts()
    silver = store.to_spark(silver_fqn, platform.spark)
    wanted = sorted(set(symbols)) if symbols is not None else None
    if wanted is not None:
        if not wanted:
            return WriteCounts()
        silver = silver.where(F.col("symbol").isin(wanted))
    gold = gold_features.gold_trade_features(silver, platform.config.features)
    return _write(platform, "gold_trade_features", gold, gold_features.GOLD_KEYS, overwrite=overwrite, update=True)
