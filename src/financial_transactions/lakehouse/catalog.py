"""The table catalogue: one :class:`TableSpec` per table of ``project_config.yml``'s ``tables``.

A spec is the contract between a table's writer and everything else that touches it: the
Arrow schema the writer produces, the columns that identify a row, who owns (writes) it and
who reads it, its Unity Catalog comment and table properties. The writers take their schema
from here; the Unity Catalog DDL (``deploy.uc_tables`` -> ``setup_uc_infrastructure.sql``) and
``docs/TABLES.md`` are generated from it, and tests keep every spec equal to what its real
writer writes.

It sits low in the layers (``lakehouse``) so that every writer can import it: it imports
only ``config``.

Kinds:

* ``pipeline`` - datasets of the declarative pipeline (Lakeflow on Databricks, the embedded
  runner locally). The pipeline creates and comments them (``comment=`` in
  ``scripts/financial/dlt_pipeline.py``); a table created beforehand would stop it publishing.
* ``job`` - appended to or merged into by a job; created up front by
  ``setup_uc_infrastructure.sql`` with these columns, comment and properties.
* ``feature`` - feature tables: Databricks Feature Engineering creates them with their
  primary and timestamp keys (``FeatureStoreManager``); created beforehand, they would lack the keys.
* ``local`` - written by the embedded runner only (on Databricks: the pipeline's event log).

Most schemas are constant. Three follow the configuration, each by one documented rule
(:attr:`TableSpec.config_rule`): gold and the feature tables add two columns per configured
moving-average window, the decision matrix four per enabled criterion.
:meth:`TableSpec.schema_for` applies the rule; :attr:`TableSpec.schema` holds the fixed part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from financial_transactions.config.project import ProjectConfig

__all__ = [
    "BACKTEST_COUNTS",
    "BACKTEST_METRICS",
    "CATALOG",
    "LAYER_TABLES",
    "TableKind",
    "TableSpec",
    "spec",
    "specs_of",
]


class TableKind(StrEnum):
    """Who creates the table, which decides where its comment and columns are declared."""

    PIPELINE = "pipeline"
    JOB = "job"
    FEATURE = "feature"
    LOCAL = "local"


KIND_TEXT: Mapping[TableKind, str] = MappingProxyType(
    {
        TableKind.PIPELINE: "pipeline-published",
        TableKind.JOB: "job-owned",
        TableKind.FEATURE: "feature table",
        TableKind.LOCAL: "local-only",
    }
)


@dataclass(frozen=True)
class TableSpec:
    """One table's contract. ``schema`` is complete unless ``config_rule`` says what the config adds."""

    key: str
    kind: TableKind
    schema: pa.Schema
    merge_keys: tuple[str, ...]
    owner: str
    comment: str
    readers: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    column_comments: Mapping[str, str] = field(default_factory=dict)
    config_rule: str = ""
    build_schema: Callable[[ProjectConfig], pa.Schema] | None = field(default=None, repr=False, compare=False)

    @property
    def follows_config(self) -> bool:
        return self.build_schema is not None

    def schema_for(self, cfg: ProjectConfig) -> pa.Schema:
        """The full schema under ``cfg`` (``schema`` itself for a table whose columns are constant)."""
        return self.build_schema(cfg) if self.build_schema is not None else self.schema

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


_TS = pa.timestamp("us", tz="UTC")
_S, _F, _I, _B = pa.string(), pa.float64(), pa.int64(), pa.bool_()

#: The metrics of one backtest, in ``backtest_results`` column order (``decision.performance`` computes them).
BACKTEST_METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "n_trades",
    "exposure",
    "sharpe_se",
    "sharpe_tstat",
    "psr",
    "expected_max_sharpe",
    "dsr",
    "deflated_edge",
    "n_trials",
)
#: The integer-valued entries of :data:`BACKTEST_METRICS` (counts); the rest are DOUBLE.
BACKTEST_COUNTS: tuple[str, ...] = ("n_trades", "n_trials")
#: The model metrics of a tournament row, once for the test slice and once prefixed ``validation_``.
_TOURNAMENT_METRICS = (
    "pr_auc",
    "roc_auc",
    "precision_at_k",
    "recall_at_fpr",
    "f1",
    "precision",
    "recall",
    "inference_rows_per_s",
)


