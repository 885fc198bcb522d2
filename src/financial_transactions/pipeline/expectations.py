"""The silver expectations: one rule set (name -> SQL boolean expression).

OSS Spark Declarative Pipelines has no expectations API, so the rules are plain
Spark SQL over the typed silver columns. The same dict serves

* the embedded runner and the stream processor (``failed_rules`` /
  :func:`split_by_rules`: valid rows go on, the rest go to quarantine carrying the
  names of *every* rule they broke), and
* Lakeflow on Databricks (``@dp.expect_all_or_drop(rules)``), which records the
  per-rule metrics in the pipeline event log.

Every expression is written to be ``true`` or ``false``, never ``NULL`` (a
missing value fails its rule), so both engines reach the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from financial_transactions.config.pipeline import ExpectationsConfig

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from financial_transactions.config import ProjectConfig

FAILED_RULES = "failed_rules"

#: Rule names, in report order.
TRADE_RULE_NAMES = (
    "trade_id_present",
    "record_type_known",
    "source_known",
    "symbol_valid",
    "price_positive",
    "volume_non_negative",
    "ts_in_bounds",
    "landing_line_intact",
)
BAR_RULE_NAMES = (*TRADE_RULE_NAMES, "ohlc_consistent")


def sql_string(value: str) -> str:
    """A Spark SQL string literal (default parser: backslash escapes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _finite(column: str) -> str:
    return f"NOT isnan({column}) AND {column} < double('Infinity')"


def trade_rules(expectations: ExpectationsConfig, symbol_pattern: str, *, record_type: str = "trade") -> dict[str, str]:
    """Rules every silver trade satisfies (``record_type='bar'`` for Alpha Vantage bars).

    The upper timestamp bound is relative to the collector's ``ingested_at`` so a
    re-run on the same files reaches the same verdict whatever the wall clock says.
    """
    sources = ", ".join(sql_string(s) for s in expectations.known_sources)
    future_ms = expectations.max_future_seconds * 1000
    return {
        "trade_id_present": "trade_id IS NOT NULL AND length(trim(trade_id)) > 0",
        "record_type_known": f"coalesce(record_type = {sql_string(record_type)}, false)",
        "source_known": f"source IS NOT NULL AND source IN ({sources})",
        "symbol_valid": f"symbol IS NOT NULL AND symbol RLIKE {sql_string(symbol_pattern)}",
        "price_positive": f"price IS NOT NULL AND price > 0 AND {_finite('price')}",
        "volume_non_negative": f"volume IS NOT NULL AND volume >= 0 AND {_finite('volume')}",
        "ts_in_bounds": (
            f"ts IS NOT NULL AND unix_millis(ts) >= {expectations.min_timestamp_ms} "
            f"AND unix_millis(ts) <= unix_millis(coalesce(ingested_at, current_timestamp())) + {future_ms}"
        ),
        # a line that is no JSON object (`_corrupt_record`, either engine), or one the local bronze
        # scan found damaged (`_damaged` names why: truncated, invalid UTF-8, over-long, empty file...)
        "landing_line_intact": (
            "_rescued_data IS NULL OR (get_json_object(_rescued_data, '$._damaged') IS NULL "
            "AND get_json_object(_rescued_data, '$._corrupt_record') IS NULL)"
        ),
    }


def bar_rules(expectations: ExpectationsConfig, symbol_pattern: str) -> dict[str, str]:
    """Trade rules (``price`` is the bar's close) plus a consistent OHLC range."""
    rules = trade_rules(expectations, symbol_pattern, record_type="bar")
    rules["ohlc_consistent"] = (
        "open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL AND close IS NOT NULL "
        "AND low > 0 AND low <= least(open, close) AND high >= greatest(open, close)"
    )
    return rules


def rules_for(cfg: ProjectConfig) -> tuple[dict[str, str], dict[str, str]]:
    """``(trade rules, bar rules)`` for a project config."""
    exp = cfg.pipeline.expectations
    return trade_rules(exp, cfg.symbols.pattern), bar_rules(exp, cfg.symbols.pattern)


def all_valid_sql(rules: Mapping[str, str]) -> str:
    """One predicate that holds when every rule holds (the silver filter)."""
    return " AND ".join(f"coalesce(({expr}), false)" for expr in rules.values())


def failed_rules_sql(rules: Mapping[str, str]) -> str:
    """``array<string>`` of the names of the rules a row breaks (empty when valid)."""
    items = ", ".join(
        f"CASE WHEN coalesce(({expr}), false) THEN NULL ELSE {sql_string(name)} END" for name, expr in rules.items()
    )
    return f"filter(array({items}), x -> x IS NOT NULL)"


def failed_rules_column(rules: Mapping[str, str]) -> Column:
    from pyspark.sql import functions as F

    return F.expr(failed_rules_sql(rules))


def flag(df: DataFrame, trades: Mapping[str, str], bars: Mapping[str, str]) -> DataFrame:
    """Add ``failed_rules``: bar rules for ``record_type='bar'`` rows, trade rules for the rest.

    A row that passes every rule (the common case) gets the empty array from one compiled
    predicate; only the others build the names through ``filter(array(...))``, a
    higher-order function Spark interprets row by row.
    """
    from pyspark.sql import functions as F

    def names(rules: Mapping[str, str]) -> Column:
        none = F.array().cast("array<string>")
        return F.when(F.expr(all_valid_sql(rules)), none).otherwise(failed_rules_column(rules))

    return df.select(
        "*",
        F.when(F.col("record_type") == "bar", names(bars)).otherwise(names(trades)).alias(FAILED_RULES),
    )


def split_by_rules(flagged: DataFrame, columns: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """``(valid rows with ``columns``, invalid rows with the flag column too)``.

    The caller names the columns: reading ``flagged.columns`` would analyse the plan,
    which a declarative pipeline's query function must not do.
    """
    from pyspark.sql import functions as F

    valid = flagged.where(F.size(F.col(FAILED_RULES)) == 0).select(*[F.col(c) for c in columns])
    invalid = flagged.where(F.size(F.col(FAILED_RULES)) > 0)
    return valid, invalid
