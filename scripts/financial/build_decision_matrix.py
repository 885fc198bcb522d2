"""Job entry point: the weighted decision matrix (Strong Buy / Buy / Hold / Sell) per symbol.

Databricks runs it in ``financial-retraining-workflow`` after ``score_and_backtest``, so
``decision_matrix`` is written on Databricks as it is by ``fin-mlops run``; it calls the same
``decide`` stage function (criteria read from gold, backtest_results, predictions, drift).
Locally: ``python scripts/financial/build_decision_matrix.py --env dev``.
"""

from __future__ import annotations

import sys

from rich.console import Console

from financial_transactions.decision.stage import run_decide
from financial_transactions.entrypoints import script_platform
from financial_transactions.lakehouse.errors import LakehouseError
from financial_transactions.runtime.context import RunContext


def main() -> int:
    args, platform = script_platform("Build and store the ranked decision matrix")
    ctx = RunContext(platform=platform, console=Console(width=160), git_sha=args.git_sha)
    try:
        summary = run_decide(ctx)
    except (LakehouseError, ValueError, FileNotFoundError) as exc:
        print(f"decision matrix failed: {exc}", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
