"""The Databricks platform rules (DESIGN.md, issue 15): each breaks a scratch copy of the bundle the way the
twelve reviewed defects did, and `fin-mlops bundle-check` must report it; the real bundle passes all of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from financial_transactions.deploy.bundle_check import check_bundle
from financial_transactions.deploy.findings import BundleCheckReport, Finding
from financial_transactions.deploy.rules import tables as tables_rule
from financial_transactions.deploy.rules.tables import masked_tables
from financial_transactions.lakehouse.catalog import CATALOG

from .bundle_fixture import PROJECT_ROOT, edit

DRIFT = Path("resources") / "drift_monitoring.yml"
RETRAIN = Path("resources") / "retraining_workflow.yml"
PLATFORM_RULES = ("tables", "isolation", "mlflow", "runs", "artifacts", "dashboards")


def _check(root: Path, schema: Path | None = None) -> BundleCheckReport:
    return check_bundle(root, schema_path=schema, sql=False, workflows=False, sops=False)


def _errors(report: BundleCheckReport, check: str) -> list[Finding]:
    others = [e for e in report.errors if e.check != check]
    assert not others, "\n".join(e.render() for e in others)
    found = [e for e in report.errors if e.check == check]
    assert found, f"no {check} error"
    return found


def test_the_real_bundle_passes_every_platform_rule(bundle_copy: Path) -> None:
    report = _check(PROJECT_ROOT)
    assert {r.name: r.status for r in report.results if r.name in PLATFORM_RULES} == dict.fromkeys(
        PLATFORM_RULES, "passed"
    )
    assert _check(bundle_copy).errors == []


# -- 1. time travel on a materialized view ----------------------------------------------------------------
def test_pinned_reads_of_a_materialized_view_are_refused(bundle_copy: Path) -> None:
    """The old pipeline published gold itself as a materialized view, which the jobs read VERSION AS OF."""
    edit(
        bundle_copy / "scripts" / "financial" / "dlt_pipeline.py",
        'GOLD = settings.published_name("gold_trade_features")',
        'GOLD = settings.table_name("gold_trade_features")',
    )
    errors = _errors(_check(bundle_copy), "tables")
    readers = {e.message.split(" ", 1)[0] for e in errors}
    assert {
        "financial_transactions.monitoring.drift_detector",
        "financial_transactions.decision.predictions",
        "financial_transactions.decision.backtester",
        "financial_transactions.decision.decision_matrix",
    } <= readers
    assert all("'gold_trade_features'" in e.message and "materialized view" in e.message for e in errors)
    assert {e.file for e in errors} == {"scripts/financial/dlt_pipeline.py"}


# -- 2. a masked table --------------------------------------------------------------------------------------
def test_a_mask_on_a_catalogue_table_is_refused(bundle_copy: Path) -> None:
    sql = bundle_copy / "setup_uc_infrastructure.sql"
    sql.write_text(
        sql.read_text(encoding="utf-8")
        + "\nALTER TABLE mlops_prd.financial_transactions.synthesized_predictions ALTER COLUMN score "
        "SET MASK mlops_prd.financial_transactions.mask_anomaly_score;\n",
        encoding="utf-8",
    )
    (error,) = _errors(_check(bundle_copy), "tables")
    assert error.message.startswith("synthesized_predictions gets a column mask or row filter")
    assert error.file == "setup_uc_infrastructure.sql"


def test_mask_and_row_filter_forms_are_recognised() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS c.s.a (x INT MASK c.s.f) USING DELTA;\n"
        "ALTER TABLE c.s.b SET ROW FILTER c.s.g ON (x);\n"
        "CREATE OR REPLACE VIEW c.s.v AS SELECT c.s.f(x) AS x FROM c.s.a;\n"
    )
    assert masked_tables(sql) == {"a": 1, "b": 2}
    assert masked_tables((PROJECT_ROOT / "setup_uc_infrastructure.sql").read_text(encoding="utf-8")) == {}


# -- 3. the experiment's parent folder; experiments and registered model as resources -----------------------
def test_an_experiment_outside_a_deployed_folder_is_refused(bundle_copy: Path) -> None:
    edit(
        bundle_copy / "resources" / "mlflow.yml",
        "name: ${workspace.root_path}/financial-anomaly-tournament",
        "name: /Shared/financial-ai-mlops/${bundle.target}/financial-anomaly-tournament",
    )
    (error,) = _errors(_check(bundle_copy), "mlflow")
    assert "'/Shared/financial-ai-mlops/${bundle.target}' is created by nothing" in error.message


def test_model_scripts_must_get_the_deployed_experiment_and_model(bundle_copy: Path) -> None:
    path = bundle_copy / DRIFT
    text = path.read_text(encoding="utf-8")
    old = "              - --experiment\n              - ${resources.experiments.financial_anomaly_tournament.name}\n"
    path.write_text(text.replace(old, "", 1), encoding="utf-8")
    (error,) = _errors(_check(bundle_copy), "mlflow")
    assert error.message.startswith("task 'detect_drift' of job 'financial_drift_monitoring' runs MLflow code")


def test_the_registered_model_is_the_configured_one(bundle_copy: Path) -> None:
    edit(bundle_copy / "databricks.yml", "    default: anomaly_model\n", "    default: anomaly_models\n")
    errors = _errors(_check(bundle_copy), "mlflow")
    assert "named 'anomaly_models'" in errors[0].message and "'anomaly_model'" in errors[0].message


# -- 4. per-user dev isolation ------------------------------------------------------------------------------
def test_a_shared_dev_schema_or_endpoint_is_refused(bundle_copy: Path) -> None:
    edit(
        bundle_copy / "databricks.yml",
        "      schema: financial_transactions_${workspace.current_user.short_name}\n",
        "",
    )
    edit(
        bundle_copy / "databricks.yml",
        "      serving_endpoint: financial-anomaly-endpoint-${workspace.current_user.short_name}\n",
        "",
    )
    errors = _errors(_check(bundle_copy), "isolation")
    assert sorted(str(e.path) for e in errors) == [
        "targets.dev.variables.schema",
        "targets.dev.variables.serving_endpoint",
    ]
    assert "'financial_transactions'" in errors[0].message or "'financial_transactions'" in errors[1].message


def test_every_script_task_gets_the_deployment_schema(bundle_copy: Path) -> None:
    path = bundle_copy / "resources" / "ingestion_workflow.yml"
    edit(path, "              - --schema\n              - ${var.schema}\n", "")
    (error,) = _errors(_check(bundle_copy), "isolation")
    assert error.message.startswith("task 'collect_alphavantage_history' of job 'financial_api_ingestion_workflow'")


# -- 5. Serializable audit tables ---------------------------------------------------------------------------
def test_conditionally_appended_tables_must_be_serializable(bundle_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("champion_challenger_audit", "retraining_audit"):
        assert tables_rule.is_serializable(CATALOG[key]), key
    old = {k: dataclasses.replace(v, properties={}) if k.endswith("_audit") else v for k, v in CATALOG.items()}
    monkeypatch.setattr(tables_rule, "CATALOG", old)
    errors = _errors(_check(bundle_copy), "tables")
    assert sorted(str(e.path) for e in errors) == [
        "lakehouse.catalog.champion_challenger_audit",
        "lakehouse.catalog.retraining_audit",
    ]
    assert all("append_if_version" in e.message for e in errors)
    sql = (PROJECT_ROOT / "setup_uc_infrastructure.sql").read_text(encoding="utf-8")
    assert sql.count("TBLPROPERTIES ('delta.isolationLevel' = 'Serializable')") >= 2 * 3


# -- 6. a Run Job task that outlives its parent -------------------------------------------------------------
def test_a_run_job_task_waiting_past_the_parent_timeout_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / DRIFT
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\n        - task_key: trigger_retraining\n          depends_on:\n            - task_key: detect_drift\n"
        "          run_job_task:\n            job_id: ${resources.jobs.financial_retraining_workflow.id}\n",
        encoding="utf-8",
    )
    (error,) = _errors(_check(bundle_copy), "runs")
    assert "waits for job 'financial_retraining_workflow' (timeout 14400 s) within 1800 s" in error.message


def test_the_drift_job_launches_retraining_itself() -> None:
    import yaml

    from financial_transactions.config import ProjectConfig

    drift = yaml.safe_load((PROJECT_ROOT / DRIFT).read_text(encoding="utf-8"))
    job = drift["resources"]["jobs"]["financial_drift_monitoring"]
    assert not [t for t in job["tasks"] if "run_job_task" in t]
    detect = next(t for t in job["tasks"] if t["task_key"] == "detect_drift")["spark_python_task"]["parameters"]
    assert detect[detect.index("--retraining-job-id") + 1] == "${resources.jobs.financial_retraining_workflow.id}"
    for env in ("dev", "acc", "prd"):
        assert ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", env).retraining.launch == "run_now"


# -- 7. root paths anyone can write -------------------------------------------------------------------------
def test_a_shared_root_path_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / "databricks.yml"
    text = path.read_text(encoding="utf-8")
    home = "root_path: /Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}"
    assert text.count(home) == 2
    path.write_text(text.replace(home, "root_path: /Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"), "utf-8")
    errors = _errors(_check(bundle_copy), "targets")
    assert sorted(str(e.path) for e in errors) == ["targets.acc.workspace.root_path", "targets.prd.workspace.root_path"]


# -- 8. task values from a serverless script ----------------------------------------------------------------
def test_a_condition_on_a_serverless_script_task_value_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / DRIFT
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\n        - task_key: retrain_required\n          depends_on:\n            - task_key: detect_drift\n"
        '          condition_task:\n            left: "{{tasks.detect_drift.values.retrain}}"\n'
        '            op: EQUAL_TO\n            right: "true"\n',
        encoding="utf-8",
    )
    (error,) = _errors(_check(bundle_copy), "runs")
    assert "reads task value 'retrain' of serverless Python script task 'detect_drift'" in error.message


# -- 9 / 10. one fresh wheel per build ----------------------------------------------------------------------
def test_dynamic_version_and_an_uncleaned_dist_are_refused(bundle_copy: Path) -> None:
    edit(
        bundle_copy / "databricks.yml",
        "    build: python3 src/financial_transactions/deploy/wheel_build.py\n",
        "    build: python3 -m pip wheel --quiet --no-deps --wheel-dir dist .\n    dynamic_version: true\n",
    )
    errors = _errors(_check(bundle_copy), "artifacts")
    assert sorted(str(e.path) for e in errors) == [
        "artifacts.financial_transactions_wheel.build",
        "artifacts.financial_transactions_wheel.dynamic_version",
    ]
    assert "pipeline environment dependencies" in next(e.message for e in errors if "dynamic" in e.message)


def test_a_wheel_glob_matching_two_wheels_is_refused(bundle_copy: Path) -> None:
    dist = bundle_copy / "dist"
    dist.mkdir()
    for version in ("0.1.0", "0.2.0"):
        (dist / f"financial_ai_mlops-{version}-py3-none-any.whl").write_bytes(b"")
    errors = _errors(_check(bundle_copy), "artifacts")
    assert all("matches 2 wheels" in e.message for e in errors)
    assert any(e.path.startswith("resources.pipelines.") for e in errors if e.path)


# -- 11. one xgboost --------------------------------------------------------------------------------------------
def test_the_wheel_leaves_xgboost_to_the_ml_runtime(bundle_copy: Path) -> None:
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.startswith("xgboost")]
    assert [d for d in project["optional-dependencies"]["local"] if d.startswith("xgboost-cpu")]
    pyproject = bundle_copy / "pyproject.toml"
    edit(pyproject, '    "lightgbm>=4.5,<5",\n', '    "lightgbm>=4.5,<5",\n    "xgboost-cpu>=2.1,<4",\n')
    errors = _errors(_check(bundle_copy), "artifacts")
    assert {e.message.split("'")[1] for e in errors} >= {"train_tournament", "score_and_backtest"}
    assert all("two distributions of one import" in e.message for e in errors)


def test_serverless_model_code_declares_xgboost(bundle_copy: Path) -> None:
    edit(bundle_copy / DRIFT, "              - xgboost>=2.1,<4\n", "")
    errors = _errors(_check(bundle_copy), "artifacts")
    assert {e.message.split("'")[1] for e in errors} == {"detect_drift", "rollback_model"}


# -- 12. platform-side alerting -------------------------------------------------------------------------------
def test_jobs_and_the_pipeline_alert_through_the_platform(bundle_copy: Path) -> None:
    path = bundle_copy / RETRAIN
    text = path.read_text(encoding="utf-8")
    start = text.index("      webhook_notifications:\n")
    end = text.index("      tags:\n", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    pipeline = bundle_copy / "resources" / "streaming_pipeline.yml"
    edit(pipeline, "            - on-update-failure\n            - on-update-fatal-failure\n", "")
    errors = _errors(_check(bundle_copy), "runs")
    assert sorted(str(e.path) for e in errors) == [
        "resources.jobs.financial_retraining_workflow.health",
        "resources.jobs.financial_retraining_workflow.webhook_notifications.on_failure",
        "resources.pipelines.financial_streaming_dlt.notifications",
    ]


def test_a_health_rule_beyond_the_timeout_is_refused(bundle_copy: Path) -> None:
    edit(bundle_copy / DRIFT, "            value: 1200\n", "            value: 1800\n")
    (error,) = _errors(_check(bundle_copy), "runs")
    assert error.message == (
        "job 'financial_drift_monitoring' warns after 1800 s but times out after 1800 s: the warning never fires"
    )


# -- the CLI pin ----------------------------------------------------------------------------------------------
def test_fields_newer_than_the_allowed_cli_are_refused(bundle_copy: Path) -> None:
    edit(
        bundle_copy / "databricks.yml",
        '  databricks_cli_version: "1.13.0"\n',
        '  databricks_cli_version: ">= 0.250.0"\n',
    )
    errors = _errors(_check(bundle_copy), "artifacts")
    messages = sorted(e.message for e in errors)
    assert any(".databricks-cli-version pins '1.13.0'" in m for m in messages)
    assert any("pipeline `environment`, which needs Databricks CLI 0.258.0" in m for m in messages)
    assert any("`environment_version`, which needs Databricks CLI 0.294.0" in m for m in messages)


def test_the_pipeline_gets_the_deployment_schema(bundle_copy: Path) -> None:
    edit(bundle_copy / "resources" / "streaming_pipeline.yml", "        fin_mlops.schema: ${var.schema}\n", "")
    (error,) = _errors(_check(bundle_copy), "isolation")
    assert error.message.startswith("pipeline 'financial_streaming_dlt' does not set fin_mlops.schema")


def test_the_pipeline_code_follows_the_deployment_schema() -> None:
    from financial_transactions.pipeline.declarative import (
        CONF_CONFIG,
        CONF_ENV,
        CONF_LANDING,
        CONF_SCHEMA,
        DeclarativeSettings,
    )

    values = {
        CONF_CONFIG: str(PROJECT_ROOT / "project_config.yml"),
        CONF_ENV: "dev",
        CONF_LANDING: "/Volumes/mlops_dev/financial_transactions_jane/landing",
        CONF_SCHEMA: "financial_transactions_jane",
    }
    spark = type("S", (), {"conf": type("C", (), {"get": staticmethod(lambda k, d=None: values.get(k, d))})()})()
    settings = DeclarativeSettings.from_spark_conf(spark)  # type: ignore[arg-type]
    assert settings.schema_location.startswith("/Volumes/mlops_dev/financial_transactions_jane/checkpoints/")
    assert settings.config.table("silver_trades") == "mlops_dev.financial_transactions_jane.silver_trades"
