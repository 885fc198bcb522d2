"""Which tables ``setup_uc_infrastructure.sql`` declares, and the DDL their code schemas give.

Every table of ``project_config.yml``'s ``tables`` gets a Unity Catalog comment, by one of:

* ``DECLARED`` - created up front (``CREATE TABLE IF NOT EXISTS``) with the columns the code
  writes and a table comment. The jobs append to these tables (schema merge on), so a
  declaration can never block a write; tests keep the columns equal to the code's schemas
  (:data:`CODE_SCHEMAS`) and to what the real writers produce.
* ``PIPELINE_OWNED`` - datasets of the Lakeflow pipeline: their comments are the
  ``comment=`` of ``scripts/financial/dlt_pipeline.py``. A table created here first would
  stop the pipeline from publishing them.
* ``FEATURE_TABLES`` - created by Databricks Feature Engineering (``FeatureStoreManager``)
  with primary/timestamp keys and a description; created here first, they would lack the keys.
* ``LOCAL_ONLY`` - written by the embedded runner only (the Lakeflow event log is its
  Databricks counterpart).

``python -m financial_transactions.deploy.uc_tables --lakehouse-root .fin_mlops/dev`` prints the
``CREATE TABLE`` statements from the code schemas and, for tables whose columns follow the
configuration, from the tables a ``fin-mlops run`` wrote there.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

#: table key -> table comment, for the tables the SQL creates.
DECLARED: dict[str, str] = {
    "tournament_results": "One row per model per tournament: metrics on the test slice, rank, winner, MLflow run.",
    "champion_challenger_audit": "One row per gate decision (PROMOTE / REJECT) with both models' re-scored metrics "
    "and the promotion snapshot a rollback restores.",
    "drift_monitoring": "PSI / JS distance per feature per drift run, with the run's overall verdict.",
    "model_monitoring": "Champion precision / recall / PR-AUC per time window against ground truth.",
    "retraining_audit": "Every retraining decision (triggered, cooled down, limited, no drift) and its reason.",
    "alerts_audit": "Every alert sent (or not delivered) with its channel, attempts and error.",
    "rollback_audit": "Every executed champion rollback: versions, aliases before/after, feature restores.",
    "synthesized_predictions": "Append-only model predictions; the backtester reads them as of a Delta version "
    "(time travel).",
    "backtest_results": "Backtest metrics and equity curve per run, strategy and symbol.",
    "decision_matrix": "Weighted decision matrix per run and symbol: per-criterion raw value, score, weight; "
    "final score and recommendation.",
}
PIPELINE_OWNED = ("bronze_trades", "silver_trades", "silver_trades_quarantine", "silver_bars", "gold_trade_features")
FEATURE_TABLES = ("trade_features", "train_set", "test_set")
LOCAL_ONLY = ("pipeline_runs",)
#: Column comments kept in the DDL (the masked prediction column says why it is masked).
COLUMN_COMMENTS: dict[str, dict[str, str]] = {
    "synthesized_predictions": {
        "symbol": "Ticker (equity) or pair (crypto).",
        "bar_start": "Start of the 1-minute bar the prediction is for (UTC).",
        "model_version": "Registered model version that produced the row.",
        "score": "Anomaly score in [0, 1] (masked outside engineers/service).",
        "label": "Anomaly label (1 = anomalous) at the model decision threshold.",
        "scored_at": "When the scoring run wrote the row (UTC).",
        "scoring_run_id": "The scoring run (one append per run).",
        "gold_version": "Delta version of gold_trade_features that was scored.",
        "train_cutoff": "Last bar the scoring model was trained on (later bars are out of sample).",
    }
}
TABLE_PROPERTIES: dict[str, dict[str, str]] = {"synthesized_predictions": {"delta.enableChangeDataFeed": "true"}}


def code_schemas() -> dict[str, pa.Schema]:
    """The tables whose schema is a constant in the code that writes them."""
    from financial_transactions.models.champion_challenger import AUDIT_SCHEMA as GATE_AUDIT
    from financial_transactions.models.tournament import TOURNAMENT_SCHEMA
    from financial_transactions.monitoring.alerting import ALERTS_SCHEMA
    from financial_transactions.monitoring.drift_detector import DRIFT_SCHEMA
    from financial_transactions.monitoring.performance_monitor import MONITORING_SCHEMA
    from financial_transactions.monitoring.retraining_trigger import AUDIT_SCHEMA as RETRAINING_AUDIT
    from financial_transactions.monitoring.rollback import AUDIT_SCHEMA as ROLLBACK_AUDIT

    return {
        "tournament_results": TOURNAMENT_SCHEMA,
        "champion_challenger_audit": GATE_AUDIT,
        "drift_monitoring": DRIFT_SCHEMA,
        "model_monitoring": MONITORING_SCHEMA,
        "retraining_audit": RETRAINING_AUDIT,
        "alerts_audit": ALERTS_SCHEMA,
        "rollback_audit": ROLLBACK_AUDIT,
    }


def sql_type(arrow_type: pa.DataType) -> str:
    """The Databricks SQL type Delta stores for an Arrow column of this type."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP" if arrow_type.tz is not None else "TIMESTAMP_NTZ"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"ARRAY<{sql_type(arrow_type.value_type)}>"
    simple = {
        pa.int64(): "BIGINT",
        pa.int32(): "INT",
        pa.int16(): "SMALLINT",
        pa.int8(): "TINYINT",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
        pa.binary(): "BINARY",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise ValueError(f"no Databricks SQL type for Arrow type {arrow_type}")


def columns_of(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, sql_type(f.type)) for f in schema]


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_sql(fqn: str, key: str, columns: list[tuple[str, str]]) -> str:
    """One idempotent ``CREATE TABLE`` with the table comment (and column comments where kept)."""
    notes = COLUMN_COMMENTS.get(key, {})
    lines = []
    for name, typ in columns:
        comment = f" COMMENT {_quote(notes[name])}" if name in notes else ""
        lines.append(f"  `{name}` {typ}{comment}")
    out = f"CREATE TABLE IF NOT EXISTS {fqn} (\n" + ",\n".join(lines) + "\n) USING DELTA\n"
    out += f"  COMMENT {_quote(DECLARED[key])}"
    props = TABLE_PROPERTIES.get(key)
    if props:
        out += "\n  TBLPROPERTIES (" + ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in props.items()) + ")"
    return out + ";"


