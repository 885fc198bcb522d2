"""Silver: typed columns, UTC timestamps, session type, expectations and trade-identity dedup.

One identity per trade (:func:`trade_identity`, silver's ``trade_id``): where the
venue gives a trade id (Binance ``t``) it is ``<source>:<symbol>:<venue id>``, so a
trade collected twice (a re-collected window, two overlapping collectors) lands
once; where it gives none (Finnhub) it is the collector's id, so identical prints
(same symbol, millisecond, price and volume) stay distinct trades, and the
collectors' feed lease keeps two collectors from receiving one live trade twice.
Nothing is ever deduplicated by content. Within a batch that is a window +
``row_number``; across batches an insert-only MERGE on ``trade_id`` (done by the
caller through the store).

Every helper uses ``select`` (no ``withColumn`` / ``dropDuplicates``) so the same
code is safe inside a declarative pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd  # at runtime: pandas_udf resolves the type hints of _sessions

from financial_transactions.market.calendar import CHICAGO, GLOBEX_BREAK_END, NEW_YORK
from financial_transactions.pipeline.bronze_ingest import LANDING_COLUMNS
from financial_transactions.pipeline.expectations import FAILED_RULES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from financial_transactions.config.project import SymbolsConfig

#: Columns of :func:`typed_records` (named statically: no plan analysis needed).
TYPED_COLUMNS = [
    "trade_id",
    "record_type",
    "source",
    "asset_class",
    "symbol",
    "price",
    "volume",
    "ts",
    "ts_ms",
    "conditions",
    "exchange_trade_id",
    "ingested_at",
    "interval",
    "open",
    "high",
    "low",
    "close",
    "_landing",
    "_rescued_data",
    "_source_file",
    "_ingested_at",
]
SILVER_COLUMNS = [
    "trade_id",
    "source",
    "asset_class",
    "symbol",
    "price",
    "volume",
    "ts",
    "trade_date",
    "session_type",
    "conditions",
    "exchange_trade_id",
    "ingested_at",
    "_source_file",
]
SILVER_BAR_COLUMNS = [
    "bar_id",
    "source",
    "asset_class",
    "symbol",
    "interval",
    "bar_start",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "ingested_at",
    "_source_file",
]
QUARANTINE_COLUMNS = [
    "quarantine_id",
    "trade_id",
    "record_type",
    "source",
    "symbol",
    "price",
    "volume",
    "ts",
    FAILED_RULES,
    "raw",
    "_rescued_data",
    "_source_file",
    "_ingested_at",
]


def asset_classes(symbols: SymbolsConfig, landing: Path | str | None) -> dict[str, str]:
    """``symbol -> asset class`` of every non-equity symbol silver knows: the configured lists and what the
    replayed files under ``landing`` declared (``SymbolsConfig.asset_class`` decides, in one place)."""
    from financial_transactions.replay.market import recorded_asset_classes

    return symbols.asset_classes(recorded_asset_classes(landing) if landing is not None else None)


def typed_records(bronze: DataFrame, classes: Mapping[str, str]) -> DataFrame:
    """Bronze -> typed rows (UTC timestamps, comma-joined conditions, asset class, trade identity).

    ``classes`` maps the non-equity symbols to ``crypto`` or ``future`` (:func:`asset_classes`);
    a Binance trade is crypto whatever its symbol, any other symbol an equity. A future's
    ``session_type`` is then CME Globex's, never an NYSE session.

    A trade's ``trade_id`` becomes its identity (:func:`trade_identity`), for silver and
    the quarantine alike.

    ``_landing`` keeps the bronze record as received (before any cast) for the
    quarantine's ``raw`` JSON; column pruning drops it on the silver path, so
    valid rows never pay for it.
    """
    from pyspark.sql import functions as F

    unknown = sorted({c for c in classes.values() if c not in ("crypto", "future", "equity")})
    if unknown:
        raise ValueError(f"asset classes must be equity, crypto or future, not {unknown}")
    asset_class = F.when(F.col("source") == "binance", F.lit("crypto"))
    for name in ("crypto", "future"):
        members = sorted(s for s, c in classes.items() if c == name)
        if members:
            asset_class = asset_class.when(F.col("symbol").isin(members), F.lit(name))
    return bronze.select(
        F.when(F.col("record_type") == "trade", trade_identity()).otherwise(F.col("trade_id")).alias("trade_id"),
        F.col("record_type"),
        F.col("source"),
        asset_class.otherwise(F.lit("equity")).alias("asset_class"),
        F.col("symbol"),
        F.col("price").cast("double").alias("price"),
        F.col("volume").cast("double").alias("volume"),
        F.timestamp_millis(F.col("ts")).alias("ts"),
        F.col("ts").alias("ts_ms"),
        F.array_join(F.col("conditions"), ",").alias("conditions"),
        F.col("exchange_trade_id"),
        F.timestamp_millis(F.col("ingested_at")).alias("ingested_at"),
        F.col("interval"),
        F.col("open").cast("double").alias("open"),
        F.col("high").cast("double").alias("high"),
        F.col("low").cast("double").alias("low"),
        F.col("close").cast("double").alias("close"),
        F.struct(*[F.col(c) for c in LANDING_COLUMNS]).alias("_landing"),
        F.col("_rescued_data"),
        F.col("_source_file"),
        F.col("_ingested_at"),
    )


def _sessions(ts_ms: pd.Series, asset_class: pd.Series) -> pd.Series:
    """Vectorised session type via the shared market calendar."""
    from financial_transactions.market.calendar import classify_sessions

    ts = pd.to_datetime(ts_ms.astype("int64"), unit="ms", utc=True, cache=False)
    return classify_sessions(ts, asset_class.reset_index(drop=True)).reset_index(drop=True)


def session_type(ts_ms: Column, asset_class: Column) -> Column:
    """``session_type`` from epoch millis: a pandas UDF over ``market.calendar.classify_sessions``.

    Epoch millis (not a Spark timestamp) cross into pandas so the result never
    depends on the engine's session time zone.
    """
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StringType

    # A DataType object, not "string": parsing DDL would be a server round trip under
    # Spark Connect, which a declarative query function must not make.
    udf = pandas_udf(_sessions, returnType=StringType())  # type: ignore[call-overload]
    return udf(ts_ms, asset_class)  # type: ignore[no-any-return]


def trade_date(ts: Column, asset_class: Column) -> Column:
    """The trading date of a UTC timestamp, by ``market.calendar.session_date``'s rule: the New York
    date, or for a future the Chicago date of its Globex session's close (17:00 Chicago is the next day).

    Spark's tz database does the conversion in the JVM: no per-row Python date objects.
    """
    from pyspark.sql import functions as F

    globex_close = F.from_utc_timestamp(ts, CHICAGO) + F.expr(f"INTERVAL {24 - GLOBEX_BREAK_END // 60} HOURS")
    return F.when(asset_class == F.lit("future"), F.to_date(globex_close)).otherwise(
        F.to_date(F.from_utc_timestamp(ts, NEW_YORK))
    )


def trade_identity() -> Column:
    """Silver's trade identity: ``<source>:<symbol>:<exchange_trade_id>`` when the venue gave one, else ``trade_id``.

    Computed from the landing record's fields, so files landed before this identity existed
    (Binance records carrying run-scoped collector ids) get the same identity on a rebuild.
    """
    from pyspark.sql import functions as F

    venue = F.col("exchange_trade_id")
    has_venue_id = venue.isNotNull() & (F.length(F.trim(venue)) > 0)
    return F.when(has_venue_id, F.concat_ws(":", F.col("source"), F.col("symbol"), venue)).otherwise(F.col("trade_id"))


def dedup_by_key(df: DataFrame, key: str, order: Sequence[Column], columns: Sequence[str]) -> DataFrame:
    """Keep the first row per ``key`` under ``order`` (window + row_number, no dropDuplicates)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(F.col(key)).orderBy(*order)
    ranked = df.select("*", F.row_number().over(window).alias("_rn"))
    return ranked.where(F.col("_rn") == 1).select(*[F.col(c) for c in columns])


