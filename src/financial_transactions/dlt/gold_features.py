"""Gold: per-symbol bars and features through the *shared* feature code.

``groupBy("symbol").applyInPandas`` hands each symbol's silver trades to
``financial_transactions.features.feature_engineering.build_gold_features``, the
same pure-pandas function the ML stage uses, so the indicator math exists once.
This module only names that step for the medallion pipeline; the Spark wiring
(column projection, the schema for the configured windows, the (ts, trade_id)
order that makes bars deterministic) lives with the feature code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from financial_transactions.config.ml import FeaturesConfig

#: One gold row per (symbol, bar_start): the MERGE key.
GOLD_KEYS = ["symbol", "bar_start"]

#: Spark conf the gold step needs: pandas sees naive timestamps in the session time zone.
GOLD_SPARK_CONF = {"spark.sql.session.timeZone": "UTC"}


def gold_trade_features(silver: DataFrame, features: FeaturesConfig) -> DataFrame:
    """Silver trades -> one row per (symbol, bar_start) with bars, microstructure and indicators."""
    from financial_transactions.features.feature_engineering import gold_features_spark

    return gold_features_spark(silver, features)
