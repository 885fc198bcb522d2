"""What every ``fin-mlops run`` stage receives: the platform, where to print, and the run's provenance."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from financial_transactions.runtime.platform import Platform


@dataclass
class RunContext:
    """The inputs of a stage; stages hand nothing to each other through it.

    Each stage reads what earlier stages wrote from the tables and the landing
    zone (so ``fin-mlops run --only <stage>`` works on its own) and returns its
    summary to the orchestrator.
    """

    platform: Platform
    console: Console
    #: Provenance tag of the models the train stage registers; None means this checkout's HEAD.
    git_sha: str | None = None
