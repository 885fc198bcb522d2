"""How a committed ``triggered`` retraining decision starts a retraining, and what came of it.

The launch types live here, below ``monitoring``, because the Databricks ones are
platform code (Jobs API, job task values) owned by :class:`DatabricksRuntime`. The
in-process launcher runs ``models.training``, a layer above the runtime, so the
monitoring package builds it and hands it in as a factory
(:meth:`Runtime.retraining_launcher`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from financial_transactions.config.monitoring import RetrainingConfig
from financial_transactions.runtime.task_values import TaskValues, set_task_value

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


@dataclass(frozen=True)
class LaunchResult:
    status: Literal["launched", "launch_failed", "not_launched"]
    launcher: str
    run_id: str | None = None
    detail: str | None = None


class Launcher(Protocol):
    name: str

    def launch(self, event_id: str, reason: str) -> LaunchResult: ...


class DatabricksJobLauncher:
    """``jobs.run_now`` on the retraining job (looked up by name unless ``retraining.job_id`` is set)."""

    name = "databricks-run-now"

    def __init__(self, client: WorkspaceClient, config: RetrainingConfig) -> None:
        self.client = client
        self.cfg = config

    def job_id(self) -> int:
        if self.cfg.job_id is not None:
            return self.cfg.job_id
        matches = [j for j in self.client.jobs.list(name=self.cfg.job_name) if j.job_id is not None]
        if not matches:
            raise LookupError(f"no Databricks job named {self.cfg.job_name!r} (deploy the bundle, or set job_id)")
        if len(matches) > 1:
            ids = ", ".join(str(j.job_id) for j in matches)
            raise LookupError(f"{len(matches)} jobs are named {self.cfg.job_name!r} ({ids}); set retraining.job_id")
        return int(matches[0].job_id)  # type: ignore[arg-type]

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        job_id = self.job_id()
        waiter = self.client.jobs.run_now(
            job_id=job_id,
            idempotency_token=event_id,
            job_parameters={"trigger_event_id": event_id, "trigger_reason": reason[:1000]},
        )
        run_id = waiter.response.run_id if waiter.response is not None else None
        return LaunchResult("launched", self.name, run_id=str(run_id), detail=f"job_id={job_id}")


class TaskValueOnly:
    """``retraining.launch = task_value``: the launch is the task value; the workflow's condition_task runs the job."""

    name = "task-value"

    def __init__(self, key: str, task_values: TaskValues | None = None) -> None:
        self.key = key
        self.task_values = task_values

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        if set_task_value(self.key, True, self.task_values):
            return LaunchResult(
                "launched", self.name, detail=f"task value {self.key}=true: the workflow's condition_task starts it"
            )
        return LaunchResult(
            "launch_failed",
            self.name,
            detail=f"task value {self.key} could not be set (not a Databricks job run?): nothing starts retraining",
        )


#: Pipeline update states after which nothing more happens.
UPDATE_DONE = ("COMPLETED", "FAILED", "CANCELED")


class PipelineUpdateFailed(RuntimeError):
    """A pipeline update that ended FAILED or CANCELED; the message names the pipeline and update."""


class DatabricksPipelineUpdate:
    """Start one incremental update of a Lakeflow pipeline and wait for its end (``pipelines.start_update``)."""

    def __init__(self, client: WorkspaceClient, pipeline_id: str, *, poll_seconds: float = 5.0) -> None:
        self.client = client
        self.pipeline_id = pipeline_id
        self.poll_seconds = poll_seconds

    def __call__(self) -> dict[str, Any]:
        started = time.monotonic()
        response = self.client.pipelines.start_update(self.pipeline_id, full_refresh=False)
        update_id = response.update_id
        if not update_id:
            raise PipelineUpdateFailed(f"pipeline {self.pipeline_id}: start_update returned no update id")
        while True:
            info = self.client.pipelines.get_update(self.pipeline_id, update_id).update
            state = info.state.value if info is not None and info.state is not None else "UNKNOWN"
            if state in UPDATE_DONE:
                break
            time.sleep(self.poll_seconds)
        if state != "COMPLETED":
            raise PipelineUpdateFailed(f"pipeline {self.pipeline_id} update {update_id} ended {state}")
        return {"pipeline_id": self.pipeline_id, "update_id": update_id, "state": state,
                "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
