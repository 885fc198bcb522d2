"""The bundle's rule families, one module each, in the order ``fin-mlops bundle-check`` reports them.

Each module exposes ``RULE`` (its report row and its check); a new family is a new module
added to :data:`RULES`.
"""

from __future__ import annotations

from financial_transactions.deploy.context import Rule
from financial_transactions.deploy.rules import (
    deprecated,
    files,
    pipelines,
    schedules,
    scripts,
    secrets,
    targets,
    tasks,
    variables,
)

RULES: tuple[Rule, ...] = (
    variables.RULE,
    files.RULE,
    tasks.RULE,
    schedules.RULE,
    deprecated.RULE,
    targets.RULE,
    pipelines.RULE,
    scripts.RULE,
    secrets.RULE,
)
