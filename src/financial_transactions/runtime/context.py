"""What every ``fin-mlops run`` stage receives: the platform and where to print."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from financial_transactions.runtime.platform import Platform


@dataclass
class RunContext:
    platform: Platform
    console: Console
    state: dict[str, Any] = field(default_factory=dict)
