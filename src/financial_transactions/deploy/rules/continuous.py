"""Always-on jobs: continuous mode as the platform runs it, one collector per stream feed, one pipeline driver.

Databricks' continuous mode (https://docs.databricks.com/aws/en/jobs/continuous) keeps exactly one run
of a job active and starts a new one whenever it ends or fails, with exponential backoff. It allows no
other trigger beside it (https://docs.databricks.com/aws/en/jobs/schedule-jobs: one trigger per job),
no task dependencies and no retry policies, and serverless job compute supports only bounded streaming
in it (a collector that runs until cancelled needs classic compute). The project's own rules on top:

* an always-on run has no timeout and no ``RUN_DURATION_SECONDS`` health rule (it would be cancelled, or
  warned about, for doing its job), and it alerts on failure like every automated job;
* every stream feed's collector script runs in exactly one continuous job task with ``--continuous``
  (the feed lease allows one connected collector; a second task would only be refused);
* the streaming pipeline is updated by exactly one job: a continuous ``pipeline_task`` or the driver
  script with ``--pipeline-id ${resources.pipelines.<key>.id}``, and no other job's ``pipeline_task``
  (two updates of one pipeline cannot run at once).
"""

from __future__ import annotations

import re
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of

#: The stream collectors' job scripts, by feed: each must run in one continuous task with ``--continuous``.
STREAM_SCRIPTS = {"finnhub": "collect_finnhub_stream.py", "binance": "collect_crypto_stream.py"}
#: The script that drives the medallion pipeline's updates by the market calendar.
DRIVER_SCRIPT = "drive_streaming_pipeline.py"
_PIPELINE_ID = re.compile(r"\$\{resources\.pipelines\.([\w-]+)\.id\}")
_RETRY_FIELDS = ("max_retries", "min_retry_interval_millis", "retry_on_timeout")


def _script(task: dict[str, Any]) -> str:
    spt = task.get("spark_python_task")
    return str(spt.get("python_file", "")).rsplit("/", 1)[-1] if isinstance(spt, dict) else ""


def _params(task: dict[str, Any]) -> list[str]:
    spt = task.get("spark_python_task")
    params = spt.get("parameters") if isinstance(spt, dict) else None
    return [str(p) for p in params] if isinstance(params, list) else []


def _flag(params: list[str], name: str) -> str | None:
    return params[params.index(name) + 1] if name in params[:-1] else None


def check_continuous(ctx: Ctx, inputs: RuleInputs) -> None:
    """Continuous jobs as the platform allows them; one collector task per feed; one updater per pipeline."""
    collectors: dict[str, list[str]] = {feed: [] for feed in STREAM_SCRIPTS}
    updaters: dict[str, list[str]] = {}
    for key, job in ctx.bundle.iter_resources("jobs"):
        jpath = f"resources.jobs.{key}"
        tasks = [t for t in job.get("tasks") or [] if isinstance(t, dict)]
        continuous = isinstance(job.get("continuous"), dict)
        for index, task in enumerate(tasks):
            tpath, tloc = f"{jpath}.tasks[{index}]", loc_of(job.get("tasks"), index)
            pipeline = task.get("pipeline_task")
            if isinstance(pipeline, dict):
                match = _PIPELINE_ID.fullmatch(str(pipeline.get("pipeline_id", "")))
                if match:
                    updaters.setdefault(match.group(1), []).append(f"job '{key}' task '{task.get('task_key')}'")
            script = _script(task)
            if script == DRIVER_SCRIPT:
                match = _PIPELINE_ID.fullmatch(str(_flag(_params(task), "--pipeline-id") or ""))
                if not match:
                    ctx.error(
                        "continuous",
                        f"task '{task.get('task_key')}' of job '{key}' runs {DRIVER_SCRIPT} without "
                        "--pipeline-id ${resources.pipelines.<key>.id}: it would have no pipeline to update",
                        tloc,
                        f"{tpath}.spark_python_task.parameters",
                    )
                else:
                    updaters.setdefault(match.group(1), []).append(f"job '{key}' task '{task.get('task_key')}'")
                if not continuous:
                    ctx.error(
                        "continuous",
                        f"job '{key}' runs the pipeline driver but is not continuous: nothing restarts it",
                        tloc,
                        jpath,
                    )
            for feed, name in STREAM_SCRIPTS.items():
                if script != name:
                    continue
                collectors[feed].append(f"job '{key}' task '{task.get('task_key')}'")
                if not continuous or "--continuous" not in _params(task):
                    ctx.error(
                        "continuous",
                        f"task '{task.get('task_key')}' of job '{key}' collects {feed} "
                        + ("in a job that is not continuous" if not continuous else "without --continuous")
                        + ": trades outside its run are lost (a WebSocket feed has no replay); run it with "
                        "--continuous in a continuous job",
                        tloc,
                        tpath,
                    )
            if continuous:
                _check_continuous_task(ctx, key, task, tpath, tloc)
        if continuous:
            _check_continuous_job(ctx, key, job, jpath)
    for feed, where in collectors.items():
        if len(where) > 1:
            ctx.error(
                "continuous",
                f"{feed} is collected by {len(where)} tasks ({', '.join(where)}): the feed lease lets one connect, "
                "the others would only be refused; keep one",
                None,
                "resources.jobs",
            )
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        if pipeline.get("continuous") is True:
            where = updaters.get(key, [])
            if where:
                ctx.error(
                    "continuous",
                    f"pipeline '{key}' is continuous, yet {', '.join(where)} also updates it",
                    loc_of(pipeline, "continuous"),
                    f"resources.pipelines.{key}.continuous",
                )
            continue
        where = updaters.get(key, [])
        if len(where) != 1:
            ctx.error(
                "continuous",
                f"pipeline '{key}' is updated by {len(where)} jobs ({', '.join(where) or 'none'}): exactly one "
                f"must drive it (a continuous job running {DRIVER_SCRIPT}, or continuous: true); two updates of "
                "one pipeline cannot run at once",
                loc_of(pipeline),
                f"resources.pipelines.{key}",
            )


