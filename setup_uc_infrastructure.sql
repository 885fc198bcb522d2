-- financial-ai-mlops: Unity Catalog set-up for the three deployment targets.
--
-- Run once per metastore (and again after editing; every statement is idempotent) as a metastore admin
-- or a user with CREATE CATALOG, in a Databricks SQL editor or notebook attached to a SQL warehouse:
--   Databricks SQL -> SQL editor -> open this file -> Run all.
-- See docs/DEPLOYMENT.md. Catalog and schema names match project_config.yml (environments.*.catalog,
-- project.schema) and databricks.yml (targets.*.variables.catalog).
--
-- Groups (create them as account groups first):
--   financial-mlops-engineers  build and operate the platform
--   financial-mlops-service    the service principals the bundle's jobs run as (prd: run_as)
--   financial-mlops-analysts   read the curated tables and the dashboard exports
--   financial-mlops-oncall     run the rollback branch of financial-drift-monitoring (job permission, bundle)
--   financial-mlops-auditors   regulatory auditors: read predictions through a restricted view only
--
-- If the metastore has no default storage, add MANAGED LOCATION 's3://<bucket>/<path>' (or abfss://...)
-- to each CREATE CATALOG.
--
-- Per catalog: the catalog, schema and volumes; grants; the tables the jobs append to, created with their
-- columns and comments (the other tables get their comments where they are created, see "Tables" below);
-- the masked view and the auditors' view (no table carries a mask: the jobs read the tables' history).
-- `fin-mlops bundle-check` parses this file and checks each GRANT (privilege, securable, principal among the
-- groups above) and volume against what the file creates, and that no catalogue table gets a mask or row filter.


-- ====================================================================================================
-- mlops_dev
-- ====================================================================================================

CREATE CATALOG IF NOT EXISTS mlops_dev
  COMMENT 'financial-ai-mlops dev. Development: engineers build and break things here; per-user bundle deployments share it.';

CREATE SCHEMA IF NOT EXISTS mlops_dev.financial_transactions
  COMMENT 'Market-data MLOps tables (dev): bronze/silver/gold trades, features, tournament, monitoring, decisions, audits.';

CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.landing
  COMMENT 'Raw vendor records (NDJSON, written atomically by the collectors; files starting with . or _ are ignored by the pipeline).';
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.checkpoints
  COMMENT 'Structured Streaming checkpoints and the Auto Loader schema location.';
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.wheels
  COMMENT 'Built financial_transactions wheels (release copies for clusters outside the bundle).';
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.exports
  COMMENT 'Dashboard JSON / data.js exported by export_dashboard_metrics.py.';
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.reports
  COMMENT 'Markdown decision reports and charts.';
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.state
  COMMENT 'Engine-private state (run manifests, snapshots before promotion).';