_TRADE_CARRIED = {*SILVER_COLUMNS, "ts_ms", "_ingested_at"}
_BAR_CARRIED = {"trade_id", "source", "asset_class", "symbol", "interval", "ts", "open", "high", "low", "close",
                "volume", "ingested_at", "_source_file", "_ingested_at"}  # fmt: skip


def silver_trades(valid: DataFrame) -> DataFrame:
    """Valid trade rows -> silver_trades (one row per trade identity, first ingested wins)."""
    from pyspark.sql import functions as F

    # Only what silver keeps (+ the ordering columns) crosses the dedup shuffle.
    carried = [c for c in TYPED_COLUMNS if c in _TRADE_CARRIED]
    trades = valid.where(F.col("record_type") == "trade")
    deduped = dedup_by_key(trades, "trade_id", [F.col("_ingested_at"), F.col("_source_file")], carried)
    derived = {
        "trade_date": trade_date(F.col("ts"), F.col("asset_class")).alias("trade_date"),
        "session_type": session_type(F.col("ts_ms"), F.col("asset_class")).alias("session_type"),
    }
    return deduped.select(*[derived.get(c, F.col(c)) for c in SILVER_COLUMNS])


def silver_bars(valid: DataFrame) -> DataFrame:
    """Valid Alpha Vantage bars -> silver_bars (one row per bar_id, latest fetch wins)."""
    from pyspark.sql import functions as F

    bars = valid.where(F.col("record_type") == "bar")
    order = [F.col("ingested_at").desc_nulls_last(), F.col("_ingested_at").desc(), F.col("_source_file")]
    carried = [c for c in TYPED_COLUMNS if c in _BAR_CARRIED]
    deduped = dedup_by_key(bars, "trade_id", order, carried)
    return deduped.select(
        F.col("trade_id").alias("bar_id"),
        F.col("source"),
        F.col("asset_class"),
        F.col("symbol"),
        F.col("interval"),
        F.col("ts").alias("bar_start"),
        trade_date(F.col("ts"), F.col("asset_class")).alias("trade_date"),
        F.col("open"),
        F.col("high"),
        F.col("low"),
        F.col("close"),
        F.col("volume"),
        F.col("ingested_at"),
        F.col("_source_file"),
    )


def quarantine(invalid: DataFrame) -> DataFrame:
    """Invalid rows -> silver_trades_quarantine, with every broken rule's name.

    ``quarantine_id`` is the trade id, or for a record without one a hash of its
    file and raw content, so re-running the same file never adds the row twice.
    """
    from pyspark.sql import functions as F

    fallback = F.concat(
        F.lit("noid:"),
        F.sha2(
            F.concat_ws(
                "|", F.col("_source_file"), F.to_json(F.col("_landing")), F.coalesce(F.col("_rescued_data"), F.lit(""))
            ),
            256,
        ),
    )
    has_id = F.col("trade_id").isNotNull() & (F.length(F.trim(F.col("trade_id"))) > 0)
    keyed = invalid.select(
        "*",
        F.to_json(F.col("_landing")).alias("raw"),
        F.when(has_id, F.col("trade_id")).otherwise(fallback).alias("quarantine_id"),
    )
    deduped = dedup_by_key(keyed, "quarantine_id", [F.col("_ingested_at"), F.col("_source_file")], QUARANTINE_COLUMNS)
    return deduped.select(*[F.col(c) for c in QUARANTINE_COLUMNS])
