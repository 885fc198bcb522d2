"""Job entry point: features -> four-model tournament -> validator -> registry -> champion/challenger gate.

Databricks runs it as the first task of ``financial-retraining-workflow``; it sets the
task values ``model_version``, ``decision`` and ``promoted`` for the ``condition_task``.
Locally: ``python scripts/financial/train_tournament.py --env dev``.
Exit code 1 when every model failed, the winner failed validation or the gate failed closed.
"""

from __future__ import annotations

import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.models.training import TrainingFailed, run_training
from financial_transactions.runtime.task_values import set_task_value


def main() -> int:
    args, platform = script_platform("Train the anomaly-model tournament and run the promotion gate")
    try:
        outcome = run_training(platform, git_sha=args.git_sha)
    except (TrainingFailed, ValueError) as exc:
        print(f"training failed: {exc}", file=sys.stderr)
        return 1
    summary = outcome.summary()
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    if outcome.decision is not None:
        print(f"gate: {outcome.decision.decision}: {outcome.decision.reason}")
    set_task_value("model_version", outcome.registered_version or 0)
    set_task_value("decision", str(summary["decision"]))
    set_task_value("promoted", outcome.status == "promoted")
    failed_closed = outcome.decision is not None and outcome.decision.error is not None
    return 1 if outcome.status == "validation_failed" or failed_closed else 0


if __name__ == "__main__":
    sys.exit(main())
