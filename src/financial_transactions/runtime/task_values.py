"""Databricks job task values: how a task hands a result to a ``condition_task``.

One helper for every job script (the gate's ``promoted``, the validator's ``deploy``,
the drift job's ``retrain``). Outside a job run there is nothing to set: the call
says so (logged, ``False``) and the local path carries on, so the same script runs
on a laptop and as a bundle task.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class TaskValues(Protocol):
    """What ``dbutils.jobs.taskValues`` offers a job task (and what a test double records)."""

    def set(self, key: str, value: Any) -> None: ...


def runtime_task_values() -> TaskValues | None:
    """``dbutils.jobs.taskValues`` of the Databricks job run this process is part of, else None.

    Outside a Databricks runtime the SDK's remote ``dbutils`` accepts
    ``taskValues.set`` and drops the value without a word, so it counts as none.
    """
    try:
        runtime = importlib.import_module("databricks.sdk.runtime")
    except Exception as exc:  # no SDK, or no credentials to build its remote dbutils
        log.debug("no Databricks runtime dbutils: %s", exc)
        return None
    if getattr(runtime, "is_local_implementation", True):
        return None
    return runtime.dbutils.jobs.taskValues  # type: ignore[no-any-return]


def set_task_value(key: str, value: str | int | bool, task_values: TaskValues | None = None) -> bool:
    """Set a job task value for a ``condition_task``; False (logged) when it cannot be set."""
    target = task_values if task_values is not None else runtime_task_values()
    if target is None:
        log.info("task value %s=%s not set: not running as a Databricks job task", key, value)
        return False
    try:
        target.set(key=key, value=value)
    except Exception as exc:
        log.warning("task value %s=%s could not be set: %s", key, value, exc)
        return False
    return True
