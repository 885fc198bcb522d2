"""Job entry point: validate the version the tournament just registered, as serving will load it.

The second task of ``financial-retraining-workflow``. ``train_tournament.py`` validated the
winner's *run* artifact before registering it; this task runs the library's
:class:`~financial_transactions.models.validator.ModelValidator` again on the *registered*
version (``models:/<name>/<version>``, the copy serving loads) against the current ``test_set``.
It sets the task value ``deploy`` (true only when the gate made this version champion and it
validated), which the workflow's ``condition_task`` reads.

A promoted version that fails here must not stay champion: the previous champion is restored
through the rollback (audited in ``rollback_audit``). Exit code 1 when validation fails.
Locally: ``python scripts/financial/validate_challenger.py --env dev [--version N]``
(default: the ``latest-model`` alias, the newest registered version).
"""

from __future__ import annotations

import argparse
import sys

from financial_transactions.entrypoints import script_platform
from financial_transactions.features.feature_engineering import feature_columns
from financial_transactions.models.registry import CHAMPION, LATEST, ModelRegistry, RegistryError
from financial_transactions.models.training import load_holdout
from financial_transactions.models.validator import ModelValidator
from financial_transactions.monitoring.rollback import ModelRollback, RollbackFailed, RollbackRefused
from financial_transactions.runtime.task_values import set_task_value


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        type=int,
        default=None,
        help="registered version to validate (the job passes train_tournament's model_version; default: latest-model)",
    )


def main() -> int:
    args, platform = script_platform("Validate the newly registered model version", _extra)
    cfg = platform.config
    try:
        registry = ModelRegistry.from_platform(platform)
        aliases = registry.aliases()
    except RegistryError as exc:
        print(f"validation failed: {exc}", file=sys.stderr)
        set_task_value("deploy", False)
        return 1
    version = args.version if args.version is not None else aliases.get(LATEST)
    if version is None or version < 1:
        print(
            f"validation failed: no registered version to validate ({registry.name} aliases {aliases})", file=sys.stderr
        )
        set_task_value("deploy", False)
        return 1
    try:
        holdout, label_column = load_holdout(platform)
    except FileNotFoundError as exc:
        print(f"validation failed: {exc}", file=sys.stderr)
        set_task_value("deploy", False)
        return 1
    columns = feature_columns(cfg.features)
    schema = platform.store.read_arrow(cfg.table("test_set"), columns=columns).schema
    validator = ModelValidator(
        cfg.validator,
        feature_columns=columns,
        feature_schema=schema,
        label_column=label_column,
        k=cfg.models.precision_at_k,
        fixed_fpr=cfg.models.fixed_fpr,
    )
    report = validator.validate(registry.version_uri(version), holdout)
    print(report.to_text())
    promoted = aliases.get(CHAMPION) == version
    deploy = promoted and report.passed
    set_task_value("validation", "pass" if report.passed else "fail")
    set_task_value("deploy", deploy)
    print(f"version {version}: {'champion' if promoted else 'not champion'} (aliases {aliases}); deploy={deploy}")
    if report.passed:
        return 0
    if promoted:
        failed = ", ".join(c.name for c in report.failures)
        reason = f"registered v{version} failed validation after promotion ({failed})"
        try:
            result = ModelRollback(platform, registry=registry).run(reason=reason)
        except (RollbackRefused, RollbackFailed) as exc:
            print(f"{reason}; rollback not possible: {exc}", file=sys.stderr)
            return 1
        plan = result.plan
        print(f"{reason}; rolled back: champion v{plan.from_version} -> v{plan.to_version} ({result.rollback_id})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
