"""Job entry point: roll the champion back (and optionally the feature tables).

The on-call branch of ``financial-drift-monitoring`` runs it; locally:
``python scripts/financial/rollback_model.py --env dev [--to-version N] [--restore-features] [--dry-run] [--force]``.
A refused rollback (bad version, no previous champion, missing snapshot, a target the gate
rejected or that failed validation without ``--force``) exits 2 and changes nothing.
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.monitoring.rollback import ModelRollback, RollbackFailed, RollbackRefused


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to-version", type=int, default=None, help="target version (default: previous champion)")
    parser.add_argument(
        "--restore-features", action="store_true", help="RESTORE the feature tables to what the target was trained on"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--reason", default=None, help="why (kept in rollback_audit)")
    parser.add_argument(
        "--force", action="store_true", help="roll back to a version the gate rejected or that failed validation"
    )


def main() -> int:
    args, platform = script_platform("Roll the champion model back", _extra)
    try:
        result = ModelRollback(platform).run(
            args.to_version,
            restore_features=args.restore_features,
            dry_run=args.dry_run,
            reason=args.reason,
            force=args.force,
        )
    except RollbackRefused as exc:
        print(f"rollback refused: {exc}", file=sys.stderr)
        return 2
    except RollbackFailed as exc:
        print(f"rollback failed: {exc}", file=sys.stderr)
        return 1
    for line in result.plan.describe():
        print(line)
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    print(f"rollback {result.rollback_id}: {result.status}")
    print(f"serving: {result.serving}")
    return 1 if result.serving_failed else 0


if __name__ == "__main__":
    sys.exit(main())