def render(catalog: str, schema: str, table_names: Mapping[str, str], written: Mapping[str, pa.Schema]) -> str:
    """The ``CREATE TABLE`` block of one catalog (``written``: schemas of tables a run wrote)."""
    schemas = {**written, **code_schemas()}
    blocks = []
    for key in DECLARED:
        if key not in schemas:
            raise KeyError(f"no schema for {key}: run `fin-mlops run` into the lakehouse root first")
        blocks.append(create_table_sql(f"{catalog}.{schema}.{table_names[key]}", key, columns_of(schemas[key])))
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str] | None = None) -> int:
    from financial_transactions.config import ProjectConfig
    from financial_transactions.runtime import Platform

    parser = argparse.ArgumentParser(description="Print the CREATE TABLE statements of setup_uc_infrastructure.sql")
    parser.add_argument("--config", default="project_config.yml")
    parser.add_argument("--lakehouse-root", required=True, help="a lakehouse `fin-mlops run` wrote")
    parser.add_argument("--env", action="append", help="env(s) to print (default: dev, acc, prd)")
    args = parser.parse_args(argv)
    source = Platform.create(ProjectConfig.from_yaml(args.config, "dev"), lakehouse_root=Path(args.lakehouse_root))
    written = {
        key: source.store.read_arrow(source.config.table(key)).schema
        for key in DECLARED
        if source.store.exists(source.config.table(key))
    }
    for env in args.env or ["dev", "acc", "prd"]:
        cfg = ProjectConfig.from_yaml(args.config, env)
        names = cfg.tables.model_dump()
        print(f"-- {cfg.catalog}\n{render(cfg.catalog, cfg.schema_name, names, written)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
