"""The bundle's rule families, one module each, in the order ``fin-mlops bundle-check`` reports them.

Each module exposes ``RULE`` (its report row and its check); a new family is a new module
added to :data:`RULES`.
"""

from __future__ import annotations

from financial_transactions.deploy.context import Rule
from financial_transactions.deploy.rules import (
    artifacts,
    config_envs,
    continuous,
    dashboards,
    deprecated,
    files,
    isolation,
    mlflow,
    pipelines,
    runs,
    schedules,
    scripts,
    secrets,
    tables,
    targets,
    tasks,
    variables,
)

RULES: tuple[Rule, ...] = (
    variables.RULE,
    files.RULE,
    tasks.RULE,
    schedules.RULE,
    continuous.RULE,
    deprecated.RULE,
    targets.RULE,
    config_envs.RULE,
    pipelines.RULE,
    scripts.RULE,
    secrets.RULE,
    # The Databricks platform's own rules (docs/DEPLOYMENT.md, "What bundle-check enforces"), each module
    # citing the documentation page of the constraint it checks.
    tables.RULE,
    isolation.RULE,
    mlflow.RULE,
    runs.RULE,
    artifacts.RULE,
    dashboards.RULE,
)
