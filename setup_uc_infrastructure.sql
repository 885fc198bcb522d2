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
GRANT USE SCHEMA, SELECT, EXECUTE ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-oncall`;
GRANT ALL PRIVILEGES ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.reports TO `financial-mlops-analysts`;

-- Column-level protection (regulatory auditors): raw anomaly scores are model internals. The mask shows
-- them to engineers and the jobs' service principals and NULL to everyone else; auditors query a view
-- that carries the decision-relevant columns (symbol, time, model version, anomaly label) and nothing else.
CREATE OR REPLACE FUNCTION mlops_dev.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Column mask for synthesized_predictions.score: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

-- The scoring stage (financial_transactions.decision.predictions) appends here with exactly these columns;
-- created up front so the mask and the auditors' view exist before the first scoring run.
CREATE TABLE IF NOT EXISTS mlops_dev.financial_transactions.synthesized_predictions (
  symbol STRING COMMENT 'Ticker (equity) or pair (crypto).',
  bar_start TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  model_version STRING COMMENT 'Registered model version that produced the row.',
  score DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  label BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  scored_at TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  scoring_run_id STRING COMMENT 'The scoring run (one append per run).',
  gold_version BIGINT COMMENT 'Delta version of gold_trade_features that was scored.'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

ALTER TABLE mlops_dev.financial_transactions.synthesized_predictions ALTER COLUMN score SET MASK mlops_dev.financial_transactions.mask_anomaly_score;

CREATE OR REPLACE VIEW mlops_dev.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_dev.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_dev.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON TABLE mlops_dev.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;


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
GRANT USE SCHEMA, SELECT, EXECUTE ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-oncall`;
GRANT USE SCHEMA, SELECT, EXECUTE, READ VOLUME ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA, SELECT ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_acc.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_acc.financial_transactions.reports TO `financial-mlops-analysts`;

-- Column-level protection (regulatory auditors): raw anomaly scores are model internals. The mask shows
-- them to engineers and the jobs' service principals and NULL to everyone else; auditors query a view
-- that carries the decision-relevant columns (symbol, time, model version, anomaly label) and nothing else.
CREATE OR REPLACE FUNCTION mlops_acc.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Column mask for synthesized_predictions.score: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

-- The scoring stage (financial_transactions.decision.predictions) appends here with exactly these columns;
-- created up front so the mask and the auditors' view exist before the first scoring run.
CREATE TABLE IF NOT EXISTS mlops_acc.financial_transactions.synthesized_predictions (
  symbol STRING COMMENT 'Ticker (equity) or pair (crypto).',
  bar_start TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  model_version STRING COMMENT 'Registered model version that produced the row.',
  score DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  label BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  scored_at TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  scoring_run_id STRING COMMENT 'The scoring run (one append per run).',
  gold_version BIGINT COMMENT 'Delta version of gold_trade_features that was scored.'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

ALTER TABLE mlops_acc.financial_transactions.synthesized_predictions ALTER COLUMN score SET MASK mlops_acc.financial_transactions.mask_anomaly_score;

CREATE OR REPLACE VIEW mlops_acc.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_acc.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON TABLE mlops_acc.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;


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
GRANT USE SCHEMA, SELECT, EXECUTE ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-oncall`;
GRANT USE SCHEMA, SELECT, EXECUTE, READ VOLUME ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, EXECUTE, READ VOLUME, WRITE VOLUME, CREATE TABLE, CREATE MATERIALIZED VIEW,
  CREATE FUNCTION, CREATE MODEL ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-service`;
GRANT USE SCHEMA, SELECT ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_prd.financial_transactions.exports TO `financial-mlops-analysts`;
GRANT READ VOLUME ON VOLUME mlops_prd.financial_transactions.reports TO `financial-mlops-analysts`;

-- Column-level protection (regulatory auditors): raw anomaly scores are model internals. The mask shows
-- them to engineers and the jobs' service principals and NULL to everyone else; auditors query a view
-- that carries the decision-relevant columns (symbol, time, model version, anomaly label) and nothing else.
CREATE OR REPLACE FUNCTION mlops_prd.financial_transactions.mask_anomaly_score(score DOUBLE)
  RETURNS DOUBLE
  COMMENT 'Column mask for synthesized_predictions.score: visible to financial-mlops-engineers and financial-mlops-service only.'
  RETURN CASE
    WHEN is_account_group_member('financial-mlops-engineers') OR is_account_group_member('financial-mlops-service')
      THEN score
    ELSE NULL
  END;

-- The scoring stage (financial_transactions.decision.predictions) appends here with exactly these columns;
-- created up front so the mask and the auditors' view exist before the first scoring run.
CREATE TABLE IF NOT EXISTS mlops_prd.financial_transactions.synthesized_predictions (
  symbol STRING COMMENT 'Ticker (equity) or pair (crypto).',
  bar_start TIMESTAMP COMMENT 'Start of the 1-minute bar the prediction is for (UTC).',
  model_version STRING COMMENT 'Registered model version that produced the row.',
  score DOUBLE COMMENT 'Anomaly score in [0, 1] (masked outside engineers/service).',
  label BIGINT COMMENT 'Anomaly label (1 = anomalous) at the model decision threshold.',
  scored_at TIMESTAMP COMMENT 'When the scoring run wrote the row (UTC).',
  scoring_run_id STRING COMMENT 'The scoring run (one append per run).',
  gold_version BIGINT COMMENT 'Delta version of gold_trade_features that was scored.'
) USING DELTA
  COMMENT 'Append-only model predictions; the backtester reads them as of a Delta version (time travel).'
  TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

ALTER TABLE mlops_prd.financial_transactions.synthesized_predictions ALTER COLUMN score SET MASK mlops_prd.financial_transactions.mask_anomaly_score;

CREATE OR REPLACE VIEW mlops_prd.financial_transactions.synthesized_predictions_auditor_v
  COMMENT 'Restricted view for regulatory auditors: which bars each model version flagged, without raw scores.'
  AS SELECT symbol, bar_start, model_version, label, scored_at FROM mlops_prd.financial_transactions.synthesized_predictions;

GRANT SELECT ON VIEW mlops_prd.financial_transactions.synthesized_predictions_auditor_v TO `financial-mlops-auditors`;
GRANT SELECT ON TABLE mlops_prd.financial_transactions.synthesized_predictions TO `financial-mlops-engineers`;
