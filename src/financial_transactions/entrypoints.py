"""Shared argument handling for the thin scripts in ``scripts/financial/``.

Databricks runs them as ``spark_python_task`` files and laptops run them with
``python scripts/financial/x.py --env dev``; both get the same Platform.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from financial_transactions.config import DEFAULT_CONFIG_FILE, ProjectConfig
from financial_transactions.runtime import Platform


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--env", required=True, help="deployment target: dev, acc or prd")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path to project_config.yml")
    parser.add_argument("--lakehouse-root", default=None, help="local lakehouse root (embedded engine only)")
    parser.add_argument("--spark-remote", default=None, help="Spark Connect URL, e.g. sc://host:15002")
    parser.add_argument("--git-sha", default=None, help="provenance: commit the job was deployed from")
    parser.add_argument("--git-branch", default=None, help="provenance: branch the job was deployed from")
    deployed = parser.add_argument_group(
        "deployed names", "what the bundle resolves per target; each overrides project_config.yml when given"
    )
    deployed.add_argument("--schema", default=None, help="the target's schema (per user in dev): project.schema")
    deployed.add_argument("--experiment", default=None, help="the deployed MLflow experiment's workspace path")
    deployed.add_argument("--registered-model", default=None, help="the deployed registered model's name")
    deployed.add_argument("--serving-endpoint", default=None, help="the target's serving endpoint name")
    deployed.add_argument("--retraining-job-id", type=int, default=None, help="the retraining job (jobs.run_now)")
    return parser


def apply_deployed_names(cfg: ProjectConfig, args: argparse.Namespace) -> ProjectConfig:
    """``cfg`` with the names the bundle deployed (validated like the file's values).

    The bundle, not the file, knows a development deployment's per-user schema and endpoint, the
    experiment it created and the job ids, so the tasks pass them and they win over the file.
    """
    changes: dict[str, dict[str, object]] = {
        "project": {"schema": args.schema},
        "models": {"experiment_name": args.experiment, "registered_model": args.registered_model},
        "serving": {"endpoint_name": args.serving_endpoint},
        "retraining": {"job_id": args.retraining_job_id},
    }
    update: dict[str, object] = {}
    for field, values in changes.items():
        given = {k: v for k, v in values.items() if v is not None}
        if given:
            section = getattr(cfg, field)
            update[field] = type(section).model_validate({**section.model_dump(by_alias=True), **given})
    return cfg.model_copy(update=update) if update else cfg


def script_platform(
    description: str,
    extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> tuple[argparse.Namespace, Platform]:
    """Parse the common flags (plus ``extra_args``), load config, build the Platform."""
    parser = base_parser(description)
    if extra_args is not None:
        extra_args(parser)
    args = parser.parse_args(argv)
    cfg = apply_deployed_names(ProjectConfig.from_yaml(args.config, args.env), args)
    platform = Platform.create(cfg, lakehouse_root=args.lakehouse_root, spark_remote=args.spark_remote)
    return args, platform
