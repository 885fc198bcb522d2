"""bundle-check rule ``continuous``: the always-on collectors and the pipeline driver, each break one exact error."""

from __future__ import annotations

from pathlib import Path

import pytest

from financial_transactions.deploy.bundle_check import check_bundle
from financial_transactions.deploy.findings import BundleCheckReport, Finding
from financial_transactions.deploy.loader import load_bundle

from .bundle_fixture import edit

WORKFLOW = "resources/ingestion_workflow.yml"
#: The first continuous block of the file is the collectors' (the driver's follows).
COLLECTORS_CONTINUOUS = (
    "      continuous:\n        pause_status: ${var.schedule_pause_status}\n        task_retry_mode: ON_FAILURE\n"
)


def _check(root: Path, schema: Path | None = None) -> BundleCheckReport:
    return check_bundle(root, schema_path=schema, sql=False, workflows=False, sops=False)


def _errors(report: BundleCheckReport) -> list[Finding]:
    others = [e for e in report.errors if e.check != "continuous"]
    assert not others, "\n".join(e.render() for e in others)
    return [e for e in report.errors if e.check == "continuous"]


def test_the_real_bundle_runs_collectors_and_driver_continuously(bundle_copy: Path, bundle_schema: Path) -> None:
    report = _check(bundle_copy, bundle_schema)
    assert report.result("continuous").status == "passed" and report.ok
    jobs = dict(load_bundle(bundle_copy).iter_resources("jobs"))
    continuous = sorted(k for k, j in jobs.items() if isinstance(j.get("continuous"), dict))
    assert continuous == ["financial_collectors", "financial_pipeline_driver", "financial_streaming_alerts"]
    tasks = [t["task_key"] for t in jobs["financial_collectors"]["tasks"]]
    assert tasks == ["collect_finnhub_stream", "collect_crypto_stream"]
    for task in jobs["financial_collectors"]["tasks"]:
        assert "--continuous" in task["spark_python_task"]["parameters"] and "depends_on" not in task
    assert "schedule" in jobs["financial_api_ingestion_workflow"]  # Alpha Vantage REST: polled hourly
    assert not any("pipeline_task" in t for j in jobs.values() for t in j["tasks"])  # only the driver updates it


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            COLLECTORS_CONTINUOUS,
            COLLECTORS_CONTINUOUS + "      timeout_seconds: 3600\n",
            "continuous job 'financial_collectors' times out after 3600 s: its always-on run would be cancelled "
            "for running",
        ),
        (
            "          description: Binance trade stream until cancelled (--continuous, lease binance).\n",
            "          description: Binance trade stream until cancelled (--continuous, lease binance).\n"
            "          max_retries: 3\n",
            "task 'collect_crypto_stream' of continuous job 'financial_collectors' sets max_retries: continuous "
            "jobs retry with the platform's exponential backoff (task_retry_mode), not retry policies",
        ),
        (
            "          description: Binance trade stream until cancelled (--continuous, lease binance).\n",
            "          description: Binance trade stream until cancelled (--continuous, lease binance).\n"
            "          depends_on:\n            - task_key: collect_finnhub_stream\n",
            "task 'collect_crypto_stream' of continuous job 'financial_collectors' has depends_on: continuous jobs "
            "allow no task dependencies",
        ),
        (
            "              - ${var.schema}\n              - --continuous\n          libraries:\n"
            "            - whl: ../dist/*.whl\n\n        - task_key: collect_crypto_stream",
            "              - ${var.schema}\n          libraries:\n"
            "            - whl: ../dist/*.whl\n\n        - task_key: collect_crypto_stream",
            "task 'collect_finnhub_stream' of job 'financial_collectors' collects finnhub without --continuous: "
            "trades outside its run are lost (a WebSocket feed has no replay); run it with --continuous in a "
            "continuous job",
        ),
        (
            "              - --pipeline-id\n              - ${resources.pipelines.financial_streaming_dlt.id}\n",
            "",
            "task 'drive_streaming_pipeline' of job 'financial_pipeline_driver' runs drive_streaming_pipeline.py "
            "without --pipeline-id ${resources.pipelines.<key>.id}: it would have no pipeline to update",
        ),
    ],
)
def test_each_break_of_a_continuous_job_is_one_exact_error(bundle_copy: Path, old: str, new: str, message: str) -> None:
    edit(bundle_copy / WORKFLOW, old, new)
    errors = _errors(_check(bundle_copy))
    assert [e.message for e in errors] == [message] or (
        # a driver without --pipeline-id also leaves the pipeline without an updater
        "--pipeline-id" in message and errors[0].message == message and len(errors) == 2
    )
    assert errors[0].file == WORKFLOW and errors[0].line


def test_a_second_updater_of_the_pipeline_and_a_schedule_beside_continuous_are_refused(bundle_copy: Path) -> None:
    edit(
        bundle_copy / WORKFLOW,
        "        - task_key: record_collection_gaps\n",
        "        - task_key: refresh\n          pipeline_task:\n"
        "            pipeline_id: ${resources.pipelines.financial_streaming_dlt.id}\n"
        "        - task_key: record_collection_gaps\n",
    )
    edit(
        bundle_copy / WORKFLOW,
        COLLECTORS_CONTINUOUS,
        COLLECTORS_CONTINUOUS.replace("continuous:", "schedule:\n        quartz_cron_expression: \"0 0 * * * ?\"\n"
                                      "        timezone_id: UTC\n        pause_status: PAUSED\n      continuous:", 1),
    )  # fmt: skip
    messages = [e.message for e in _errors(_check(bundle_copy))]
    assert messages == [
        "job 'financial_collectors' is continuous and also has a schedule: a job has one trigger type",
        "pipeline 'financial_streaming_dlt' is updated by 2 jobs (job 'financial_api_ingestion_workflow' task "
        "'refresh', job 'financial_pipeline_driver' task 'drive_streaming_pipeline'): exactly one must drive it "
        "(a continuous job running drive_streaming_pipeline.py, or continuous: true); two updates of one pipeline "
        "cannot run at once",
    ]
