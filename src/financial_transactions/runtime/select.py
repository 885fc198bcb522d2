"""Which runtime this process runs on: decided here, once, from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from financial_transactions.runtime.base import Runtime
from financial_transactions.runtime.databricks import DatabricksRuntime
from financial_transactions.runtime.local import LocalRuntime

#: Set by every Databricks cluster and serverless task, and by nothing else.
DATABRICKS_RUNTIME_ENV = "DATABRICKS_RUNTIME_VERSION"


def detect_runtime(environ: Mapping[str, str] | None = None) -> Runtime:
    """:class:`DatabricksRuntime` inside a Databricks runtime, else :class:`LocalRuntime`."""
    env = os.environ if environ is None else environ
    if env.get(DATABRICKS_RUNTIME_ENV):
        return DatabricksRuntime()
    return LocalRuntime()
