"""Gold: per-symbol bars and features through the *shared* feature code.

``groupBy("symbol").applyInPandas`` hands each symbol's silver trades to
``financial_transactions.features.feature_engineering.build_gold_features``, the
same pure-pandas function the ML stage uses, so the indicator math exists once.
The schema for the configured windows, the (ts, trade_id) order that makes
bars deterministic and the MERGE key (``GOLD_KEYS``: one row per symbol and
bar_start) come from the feature code too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd  # at runtime: mapInPandas reads the function's type hints

from financial_transactions.features.feature_engineering import GOLD_KEYS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from financial_transactions.config.ml import FeaturesConfig

__all__ = ["GOLD_KEYS", "GOLD_SPARK_CONF", "gold_struct", "gold_trade_features", "gold_trade_features_by_partition"]

#: Spark conf the gold step needs: pandas sees naive timestamps in the session time zone.
GOLD_SPARK_CONF = {"spark.sql.session.timeZone": "UTC"}


def gold_struct(features: FeaturesConfig) -> StructType:
    """The gold schema for ``features`` as a StructType built locally from the feature code's
    column list (parsing its DDL would need the engine: a server call under Spark Connect)."""
    from pyspark.sql import types as T

    from financial_transactions.features.feature_engineering import gold_columns

    kinds: dict[str, T.DataType] = {
        "STRING": T.StringType(),
        "TIMESTAMP": T.TimestampType(),
        "DATE": T.DateType(),
        "DOUBLE": T.DoubleType(),
        "BIGINT": T.LongType(),
        "INT": T.IntegerType(),
        "BOOLEAN": T.BooleanType(),
    }
    fields = []
    for name, kind in gold_columns(features):
        if kind.upper() not in kinds:
            raise ValueError(f"gold column {name!r} has a type this pipeline does not map: {kind}")
        fields.append(T.StructField(name, kinds[kind.upper()], nullable=True))
    return T.StructType(fields)


def gold_trade_features(silver: DataFrame, features: FeaturesConfig) -> DataFrame:
    """Silver trades -> one row per (symbol, bar_start) with bars, microstructure and indicators.

    The same function, schema and input projection as the feature code's
    ``gold_features_spark``, with columns and types built statically (silver always
    has them) so a declarative query function never has to analyse a plan.
    """
    from pyspark.sql import functions as F

    from financial_transactions.features.feature_engineering import SILVER_INPUT_COLUMNS, build_gold_features_udf

    projected = silver.select(*[F.col(c) for c in SILVER_INPUT_COLUMNS])
    _declare_columns(projected, SILVER_INPUT_COLUMNS)
    return projected.groupBy("symbol").applyInPandas(build_gold_features_udf(features), schema=gold_struct(features))


def gold_trade_features_by_partition(silver: DataFrame, features: FeaturesConfig) -> DataFrame:
    """The same gold, with ``mapInPandas`` over symbol-hashed partitions.

    For Spark Declarative Pipelines: Spark Connect plans ``applyInPandas`` through an
    eager analysis of its input, and a pipeline dataset (``silver_trades``) does not
    exist yet when the graph is registered. ``mapInPandas`` is planned lazily. Hash
    partitioning on ``symbol`` puts each symbol's trades in one partition, where they
    go through the same per-symbol ``build_gold_features`` one symbol at a time.
    """
    from pyspark.sql import functions as F

    from financial_transactions.features.feature_engineering import SILVER_INPUT_COLUMNS, build_gold_features_udf

    per_symbol = build_gold_features_udf(features)

    def per_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        frames = [b for b in batches if len(b)]
        if not frames:
            return
        trades = pd.concat(frames, ignore_index=True)
        for _symbol, group in trades.groupby("symbol", sort=True):
            yield per_symbol(group.reset_index(drop=True))

    projected = silver.select(*[F.col(c) for c in SILVER_INPUT_COLUMNS]).repartition(F.col("symbol"))
    _declare_columns(projected, SILVER_INPUT_COLUMNS)
    return projected.mapInPandas(per_partition, schema=gold_struct(features))


def _declare_columns(df: DataFrame, columns: list[str]) -> None:
    """Tell a Spark Connect DataFrame its column names so ``applyInPandas`` needs no RPC.

    Connect's ``applyInPandas`` reads the child's ``columns`` (an analysis round trip),
    which Spark Declarative Pipelines forbids inside a query function. The projection
    above fixes the names; only the names are used to build the UDF's input. Classic
    DataFrames analyse locally and have no such cache, so nothing changes for them.
    """
    from pyspark.sql import types as T

    if hasattr(df, "_cached_schema") and getattr(df, "_cached_schema", None) is None:
        setattr(df, "_cached_schema", T.StructType([T.StructField(c, T.StringType(), True) for c in columns]))  # noqa: B010
