"""Job runs as the platform runs them: waits it imposes, task values it may not carry, alerts it sends.

* A ``run_job_task`` waits for the child run, so the parent's timeout must cover the child's
  (https://docs.databricks.com/aws/en/jobs/run-job); otherwise start the child through the Jobs API
  (``jobs.run_now``) without waiting.
* ``dbutils.jobs.taskValues`` is documented for notebooks (https://docs.databricks.com/aws/en/jobs/task-values):
  a condition must not hang on a value only a serverless Python script task would set.
* The platform, not only application code, reports a failed or over-long run: every automated job
  has ``health`` rules under its timeout and ``webhook_notifications`` for failures and the duration
  warning, every pipeline ``notifications`` for failed updates
  (https://docs.databricks.com/aws/en/jobs/notifications,
  https://docs.databricks.com/aws/en/ldp/monitoring-ui#add-email-notifications-for-pipeline-events).
"""

from __future__ import annotations

import re
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.resolve import DYNAMIC

_JOB_ID = re.compile(r"\$\{resources\.jobs\.([\w-]+)\.id\}")
#: Pipeline alerts that report a failed update.
PIPELINE_FAILURE_ALERTS = ("on-update-failure", "on-update-fatal-failure")


def _timeout(spec: Any) -> int:
    value = spec.get("timeout_seconds") if isinstance(spec, dict) else None
    return int(value) if isinstance(value, int) else 0


def _automated(job: dict[str, Any]) -> bool:
    return any(isinstance(job.get(k), dict) for k in ("schedule", "trigger", "continuous"))


def check_runs(ctx: Ctx, inputs: RuleInputs) -> None:
    """run_job_task waits within the parent's timeout; conditions read no serverless task value;
    automated jobs and pipelines alert through the platform."""
    jobs = dict(ctx.bundle.iter_resources("jobs"))
    for key, job in jobs.items():
        jpath = f"resources.jobs.{key}"
        tasks = [t for t in job.get("tasks") or [] if isinstance(t, dict)]
        by_key = {t.get("task_key"): t for t in tasks}
        parent_timeout = _timeout(job)
        for index, task in enumerate(tasks):
            tloc = loc_of(job.get("tasks"), index)
            run_job = task.get("run_job_task")
            if isinstance(run_job, dict):
                match = _JOB_ID.fullmatch(str(run_job.get("job_id")))
                child_key = match.group(1) if match else ""
                child = jobs.get(child_key)
                if child is not None:
                    child_timeout = _timeout(child)
                    limits = [t for t in (parent_timeout, _timeout(task)) if t]
                    if limits and (child_timeout == 0 or child_timeout > min(limits)):
                        ctx.error(
                            "runs",
                            f"task '{task.get('task_key')}' of job '{key}' waits for job '{child_key}' "
                            f"(timeout {child_timeout or 'none'} s) within {min(limits)} s: the parent times out "
                            "first; start the child with jobs.run_now without waiting, or raise the timeout",
                            tloc,
                            f"{jpath}.tasks[{index}].run_job_task",
                        )
            condition = task.get("condition_task")
            if isinstance(condition, dict):
                for side in ("left", "right"):
                    for ref in DYNAMIC.findall(str(condition.get(side, ""))):
                        parts = ref.split(".")
                        if len(parts) >= 4 and parts[0] == "tasks" and parts[2] == "values":
                            setter = by_key.get(parts[1])
                            serverless_script = isinstance(setter, dict) and {
                                "spark_python_task",
                                "environment_key",
                            } <= set(setter)
                            if serverless_script:
                                ctx.error(
                                    "runs",
                                    f"condition '{task.get('task_key')}' of job '{key}' reads task value "
                                    f"{parts[3]!r} of serverless Python script task '{parts[1]}': task values "
                                    "are documented for notebooks; act in the script (e.g. jobs.run_now) instead",
                                    tloc,
                                    f"{jpath}.tasks[{index}].condition_task.{side}",
                                )
        if _automated(job):
            _check_alerting(ctx, key, job, jpath, parent_timeout)
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        alerts = {
            str(a)
            for n in pipeline.get("notifications") or []
            if isinstance(n, dict) and n.get("email_recipients")
            for a in n.get("alerts") or []
        }
        if not alerts & set(PIPELINE_FAILURE_ALERTS):
            ctx.error(
                "runs",
                f"pipeline '{key}' sends no notification on a failed update (notifications with "
                f"email_recipients and alerts {', '.join(PIPELINE_FAILURE_ALERTS)})",
                loc_of(pipeline),
                f"resources.pipelines.{key}.notifications",
            )


def _check_alerting(ctx: Ctx, key: str, job: dict[str, Any], jpath: str, timeout: int) -> None:
    if isinstance(job.get("continuous"), dict):
        return  # an always-on run has no duration to warn about; rule "continuous" checks its alerts
    health = job.get("health")
    rules = health.get("rules") if isinstance(health, dict) else None
    durations = [
        int(r["value"])
        for r in rules or []
        if isinstance(r, dict)
        and r.get("metric") == "RUN_DURATION_SECONDS"
        and r.get("op") == "GREATER_THAN"
        and isinstance(r.get("value"), int)
    ]
    if not durations:
        ctx.error(
            "runs",
            f"automated job '{key}' has no health rule on RUN_DURATION_SECONDS: nothing warns before it times out",
            loc_of(job),
            f"{jpath}.health",
        )
    elif timeout and min(durations) >= timeout:
        ctx.error(
            "runs",
            f"job '{key}' warns after {min(durations)} s but times out after {timeout} s: the warning never fires",
            loc_of(health),
            f"{jpath}.health.rules",
        )
    webhooks = job.get("webhook_notifications")
    for event in ("on_failure", "on_duration_warning_threshold_exceeded"):
        targets = webhooks.get(event) if isinstance(webhooks, dict) else None
        if event == "on_duration_warning_threshold_exceeded" and not durations:
            continue
        if not (isinstance(targets, list) and any(isinstance(t, dict) and t.get("id") for t in targets)):
            ctx.error(
                "runs",
                f"automated job '{key}' sends no webhook_notifications.{event} to a notification destination",
                loc_of(job),
                f"{jpath}.webhook_notifications.{event}",
            )


RULE = Rule("runs", "Runs: run_job waits, task values, platform alerts", check_runs)
