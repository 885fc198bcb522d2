"""Per-deployment names: each development deployment gets its own schema and serving endpoint.

Several developers (and CI) deploy the development target at once, and a dataset can be the target
of only one pipeline (https://docs.databricks.com/aws/en/ldp/limitations): a shared dev schema makes
the second developer's pipeline fail and lets everyone overwrite one model and one endpoint. So a
development-mode target names its schema and endpoint after the deploying user
(``${workspace.current_user.short_name}``,
https://docs.databricks.com/aws/en/dev-tools/bundles/deployment-modes#development-mode), the pipeline
publishes to ``${var.schema}``, and every job script receives the same names as flags.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.resolve import declared_variables, resolve, target_views
from financial_transactions.deploy.rules.files import is_local, local_path
from financial_transactions.deploy.sources import imports_any, parse

USER_REFS = ("${workspace.current_user.short_name}", "${workspace.current_user.userName}")
#: Per-deployment names: variable -> the script flag that carries it.
NAMES = {"schema": "--schema", "serving_endpoint": "--serving-endpoint"}
#: Scripts that touch the serving endpoint (deploy, and the rollbacks that re-point it).
#: The pipeline's Spark conf key for its schema (pipeline/declarative.py CONF_SCHEMA).
PIPELINE_SCHEMA_CONF = "fin_mlops.schema"
SERVING_USERS = ("financial_transactions.models.deployment", "financial_transactions.monitoring.rollback")


def flag_value(params: list[Any], flag: str) -> str | None:
    """The value after ``flag`` in a task's parameter list (None when absent)."""
    values = [str(p) for p in params]
    return values[values.index(flag) + 1] if flag in values[:-1] else None


def check_isolation(ctx: Ctx, inputs: RuleInputs) -> None:
    """Development targets name schema and endpoint per user; pipelines and scripts use those names."""
    cfg = ctx.bundle.config
    declared = declared_variables(cfg)
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    targets = cfg.get("targets")
    for var in NAMES:
        if var not in declared:
            ctx.error("isolation", f"the bundle declares no `{var}` variable", cfg.loc("variables"), "variables")
    for view in target_views(cfg):
        if view.mode != "development":
            continue
        for var in NAMES:
            if var not in declared:
                continue
            value = resolve(f"${{var.{var}}}", view, bundle_name)
            if not (isinstance(value, str) and any(ref in value for ref in USER_REFS)):
                ctx.error(
                    "isolation",
                    f"development target '{view.name}' resolves var.{var} to {value!r}: every developer's "
                    f"deployment shares it; include ${{workspace.current_user.short_name}}",
                    loc_of(targets, view.name) if isinstance(targets, dict) else None,
                    f"targets.{view.name}.variables.{var}",
                )
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        schema = pipeline.get("schema", pipeline.get("target"))  # `target`: the deprecated spelling
        if "${var.schema}" not in str(schema):
            ctx.error(
                "isolation",
                f"pipeline '{key}' publishes to {schema!r}, not ${{var.schema}}",
                loc_of(pipeline, "schema") or loc_of(pipeline),
                f"resources.pipelines.{key}.schema",
            )
        conf = pipeline.get("configuration")
        reads_conf = isinstance(conf, dict) and any(str(k).startswith("fin_mlops.") for k in conf)
        if reads_conf and isinstance(conf, dict) and conf.get(PIPELINE_SCHEMA_CONF) != "${var.schema}":
            ctx.error(
                "isolation",
                f"pipeline '{key}' does not set {PIPELINE_SCHEMA_CONF}: ${{var.schema}}, so its code places the "
                "Auto Loader schema location in project_config.yml's schema, not the deployment's",
                loc_of(conf, PIPELINE_SCHEMA_CONF) or loc_of(pipeline, "configuration"),
                f"resources.pipelines.{key}.configuration",
            )
    for key, job in ctx.bundle.iter_resources("jobs"):
        base = ctx.bundle.resource_files.get(("jobs", key), ctx.root / "databricks.yml").parent
        for index, task in enumerate(job.get("tasks") or []):
            spt = task.get("spark_python_task") if isinstance(task, dict) else None
            if not isinstance(spt, dict):
                continue
            raw = spt.get("parameters")
            params: list[Any] = raw if isinstance(raw, list) else []
            tpath = f"resources.jobs.{key}.tasks[{index}].spark_python_task.parameters"
            ploc = loc_of(spt, "parameters") or loc_of(job.get("tasks"), index)
            wanted = ["schema"]
            python_file = spt.get("python_file")
            if isinstance(python_file, str) and is_local(python_file):
                tree = parse(local_path(ctx, base, python_file))
                if tree is not None and imports_any(tree, SERVING_USERS):
                    wanted.append("serving_endpoint")
            for var in wanted:
                flag, value = NAMES[var], flag_value(params, NAMES[var])
                if value != f"${{var.{var}}}":
                    ctx.error(
                        "isolation",
                        f"task '{task.get('task_key')}' of job '{key}' passes {flag} {value!r}; pass "
                        f"{flag} ${{var.{var}}} so it uses the deployment's own name",
                        ploc,
                        tpath,
                    )


RULE = Rule("isolation", "Per-user dev isolation (schema, endpoint)", check_isolation)
