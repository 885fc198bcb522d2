"""Job entry point: PSI/JS drift, champion performance and the guarded retraining decision.

Databricks runs it as the ``detect_drift`` task of ``financial-drift-monitoring``
(latest ``drift.current_hours`` of gold vs the ``drift.reference_hours`` before); a
triggered decision starts the retraining job itself with ``jobs.run_now`` on the id the
bundle passes (``--retraining-job-id``), without waiting for it.
Locally: ``python scripts/financial/detect_drift.py --env dev`` compares replay
window 1 with the regime-shifted window 2, like the ``drift`` stage.
"""

from __future__ import annotations

import argparse

from financial_transactions.entrypoints import script_platform
from financial_transactions.monitoring.cycle import (
    all_ground_truth,
    ground_truth_path,
    recent_windows,
    replay_window,
    run_cycle,
)


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=["auto", "replay", "recent"],
        default="auto",
        help="replay: window 1 vs 2; recent: latest hours vs the hours before; auto: recent on Databricks",
    )
    parser.add_argument("--reference-window", type=int, default=1, help="replay mode: reference window")
    parser.add_argument("--current-window", type=int, default=2, help="replay mode: current window")
    parser.add_argument("--no-launch", action="store_true", help="decide and audit, but do not start retraining")


def main() -> None:
    args, platform = script_platform("Detect feature drift and decide on retraining", _extra)
    mode = platform.runtime.default_drift_window if args.mode == "auto" else args.mode
    recent = mode == "recent"
    if recent:
        reference, current = recent_windows(platform)
        truth = all_ground_truth(platform)
    else:
        reference = replay_window(platform, args.reference_window)
        current = replay_window(platform, args.current_window)
        truth = [ground_truth_path(platform, args.current_window)]
    cycle = run_cycle(platform, reference, current, ground_truth=truth, launch=not args.no_launch)
    print(f"drift: {cycle.drift.reason}")
    for key, value in cycle.summary().items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