# -- pipeline datasets --------------------------------------------------------------------
_LANDING_FIELDS: list[tuple[str, pa.DataType]] = [
    ("trade_id", _S),
    ("record_type", _S),
    ("source", _S),
    ("symbol", _S),
    ("price", _F),
    ("volume", _F),
    ("ts", _I),
    ("conditions", pa.list_(_S)),
    ("exchange_trade_id", _S),
    ("is_buyer_maker", _B),
    ("ingested_at", _I),
    ("collector", _S),
    ("collector_run", _S),
    ("connection", _I),
    ("msg_seq", _I),
    ("position", _I),
    ("open", _F),
    ("high", _F),
    ("low", _F),
    ("close", _F),
    ("interval", _S),
]
#: ``nullable=False`` marks the columns Spark writes as NOT NULL (it derives them from non-null expressions).
BRONZE = pa.schema(
    [
        *_LANDING_FIELDS,
        ("_rescued_data", _S),
        pa.field("_source_file", _S, nullable=False),
        pa.field("_ingested_at", _TS, nullable=False),
    ]
)
SILVER = pa.schema(
    [
        ("trade_id", _S),
        ("source", _S),
        pa.field("asset_class", _S, nullable=False),
        ("symbol", _S),
        ("price", _F),
        ("volume", _F),
        ("ts", _TS),
        ("trade_date", pa.date32()),
        ("session_type", _S),
        ("conditions", _S),
        ("exchange_trade_id", _S),
        ("ingested_at", _TS),
        ("_source_file", _S),
    ]
)
QUARANTINE = pa.schema(
    [
        ("quarantine_id", _S),
        ("trade_id", _S),
        ("record_type", _S),
        ("source", _S),
        ("symbol", _S),
        ("price", _F),
        ("volume", _F),
        ("ts", _TS),
        pa.field("failed_rules", pa.list_(_S), nullable=False),
        ("raw", _S),
        ("_rescued_data", _S),
        ("_source_file", _S),
        ("_ingested_at", _TS),
    ]
)
SILVER_BARS = pa.schema(
    [
        ("bar_id", _S),
        ("source", _S),
        pa.field("asset_class", _S, nullable=False),
        ("symbol", _S),
        ("interval", _S),
        ("bar_start", _TS),
        ("trade_date", pa.date32()),
        ("open", _F),
        ("high", _F),
        ("low", _F),
        ("close", _F),
        ("volume", _F),
        ("ingested_at", _TS),
        ("_source_file", _S),
    ]
)
#: Gold columns present under every features config (the shared feature code's output order).
GOLD_FIXED = pa.schema(
    [
        ("symbol", _S),
        ("bar_start", _TS),
        ("bar_end", _TS),
        ("trade_date", pa.date32()),
        ("session_type", _S),
        ("asset_class", _S),
        ("source", _S),
        *[(c, _F) for c in ("open", "high", "low", "close", "volume", "vwap")],
        ("trade_count", _I),
        ("returns", _F),
        ("log_return", _F),
        ("dup_print_ratio", _F),
        ("max_identical_prints", _I),
        ("repeat_print_ratio", _F),
        ("cross_ts_repeat_ratio", _F),
        ("max_cross_ts_prints", _I),
        ("max_cross_ts_reprints", _I),
        ("cross_ts_repeat_share", _F),
        ("max_cross_ts_volume_share", _F),
        *[(c, _F) for c in ("unique_price_ratio", "max_abs_trade_return", "max_abs_median_dev")],
        *[(c, _F) for c in ("price_std", "price_std_rel", "range_atr", "max_trade_volume_share", "max_volume_ratio")],
        ("volume_zscore", _F),
        ("flat_run_trades", _I),
        ("flat_run_seconds", _F),
        ("zero_var_bar_run", _I),
        ("trades_per_second", _F),
        ("trade_rate_ratio", _F),
        *[(c, _F) for c in ("rsi", "macd", "macd_signal", "macd_hist", "macd_hist_rel")],
        *[(c, _F) for c in ("bb_upper", "bb_middle", "bb_lower", "bb_percent_b", "bb_width", "atr", "natr")],
        *[(c, _F) for c in ("session_vwap", "vwap_deviation", "volatility")],
        *[(c, _F) for c in ("is_regular_session", "is_extended_session", "is_crypto")],
    ]
)
_GOLD_RULE = (
    "then `sma_<w>`, `sma_<w>_dev` for each distinct `features.sma_windows` and `ema_<w>`, `ema_<w>_dev` "
    "for each distinct `features.ema_windows`, ascending (all DOUBLE)"
)
#: What ``FeatureStoreManager`` adds to the gold columns: the label, its provenance and the split.
LABEL_FIELDS: list[tuple[str, pa.DataType]] = [
    ("anomaly_types", _S),
    ("label", _I),
    ("label_source", _S),
    ("split", _S),
]


def _moving_average_fields(cfg: ProjectConfig) -> list[tuple[str, pa.DataType]]:
    out: list[tuple[str, pa.DataType]] = []
    for prefix, windows in (("sma", cfg.features.sma_windows), ("ema", cfg.features.ema_windows)):
        for w in sorted(set(windows)):
            out += [(f"{prefix}_{w}", _F), (f"{prefix}_{w}_dev", _F)]
    return out


