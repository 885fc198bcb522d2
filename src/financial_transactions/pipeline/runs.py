"""What a pipeline run did, and its accounting in ``pipeline_runs``.

Shared by the embedded batch run (:mod:`.batch`), the Structured Streaming and
Auto Loader runs (:mod:`.stream`) and the silver/gold writers (:mod:`.layers`),
so none of them has to import another to report a run the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow.compute as pc

from financial_transactions.lakehouse.catalog import LAYER_TABLES  # the pipeline's tables, in layer order
from financial_transactions.pipeline import expectations
from financial_transactions.runtime import Platform


@dataclass(frozen=True)
class WriteCounts:
    """What one write did to a table's rows, kept apart: new keys, MERGE-updated keys, overwritten rows."""

    inserted: int = 0
    updated: int = 0
    rewritten: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.rewritten

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.rewritten + other.rewritten
        )


@dataclass
class SilverResult:
    """What one bronze batch did to silver, quarantine and bars."""

    bronze_rows: int = 0
    silver_inserted: int = 0
    quarantine_inserted: int = 0
    bars_upserted: int = 0  # inserted + updated (pipeline_runs.bars_upserted)
    bars_inserted: int = 0
    bars_updated: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    symbols: list[str] = field(default_factory=list)
    watermark: datetime | None = None

    def add(self, other: SilverResult) -> None:
        self.bronze_rows += other.bronze_rows
        self.silver_inserted += other.silver_inserted
        self.quarantine_inserted += other.quarantine_inserted
        self.bars_upserted += other.bars_upserted
        self.bars_inserted += other.bars_inserted
        self.bars_updated += other.bars_updated
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
    gold_rows_written: int = 0  # every row the gold write touched (pipeline_runs.gold_rows_written)
    gold: WriteCounts = field(default_factory=WriteCounts)  # the same rows, split by what happened to them
    gold_symbols: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    quarantine_totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.mode != "up_to_date"

    def this_run(self) -> dict[str, WriteCounts]:
        """Per layer table, what this run did: inserted, updated and rewritten rows kept apart.

        A gold refresh recomputes every bar of a symbol that gained trades: those bars are
        *updated* (or *rewritten* by a full refresh), not added, so the table's total moves
        only by ``inserted``.
        """
        full = self.mode == "full_refresh"

        def appended(rows: int) -> WriteCounts:
            return WriteCounts(rewritten=rows) if full else WriteCounts(inserted=rows)

        silver = self.silver
        gold = self.gold if self.gold.total or not self.gold_rows_written else appended(self.gold_rows_written)
        bars = WriteCounts(inserted=silver.bars_inserted, updated=silver.bars_updated)
        if not bars.total and silver.bars_upserted:  # a result built without the split (older callers)
            bars = WriteCounts(updated=silver.bars_upserted)
        if full:
            bars = WriteCounts(rewritten=bars.total)
        return {
            "bronze_trades": appended(self.bronze_rows_added),
            "silver_trades": appended(silver.silver_inserted),
            "silver_trades_quarantine": appended(silver.quarantine_inserted),
            "silver_bars": bars,
            "gold_trade_features": gold,
        }

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


# -- table bookkeeping ---------------------------------------------------------------
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


def record_run(platform: Platform, row: dict[str, Any], *, update: bool = False) -> None:
    """Write one audit row to ``pipeline_runs``, a MERGE on run_id.

    ``update``: replace the run's row if it is there (a stream run's one row, rewritten with
    cumulative counts after each micro-batch and finished at the end); else the first row wins.
    """
    frame = pd.DataFrame([row])
    for column in ("started_at", "finished_at", "bronze_watermark"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    platform.store.merge(platform.config.table("pipeline_runs"), frame, ["run_id"], update=update)


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


def finish_run(
    platform: Platform,
    result: PipelineResult,
    started: datetime,
    watermark: datetime | None,
    *,
    record: bool,
    update: bool = False,
) -> PipelineResult:
    """Fill in the tables' versions, counts and quarantine totals; record the run when ``record``.

    ``update``: the run already has a row (a stream run's, kept current per micro-batch): finish that one.
    """
    result.versions = table_versions(platform)
    result.counts = table_counts(platform)
    result.quarantine_totals = quarantine_totals(platform)
    if record:
        record_run(platform, run_row(result, platform, started, watermark), update=update)
    return result
