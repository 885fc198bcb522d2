"""Job entry point: the champion scores new gold bars, then every strategy is backtested.

Databricks runs it in ``financial-retraining-workflow`` after the deploy step (whatever the
gate decided: the current champion scores the bars it has not scored yet), so
``synthesized_predictions`` and ``backtest_results`` fill up on Databricks as they do in
``fin-mlops run``. It calls the same ``backtest`` stage function. Without a champion the
model strategy is skipped and the rule-based strategies still run.
Locally: ``python scripts/financial/score_and_backtest.py --env dev``.
"""

from __future__ import annotations

import sys

from rich.console import Console

from financial_transactions.decision.stage import run_backtest
from financial_transactions.entrypoints import script_platform
from financial_transactions.lakehouse.errors import LakehouseError
from financial_transactions.runtime.context import RunContext


def main() -> int:
    args, platform = script_platform("Score new gold bars with the champion and backtest the strategies")
    ctx = RunContext(platform=platform, console=Console(width=160), git_sha=args.git_sha)
    try:
        summary = run_backtest(ctx)
    except (LakehouseError, ValueError, FileNotFoundError) as exc:
        print(f"backtest failed: {exc}", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
