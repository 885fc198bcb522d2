"""Gold: per-symbol bars and features through the *shared* feature code.

``groupBy("symbol").applyInPandas`` hands each symbol's silver trades to
``financial_transactions.features.feature_engineering.build_gold_features``, the
same pure-pandas function the ML stage uses, so the indicator math exists once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from financial_transactions.config.ml import FeaturesConfig

GOLD_KEYS = ["symbol", "bar_start"]

#: Silver columns the feature code reads (a projection keeps the Arrow transfer small).
GOLD_INPUT_COLUMNS = [
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
]


def gold_schema() -> StructType:
    from financial_transactions.features.feature_engineering import GOLD_SCHEMA

    if isinstance(GOLD_SCHEMA, str):
        from pyspark.sql.types import StructType

        return StructType.fromDDL(GOLD_SCHEMA)
    return GOLD_SCHEMA


class _PerSymbol:
    """Picklable ``applyInPandas`` function bound to the feature settings."""

    def __init__(self, features: FeaturesConfig) -> None:
        self.features = features

    def __call__(self, trades: pd.DataFrame) -> pd.DataFrame:
        from financial_transactions.features.feature_engineering import build_gold_features

        # Identical prints share a millisecond: a total order (ts, trade_id) makes the
        # open/close of a bar, and so every re-run and time-travel rebuild, deterministic.
        ordered = trades.sort_values(["ts", "trade_id"], kind="stable").reset_index(drop=True)
        return build_gold_features(ordered, self.features)


def gold_trade_features(silver: DataFrame, features: FeaturesConfig) -> DataFrame:
    """Silver trades -> one row per (symbol, bar_start) with bars, microstructure and indicators."""
    from pyspark.sql import functions as F

    present = [c for c in GOLD_INPUT_COLUMNS if c in silver.columns]
    return silver.select(*[F.col(c) for c in present]).groupBy("symbol").applyInPandas(
        _PerSymbol(features), schema=gold_schema()
    )