-- Catalog and schema access
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-engineers`;
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-service`;
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-analysts`;
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-oncall`;
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-auditors`;
GRANT USE SCHEMA ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-auditors`;
GRANT USE SCHEMA, EXECUTE ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-oncall`;
GRANT ALL PRIVILEGES ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.reports TO `financial-mlops-analysts`;

-- BEGIN generated tables (mlops_dev): `python -m financial_transactions.deploy.uc_tables --write` from
-- the table catalogue (src/financial_transactions/lakehouse/catalog.py); do not edit by hand.
-- Tables (mlops_dev). Every table in project_config.yml `tables` gets a comment:
--   * the tables below are created up front with the columns their writers produce and a comment; the
--     jobs append to them with schema merge, so this never blocks a write (tests keep the catalogue equal
--     to what the real writers write);
--   * bronze_trades, silver_trades, silver_trades_quarantine, silver_bars, gold_trade_features belong to the
--     Lakeflow pipeline, which sets their comments (comment= in scripts/financial/dlt_pipeline.py); a table
--     created here would stop the pipeline from publishing them;
--   * trade_features, train_set, test_set are created by Databricks Feature Engineering (FeatureStoreManager)
--     with their primary/timestamp keys and a description; created here, they would lack the keys;
--   * pipeline_runs is written by the embedded runner only (on Databricks: the pipeline's event log).
CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.tournament_results (
  `tournament_id` STRING,
  `parent_mlflow_run_id` STRING,
  `mlflow_run_id` STRING,
  `model` STRING,
  `status` STRING,
  `error` STRING,
  `rank` BIGINT,
  `is_winner` BOOLEAN,
  `primary_metric` STRING,
  `primary_value` DOUBLE,
  `selection_slice` STRING,
  `selection_value` DOUBLE,
  `pr_auc` DOUBLE,
  `roc_auc` DOUBLE,
  `precision_at_k` DOUBLE,
  `recall_at_fpr` DOUBLE,
  `f1` DOUBLE,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `inference_rows_per_s` DOUBLE,
  `validation_pr_auc` DOUBLE,
  `validation_roc_auc` DOUBLE,
  `validation_precision_at_k` DOUBLE,
  `validation_recall_at_fpr` DOUBLE,
  `validation_f1` DOUBLE,
  `validation_precision` DOUBLE,
  `validation_recall` DOUBLE,
  `validation_inference_rows_per_s` DOUBLE,
  `threshold` DOUBLE,
  `train_seconds` DOUBLE,
  `n_train` BIGINT,
  `n_validation` BIGINT,
  `n_test` BIGINT,
  `n_test_anomalies` BIGINT,
  `model_uri` STRING,
  `feature_importance` STRING,
  `git_sha` STRING,
  `env` STRING,
  `config_hash` STRING,
  `created_at` TIMESTAMP
) USING DELTA
  COMMENT 'One row per model per tournament: metrics on the test slice, rank, winner, MLflow run.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.champion_challenger_audit (
  `decision_id` STRING,
  `decided_at` TIMESTAMP,
  `model_name` STRING,
  `env` STRING,
  `decision` STRING,
  `first_deploy` BOOLEAN,
  `reason` STRING,
  `primary_metric` STRING,
  `challenger_version` BIGINT,
  `champion_version` BIGINT,
  `challenger_primary` DOUBLE,
  `champion_primary` DOUBLE,
  `margin` DOUBLE COMMENT 'challenger - champion on the primary metric, on the holdout itself',
  `required_margin` DOUBLE,
  `margin_lower` DOUBLE COMMENT 'one-sided lower confidence bound of the gain; PROMOTE needs it >= required_margin',
  `margin_upper` DOUBLE COMMENT 'one-sided upper confidence bound of the gain',
  `confidence` DOUBLE COMMENT 'level of the bounds (gate.confidence)',
  `test` STRING COMMENT 'how the bounds were computed (paired class-stratified bootstrap, resamples, seed)',
  `challenger_primary_se` DOUBLE COMMENT 'bootstrap standard error of the challenger\'s primary metric (the trigger\'s baseline uncertainty)',
  `champion_primary_se` DOUBLE,
  `challenger_recall` DOUBLE COMMENT 'recall at the model\'s own stored threshold (information, not judged)',
  `champion_recall` DOUBLE,
  `operating_point` STRING COMMENT 'fpr | alert_rate: how both models\' cuts were matched (gate.operating_point)',
  `operating_value` DOUBLE COMMENT 'the FPR or alert rate both models were cut at',
  `challenger_matched_recall` DOUBLE COMMENT 'recall at the matched operating point (the recall guardrail)',
  `champion_matched_recall` DOUBLE,
  `challenger_matched_threshold` DOUBLE COMMENT 'the challenger\'s score cut at the matched operating point',
  `champion_matched_threshold` DOUBLE,
  `challenger_latency_ms` DOUBLE COMMENT 'median of gate.latency_repeats timings of one latency_batch_rows batch',
  `champion_latency_ms` DOUBLE,
  `latency_objective_ms` DOUBLE COMMENT 'the service objective the challenger\'s median latency is judged against',
  `latency_batch_rows` BIGINT,
  `challenger_metrics` STRING,
  `champion_metrics` STRING,
  `state_before` STRING,
  `state_after` STRING,
  `snapshot_aliases` STRING,
  `snapshot_feature_versions` STRING,
  `challenger_feature_versions` STRING,
  `holdout_rows` BIGINT,
  `holdout_anomalies` BIGINT,
  `error` STRING,
  `alerted` BOOLEAN,
  `supersedes` STRING,
  `git_sha` STRING,
  `config_hash` STRING
) USING DELTA
  COMMENT 'One row per gate decision (PROMOTE / REJECT) with both models\' re-scored metrics, the paired test of the gain, the matched operating point, and the promotion snapshot a rollback restores.'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.drift_monitoring (
  `run_id` STRING,
  `computed_at` TIMESTAMP,
  `env` STRING,
  `table_name` STRING,
  `reference_window` STRING,
  `reference_start` TIMESTAMP,
  `reference_end` TIMESTAMP,
  `reference_version` BIGINT,
  `current_window` STRING,
  `current_start` TIMESTAMP,
  `current_end` TIMESTAMP,
  `current_version` BIGINT,
  `feature` STRING,
  `signal` STRING,
  `kind` STRING,
  `bins` BIGINT,
  `psi` DOUBLE,
  `js` DOUBLE,
  `status` STRING,
  `critical` BOOLEAN,
  `reference_rows` BIGINT,
  `current_rows` BIGINT,
  `reference_missing` BIGINT,
  `current_missing` BIGINT,
  `note` STRING,
  `psi_warn` DOUBLE,
  `psi_alert` DOUBLE,
  `js_warn` DOUBLE,
  `js_alert` DOUBLE,
  `drifted_share_alert` DOUBLE,
  `min_drifted_features` BIGINT,
  `decision_rule` STRING,
  `epsilon` DOUBLE,
  `nan_policy` STRING,
  `overall_status` STRING,
  `drifted_features` BIGINT,
  `signals` BIGINT,
  `drifted_signals` BIGINT,
  `drifted_share` DOUBLE,
  `reason` STRING
) USING DELTA
  COMMENT 'PSI / JS distance per feature (and the signal it belongs to) per drift run, with the run\'s overall verdict counted per signal.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.model_monitoring (
  `monitored_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `model_version` STRING,
  `window_start` TIMESTAMP,
  `window_end` TIMESTAMP,
  `rows` BIGINT,
  `positives` BIGINT COMMENT 'labelled anomalies in the window',
  `predicted_positives` BIGINT,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `pr_auc` DOUBLE,
  `rolling_rows` BIGINT,
  `rolling_positives` BIGINT COMMENT 'labelled anomalies in the rolling windows pooled',
  `rolling_precision` DOUBLE,
  `rolling_recall` DOUBLE,
  `rolling_pr_auc` DOUBLE,
  `metric` STRING,
  `reference_prevalence` DOUBLE,
  `rolling_adjusted` DOUBLE COMMENT 'the monitored metric over the rolling windows at the reference base rate',
  `rolling_lower` DOUBLE COMMENT 'two-sided bootstrap interval (confidence) of the monitored value: rolling_adjusted when reference_prevalence is known, else rolling_<metric>',
  `rolling_upper` DOUBLE COMMENT 'upper end of that interval',
  `confidence` DOUBLE,
  `baseline` DOUBLE,
  `baseline_source` STRING
) USING DELTA
  COMMENT 'Champion precision / recall / PR-AUC per time window against ground truth, with the monitored metric\'s bootstrap interval.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.retraining_audit (
  `event_id` STRING,
  `event_type` STRING,
  `parent_event_id` STRING,
  `decided_at` TIMESTAMP,
  `env` STRING,
  `decision` STRING,
  `reason` STRING,
  `drift_detected` BOOLEAN,
  `drift_run_id` STRING,
  `drifted_share` DOUBLE,
  `drifted_features` STRING,
  `performance_degraded` BOOLEAN,
  `performance_metric` STRING,
  `performance_baseline` DOUBLE,
  `performance_current` DOUBLE COMMENT 'the champion\'s metric over the whole current window (at the baseline\'s base rate)',
  `performance_drop` DOUBLE,
  `performance_positives` BIGINT COMMENT 'labelled anomalies in the whole current window',
  `performance_min_positives` BIGINT COMMENT 'positives a drop needs before it counts',
  `performance_lower` DOUBLE COMMENT 'two-sided bootstrap interval of performance_current',
  `performance_upper` DOUBLE COMMENT 'upper end of that interval',
  `performance_drop_lower` DOUBLE COMMENT 'lower confidence bound of the drop (baseline and current uncertainty); a drop counts only when it is > 0',
  `cooldown_hours` DOUBLE,
  `daily_limit` BIGINT,
  `triggered_today` BIGINT,
  `last_triggered_at` TIMESTAMP,
  `read_version` BIGINT,
  `commit_attempts` BIGINT,
  `launcher` STRING,
  `run_id` STRING,
  `detail` STRING
) USING DELTA
  COMMENT 'Every retraining decision (triggered, cooled down, limited, no drift) and its reason; launch rows (launching before a launcher runs, then its outcome).'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.alerts_audit (
  `alert_id` STRING,
  `sent_at` TIMESTAMP,
  `env` STRING,
  `source` STRING,
  `severity` STRING,
  `title` STRING,
  `message` STRING,
  `context` STRING,
  `status` STRING,
  `attempts` BIGINT,
  `http_status` BIGINT,
  `error` STRING,
  `destination` STRING,
  `payload_format` STRING,
  `latency_ms` DOUBLE
) USING DELTA
  COMMENT 'Every alert sent (or not delivered) with its channel, attempts and error.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.rollback_audit (
  `rollback_id` STRING,
  `rolled_back_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `status` STRING,
  `from_version` BIGINT,
  `to_version` BIGINT,
  `source` STRING,
  `reason` STRING,
  `aliases_before` STRING,
  `aliases_after` STRING,
  `feature_restores` STRING,
  `snapshot_decision_id` STRING,
  `operator` STRING,
  `error` STRING
) USING DELTA
  COMMENT 'Every executed champion rollback: versions, aliases before/after, feature restores.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.synthesized_predictions (
  `symbol` STRING COMMENT 'Ticker (equity) or pair (crypto).',
  `bar_start` TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  `model_version` STRING COMMENT 'Registered model version that produced the row.',
  `score` DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  `label` BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  `scored_at` TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  `scoring_run_id` STRING COMMENT 'The scoring run (one append per run).',
  `gold_version` BIGINT COMMENT 'Delta version of gold_trade_features that was scored.',
  `train_cutoff` TIMESTAMP COMMENT 'Last bar the scoring model was trained on (later bars are out of sample).'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.backtest_results (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `strategy` STRING COMMENT 'sma_cross | macd | model, or buy_and_hold: the benchmark over the same bars and costs',
  `symbol` STRING,
  `asset_class` STRING,
  `mode` STRING,
  `run_kind` STRING,
  `as_of_version` BIGINT,
  `as_of_timestamp` STRING,
  `gold_version` BIGINT,
  `model_versions` STRING,
  `n_bars` BIGINT,
  `bars_per_day` BIGINT,
  `periods_per_year` BIGINT,
  `trading_days` BIGINT COMMENT 'New York trading dates the bars cover',
  `years` DOUBLE COMMENT 'trading_days / trading days per year (252 equities, 365 crypto); cagr is null below backtest.cagr_min_years',
  `benchmark_return` DOUBLE COMMENT 'total return of buy_and_hold on the same symbol and bars (excess = total_return - it)',
  `commission_bps` DOUBLE,
  `slippage_bps` DOUBLE,
  `risk_free_rate` DOUBLE,
  `total_return` DOUBLE,
  `cagr` DOUBLE,
  `annual_volatility` DOUBLE,
  `sharpe` DOUBLE,
  `sortino` DOUBLE,
  `max_drawdown` DOUBLE,
  `calmar` DOUBLE,
  `win_rate` DOUBLE,
  `n_trades` BIGINT,
  `exposure` DOUBLE,
  `sharpe_se` DOUBLE,
  `sharpe_tstat` DOUBLE,
  `psr` DOUBLE,
  `expected_max_sharpe` DOUBLE,
  `dsr` DOUBLE,
  `deflated_edge` DOUBLE,
  `n_trials` BIGINT,
  `equity_curve` STRING,
  `equity_ts` STRING
) USING DELTA
  COMMENT 'Backtest metrics (with the Sharpe\'s standard error, probabilistic and deflated Sharpe ratios) and equity curve per run, strategy and symbol.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.decision_matrix (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `symbol` STRING,
  `asset_class` STRING,
  `trend_raw` DOUBLE,
  `trend_score` BIGINT,
  `trend_label` STRING,
  `trend_weight` DOUBLE,
  `volatility_raw` DOUBLE,
  `volatility_score` BIGINT,
  `volatility_label` STRING,
  `volatility_weight` DOUBLE,
  `momentum_raw` DOUBLE,
  `momentum_score` BIGINT,
  `momentum_label` STRING,
  `momentum_weight` DOUBLE,
  `backtest_raw` DOUBLE,
  `backtest_score` BIGINT,
  `backtest_label` STRING,
  `backtest_weight` DOUBLE,
  `model_confidence_raw` DOUBLE,
  `model_confidence_score` BIGINT,
  `model_confidence_label` STRING,
  `model_confidence_weight` DOUBLE,
  `drift_raw` DOUBLE,
  `drift_score` BIGINT,
  `drift_label` STRING,
  `drift_weight` DOUBLE,
  `coverage` DOUBLE,
  `criteria_scored` BIGINT,
  `direction_score` DOUBLE,
  `risk_penalty` DOUBLE,
  `final_score` DOUBLE,
  `recommendation` STRING,
  `explanation` STRING,
  `flags` STRING,
  `rank` BIGINT,
  `missing_policy` STRING,
  `backtest_strategy` STRING,
  `gold_trade_features_version` BIGINT,
  `backtest_results_version` BIGINT,
  `synthesized_predictions_version` BIGINT,
  `drift_monitoring_version` BIGINT
) USING DELTA
  COMMENT 'Weighted decision matrix per run and symbol: per-criterion raw value, score, weight; direction score, risk penalty, final score, recommendation and a one-sentence explanation.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.training_runs (
  `run_id` STRING,
  `started_at` TIMESTAMP,
  `status` STRING,
  `reason` STRING,
  `remedy` STRING,
  `winner` STRING,
  `test_pr_auc` DOUBLE,
  `label_sources` STRING COMMENT 'rows per label_source (feedback, ground_truth, injected, rule)',
  `positives` STRING,
  `sizes` STRING,
  `recall_by_type` STRING COMMENT 'the champion\'s held-out recall per anomaly type: {model_version, injected|ground_truth: {type: {bars, flagged, recall}}}'
) USING DELTA
  COMMENT 'One row per training attempt: its outcome, or why it did not train and what to do about it.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.analyst_feedback (
  `feedback_id` STRING,
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `verdict` STRING COMMENT 'confirmed (an anomaly) or dismissed (normal); the latest verdict per bar wins',
  `analyst` STRING,
  `decided_at` TIMESTAMP,
  `note` STRING,
  `channel` STRING
) USING DELTA
  COMMENT 'Analysts\' verdicts on flagged bars (confirmed / dismissed, who and when): the first label source.';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.anomaly_alerts (
  `alert_id` STRING COMMENT 'deterministic id of the key (symbol, bar_start, model_version); the webhook carries it',
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `model_version` STRING,
  `model_name` STRING,
  `score` DOUBLE,
  `threshold` DOUBLE COMMENT 'the champion\'s operating threshold (score >= threshold alerts)',
  `close` DOUBLE,
  `trade_count` BIGINT,
  `trade_at` TIMESTAMP COMMENT 'newest trade of the bar in the micro-batch that scored it (exchange time)',
  `ingested_at` TIMESTAMP COMMENT 'when the collector received that trade',
  `scored_at` TIMESTAMP,
  `stream_batch` STRING,
  `delivery_status` STRING COMMENT 'pending, sending, delivered, failed, not_configured, rate_limited (waits for the rate limit), unconfirmed (the process died during the POST: not re-sent, check the receiver)',
  `delivery_attempts` BIGINT,
  `http_status` BIGINT,
  `delivery_error` STRING,
  `attempted_at` TIMESTAMP,
  `delivered_at` TIMESTAMP,
  `trade_to_score_seconds` DOUBLE,
  `trade_to_alert_seconds` DOUBLE COMMENT 'delivered_at - trade_at',
  `env` STRING
) USING DELTA
  COMMENT 'Streaming scoring: gold bars the champion scored over its operating threshold as they landed, with the webhook\'s delivery state (inserted once per key, then updated; never sent twice).';

CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.collector_gaps (
  `feed` STRING,
  `day` DATE,
  `downtime_seconds` DOUBLE COMMENT 'seconds of the day no collector of the feed was connected (a crash counts from its last heartbeat until the next connect; after a clean stop only until a later run connects)',
  `connected_seconds` DOUBLE COMMENT 'seconds of the day a collector of the feed was connected',
  `disconnects` BIGINT COMMENT 'connections that ended without being asked to (server close, dead connection, crash)',
  `longest_gap_seconds` DOUBLE COMMENT 'the longest down period within the day',
  `runs` BIGINT COMMENT 'collector runs with an event that day',
  `trades_landed` BIGINT COMMENT 'trades the runs landed that day (growth of their landed counters between events)',
  `computed_at` TIMESTAMP COMMENT 'when the row was last recomputed'
) USING DELTA
  COMMENT 'Connection-down seconds per stream feed (finnhub, binance) per UTC day, from the collectors\' connect, disconnect, heartbeat and stop events (process restarts included); recomputed and merged by (feed, day).';
-- END generated tables (mlops_dev)

-- Column-level protection without a mask on the table: a table with a row filter or column mask refuses
-- DESCRIBE HISTORY and time travel (ROW_LEVEL_SECURITY_COLUMN_MASK_FEATURE_NOT_SUPPORTED.*, FGAC_* on dedicated
-- compute; https://docs.databricks.com/aws/en/tables/row-and-column-filters#limitations), and the jobs read
-- synthesized_predictions' history on every append and as of a version in the backtester. So the base table
-- carries no mask and only engineers and the jobs' service principals read it; everyone else reads the
-- masked view synthesized_predictions_v, and auditors the restricted view. Since a schema-wide SELECT would
-- reach the base table, analysts and on-call get SELECT per job table (below) instead of on the schema.
CREATE OR REPLACE FUNCTION mlops_dev.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Masks synthesized_predictions.score in synthesized_predictions_v: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

CREATE OR REPLACE VIEW mlops_dev.financial_transactions.synthesized_predictions_v
  COMMENT 'synthesized_predictions with the raw anomaly score masked outside engineers and the service principals.'
  AS SELECT symbol, bar_start, model_version, mlops_dev.financial_transactions.mask_anomaly_score(score) AS score, label, scored_at,
    scoring_run_id, gold_version, train_cutoff
  FROM mlops_dev.financial_transactions.synthesized_predictions;

CREATE OR REPLACE VIEW mlops_dev.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_dev.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_dev.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON VIEW mlops_dev.financial_transactions.synthesized_predictions_v TO `financial-mlops-analysts`;
GRANT SELECT ON VIEW mlops_dev.financial_transactions.synthesized_predictions_v TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.tournament_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.tournament_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.champion_challenger_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.champion_challenger_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.drift_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.drift_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.model_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.model_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.retraining_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.retraining_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.alerts_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.alerts_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.rollback_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.rollback_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.backtest_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.backtest_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.decision_matrix TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.decision_matrix TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.training_runs TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.training_runs TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.analyst_feedback TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.analyst_feedback TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.anomaly_alerts TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.anomaly_alerts TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.collector_gaps TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.collector_gaps TO `financial-mlops-oncall`;


-- ====================================================================================================
-- mlops_acc
-- ====================================================================================================

CREATE CATALOG IF NOT EXISTS mlops_acc
  COMMENT 'financial-ai-mlops acc. Acceptance: the prd shape, deployed by CI from main for sign-off.';

CREATE SCHEMA IF NOT EXISTS mlops_acc.financial_transactions
  COMMENT 'Market-data MLOps tables (acc): bronze/silver/gold trades, features, tournament, monitoring, decisions, audits.';

CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.landing
  COMMENT 'Raw vendor records (NDJSON, written atomically by the collectors; files starting with . or _ are ignored by the pipeline).';
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.checkpoints
  COMMENT 'Structured Streaming checkpoints and the Auto Loader schema location.';
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.wheels
  COMMENT 'Built financial_transactions wheels (release copies for clusters outside the bundle).';
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.exports
  COMMENT 'Dashboard JSON / data.js exported by export_dashboard_metrics.py.';
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.reports
  COMMENT 'Markdown decision reports and charts.';
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.state
  COMMENT 'Engine-private state (run manifests, snapshots before promotion).';

-- Catalog and schema access
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-engineers`;
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-service`;
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-analysts`;
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-oncall`;
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-auditors`;
GRANT USE SCHEMA ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-auditors`;
GRANT USE SCHEMA, EXECUTE ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-oncall`;
GRANT USE SCHEMA, SELECT, EXECUTE, READ VOLUME ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_acc.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_acc.financial_transactions.reports TO `financial-mlops-analysts`;