def _check_continuous_job(ctx: Ctx, key: str, job: dict[str, Any], jpath: str) -> None:
    spec = job["continuous"]
    for other in ("schedule", "trigger"):
        if other in job:
            ctx.error(
                "continuous",
                f"job '{key}' is continuous and also has a {other}: a job has one trigger type",
                loc_of(job, other),
                f"{jpath}.{other}",
            )
    runs = job.get("max_concurrent_runs")
    if isinstance(runs, int) and runs != 1:
        ctx.error(
            "continuous",
            f"continuous job '{key}' sets max_concurrent_runs {runs}: a continuous job has exactly one active run",
            loc_of(job, "max_concurrent_runs"),
            f"{jpath}.max_concurrent_runs",
        )
    timeout = job.get("timeout_seconds")
    if isinstance(timeout, int) and timeout > 0:
        ctx.error(
            "continuous",
            f"continuous job '{key}' times out after {timeout} s: its always-on run would be cancelled for running",
            loc_of(job, "timeout_seconds"),
            f"{jpath}.timeout_seconds",
        )
    health = job.get("health")
    rules = health.get("rules") if isinstance(health, dict) else None
    if any(isinstance(r, dict) and r.get("metric") == "RUN_DURATION_SECONDS" for r in rules or []):
        ctx.error(
            "continuous",
            f"continuous job '{key}' has a RUN_DURATION_SECONDS health rule: an always-on run would always exceed it",
            loc_of(health),
            f"{jpath}.health.rules",
        )
    webhooks = job.get("webhook_notifications")
    targets = webhooks.get("on_failure") if isinstance(webhooks, dict) else None
    if not (isinstance(targets, list) and any(isinstance(t, dict) and t.get("id") for t in targets)):
        ctx.error(
            "continuous",
            f"continuous job '{key}' sends no webhook_notifications.on_failure: a collector crash-looping under "
            "the platform's backoff would go unnoticed",
            loc_of(job),
            f"{jpath}.webhook_notifications.on_failure",
        )
    if "task_retry_mode" in spec and spec["task_retry_mode"] not in ("NEVER", "ON_FAILURE"):
        ctx.error(
            "continuous",
            f"continuous job '{key}': task_retry_mode {spec['task_retry_mode']!r} is not NEVER or ON_FAILURE",
            loc_of(spec, "task_retry_mode"),
            f"{jpath}.continuous.task_retry_mode",
        )


def _check_continuous_task(ctx: Ctx, key: str, task: dict[str, Any], tpath: str, tloc: Any) -> None:
    name = task.get("task_key")
    if task.get("depends_on"):
        ctx.error(
            "continuous",
            f"task '{name}' of continuous job '{key}' has depends_on: continuous jobs allow no task dependencies",
            tloc,
            f"{tpath}.depends_on",
        )
    for field in _RETRY_FIELDS:
        if field in task:
            ctx.error(
                "continuous",
                f"task '{name}' of continuous job '{key}' sets {field}: continuous jobs retry with the platform's "
                "exponential backoff (task_retry_mode), not retry policies",
                loc_of(task, field),
                f"{tpath}.{field}",
            )
    timeout = task.get("timeout_seconds")
    if isinstance(timeout, int) and timeout > 0:
        ctx.error(
            "continuous",
            f"task '{name}' of continuous job '{key}' times out after {timeout} s: an always-on task would be "
            "cancelled for running",
            loc_of(task, "timeout_seconds"),
            f"{tpath}.timeout_seconds",
        )
    if "environment_key" in task and not any(k in task for k in ("job_cluster_key", "existing_cluster_id")):
        ctx.error(
            "continuous",
            f"task '{name}' of continuous job '{key}' runs on serverless job compute, which supports continuous mode "
            "only for bounded streaming; an always-on task needs a job cluster",
            tloc,
            f"{tpath}.environment_key",
        )


RULE = Rule(
    "continuous", "Always-on jobs: continuous mode, one collector per feed, one pipeline driver", check_continuous
)
