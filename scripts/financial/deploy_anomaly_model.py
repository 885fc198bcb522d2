"""Job entry point: gate a registered version (``--version N``) or take the champion, prove it serves, serve it.

Runs in ``financial-retraining-workflow`` after the ``condition_task`` on ``promoted``;
on Databricks, with ``serving.endpoint_enabled``, it creates or updates the Model Serving
endpoint ``serving.endpoint_name`` for the champion (canary split from ``serving.canary``)
and waits up to ``serving.endpoint_wait_seconds`` for it to be READY; then it sets the task
value ``champion_version``. Locally it gates and smoke-tests only, and prints that the
endpoint was not touched: ``python scripts/financial/deploy_anomaly_model.py --env dev [--version N]``.
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.models.deployment import DeploymentError, deploy_champion


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", type=int, default=None, help="gate this registered version first")


def main() -> int:
    args, platform = script_platform("Deploy the champion anomaly model", _extra)
    try:
        outcome = deploy_champion(platform, version=args.version, git_sha=args.git_sha)
    except DeploymentError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    if outcome.decision is not None:
        print(f"gate: {outcome.decision.decision}: {outcome.decision.reason}")
    print(outcome.describe())
    return 1 if outcome.decision is not None and outcome.decision.error else 0


if __name__ == "__main__":
    sys.exit(main())
