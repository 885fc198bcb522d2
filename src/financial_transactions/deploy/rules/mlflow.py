"""MLflow as the deployment creates it: the experiment and the registered model are bundle resources.

MLflow refuses an experiment whose parent workspace folder does not exist (``RESOURCE_DOES_NOT_EXIST``),
and nothing created ``/Shared/financial-ai-mlops/<env>/``. Declared in the bundle
(https://docs.databricks.com/aws/en/dev-tools/bundles/resources#experiment), the experiment lives in a
folder every deployment creates (the bundle root) or always has (the deploying user's home), and the
jobs receive the deployed names: ``--experiment ${resources.experiments.<key>.name}`` and
``--registered-model ${resources.registered_models.<key>.name}`` (a target's name prefix changes both).
The registered model sits in the target's catalog and schema under ``models.registered_model``
(https://docs.databricks.com/aws/en/dev-tools/bundles/resources#registered_model).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.resolve import resolve, target_views
from financial_transactions.deploy.rules.files import is_local, local_path
from financial_transactions.deploy.rules.isolation import flag_value
from financial_transactions.deploy.sources import imports_any, parse

#: Folders an experiment may sit directly in: created by every deployment, or always there.
PARENTS = (
    "${workspace.root_path}",
    "/Workspace/Users/${workspace.current_user.userName}",
    "/Users/${workspace.current_user.userName}",
)
#: Scripts that track or register models (their code configures the MLflow experiment).
MLFLOW_USERS = (
    "financial_transactions.models",
    "financial_transactions.monitoring",
    "financial_transactions.decision",
    "financial_transactions.reporting",
)
FLAGS = {"--experiment": "experiments", "--registered-model": "registered_models"}


def _registered_model_name(project_config: Path | None) -> str | None:
    if project_config is None or not project_config.is_file():
        return None
    try:
        raw = yaml.safe_load(project_config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    models = raw.get("models") if isinstance(raw, dict) else None
    name = models.get("registered_model") if isinstance(models, dict) else None
    return str(name) if name else None


def check_mlflow(ctx: Ctx, inputs: RuleInputs) -> None:
    """Experiments sit in a folder the deployment creates; model scripts get the deployed experiment and
    registered model; the registered model is the configured one in the target's schema."""
    cfg = ctx.bundle.config
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    experiments = dict(ctx.bundle.iter_resources("experiments"))
    models = dict(ctx.bundle.iter_resources("registered_models"))
    for key, experiment in experiments.items():
        name = str(experiment.get("name", ""))
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if parent not in PARENTS:
            ctx.error(
                "mlflow",
                f"experiment '{key}' is named {name!r}: its parent folder {parent or '(none)'!r} is created by "
                f"nothing (RESOURCE_DOES_NOT_EXIST); name it {PARENTS[0]}/<name>",
                loc_of(experiment, "name") or loc_of(experiment),
                f"resources.experiments.{key}.name",
            )
    configured = _registered_model_name(inputs.project_config)
    for key, model in models.items():
        mpath = f"resources.registered_models.{key}"
        for field, var in (("catalog_name", "catalog"), ("schema_name", "schema")):
            if model.get(field) != f"${{var.{var}}}":
                ctx.error(
                    "mlflow",
                    f"registered model '{key}' sets {field} {model.get(field)!r}; use ${{var.{var}}} (the "
                    "target's, as the jobs' model name is <catalog>.<schema>.<model>)",
                    loc_of(model, field) or loc_of(model),
                    f"{mpath}.{field}",
                )
        for view in target_views(cfg):
            name = resolve(model.get("name"), view, bundle_name)
            if configured is not None and name != configured:
                ctx.error(
                    "mlflow",
                    f"registered model '{key}' is named {name!r} in target '{view.name}' but project_config.yml "
                    f"says models.registered_model: {configured!r}",
                    loc_of(model, "name") or loc_of(model),
                    f"{mpath}.name",
                )
                break
    for key, job in ctx.bundle.iter_resources("jobs"):
        base = ctx.bundle.resource_files.get(("jobs", key), ctx.root / "databricks.yml").parent
        for index, task in enumerate(job.get("tasks") or []):
            spt = task.get("spark_python_task") if isinstance(task, dict) else None
            if not isinstance(spt, dict) or not isinstance(spt.get("python_file"), str):
                continue
            if not is_local(spt["python_file"]):
                continue
            tree = parse(local_path(ctx, base, spt["python_file"]))
            if tree is None or not imports_any(tree, MLFLOW_USERS):
                continue
            raw = spt.get("parameters")
            params: list[Any] = raw if isinstance(raw, list) else []
            for flag, kind in FLAGS.items():
                value = flag_value(params, flag)
                match = re.fullmatch(rf"\$\{{resources\.{kind}\.([\w-]+)\.name\}}", str(value))
                defined = experiments if kind == "experiments" else models
                if match is None or match.group(1) not in defined:
                    ctx.error(
                        "mlflow",
                        f"task '{task.get('task_key')}' of job '{key}' runs MLflow code but passes {flag} {value!r}; "
                        f"pass {flag} ${{resources.{kind}.<key>.name}} of a declared {kind[:-1].replace('_', ' ')} "
                        f"({', '.join(sorted(defined)) or 'none declared'})",
                        loc_of(spt, "parameters") or loc_of(job.get("tasks"), index),
                        f"resources.jobs.{key}.tasks[{index}].spark_python_task.parameters",
                    )


RULE = Rule("mlflow", "MLflow experiment and registered model are bundle resources", check_mlflow)
