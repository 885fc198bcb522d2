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
    return parser


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
    cfg = ProjectConfig.from_yaml(args.config, args.env)
    platform = Platform.create(cfg, lakehouse_root=args.lakehouse_root, spark_remote=args.spark_remote)
    return args, platform