def _gold(cfg: ProjectConfig) -> pa.Schema:
    return pa.schema([*GOLD_FIXED, *_moving_average_fields(cfg)])


def _features(cfg: ProjectConfig) -> pa.Schema:
    return pa.schema([*GOLD_FIXED, *_moving_average_fields(cfg), *LABEL_FIELDS])


PIPELINE_RUNS = pa.schema(
    [
        ("run_id", _S),
        ("mode", _S),
        ("engine", _S),
        ("started_at", _TS),
        ("finished_at", _TS),
        *[(c, _I) for c in ("files_ingested", "bronze_rows", "silver_inserted", "quarantine_inserted")],
        *[(c, _I) for c in ("bars_upserted", "gold_rows_written")],
        ("gold_symbols", _S),
        ("quarantine_by_rule", _S),
        ("bronze_watermark", _TS),
        *[(c, _I) for c in ("bronze_version", "silver_version", "quarantine_version", "silver_bars_version")],
        ("gold_version", _I),
        *[(c, _F) for c in ("seconds_bronze", "seconds_silver", "seconds_gold")],
    ]
)

# -- job-owned tables ---------------------------------------------------------------------
TOURNAMENT = pa.schema(
    [
        ("tournament_id", _S),
        ("parent_mlflow_run_id", _S),
        ("mlflow_run_id", _S),
        ("model", _S),
        ("status", _S),
        ("error", _S),
        ("rank", _I),
        ("is_winner", _B),
        ("primary_metric", _S),
        ("primary_value", _F),
        ("selection_slice", _S),
        ("selection_value", _F),
        *[(m, _F) for m in _TOURNAMENT_METRICS],
        *[(f"validation_{m}", _F) for m in _TOURNAMENT_METRICS],
        ("threshold", _F),
        ("train_seconds", _F),
        ("n_train", _I),
        ("n_validation", _I),
        ("n_test", _I),
        ("n_test_anomalies", _I),
        ("model_uri", _S),
        ("feature_importance", _S),
        ("git_sha", _S),
        ("env", _S),
        ("config_hash", _S),
        ("created_at", _TS),
    ]
)
GATE_AUDIT = pa.schema(
    [
        ("decision_id", _S),
        ("decided_at", _TS),
        ("model_name", _S),
        ("env", _S),
        ("decision", _S),
        ("first_deploy", _B),
        ("reason", _S),
        ("primary_metric", _S),
        ("challenger_version", _I),
        ("champion_version", _I),
        ("challenger_primary", _F),
        ("champion_primary", _F),
        ("margin", _F),
        ("required_margin", _F),
        ("margin_lower", _F),
        ("margin_upper", _F),
        ("confidence", _F),
        ("test", _S),
        ("challenger_primary_se", _F),
        ("champion_primary_se", _F),
        ("challenger_recall", _F),
        ("champion_recall", _F),
        ("operating_point", _S),
        ("operating_value", _F),
        ("challenger_matched_recall", _F),
        ("champion_matched_recall", _F),
        ("challenger_matched_threshold", _F),
        ("champion_matched_threshold", _F),
        ("challenger_latency_ms", _F),
        ("champion_latency_ms", _F),
        ("latency_objective_ms", _F),
        ("latency_batch_rows", _I),
        ("challenger_metrics", _S),
        ("champion_metrics", _S),
        ("state_before", _S),
        ("state_after", _S),
        ("snapshot_aliases", _S),
        ("snapshot_feature_versions", _S),
        ("challenger_feature_versions", _S),
        ("holdout_rows", _I),
        ("holdout_anomalies", _I),
        ("error", _S),
        ("alerted", _B),
        ("supersedes", _S),
        ("git_sha", _S),
        ("config_hash", _S),
    ]
)
DRIFT = pa.schema(
    [
        ("run_id", _S),
        ("computed_at", _TS),
        ("env", _S),
        ("table_name", _S),
        ("reference_window", _S),
        ("reference_start", _TS),
        ("reference_end", _TS),
        ("reference_version", _I),
        ("current_window", _S),
        ("current_start", _TS),
        ("current_end", _TS),
        ("current_version", _I),
        ("feature", _S),
        ("signal", _S),
        ("kind", _S),
        ("bins", _I),
        ("psi", _F),
        ("js", _F),
        ("status", _S),
        ("critical", _B),
        ("reference_rows", _I),
        ("current_rows", _I),
        ("reference_missing", _I),
        ("current_missing", _I),
        ("note", _S),
        ("psi_warn", _F),
        ("psi_alert", _F),
        ("js_warn", _F),
        ("js_alert", _F),
        ("drifted_share_alert", _F),
        ("min_drifted_features", _I),
        ("decision_rule", _S),
        ("epsilon", _F),
        ("nan_policy", _S),
        ("overall_status", _S),
        ("drifted_features", _I),
        ("signals", _I),
        ("drifted_signals", _I),
        ("drifted_share", _F),
        ("reason", _S),
    ]
)
MODEL_MONITORING = pa.schema(
    [
        ("monitored_at", _TS),
        ("env", _S),
        ("model_name", _S),
        ("model_version", _S),
        ("window_start", _TS),
        ("window_end", _TS),
        ("rows", _I),
        ("positives", _I),
        ("predicted_positives", _I),
        ("precision", _F),
        ("recall", _F),
        ("pr_auc", _F),
        ("rolling_rows", _I),
        ("rolling_positives", _I),
        ("rolling_precision", _F),
        ("rolling_recall", _F),
        ("rolling_pr_auc", _F),
        ("metric", _S),
        ("reference_prevalence", _F),
        ("rolling_adjusted", _F),
        ("rolling_lower", _F),
        ("rolling_upper", _F),
        ("confidence", _F),
        ("baseline", _F),
        ("baseline_source", _S),
    ]
)
RETRAINING_AUDIT = pa.schema(
    [
        ("event_id", _S),
        ("event_type", _S),  # decision | launch
        ("parent_event_id", _S),
        ("decided_at", _TS),
        ("env", _S),
        ("decision", _S),  # decision: triggered|skipped_*|no_drift; launch: launching|launched|launch_failed|...
        ("reason", _S),
        ("drift_detected", _B),
        ("drift_run_id", _S),
        ("drifted_share", _F),
        ("drifted_features", _S),
        ("performance_degraded", _B),
        ("performance_metric", _S),
        ("performance_baseline", _F),
        ("performance_current", _F),
        ("performance_drop", _F),
        ("performance_positives", _I),
        ("performance_min_positives", _I),
        ("performance_lower", _F),
        ("performance_upper", _F),
        ("performance_drop_lower", _F),
        ("cooldown_hours", _F),
        ("daily_limit", _I),
        ("triggered_today", _I),
        ("last_triggered_at", _TS),
        ("read_version", _I),
        ("commit_attempts", _I),
        ("launcher", _S),
        ("run_id", _S),
        ("detail", _S),
    ]
)
ALERTS = pa.schema(
    [
        ("alert_id", _S),
        ("sent_at", _TS),
        ("env", _S),
        ("source", _S),
        ("severity", _S),
        ("title", _S),
        ("message", _S),
        ("context", _S),
        ("status", _S),
        ("attempts", _I),
        ("http_status", _I),
        ("error", _S),
        ("destination", _S),
        ("payload_format", _S),
        ("latency_ms", _F),
    ]
)
ROLLBACK_AUDIT = pa.schema(
    [
        ("rollback_id", _S),
        ("rolled_back_at", _TS),
        ("env", _S),
        ("model_name", _S),
        ("status", _S),  # done | failed
        ("from_version", _I),
        ("to_version", _I),
        ("source", _S),
        ("reason", _S),
        ("aliases_before", _S),
        ("aliases_after", _S),
        ("feature_restores", _S),
        ("snapshot_decision_id", _S),
        ("operator", _S),
        ("error", _S),
    ]
)
PREDICTIONS = pa.schema(
    [
        ("symbol", _S),
        ("bar_start", _TS),
        ("model_version", _S),
        ("score", _F),
        ("label", _I),
        ("scored_at", _TS),
        ("scoring_run_id", _S),
        ("gold_version", _I),
        ("train_cutoff", _TS),
    ]
)
BACKTEST = pa.schema(
    [
        ("run_id", _S),
        ("created_at", _TS),
        ("strategy", _S),
        ("symbol", _S),
        ("asset_class", _S),
        ("mode", _S),
        ("run_kind", _S),
        ("as_of_version", _I),
        ("as_of_timestamp", _S),
        ("gold_version", _I),
        ("model_versions", _S),
        ("n_bars", _I),
        ("bars_per_day", _I),
        ("periods_per_year", _I),
        ("trading_days", _I),
        ("years", _F),
        ("benchmark_return", _F),
        ("commission_bps", _F),
        ("slippage_bps", _F),
        ("risk_free_rate", _F),
        *[(m, _I if m in BACKTEST_COUNTS else _F) for m in BACKTEST_METRICS],
        ("equity_curve", _S),
        ("equity_ts", _S),
    ]
)
#: The decision matrix without its per-criterion columns (those follow the enabled criteria).
_MATRIX_HEAD: list[tuple[str, pa.DataType]] = [("run_id", _S), ("created_at", _TS), ("symbol", _S), ("asset_class", _S)]
_MATRIX_TAIL: list[tuple[str, pa.DataType]] = [
    ("coverage", _F),
    ("criteria_scored", _I),
    ("direction_score", _F),
    ("risk_penalty", _F),
    ("final_score", _F),
    ("recommendation", _S),
    ("explanation", _S),
    ("flags", _S),
    ("rank", _I),
    ("missing_policy", _S),
    ("backtest_strategy", _S),
    # the Delta version of each input table the matrix was derived from
    ("gold_trade_features_version", _I),
    ("backtest_results_version", _I),
    ("synthesized_predictions_version", _I),
    ("drift_monitoring_version", _I),
]
_MATRIX_RULE = (
    "then, after `asset_class`, `<c>_raw` DOUBLE, `<c>_score` BIGINT, `<c>_label` STRING, `<c>_weight` DOUBLE "
    "for each enabled criterion `<c>` of `decision.criteria`, in configuration order"
)


