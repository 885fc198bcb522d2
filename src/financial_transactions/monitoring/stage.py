"""The ``drift`` stage of ``fin-mlops run``: replay window 1 (reference) vs window 2 (current).

The cycle itself (drift, champion performance, retraining trigger, alerts) is
:func:`~financial_transactions.monitoring.cycle.run_cycle`; this adapter picks the
windows, launches a triggered retrain through the runtime's launcher, and prints.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.monitoring.cycle import ground_truth_path, replay_window, run_cycle
from financial_transactions.monitoring.render import print_cycle
from financial_transactions.monitoring.retraining_trigger import RetrainingTrigger, default_launcher
from financial_transactions.runtime.context import RunContext


def run_stage(ctx: RunContext) -> dict[str, Any]:
    """``fin-mlops run``: window 1 (reference) vs the regime-shifted window 2 (current)."""
    platform = ctx.platform
    reference = replay_window(platform, 1)
    current = replay_window(platform, 2)
    # the runtime's launcher; run in-process, a triggered retrain prints the train stage's tables in this run
    trigger = RetrainingTrigger(platform, launcher=default_launcher(platform, console=ctx.console))
    cycle = run_cycle(platform, reference, current, ground_truth=[ground_truth_path(platform, 2)], trigger_obj=trigger)
    print_cycle(ctx.console, cycle)
    return cycle.summary()
