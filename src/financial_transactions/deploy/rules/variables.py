"""Variables and ``${...}`` references: declared, set per target, used, pointing at what the bundle defines."""

from __future__ import annotations

import re

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, suggest, walk
from financial_transactions.deploy.resolve import (
    INTERPOLATION,
    declared_variables,
    defined_resources,
    segments,
    target_views,
)

_SEGMENT = re.compile(r"^[A-Za-z_][\w-]*(\[\d+\])*$")

RESOURCE_KINDS = [
    "alerts",
    "apps",
    "catalogs",
    "clusters",
    "dashboards",
    "database_catalogs",
    "database_instances",
    "experiments",
    "external_locations",
    "genie_spaces",
    "instance_pools",
    "job_runs",
    "jobs",
    "model_serving_endpoints",
    "models",
    "pipelines",
    "postgres_branches",
    "postgres_catalogs",
    "postgres_databases",
    "postgres_endpoints",
    "postgres_projects",
    "postgres_roles",
    "postgres_synced_tables",
    "quality_monitors",
    "registered_models",
    "schemas",
    "secret_scopes",
    "secrets",
    "sql_warehouses",
    "synced_database_tables",
    "vector_search_endpoints",
    "vector_search_indexes",
    "volumes",
]
BUNDLE_FIELDS = {
    "name",
    "target",
    "environment",
    "git",
    "uuid",
    "compute_id",
    "cluster_id",
    "databricks_cli_version",
    "deployment",
    "engine",
    "mode",
}
WORKSPACE_FIELDS = {
    "host",
    "profile",
    "root_path",
    "file_path",
    "artifact_path",
    "resource_path",
    "state_path",
    "current_user",
    "client_id",
    "auth_type",
    "account_id",
    "workspace_id",
}


def check_variables(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each ``${...}`` names something that exists; each variable is declared, set per target and used."""
    cfg = ctx.bundle.config
    declared = declared_variables(cfg)
    defined = defined_resources(cfg)
    artifacts = cfg.get("artifacts")
    artifact_names = set(artifacts) if isinstance(artifacts, dict) else set()
    used: set[str] = set()
    for path, value, loc in walk(cfg):
        if not isinstance(value, str):
            continue
        for match in INTERPOLATION.finditer(value):
            expr = match.group(1)
            parts = segments(expr)
            if not all(_SEGMENT.match(s) for s in expr.split(".")):
                ctx.error("variables", f"malformed reference ${{{expr}}}", loc, path)
                continue
            root = parts[0]
            if root == "var":
                if len(parts) < 2:
                    ctx.error("variables", "reference ${var} names no variable", loc, path)
                    continue
                used.add(parts[1])
                if parts[1] not in declared:
                    ctx.error(
                        "variables",
                        f"undefined variable ${{var.{parts[1]}}}{suggest(parts[1], declared)}",
                        loc,
                        path,
                    )
            elif root == "resources":
                if len(parts) < 4:
                    ctx.error(
                        "references", f"${{{expr}}} must look like ${{resources.<kind>.<key>.<field>}}", loc, path
                    )
                elif parts[1] not in RESOURCE_KINDS:
                    ctx.error(
                        "references",
                        f"${{{expr}}}: unknown resource kind {parts[1]!r}{suggest(parts[1], RESOURCE_KINDS)}",
                        loc,
                        path,
                    )
                elif parts[2] not in defined.get(parts[1], set()):
                    known = sorted(defined.get(parts[1], set()))
                    ctx.error(
                        "references",
                        f"${{{expr}}} refers to {parts[1]} '{parts[2]}', which the bundle does not define "
                        f"(defined: {', '.join(known) or 'none'}){suggest(parts[2], known)}",
                        loc,
                        path,
                    )
            elif root == "bundle":
                if len(parts) < 2 or parts[1] not in BUNDLE_FIELDS:
                    ctx.error("references", f"${{{expr}}}: unknown bundle field", loc, path)
            elif root == "workspace":
                if len(parts) < 2 or parts[1] not in WORKSPACE_FIELDS:
                    ctx.error("references", f"${{{expr}}}: unknown workspace field", loc, path)
            elif root == "artifacts":
                if len(parts) < 2 or parts[1] not in artifact_names:
                    ctx.error("references", f"${{{expr}}}: no artifact named {parts[1:2]}", loc, path)
            else:
                ctx.error(
                    "references",
                    f"${{{expr}}}: unknown reference root {root!r} (use var, bundle, workspace, resources, artifacts)",
                    loc,
                    path,
                )
    targets = cfg.get("targets")
    views = target_views(cfg)
    for view in views:
        overrides = view.spec.get("variables")
        if isinstance(overrides, dict):
            for var in overrides:
                if var not in declared:
                    ctx.error(
                        "variables",
                        f"target '{view.name}' sets undeclared variable {var!r}{suggest(var, declared)}",
                        loc_of(overrides, var),
                        f"targets.{view.name}.variables.{var}",
                    )
        for var, definition in declared.items():
            if var == "catalog" or var in view.variables:
                continue
            if isinstance(definition, dict) and "lookup" in definition:
                continue
            ctx.error(
                "variables",
                f"variable {var!r} has no default and target '{view.name}' does not set it",
                loc_of(targets, view.name) if isinstance(targets, dict) else None,
                f"targets.{view.name}.variables",
            )
    for var, definition in declared.items():
        vloc = loc_of(cfg.get("variables"), var)
        if not isinstance(definition, dict):
            ctx.error(
                "variables", f"variable {var!r} must be a mapping (description/default)", vloc, f"variables.{var}"
            )
            continue
        default = definition.get("default")
        if isinstance(default, (dict, list)) and definition.get("type") != "complex":
            ctx.error(
                "variables",
                f"variable {var!r} has a {type(default).__name__} default, which needs `type: complex`",
                vloc,
                f"variables.{var}",
            )
        if not definition.get("description"):
            ctx.warn("variables", f"variable {var!r} has no description", vloc, f"variables.{var}")
        if var not in used:
            ctx.warn("variables", f"variable {var!r} is declared but never used", vloc, f"variables.{var}")


#: The variables step also reports unknown resource references, under one row.
RULE = Rule("variables", "Variables and ${...} references", check_variables)