-- BEGIN generated tables (mlops_acc): `python -m financial_transactions.deploy.uc_tables --write` from
-- the table catalogue (src/financial_transactions/lakehouse/catalog.py); do not edit by hand.
-- Tables (mlops_acc). Every table in project_config.yml `tables` gets a comment:
--   * the tables below are created up front with the columns their writers produce and a comment; the
--     jobs append to them with schema merge, so this never blocks a write (tests keep the catalogue equal
--     to what the real writers write);
--   * bronze_trades, silver_trades, silver_trades_quarantine, silver_bars, gold_trade_features belong to the
--     Lakeflow pipeline, which sets their comments (comment= in scripts/financial/dlt_pipeline.py); a table
--     created here would stop the pipeline from publishing them;
--   * trade_features, train_set, test_set are created by Databricks Feature Engineering (FeatureStoreManager)
--     with their primary/timestamp keys and a description; created here, they would lack the keys;
--   * pipeline_runs is written by the embedded runner only (on Databricks: the pipeline's event log).
CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.tournament_results (
  `tournament_id` STRING,
  `parent_mlflow_run_id` STRING,
  `mlflow_run_id` STRING,
  `model` STRING,
  `status` STRING,
  `error` STRING,
  `rank` BIGINT,
  `is_winner` BOOLEAN,
  `primary_metric` STRING,
  `primary_value` DOUBLE,
  `selection_slice` STRING,
  `selection_value` DOUBLE,
  `pr_auc` DOUBLE,
  `roc_auc` DOUBLE,
  `precision_at_k` DOUBLE,
  `recall_at_fpr` DOUBLE,
  `f1` DOUBLE,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `inference_rows_per_s` DOUBLE,
  `validation_pr_auc` DOUBLE,
  `validation_roc_auc` DOUBLE,
  `validation_precision_at_k` DOUBLE,
  `validation_recall_at_fpr` DOUBLE,
  `validation_f1` DOUBLE,
  `validation_precision` DOUBLE,
  `validation_recall` DOUBLE,
  `validation_inference_rows_per_s` DOUBLE,
  `threshold` DOUBLE,
  `train_seconds` DOUBLE,
  `n_train` BIGINT,
  `n_validation` BIGINT,
  `n_test` BIGINT,
  `n_test_anomalies` BIGINT,
  `model_uri` STRING,
  `feature_importance` STRING,
  `git_sha` STRING,
  `env` STRING,
  `config_hash` STRING,
  `created_at` TIMESTAMP
) USING DELTA
  COMMENT 'One row per model per tournament: metrics on the test slice, rank, winner, MLflow run.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.champion_challenger_audit (
  `decision_id` STRING,
  `decided_at` TIMESTAMP,
  `model_name` STRING,
  `env` STRING,
  `decision` STRING,
  `first_deploy` BOOLEAN,
  `reason` STRING,
  `primary_metric` STRING,
  `challenger_version` BIGINT,
  `champion_version` BIGINT,
  `challenger_primary` DOUBLE,
  `champion_primary` DOUBLE,
  `margin` DOUBLE COMMENT 'challenger - champion on the primary metric, on the holdout itself',
  `required_margin` DOUBLE,
  `margin_lower` DOUBLE COMMENT 'one-sided lower confidence bound of the gain; PROMOTE needs it >= required_margin',
  `margin_upper` DOUBLE COMMENT 'one-sided upper confidence bound of the gain',
  `confidence` DOUBLE COMMENT 'level of the bounds (gate.confidence)',
  `test` STRING COMMENT 'how the bounds were computed (paired class-stratified bootstrap, resamples, seed)',
  `challenger_primary_se` DOUBLE COMMENT 'bootstrap standard error of the challenger\'s primary metric (the trigger\'s baseline uncertainty)',
  `champion_primary_se` DOUBLE,
  `challenger_recall` DOUBLE COMMENT 'recall at the model\'s own stored threshold (information, not judged)',
  `champion_recall` DOUBLE,
  `operating_point` STRING COMMENT 'fpr | alert_rate: how both models\' cuts were matched (gate.operating_point)',
  `operating_value` DOUBLE COMMENT 'the FPR or alert rate both models were cut at',
  `challenger_matched_recall` DOUBLE COMMENT 'recall at the matched operating point (the recall guardrail)',
  `champion_matched_recall` DOUBLE,
  `challenger_matched_threshold` DOUBLE COMMENT 'the challenger\'s score cut at the matched operating point',
  `champion_matched_threshold` DOUBLE,
  `challenger_latency_ms` DOUBLE COMMENT 'median of gate.latency_repeats timings of one latency_batch_rows batch',
  `champion_latency_ms` DOUBLE,
  `latency_objective_ms` DOUBLE COMMENT 'the service objective the challenger\'s median latency is judged against',
  `latency_batch_rows` BIGINT,
  `challenger_metrics` STRING,
  `champion_metrics` STRING,
  `state_before` STRING,
  `state_after` STRING,
  `snapshot_aliases` STRING,
  `snapshot_feature_versions` STRING,
  `challenger_feature_versions` STRING,
  `holdout_rows` BIGINT,
  `holdout_anomalies` BIGINT,
  `error` STRING,
  `alerted` BOOLEAN,
  `supersedes` STRING,
  `git_sha` STRING,
  `config_hash` STRING
) USING DELTA
  COMMENT 'One row per gate decision (PROMOTE / REJECT) with both models\' re-scored metrics, the paired test of the gain, the matched operating point, and the promotion snapshot a rollback restores.'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.drift_monitoring (
  `run_id` STRING,
  `computed_at` TIMESTAMP,
  `env` STRING,
  `table_name` STRING,
  `reference_window` STRING,
  `reference_start` TIMESTAMP,
  `reference_end` TIMESTAMP,
  `reference_version` BIGINT,
  `current_window` STRING,
  `current_start` TIMESTAMP,
  `current_end` TIMESTAMP,
  `current_version` BIGINT,
  `feature` STRING,
  `signal` STRING,
  `kind` STRING,
  `bins` BIGINT,
  `psi` DOUBLE,
  `js` DOUBLE,
  `status` STRING,
  `critical` BOOLEAN,
  `reference_rows` BIGINT,
  `current_rows` BIGINT,
  `reference_missing` BIGINT,
  `current_missing` BIGINT,
  `note` STRING,
  `psi_warn` DOUBLE,
  `psi_alert` DOUBLE,
  `js_warn` DOUBLE,
  `js_alert` DOUBLE,
  `drifted_share_alert` DOUBLE,
  `min_drifted_features` BIGINT,
  `decision_rule` STRING,
  `epsilon` DOUBLE,
  `nan_policy` STRING,
  `overall_status` STRING,
  `drifted_features` BIGINT,
  `signals` BIGINT,
  `drifted_signals` BIGINT,
  `drifted_share` DOUBLE,
  `reason` STRING
) USING DELTA
  COMMENT 'PSI / JS distance per feature (and the signal it belongs to) per drift run, with the run\'s overall verdict counted per signal.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.model_monitoring (
  `monitored_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `model_version` STRING,
  `window_start` TIMESTAMP,
  `window_end` TIMESTAMP,
  `rows` BIGINT,
  `positives` BIGINT COMMENT 'labelled anomalies in the window',
  `predicted_positives` BIGINT,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `pr_auc` DOUBLE,
  `rolling_rows` BIGINT,
  `rolling_positives` BIGINT COMMENT 'labelled anomalies in the rolling windows pooled',
  `rolling_precision` DOUBLE,
  `rolling_recall` DOUBLE,
  `rolling_pr_auc` DOUBLE,
  `metric` STRING,
  `reference_prevalence` DOUBLE,
  `rolling_adjusted` DOUBLE COMMENT 'the monitored metric over the rolling windows at the reference base rate',
  `rolling_lower` DOUBLE COMMENT 'two-sided bootstrap interval (confidence) of the monitored value: rolling_adjusted when reference_prevalence is known, else rolling_<metric>',
  `rolling_upper` DOUBLE COMMENT 'upper end of that interval',
  `confidence` DOUBLE,
  `baseline` DOUBLE,
  `baseline_source` STRING
) USING DELTA
  COMMENT 'Champion precision / recall / PR-AUC per time window against ground truth, with the monitored metric\'s bootstrap interval.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.retraining_audit (
  `event_id` STRING,
  `event_type` STRING,
  `parent_event_id` STRING,
  `decided_at` TIMESTAMP,
  `env` STRING,
  `decision` STRING,
  `reason` STRING,
  `drift_detected` BOOLEAN,
  `drift_run_id` STRING,
  `drifted_share` DOUBLE,
  `drifted_features` STRING,
  `performance_degraded` BOOLEAN,
  `performance_metric` STRING,
  `performance_baseline` DOUBLE,
  `performance_current` DOUBLE COMMENT 'the champion\'s metric over the whole current window (at the baseline\'s base rate)',
  `performance_drop` DOUBLE,
  `performance_positives` BIGINT COMMENT 'labelled anomalies in the whole current window',
  `performance_min_positives` BIGINT COMMENT 'positives a drop needs before it counts',
  `performance_lower` DOUBLE COMMENT 'two-sided bootstrap interval of performance_current',
  `performance_upper` DOUBLE COMMENT 'upper end of that interval',
  `performance_drop_lower` DOUBLE COMMENT 'lower confidence bound of the drop (baseline and current uncertainty); a drop counts only when it is > 0',
  `cooldown_hours` DOUBLE,
  `daily_limit` BIGINT,
  `triggered_today` BIGINT,
  `last_triggered_at` TIMESTAMP,
  `read_version` BIGINT,
  `commit_attempts` BIGINT,
  `launcher` STRING,
  `run_id` STRING,
  `detail` STRING
) USING DELTA
  COMMENT 'Every retraining decision (triggered, cooled down, limited, no drift) and its reason; launch rows (launching before a launcher runs, then its outcome).'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.alerts_audit (
  `alert_id` STRING,
  `sent_at` TIMESTAMP,
  `env` STRING,
  `source` STRING,
  `severity` STRING,
  `title` STRING,
  `message` STRING,
  `context` STRING,
  `status` STRING,
  `attempts` BIGINT,
  `http_status` BIGINT,
  `error` STRING,
  `destination` STRING,
  `payload_format` STRING,
  `latency_ms` DOUBLE
) USING DELTA
  COMMENT 'Every alert sent (or not delivered) with its channel, attempts and error.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.rollback_audit (
  `rollback_id` STRING,
  `rolled_back_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `status` STRING,
  `from_version` BIGINT,
  `to_version` BIGINT,
  `source` STRING,
  `reason` STRING,
  `aliases_before` STRING,
  `aliases_after` STRING,
  `feature_restores` STRING,
  `snapshot_decision_id` STRING,
  `operator` STRING,
  `error` STRING
) USING DELTA
  COMMENT 'Every executed champion rollback: versions, aliases before/after, feature restores.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.synthesized_predictions (
  `symbol` STRING COMMENT 'Ticker (equity) or pair (crypto).',
  `bar_start` TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  `model_version` STRING COMMENT 'Registered model version that produced the row.',
  `score` DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  `label` BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  `scored_at` TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  `scoring_run_id` STRING COMMENT 'The scoring run (one append per run).',
  `gold_version` BIGINT COMMENT 'Delta version of gold_trade_features that was scored.',
  `train_cutoff` TIMESTAMP COMMENT 'Last bar the scoring model was trained on (later bars are out of sample).'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.backtest_results (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `strategy` STRING COMMENT 'sma_cross | macd | model, or buy_and_hold: the benchmark over the same bars and costs',
  `symbol` STRING,
  `asset_class` STRING,
  `mode` STRING,
  `run_kind` STRING,
  `as_of_version` BIGINT,
  `as_of_timestamp` STRING,
  `gold_version` BIGINT,
  `model_versions` STRING,
  `n_bars` BIGINT,
  `bars_per_day` BIGINT,
  `periods_per_year` BIGINT,
  `trading_days` BIGINT COMMENT 'New York trading dates the bars cover',
  `years` DOUBLE COMMENT 'trading_days / trading days per year (252 equities, 365 crypto); cagr is null below backtest.cagr_min_years',
  `benchmark_return` DOUBLE COMMENT 'total return of buy_and_hold on the same symbol and bars (excess = total_return - it)',
  `commission_bps` DOUBLE,
  `slippage_bps` DOUBLE,
  `risk_free_rate` DOUBLE,
  `total_return` DOUBLE,
  `cagr` DOUBLE,
  `annual_volatility` DOUBLE,
  `sharpe` DOUBLE,
  `sortino` DOUBLE,
  `max_drawdown` DOUBLE,
  `calmar` DOUBLE,
  `win_rate` DOUBLE,
  `n_trades` BIGINT,
  `exposure` DOUBLE,
  `sharpe_se` DOUBLE,
  `sharpe_tstat` DOUBLE,
  `psr` DOUBLE,
  `expected_max_sharpe` DOUBLE,
  `dsr` DOUBLE,
  `deflated_edge` DOUBLE,
  `n_trials` BIGINT,
  `equity_curve` STRING,
  `equity_ts` STRING
) USING DELTA
  COMMENT 'Backtest metrics (with the Sharpe\'s standard error, probabilistic and deflated Sharpe ratios) and equity curve per run, strategy and symbol.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.decision_matrix (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `symbol` STRING,
  `asset_class` STRING,
  `trend_raw` DOUBLE,
  `trend_score` BIGINT,
  `trend_label` STRING,
  `trend_weight` DOUBLE,
  `volatility_raw` DOUBLE,
  `volatility_score` BIGINT,
  `volatility_label` STRING,
  `volatility_weight` DOUBLE,
  `momentum_raw` DOUBLE,
  `momentum_score` BIGINT,
  `momentum_label` STRING,
  `momentum_weight` DOUBLE,
  `backtest_raw` DOUBLE,
  `backtest_score` BIGINT,
  `backtest_label` STRING,
  `backtest_weight` DOUBLE,
  `model_confidence_raw` DOUBLE,
  `model_confidence_score` BIGINT,
  `model_confidence_label` STRING,
  `model_confidence_weight` DOUBLE,
  `drift_raw` DOUBLE,
  `drift_score` BIGINT,
  `drift_label` STRING,
  `drift_weight` DOUBLE,
  `coverage` DOUBLE,
  `criteria_scored` BIGINT,
  `direction_score` DOUBLE,
  `risk_penalty` DOUBLE,
  `final_score` DOUBLE,
  `recommendation` STRING,
  `explanation` STRING,
  `flags` STRING,
  `rank` BIGINT,
  `missing_policy` STRING,
  `backtest_strategy` STRING,
  `gold_trade_features_version` BIGINT,
  `backtest_results_version` BIGINT,
  `synthesized_predictions_version` BIGINT,
  `drift_monitoring_version` BIGINT
) USING DELTA
  COMMENT 'Weighted decision matrix per run and symbol: per-criterion raw value, score, weight; direction score, risk penalty, final score, recommendation and a one-sentence explanation.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.training_runs (
  `run_id` STRING,
  `started_at` TIMESTAMP,
  `status` STRING,
  `reason` STRING,
  `remedy` STRING,
  `winner` STRING,
  `test_pr_auc` DOUBLE,
  `label_sources` STRING COMMENT 'rows per label_source (feedback, ground_truth, injected, rule)',
  `positives` STRING,
  `sizes` STRING,
  `recall_by_type` STRING COMMENT 'the champion\'s held-out recall per anomaly type: {model_version, injected|ground_truth: {type: {bars, flagged, recall}}}'
) USING DELTA
  COMMENT 'One row per training attempt: its outcome, or why it did not train and what to do about it.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.analyst_feedback (
  `feedback_id` STRING,
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `verdict` STRING COMMENT 'confirmed (an anomaly) or dismissed (normal); the latest verdict per bar wins',
  `analyst` STRING,
  `decided_at` TIMESTAMP,
  `note` STRING,
  `channel` STRING
) USING DELTA
  COMMENT 'Analysts\' verdicts on flagged bars (confirmed / dismissed, who and when): the first label source.';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.anomaly_alerts (
  `alert_id` STRING COMMENT 'deterministic id of the key (symbol, bar_start, model_version); the webhook carries it',
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `model_version` STRING,
  `model_name` STRING,
  `score` DOUBLE,
  `threshold` DOUBLE COMMENT 'the champion\'s operating threshold (score >= threshold alerts)',
  `close` DOUBLE,
  `trade_count` BIGINT,
  `trade_at` TIMESTAMP COMMENT 'newest trade of the bar in the micro-batch that scored it (exchange time)',
  `ingested_at` TIMESTAMP COMMENT 'when the collector received that trade',
  `scored_at` TIMESTAMP,
  `stream_batch` STRING,
  `delivery_status` STRING COMMENT 'pending, sending, delivered, failed, not_configured, rate_limited (waits for the rate limit), unconfirmed (the process died during the POST: not re-sent, check the receiver)',
  `delivery_attempts` BIGINT,
  `http_status` BIGINT,
  `delivery_error` STRING,
  `attempted_at` TIMESTAMP,
  `delivered_at` TIMESTAMP,
  `trade_to_score_seconds` DOUBLE,
  `trade_to_alert_seconds` DOUBLE COMMENT 'delivered_at - trade_at',
  `env` STRING
) USING DELTA
  COMMENT 'Streaming scoring: gold bars the champion scored over its operating threshold as they landed, with the webhook\'s delivery state (inserted once per key, then updated; never sent twice).';

CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.collector_gaps (
  `feed` STRING,
  `day` DATE,
  `downtime_seconds` DOUBLE COMMENT 'seconds of the day no collector of the feed was connected (a crash counts from its last heartbeat until the next connect; after a clean stop only until a later run connects)',
  `connected_seconds` DOUBLE COMMENT 'seconds of the day a collector of the feed was connected',
  `disconnects` BIGINT COMMENT 'connections that ended without being asked to (server close, dead connection, crash)',
  `longest_gap_seconds` DOUBLE COMMENT 'the longest down period within the day',
  `runs` BIGINT COMMENT 'collector runs with an event that day',
  `trades_landed` BIGINT COMMENT 'trades the runs landed that day (growth of their landed counters between events)',
  `computed_at` TIMESTAMP COMMENT 'when the row was last recomputed'
) USING DELTA
  COMMENT 'Connection-down seconds per stream feed (finnhub, binance) per UTC day, from the collectors\' connect, disconnect, heartbeat and stop events (process restarts included); recomputed and merged by (feed, day).';
-- END generated tables (mlops_acc)

-- Column-level protection without a mask on the table: a table with a row filter or column mask refuses
-- DESCRIBE HISTORY and time travel (ROW_LEVEL_SECURITY_COLUMN_MASK_FEATURE_NOT_SUPPORTED.*, FGAC_* on dedicated
-- compute; https://docs.databricks.com/aws/en/tables/row-and-column-filters#limitations), and the jobs read
-- synthesized_predictions' history on every append and as of a version in the backtester. So the base table
-- carries no mask and only engineers and the jobs' service principals read it; everyone else reads the
-- masked view synthesized_predictions_v, and auditors the restricted view. Since a schema-wide SELECT would
-- reach the base table, analysts and on-call get SELECT per job table (below) instead of on the schema.
CREATE OR REPLACE FUNCTION mlops_acc.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Masks synthesized_predictions.score in synthesized_predictions_v: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

CREATE OR REPLACE VIEW mlops_acc.financial_transactions.synthesized_predictions_v
  COMMENT 'synthesized_predictions with the raw anomaly score masked outside engineers and the service principals.'
  AS SELECT symbol, bar_start, model_version, mlops_acc.financial_transactions.mask_anomaly_score(score) AS score, label, scored_at,
    scoring_run_id, gold_version, train_cutoff
  FROM mlops_acc.financial_transactions.synthesized_predictions;

CREATE OR REPLACE VIEW mlops_acc.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_acc.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_predictions_v TO `financial-mlops-analysts`;
GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_predictions_v TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.tournament_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.tournament_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.champion_challenger_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.champion_challenger_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.drift_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.drift_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.model_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.model_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.retraining_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.retraining_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.alerts_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.alerts_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.rollback_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.rollback_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.backtest_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.backtest_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.decision_matrix TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.decision_matrix TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.training_runs TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.training_runs TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.analyst_feedback TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.analyst_feedback TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.anomaly_alerts TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.anomaly_alerts TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.collector_gaps TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.collector_gaps TO `financial-mlops-oncall`;


-- ====================================================================================================
-- mlops_prd
-- ====================================================================================================

CREATE CATALOG IF NOT EXISTS mlops_prd
  COMMENT 'financial-ai-mlops prd. Production: deployed by CI through an approved GitHub environment; runs as a service principal.';

CREATE SCHEMA IF NOT EXISTS mlops_prd.financial_transactions
  COMMENT 'Market-data MLOps tables (prd): bronze/silver/gold trades, features, tournament, monitoring, decisions, audits.';

CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.landing
  COMMENT 'Raw vendor records (NDJSON, written atomically by the collectors; files starting with . or _ are ignored by the pipeline).';
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.checkpoints
  COMMENT 'Structured Streaming checkpoints and the Auto Loader schema location.';
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.wheels
  COMMENT 'Built financial_transactions wheels (release copies for clusters outside the bundle).';
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.exports
  COMMENT 'Dashboard JSON / data.js exported by export_dashboard_metrics.py.';
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.reports
  COMMENT 'Markdown decision reports and charts.';
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.state
  COMMENT 'Engine-private state (run manifests, snapshots before promotion).';

-- Catalog and schema access
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-engineers`;
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-service`;
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-analysts`;
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-oncall`;
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-auditors`;
GRANT USE SCHEMA ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-auditors`;
GRANT USE SCHEMA, EXECUTE ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-oncall`;
GRANT USE SCHEMA, SELECT, EXECUTE, READ VOLUME ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_prd.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_prd.financial_transactions.reports TO `financial-mlops-analysts`;

-- BEGIN generated tables (mlops_prd): `python -m financial_transactions.deploy.uc_tables --write` from
-- the table catalogue (src/financial_transactions/lakehouse/catalog.py); do not edit by hand.
-- Tables (mlops_prd). Every table in project_config.yml `tables` gets a comment:
--   * the tables below are created up front with the columns their writers produce and a comment; the
--     jobs append to them with schema merge, so this never blocks a write (tests keep the catalogue equal
--     to what the real writers write);
--   * bronze_trades, silver_trades, silver_trades_quarantine, silver_bars, gold_trade_features belong to the
--     Lakeflow pipeline, which sets their comments (comment= in scripts/financial/dlt_pipeline.py); a table
--     created here would stop the pipeline from publishing them;
--   * trade_features, train_set, test_set are created by Databricks Feature Engineering (FeatureStoreManager)
--     with their primary/timestamp keys and a description; created here, they would lack the keys;
--   * pipeline_runs is written by the embedded runner only (on Databricks: the pipeline's event log).
CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.tournament_results (
  `tournament_id` STRING,
  `parent_mlflow_run_id` STRING,
  `mlflow_run_id` STRING,
  `model` STRING,
  `status` STRING,
  `error` STRING,
  `rank` BIGINT,
  `is_winner` BOOLEAN,
  `primary_metric` STRING,
  `primary_value` DOUBLE,
  `selection_slice` STRING,
  `selection_value` DOUBLE,
  `pr_auc` DOUBLE,
  `roc_auc` DOUBLE,
  `precision_at_k` DOUBLE,
  `recall_at_fpr` DOUBLE,
  `f1` DOUBLE,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `inference_rows_per_s` DOUBLE,
  `validation_pr_auc` DOUBLE,
  `validation_roc_auc` DOUBLE,
  `validation_precision_at_k` DOUBLE,
  `validation_recall_at_fpr` DOUBLE,
  `validation_f1` DOUBLE,
  `validation_precision` DOUBLE,
  `validation_recall` DOUBLE,
  `validation_inference_rows_per_s` DOUBLE,
  `threshold` DOUBLE,
  `train_seconds` DOUBLE,
  `n_train` BIGINT,
  `n_validation` BIGINT,
  `n_test` BIGINT,
  `n_test_anomalies` BIGINT,
  `model_uri` STRING,
  `feature_importance` STRING,
  `git_sha` STRING,
  `env` STRING,
  `config_hash` STRING,
  `created_at` TIMESTAMP
) USING DELTA
  COMMENT 'One row per model per tournament: metrics on the test slice, rank, winner, MLflow run.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.champion_challenger_audit (
  `decision_id` STRING,
  `decided_at` TIMESTAMP,
  `model_name` STRING,
  `env` STRING,
  `decision` STRING,
  `first_deploy` BOOLEAN,
  `reason` STRING,
  `primary_metric` STRING,
  `challenger_version` BIGINT,
  `champion_version` BIGINT,
  `challenger_primary` DOUBLE,
  `champion_primary` DOUBLE,
  `margin` DOUBLE COMMENT 'challenger - champion on the primary metric, on the holdout itself',
  `required_margin` DOUBLE,
  `margin_lower` DOUBLE COMMENT 'one-sided lower confidence bound of the gain; PROMOTE needs it >= required_margin',
  `margin_upper` DOUBLE COMMENT 'one-sided upper confidence bound of the gain',
  `confidence` DOUBLE COMMENT 'level of the bounds (gate.confidence)',
  `test` STRING COMMENT 'how the bounds were computed (paired class-stratified bootstrap, resamples, seed)',
  `challenger_primary_se` DOUBLE COMMENT 'bootstrap standard error of the challenger\'s primary metric (the trigger\'s baseline uncertainty)',
  `champion_primary_se` DOUBLE,
  `challenger_recall` DOUBLE COMMENT 'recall at the model\'s own stored threshold (information, not judged)',
  `champion_recall` DOUBLE,
  `operating_point` STRING COMMENT 'fpr | alert_rate: how both models\' cuts were matched (gate.operating_point)',
  `operating_value` DOUBLE COMMENT 'the FPR or alert rate both models were cut at',
  `challenger_matched_recall` DOUBLE COMMENT 'recall at the matched operating point (the recall guardrail)',
  `champion_matched_recall` DOUBLE,
  `challenger_matched_threshold` DOUBLE COMMENT 'the challenger\'s score cut at the matched operating point',
  `champion_matched_threshold` DOUBLE,
  `challenger_latency_ms` DOUBLE COMMENT 'median of gate.latency_repeats timings of one latency_batch_rows batch',
  `champion_latency_ms` DOUBLE,
  `latency_objective_ms` DOUBLE COMMENT 'the service objective the challenger\'s median latency is judged against',
  `latency_batch_rows` BIGINT,
  `challenger_metrics` STRING,
  `champion_metrics` STRING,
  `state_before` STRING,
  `state_after` STRING,
  `snapshot_aliases` STRING,
  `snapshot_feature_versions` STRING,
  `challenger_feature_versions` STRING,
  `holdout_rows` BIGINT,
  `holdout_anomalies` BIGINT,
  `error` STRING,
  `alerted` BOOLEAN,
  `supersedes` STRING,
  `git_sha` STRING,
  `config_hash` STRING
) USING DELTA
  COMMENT 'One row per gate decision (PROMOTE / REJECT) with both models\' re-scored metrics, the paired test of the gain, the matched operating point, and the promotion snapshot a rollback restores.'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.drift_monitoring (
  `run_id` STRING,
  `computed_at` TIMESTAMP,
  `env` STRING,
  `table_name` STRING,
  `reference_window` STRING,
  `reference_start` TIMESTAMP,
  `reference_end` TIMESTAMP,
  `reference_version` BIGINT,
  `current_window` STRING,
  `current_start` TIMESTAMP,
  `current_end` TIMESTAMP,
  `current_version` BIGINT,
  `feature` STRING,
  `signal` STRING,
  `kind` STRING,
  `bins` BIGINT,
  `psi` DOUBLE,
  `js` DOUBLE,
  `status` STRING,
  `critical` BOOLEAN,
  `reference_rows` BIGINT,
  `current_rows` BIGINT,
  `reference_missing` BIGINT,
  `current_missing` BIGINT,
  `note` STRING,
  `psi_warn` DOUBLE,
  `psi_alert` DOUBLE,
  `js_warn` DOUBLE,
  `js_alert` DOUBLE,
  `drifted_share_alert` DOUBLE,
  `min_drifted_features` BIGINT,
  `decision_rule` STRING,
  `epsilon` DOUBLE,
  `nan_policy` STRING,
  `overall_status` STRING,
  `drifted_features` BIGINT,
  `signals` BIGINT,
  `drifted_signals` BIGINT,
  `drifted_share` DOUBLE,
  `reason` STRING
) USING DELTA
  COMMENT 'PSI / JS distance per feature (and the signal it belongs to) per drift run, with the run\'s overall verdict counted per signal.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.model_monitoring (
  `monitored_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `model_version` STRING,
  `window_start` TIMESTAMP,
  `window_end` TIMESTAMP,
  `rows` BIGINT,
  `positives` BIGINT COMMENT 'labelled anomalies in the window',
  `predicted_positives` BIGINT,
  `precision` DOUBLE,
  `recall` DOUBLE,
  `pr_auc` DOUBLE,
  `rolling_rows` BIGINT,
  `rolling_positives` BIGINT COMMENT 'labelled anomalies in the rolling windows pooled',
  `rolling_precision` DOUBLE,
  `rolling_recall` DOUBLE,
  `rolling_pr_auc` DOUBLE,
  `metric` STRING,
  `reference_prevalence` DOUBLE,
  `rolling_adjusted` DOUBLE COMMENT 'the monitored metric over the rolling windows at the reference base rate',
  `rolling_lower` DOUBLE COMMENT 'two-sided bootstrap interval (confidence) of the monitored value: rolling_adjusted when reference_prevalence is known, else rolling_<metric>',
  `rolling_upper` DOUBLE COMMENT 'upper end of that interval',
  `confidence` DOUBLE,
  `baseline` DOUBLE,
  `baseline_source` STRING
) USING DELTA
  COMMENT 'Champion precision / recall / PR-AUC per time window against ground truth, with the monitored metric\'s bootstrap interval.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.retraining_audit (
  `event_id` STRING,
  `event_type` STRING,
  `parent_event_id` STRING,
  `decided_at` TIMESTAMP,
  `env` STRING,
  `decision` STRING,
  `reason` STRING,
  `drift_detected` BOOLEAN,
  `drift_run_id` STRING,
  `drifted_share` DOUBLE,
  `drifted_features` STRING,
  `performance_degraded` BOOLEAN,
  `performance_metric` STRING,
  `performance_baseline` DOUBLE,
  `performance_current` DOUBLE COMMENT 'the champion\'s metric over the whole current window (at the baseline\'s base rate)',
  `performance_drop` DOUBLE,
  `performance_positives` BIGINT COMMENT 'labelled anomalies in the whole current window',
  `performance_min_positives` BIGINT COMMENT 'positives a drop needs before it counts',
  `performance_lower` DOUBLE COMMENT 'two-sided bootstrap interval of performance_current',
  `performance_upper` DOUBLE COMMENT 'upper end of that interval',
  `performance_drop_lower` DOUBLE COMMENT 'lower confidence bound of the drop (baseline and current uncertainty); a drop counts only when it is > 0',
  `cooldown_hours` DOUBLE,
  `daily_limit` BIGINT,
  `triggered_today` BIGINT,
  `last_triggered_at` TIMESTAMP,
  `read_version` BIGINT,
  `commit_attempts` BIGINT,
  `launcher` STRING,
  `run_id` STRING,
  `detail` STRING
) USING DELTA
  COMMENT 'Every retraining decision (triggered, cooled down, limited, no drift) and its reason; launch rows (launching before a launcher runs, then its outcome).'
  TBLPROPERTIES ('delta.isolationLevel' = 'Serializable');

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.alerts_audit (
  `alert_id` STRING,
  `sent_at` TIMESTAMP,
  `env` STRING,
  `source` STRING,
  `severity` STRING,
  `title` STRING,
  `message` STRING,
  `context` STRING,
  `status` STRING,
  `attempts` BIGINT,
  `http_status` BIGINT,
  `error` STRING,
  `destination` STRING,
  `payload_format` STRING,
  `latency_ms` DOUBLE
) USING DELTA
  COMMENT 'Every alert sent (or not delivered) with its channel, attempts and error.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.rollback_audit (
  `rollback_id` STRING,
  `rolled_back_at` TIMESTAMP,
  `env` STRING,
  `model_name` STRING,
  `status` STRING,
  `from_version` BIGINT,
  `to_version` BIGINT,
  `source` STRING,
  `reason` STRING,
  `aliases_before` STRING,
  `aliases_after` STRING,
  `feature_restores` STRING,
  `snapshot_decision_id` STRING,
  `operator` STRING,
  `error` STRING
) USING DELTA
  COMMENT 'Every executed champion rollback: versions, aliases before/after, feature restores.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.synthesized_predictions (
  `symbol` STRING COMMENT 'Ticker (equity) or pair (crypto).',
  `bar_start` TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  `model_version` STRING COMMENT 'Registered model version that produced the row.',
  `score` DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  `label` BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  `scored_at` TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  `scoring_run_id` STRING COMMENT 'The scoring run (one append per run).',
  `gold_version` BIGINT COMMENT 'Delta version of gold_trade_features that was scored.',
  `train_cutoff` TIMESTAMP COMMENT 'Last bar the scoring model was trained on (later bars are out of sample).'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.backtest_results (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `strategy` STRING COMMENT 'sma_cross | macd | model, or buy_and_hold: the benchmark over the same bars and costs',
  `symbol` STRING,
  `asset_class` STRING,
  `mode` STRING,
  `run_kind` STRING,
  `as_of_version` BIGINT,
  `as_of_timestamp` STRING,
  `gold_version` BIGINT,
  `model_versions` STRING,
  `n_bars` BIGINT,
  `bars_per_day` BIGINT,
  `periods_per_year` BIGINT,
  `trading_days` BIGINT COMMENT 'New York trading dates the bars cover',
  `years` DOUBLE COMMENT 'trading_days / trading days per year (252 equities, 365 crypto); cagr is null below backtest.cagr_min_years',
  `benchmark_return` DOUBLE COMMENT 'total return of buy_and_hold on the same symbol and bars (excess = total_return - it)',
  `commission_bps` DOUBLE,
  `slippage_bps` DOUBLE,
  `risk_free_rate` DOUBLE,
  `total_return` DOUBLE,
  `cagr` DOUBLE,
  `annual_volatility` DOUBLE,
  `sharpe` DOUBLE,
  `sortino` DOUBLE,
  `max_drawdown` DOUBLE,
  `calmar` DOUBLE,
  `win_rate` DOUBLE,
  `n_trades` BIGINT,
  `exposure` DOUBLE,
  `sharpe_se` DOUBLE,
  `sharpe_tstat` DOUBLE,
  `psr` DOUBLE,
  `expected_max_sharpe` DOUBLE,
  `dsr` DOUBLE,
  `deflated_edge` DOUBLE,
  `n_trials` BIGINT,
  `equity_curve` STRING,
  `equity_ts` STRING
) USING DELTA
  COMMENT 'Backtest metrics (with the Sharpe\'s standard error, probabilistic and deflated Sharpe ratios) and equity curve per run, strategy and symbol.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.decision_matrix (
  `run_id` STRING,
  `created_at` TIMESTAMP,
  `symbol` STRING,
  `asset_class` STRING,
  `trend_raw` DOUBLE,
  `trend_score` BIGINT,
  `trend_label` STRING,
  `trend_weight` DOUBLE,
  `volatility_raw` DOUBLE,
  `volatility_score` BIGINT,
  `volatility_label` STRING,
  `volatility_weight` DOUBLE,
  `momentum_raw` DOUBLE,
  `momentum_score` BIGINT,
  `momentum_label` STRING,
  `momentum_weight` DOUBLE,
  `backtest_raw` DOUBLE,
  `backtest_score` BIGINT,
  `backtest_label` STRING,
  `backtest_weight` DOUBLE,
  `model_confidence_raw` DOUBLE,
  `model_confidence_score` BIGINT,
  `model_confidence_label` STRING,
  `model_confidence_weight` DOUBLE,
  `drift_raw` DOUBLE,
  `drift_score` BIGINT,
  `drift_label` STRING,
  `drift_weight` DOUBLE,
  `coverage` DOUBLE,
  `criteria_scored` BIGINT,
  `direction_score` DOUBLE,
  `risk_penalty` DOUBLE,
  `final_score` DOUBLE,
  `recommendation` STRING,
  `explanation` STRING,
  `flags` STRING,
  `rank` BIGINT,
  `missing_policy` STRING,
  `backtest_strategy` STRING,
  `gold_trade_features_version` BIGINT,
  `backtest_results_version` BIGINT,
  `synthesized_predictions_version` BIGINT,
  `drift_monitoring_version` BIGINT
) USING DELTA
  COMMENT 'Weighted decision matrix per run and symbol: per-criterion raw value, score, weight; direction score, risk penalty, final score, recommendation and a one-sentence explanation.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.training_runs (
  `run_id` STRING,
  `started_at` TIMESTAMP,
  `status` STRING,
  `reason` STRING,
  `remedy` STRING,
  `winner` STRING,
  `test_pr_auc` DOUBLE,
  `label_sources` STRING COMMENT 'rows per label_source (feedback, ground_truth, injected, rule)',
  `positives` STRING,
  `sizes` STRING,
  `recall_by_type` STRING COMMENT 'the champion\'s held-out recall per anomaly type: {model_version, injected|ground_truth: {type: {bars, flagged, recall}}}'
) USING DELTA
  COMMENT 'One row per training attempt: its outcome, or why it did not train and what to do about it.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.analyst_feedback (
  `feedback_id` STRING,
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `verdict` STRING COMMENT 'confirmed (an anomaly) or dismissed (normal); the latest verdict per bar wins',
  `analyst` STRING,
  `decided_at` TIMESTAMP,
  `note` STRING,
  `channel` STRING
) USING DELTA
  COMMENT 'Analysts\' verdicts on flagged bars (confirmed / dismissed, who and when): the first label source.';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.anomaly_alerts (
  `alert_id` STRING COMMENT 'deterministic id of the key (symbol, bar_start, model_version); the webhook carries it',
  `symbol` STRING,
  `bar_start` TIMESTAMP,
  `model_version` STRING,
  `model_name` STRING,
  `score` DOUBLE,
  `threshold` DOUBLE COMMENT 'the champion\'s operating threshold (score >= threshold alerts)',
  `close` DOUBLE,
  `trade_count` BIGINT,
  `trade_at` TIMESTAMP COMMENT 'newest trade of the bar in the micro-batch that scored it (exchange time)',
  `ingested_at` TIMESTAMP COMMENT 'when the collector received that trade',
  `scored_at` TIMESTAMP,
  `stream_batch` STRING,
  `delivery_status` STRING COMMENT 'pending, sending, delivered, failed, not_configured, rate_limited (waits for the rate limit), unconfirmed (the process died during the POST: not re-sent, check the receiver)',
  `delivery_attempts` BIGINT,
  `http_status` BIGINT,
  `delivery_error` STRING,
  `attempted_at` TIMESTAMP,
  `delivered_at` TIMESTAMP,
  `trade_to_score_seconds` DOUBLE,
  `trade_to_alert_seconds` DOUBLE COMMENT 'delivered_at - trade_at',
  `env` STRING
) USING DELTA
  COMMENT 'Streaming scoring: gold bars the champion scored over its operating threshold as they landed, with the webhook\'s delivery state (inserted once per key, then updated; never sent twice).';

CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.collector_gaps (
  `feed` STRING,
  `day` DATE,
  `downtime_seconds` DOUBLE COMMENT 'seconds of the day no collector of the feed was connected (a crash counts from its last heartbeat until the next connect; after a clean stop only until a later run connects)',
  `connected_seconds` DOUBLE COMMENT 'seconds of the day a collector of the feed was connected',
  `disconnects` BIGINT COMMENT 'connections that ended without being asked to (server close, dead connection, crash)',
  `longest_gap_seconds` DOUBLE COMMENT 'the longest down period within the day',
  `runs` BIGINT COMMENT 'collector runs with an event that day',
  `trades_landed` BIGINT COMMENT 'trades the runs landed that day (growth of their landed counters between events)',
  `computed_at` TIMESTAMP COMMENT 'when the row was last recomputed'
) USING DELTA
  COMMENT 'Connection-down seconds per stream feed (finnhub, binance) per UTC day, from the collectors\' connect, disconnect, heartbeat and stop events (process restarts included); recomputed and merged by (feed, day).';
-- END generated tables (mlops_prd)

-- Column-level protection without a mask on the table: a table with a row filter or column mask refuses
-- DESCRIBE HISTORY and time travel (ROW_LEVEL_SECURITY_COLUMN_MASK_FEATURE_NOT_SUPPORTED.*, FGAC_* on dedicated
-- compute; https://docs.databricks.com/aws/en/tables/row-and-column-filters#limitations), and the jobs read
-- synthesized_predictions' history on every append and as of a version in the backtester. So the base table
-- carries no mask and only engineers and the jobs' service principals read it; everyone else reads the
-- masked view synthesized_predictions_v, and auditors the restricted view. Since a schema-wide SELECT would
-- reach the base table, analysts and on-call get SELECT per job table (below) instead of on the schema.
CREATE OR REPLACE FUNCTION mlops_prd.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Masks synthesized_predictions.score in synthesized_predictions_v: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

CREATE OR REPLACE VIEW mlops_prd.financial_transactions.synthesized_predictions_v
  COMMENT 'synthesized_predictions with the raw anomaly score masked outside engineers and the service principals.'
  AS SELECT symbol, bar_start, model_version, mlops_prd.financial_transactions.mask_anomaly_score(score) AS score, label, scored_at,
    scoring_run_id, gold_version, train_cutoff
  FROM mlops_prd.financial_transactions.synthesized_predictions;

CREATE OR REPLACE VIEW mlops_prd.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_prd.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_prd.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON VIEW mlops_prd.financial_transactions.synthesized_predictions_v TO `financial-mlops-analysts`;
GRANT SELECT ON VIEW mlops_prd.financial_transactions.synthesized_predictions_v TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.tournament_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.tournament_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.champion_challenger_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.champion_challenger_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.drift_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.drift_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.model_monitoring TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.model_monitoring TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.retraining_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.retraining_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.alerts_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.alerts_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.rollback_audit TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.rollback_audit TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.backtest_results TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.backtest_results TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.decision_matrix TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.decision_matrix TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.training_runs TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.training_runs TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.analyst_feedback TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.analyst_feedback TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.anomaly_alerts TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.anomaly_alerts TO `financial-mlops-oncall`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.collector_gaps TO `financial-mlops-analysts`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.collector_gaps TO `financial-mlops-oncall`;