def _matrix(cfg: ProjectConfig) -> pa.Schema:
    per: list[tuple[str, pa.DataType]] = []
    for name, criterion in cfg.decision.criteria.items():
        if criterion.enabled:
            per += [(f"{name}_raw", _F), (f"{name}_score", _I), (f"{name}_label", _S), (f"{name}_weight", _F)]
    return pa.schema([*_MATRIX_HEAD, *per, *_MATRIX_TAIL])


#: One row per training attempt: trained or not, and why not (the dashboard's "why training did not run").
TRAINING_RUNS = pa.schema(
    [
        ("run_id", _S),
        ("started_at", _TS),
        ("status", _S),  # promoted | rejected | validation_failed | not_trained
        ("reason", _S),  # not_trained: the one-line reason; else null
        ("remedy", _S),  # not_trained: what to do about it
        ("winner", _S),
        ("test_pr_auc", _F),
        ("label_sources", _S),  # JSON {label_source: rows} over the labelled rows
        ("positives", _S),  # JSON {slice: labelled positives}
        ("sizes", _S),  # JSON {slice: rows}
        ("recall_by_type", _S),  # JSON: the champion's held-out recall per anomaly type and label source
    ]
)
#: Analyst review of flagged bars: the label that outranks ground truth, injection and the rule.
ANALYST_FEEDBACK = pa.schema(
    [
        ("feedback_id", _S),
        ("symbol", _S),
        ("bar_start", _TS),
        ("verdict", _S),  # confirmed | dismissed
        ("analyst", _S),
        ("decided_at", _TS),
        ("note", _S),
        ("channel", _S),  # cli | api
    ]
)

