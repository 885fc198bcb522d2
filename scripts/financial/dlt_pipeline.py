"""The medallion pipeline as Spark Declarative Pipelines: one file, two engines.

Locally: ``fin-mlops pipeline --declarative`` writes a ``spark-pipeline.yml`` spec
and runs it with the open-source ``spark-pipelines`` CLI (hive catalog, parquet);
the spec's ``configuration`` carries the ``fin_mlops.*`` conf.
On Databricks: the Lakeflow pipeline in the bundle runs this file; its
``configuration`` block sets the same keys (Auto Loader is used there).

Datasets: ``bronze_trades`` (streaming table: every landing file exactly once),
``silver_trades``, ``silver_trades_quarantine``, ``silver_bars`` and
``gold_trade_features_mv`` (materialized views). Jobs pin versions of gold, and a
materialized view has no time travel, so gold is published under
``settings.published_name`` and the ingestion job's ``snapshot_gold`` task merges it
into the job-owned Delta table ``gold_trade_features``. All logic lives in
``financial_transactions.pipeline`` and is shared with the embedded runner; this file
only wires it. Expectations: Lakeflow's ``expect_all_or_drop`` where the API has
it, the same rule set as an explicit filter where it does not (OSS SDP).
"""

from __future__ import annotations

from pathlib import Path

from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from financial_transactions.pipeline import bronze_ingest, expectations, gold_features, silver_transform
from financial_transactions.pipeline.declarative import DeclarativeSettings

spark: SparkSession = globals().get("spark") or SparkSession.builder.getOrCreate()
_here = Path(globals().get("__file__", ".")).resolve().parent
settings = DeclarativeSettings.from_spark_conf(spark, near=_here)
cfg = settings.config
TRADE_RULES, BAR_RULES = expectations.rules_for(cfg)
BRONZE = settings.table_name("bronze_trades")
SILVER = settings.table_name("silver_trades")
QUARANTINE = settings.table_name("silver_trades_quarantine")
BARS = settings.table_name("silver_bars")
GOLD = settings.published_name("gold_trade_features")  # jobs read the job-owned snapshot of it
_expect_all_or_drop = getattr(dp, "expect_all_or_drop", None)


def _typed() -> DataFrame:
    classes = silver_transform.asset_classes(cfg.symbols, settings.landing)
    return silver_transform.typed_records(spark.read.table(BRONZE), classes)


def _valid(typed: DataFrame, rules: dict[str, str]) -> DataFrame:
    """The engine drops rule breakers when it has expectations; otherwise the same rules filter."""
    return typed if _expect_all_or_drop is not None else typed.where(F.expr(expectations.all_valid_sql(rules)))


@dp.table(name=BRONZE, comment="Raw landing records + _source_file, _ingested_at, _rescued_data.")
def bronze_trades() -> DataFrame:
    return bronze_ingest.read_landing_stream(
        spark,
        settings.landing,
        max_files_per_trigger=settings.max_files_per_trigger,
        auto_loader=settings.auto_loader,
        schema_location=settings.schema_location,
        schema_evolution_mode=cfg.pipeline.autoloader.schema_evolution_mode,
    )


def _valid_trades() -> DataFrame:
    typed = _typed()
    return _valid(typed.where(F.coalesce(F.col("record_type"), F.lit("")) != "bar"), TRADE_RULES)


def _valid_bars() -> DataFrame:
    return _valid(_typed().where(F.col("record_type") == "bar"), BAR_RULES)


if _expect_all_or_drop is not None:
    _valid_trades = _expect_all_or_drop(TRADE_RULES)(_valid_trades)
    _valid_bars = _expect_all_or_drop(BAR_RULES)(_valid_bars)
dp.temporary_view(name="valid_trades")(_valid_trades)
dp.temporary_view(name="valid_bars")(_valid_bars)


@dp.materialized_view(
    name=SILVER,
    comment="Typed trades, one row per trade identity (trade_id: <source>:<symbol>:<venue trade id> where the venue "
    "gives one, else the collector's id), with session type; _source_file is relative to the landing root.",
)
def silver_trades() -> DataFrame:
    return silver_transform.silver_trades(spark.read.table("valid_trades"))


@dp.materialized_view(
    name=QUARANTINE,
    comment="Rows that broke an expectation, with every broken rule's name; damaged landing lines and files "
    "(landing_line_intact) carry the damage under _damaged in _rescued_data.",
)
def silver_trades_quarantine() -> DataFrame:
    flagged = expectations.flag(_typed(), TRADE_RULES, BAR_RULES)
    _valid_rows, invalid = expectations.split_by_rules(flagged, silver_transform.TYPED_COLUMNS)
    return silver_transform.quarantine(invalid)


@dp.materialized_view(name=BARS, comment="Alpha Vantage OHLCV bars, one row per bar_id.")
def silver_bars() -> DataFrame:
    return silver_transform.silver_bars(spark.read.table("valid_bars"))


@dp.materialized_view(
    name=GOLD,
    comment="Per-symbol bars + features from the shared feature code.",
    spark_conf=gold_features.GOLD_SPARK_CONF,
)
def gold_trade_features() -> DataFrame:
    return gold_features.gold_trade_features_by_partition(spark.read.table(SILVER), cfg.features)