#: Streaming scoring: one row per gold bar the champion scored over its operating threshold.
ANOMALY_ALERTS = pa.schema(
    [
        ("alert_id", _S),
        ("symbol", _S),
        ("bar_start", _TS),
        ("model_version", _S),
        ("model_name", _S),
        ("score", _F),
        ("threshold", _F),
        ("close", _F),
        ("trade_count", _I),
        ("trade_at", _TS),
        ("ingested_at", _TS),
        ("scored_at", _TS),
        ("stream_batch", _S),
        ("delivery_status", _S),  # pending | sending | delivered | failed | not_configured | rate_limited | unconfirmed
        ("delivery_attempts", _I),
        ("http_status", _I),
        ("delivery_error", _S),
        ("attempted_at", _TS),
        ("delivered_at", _TS),
        ("trade_to_score_seconds", _F),
        ("trade_to_alert_seconds", _F),
        ("env", _S),
    ]
)

#: Collection health: connection-down seconds per stream feed per UTC day, from the collectors' events.
COLLECTOR_GAPS = pa.schema(
    [
        ("feed", _S),
        ("day", pa.date32()),
        ("downtime_seconds", _F),
        ("connected_seconds", _F),
        ("disconnects", _I),
        ("longest_gap_seconds", _F),
        ("runs", _I),
        ("trades_landed", _I),
        ("computed_at", _TS),
    ]
)

_P = "financial_transactions."
#: Tables written with conditional appends (``DeltaStore.append_if_version``): under the default
#: WriteSerializable level a concurrent blind append would not conflict with the guarded insert
#: (https://docs.databricks.com/aws/en/optimizations/isolation-level); ``fin-mlops bundle-check`` requires it.
_SERIALIZABLE: Mapping[str, str] = MappingProxyType({"delta.isolationLevel": "Serializable"})
#: The pipeline package: the embedded runner locally, ``scripts/financial/dlt_pipeline.py`` on Databricks.
_PIPELINE_OWNER = _P + "pipeline"

_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "bronze_trades",
        TableKind.PIPELINE,
        BRONZE,
        (),  # append-only: each landing file is ingested once (the runner skips files it has seen)
        _PIPELINE_OWNER,
        "Raw landing records + _source_file, _ingested_at, _rescued_data.",
        # ingest.landing: which landing files bronze holds (the replay refuses to land a dead attempt's twice)
        readers=(_P + "pipeline", _P + "ingest.landing", _P + "replay.window", _P + "reporting"),
    ),
    TableSpec(
        "silver_trades",
        TableKind.PIPELINE,
        SILVER,
        ("trade_id",),
        _PIPELINE_OWNER,
        "Typed trades, one row per trade identity (trade_id: <source>:<symbol>:<venue trade id> where the venue "
        "gives one, else the collector's id), with session type; _source_file is relative to the landing root.",
        # injection copies its real trades; the API seeds its online feature state from silver's tail
        readers=(_P + "pipeline", _P + "features.injection", _P + "serving.api", _P + "reporting"),
    ),
    TableSpec(
        "silver_trades_quarantine",
        TableKind.PIPELINE,
        QUARANTINE,
        ("quarantine_id",),
        _PIPELINE_OWNER,
        "Rows that broke an expectation, with every broken rule's name; damaged landing lines and files "
        "(landing_line_intact) carry the damage under _damaged in _rescued_data.",
        readers=(_P + "pipeline", _P + "reporting"),
    ),
    TableSpec(
        "silver_bars",
        TableKind.PIPELINE,
        SILVER_BARS,
        ("bar_id",),
        _PIPELINE_OWNER,
        "Alpha Vantage OHLCV bars, one row per bar_id.",
        readers=(_P + "reporting",),
    ),
    TableSpec(
        "gold_trade_features",
        TableKind.PIPELINE,
        GOLD_FIXED,
        ("symbol", "bar_start"),
        _PIPELINE_OWNER,
        "Per-symbol bars + features from the shared feature code.",
        readers=(
            _P + "features.feature_store_manager",
            _P + "models.training",
            _P + "monitoring.drift_detector",
            _P + "monitoring.live_scoring",
            _P + "decision.predictions",
            _P + "decision.backtester",
            _P + "decision.decision_matrix",
            _P + "serving.api",
            _P + "reporting",
        ),
        config_rule=_GOLD_RULE,
        build_schema=_gold,
    ),
    *(
        TableSpec(
            key,
            TableKind.FEATURE,
            pa.schema([*GOLD_FIXED, *LABEL_FIELDS]),
            ("symbol", "bar_end"),
            _P + "features.feature_store_manager.FeatureStoreManager",
            f"{what}: labelled gold bars (label, anomaly types, label source, split), keyed by symbol and bar_end.",
            readers=readers,
            config_rule="then, before `anomaly_types`, the moving-average columns of gold_trade_features",
            build_schema=_features,
        )
        for key, what, readers in (
            (
                "trade_features",
                "Every labelled bar",
                (_P + "models.champion_challenger", _P + "reporting"),
            ),
            (
                "train_set",
                "The train and validation slices",
                (_P + "models.training", _P + "models.champion_challenger", _P + "decision.predictions"),
            ),
            (
                "test_set",
                "The held-out test slice",
                (_P + "models.training", _P + "models.champion_challenger", _P + "reporting"),
            ),
        )
    ),
    TableSpec(
        "tournament_results",
        TableKind.JOB,
        TOURNAMENT,
        ("tournament_id", "model"),
        _P + "models.tournament.ModelTournament",
        "One row per model per tournament: metrics on the test slice, rank, winner, MLflow run.",
        readers=(_P + "reporting",),
    ),
    TableSpec(
        "champion_challenger_audit",
        TableKind.JOB,
        GATE_AUDIT,
        ("decision_id",),
        _P + "models.champion_challenger.ChampionChallenger",
        "One row per gate decision (PROMOTE / REJECT) with both models' re-scored metrics, the paired "
        "test of the gain, the matched operating point, and the promotion snapshot a rollback restores.",
        readers=(_P + "monitoring.rollback", _P + "monitoring.performance_monitor", _P + "reporting"),
        properties=_SERIALIZABLE,
        column_comments={
            "margin": "challenger - champion on the primary metric, on the holdout itself",
            "margin_lower": "one-sided lower confidence bound of the gain; PROMOTE needs it >= required_margin",
            "margin_upper": "one-sided upper confidence bound of the gain",
            "confidence": "level of the bounds (gate.confidence)",
            "test": "how the bounds were computed (paired class-stratified bootstrap, resamples, seed)",
            "challenger_primary_se": "bootstrap standard error of the challenger's primary metric (the trigger's "
            "baseline uncertainty)",
            "challenger_recall": "recall at the model's own stored threshold (information, not judged)",
            "operating_point": "fpr | alert_rate: how both models' cuts were matched (gate.operating_point)",
            "operating_value": "the FPR or alert rate both models were cut at",
            "challenger_matched_recall": "recall at the matched operating point (the recall guardrail)",
            "challenger_matched_threshold": "the challenger's score cut at the matched operating point",
            "challenger_latency_ms": "median of gate.latency_repeats timings of one latency_batch_rows batch",
            "latency_objective_ms": "the service objective the challenger's median latency is judged against",
        },
    ),
    TableSpec(
        "drift_monitoring",
        TableKind.JOB,
        DRIFT,
        ("run_id", "feature"),
        _P + "monitoring.drift_detector.DriftDetector",
        "PSI / JS distance per feature (and the signal it belongs to) per drift run, with the run's overall "
        "verdict counted per signal.",
        readers=(_P + "decision.decision_matrix", _P + "reporting"),
    ),
    TableSpec(
        "model_monitoring",
        TableKind.JOB,
        MODEL_MONITORING,
        ("model_version", "window_start"),
        _P + "monitoring.performance_monitor.PerformanceMonitor",
        "Champion precision / recall / PR-AUC per time window against ground truth, with the monitored "
        "metric's bootstrap interval.",
        readers=(_P + "monitoring.performance_monitor", _P + "reporting"),
        column_comments={
            "positives": "labelled anomalies in the window",
            "rolling_positives": "labelled anomalies in the rolling windows pooled",
            "rolling_adjusted": "the monitored metric over the rolling windows at the reference base rate",
            "rolling_lower": "two-sided bootstrap interval (confidence) of the monitored value: rolling_adjusted "
            "when reference_prevalence is known, else rolling_<metric>",
            "rolling_upper": "upper end of that interval",
        },
    ),
    TableSpec(
        "retraining_audit",
        TableKind.JOB,
        RETRAINING_AUDIT,
        ("event_id",),
        _P + "monitoring.retraining_trigger.RetrainingTrigger",
        "Every retraining decision (triggered, cooled down, limited, no drift) and its reason; launch rows "
        "(launching before a launcher runs, then its outcome).",
        readers=(_P + "monitoring.retraining_trigger", _P + "reporting"),
        properties=_SERIALIZABLE,
        column_comments={
            "performance_current": "the champion's metric over the whole current window (at the baseline's base rate)",
            "performance_positives": "labelled anomalies in the whole current window",
            "performance_min_positives": "positives a drop needs before it counts",
            "performance_lower": "two-sided bootstrap interval of performance_current",
            "performance_upper": "upper end of that interval",
            "performance_drop_lower": "lower confidence bound of the drop (baseline and current uncertainty); "
            "a drop counts only when it is > 0",
        },
    ),
    TableSpec(
        "alerts_audit",
        TableKind.JOB,
        ALERTS,
        ("alert_id",),
        _P + "monitoring.alerting.AlertManager",
        "Every alert sent (or not delivered) with its channel, attempts and error.",
        readers=(_P + "reporting",),
    ),
    TableSpec(
        "rollback_audit",
        TableKind.JOB,
        ROLLBACK_AUDIT,
        ("rollback_id",),
        _P + "monitoring.rollback.ModelRollback",
        "Every executed champion rollback: versions, aliases before/after, feature restores.",
        readers=(_P + "reporting",),
    ),
    TableSpec(
        "synthesized_predictions",
        TableKind.JOB,
        PREDICTIONS,
        ("symbol", "bar_start", "model_version"),
        _P + "decision.predictions.synthesize_predictions",
        "Append-only model predictions; the backtester reads them as of a Delta version (time travel).",
        readers=(
            _P + "decision.predictions",
            _P + "decision.backtester",
            _P + "decision.decision_matrix",
            _P + "reporting",
        ),
        properties={"delta.enableChangeDataFeed": "true"},
        column_comments={
            "symbol": "Ticker (equity) or pair (crypto).",
            "bar_start": "Start of the 1-minute bar the prediction is for (UTC).",
            "model_version": "Registered model version that produced the row.",
            "score": "Anomaly score in [0, 1] (masked outside engineers/service).",
            "label": "Anomaly label (1 = anomalous) at the model decision threshold.",
            "scored_at": "When the scoring run wrote the row (UTC).",
            "scoring_run_id": "The scoring run (one append per run).",
            "gold_version": "Delta version of gold_trade_features that was scored.",
            "train_cutoff": "Last bar the scoring model was trained on (later bars are out of sample).",
        },
    ),
    TableSpec(
        "backtest_results",
        TableKind.JOB,
        BACKTEST,
        ("run_id", "strategy", "symbol"),
        _P + "decision.backtester.Backtester",
        "Backtest metrics (with the Sharpe's standard error, probabilistic and deflated Sharpe ratios) and "
        "equity curve per run, strategy and symbol.",
        readers=(_P + "decision.decision_matrix", _P + "reporting"),
        column_comments={
            "strategy": "sma_cross | macd | model, or buy_and_hold: the benchmark over the same bars and costs",
            "trading_days": "New York trading dates the bars cover",
            "years": "trading_days / trading days per year (252 equities, 365 crypto); cagr is null below "
            "backtest.cagr_min_years",
            "benchmark_return": "total return of buy_and_hold on the same symbol and bars (excess = total_return - it)",
        },
    ),
    TableSpec(
        "decision_matrix",
        TableKind.JOB,
        pa.schema([*_MATRIX_HEAD, *_MATRIX_TAIL]),
        ("run_id", "symbol"),
        _P + "decision.decision_matrix.DecisionMatrix",
        "Weighted decision matrix per run and symbol: per-criterion raw value, score, weight; direction score, "
        "risk penalty, final score, recommendation and a one-sentence explanation.",
        readers=(_P + "serving.api", _P + "reporting"),
        config_rule=_MATRIX_RULE,
        build_schema=_matrix,
    ),
    TableSpec(
        "pipeline_runs",
        TableKind.LOCAL,
        PIPELINE_RUNS,
        ("run_id",),
        _PIPELINE_OWNER,
        "One row per embedded pipeline run: files, rows and seconds per layer, table versions.",
        readers=(_P + "pipeline", _P + "reporting"),
    ),
    TableSpec(
        "training_runs",
        TableKind.JOB,
        TRAINING_RUNS,
        ("run_id",),
        _P + "models.training",
        "One row per training attempt: its outcome, or why it did not train and what to do about it.",
        readers=(_P + "reporting",),
        column_comments={
            "label_sources": "rows per label_source (feedback, ground_truth, injected, rule)",
            "recall_by_type": "the champion's held-out recall per anomaly type: {model_version, injected|ground_truth: "
            "{type: {bars, flagged, recall}}}",
        },
    ),
    TableSpec(
        "analyst_feedback",
        TableKind.JOB,
        ANALYST_FEEDBACK,
        ("feedback_id",),
        _P + "features.feedback",
        "Analysts' verdicts on flagged bars (confirmed / dismissed, who and when): the first label source.",
        readers=(_P + "features", _P + "monitoring", _P + "reporting"),
        column_comments={"verdict": "confirmed (an anomaly) or dismissed (normal); the latest verdict per bar wins"},
    ),
    TableSpec(
        "anomaly_alerts",
        TableKind.JOB,
        ANOMALY_ALERTS,
        ("symbol", "bar_start", "model_version"),
        _P + "monitoring.live_scoring.LiveScorer",
        "Streaming scoring: gold bars the champion scored over its operating threshold as they landed, with "
        "the webhook's delivery state (inserted once per key, then updated; never sent twice).",
        readers=(_P + "monitoring.live_scoring", _P + "reporting"),
        column_comments={
            "alert_id": "deterministic id of the key (symbol, bar_start, model_version); the webhook carries it",
            "threshold": "the champion's operating threshold (score >= threshold alerts)",
            "trade_at": "newest trade of the bar in the micro-batch that scored it (exchange time)",
            "ingested_at": "when the collector received that trade",
            "delivery_status": "pending, sending, delivered, failed, not_configured, rate_limited (waits for the "
            "rate limit), unconfirmed (the process died during the POST: not re-sent, check the receiver)",
            "trade_to_alert_seconds": "delivered_at - trade_at",
        },
    ),
    TableSpec(
        "collector_gaps",
        TableKind.JOB,
        COLLECTOR_GAPS,
        ("feed", "day"),
        _P + "ingest.jobs.record_gaps",
        "Connection-down seconds per stream feed (finnhub, binance) per UTC day, from the collectors' connect, "
        "disconnect, heartbeat and stop events (process restarts included); recomputed and merged by (feed, day).",
        readers=(_P + "reporting", _P + "cli.ingest"),
        column_comments={
            "downtime_seconds": "seconds of the day no collector of the feed was connected (a crash counts from its "
            "last heartbeat until the next connect; after a clean stop only until a later run connects)",
            "connected_seconds": "seconds of the day a collector of the feed was connected",
            "disconnects": "connections that ended without being asked to (server close, dead connection, crash)",
            "longest_gap_seconds": "the longest down period within the day",
            "runs": "collector runs with an event that day",
            "trades_landed": "trades the runs landed that day (growth of their landed counters between events)",
            "computed_at": "when the row was last recomputed",
        },
    ),
)

#: table key -> spec, in ``project_config.yml`` ``tables`` order.
CATALOG: Mapping[str, TableSpec] = MappingProxyType({s.key: s for s in _SPECS})

#: The pipeline's datasets, in layer order (bronze -> silver -> gold).
LAYER_TABLES: tuple[str, ...] = tuple(s.key for s in _SPECS if s.kind is TableKind.PIPELINE)


def spec(key: str) -> TableSpec:
    """The spec of table ``key``; a ``KeyError`` names the key and every known one."""
    try:
        return CATALOG[key]
    except KeyError:
        raise KeyError(f"no table spec for {key!r}; known tables: {', '.join(CATALOG)}") from None


def specs_of(kind: TableKind) -> tuple[TableSpec, ...]:
    """Every spec of one kind, in catalogue order."""
    return tuple(s for s in _SPECS if s.kind is kind)
