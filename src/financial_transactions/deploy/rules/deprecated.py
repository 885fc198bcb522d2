"""Deprecated fields: from the bundle schema's ``deprecated`` flags, else a built-in list."""

from __future__ import annotations

import re
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, walk
from financial_transactions.deploy.schema import BundleSchema

#: Used when no schema is at hand: (config path pattern, field, advice).
BUILTIN_DEPRECATED = (
    (re.compile(r"^resources\.pipelines\.[^.]+$"), "target", "use `schema` (with `catalog`) instead"),
    (re.compile(r"^resources\.pipelines\.[^.]+$"), "trigger", "schedule the pipeline from a job instead"),
    (re.compile(r"^$"), "environments", "use `targets` instead"),
    (re.compile(r"^targets\.[^.]+$"), "compute_id", "use `cluster_id` instead"),
    (re.compile(r"^resources\.jobs\.[^.]+\.tasks\[\d+\]$"), "spark_submit_task", "use spark_python_task"),
)


def check_deprecated(ctx: Ctx, inputs: RuleInputs) -> None:
    """Deprecated fields: from the schema's ``deprecated`` flags when available, else a built-in list."""
    cfg = ctx.bundle.config
    schema = inputs.schema
    if schema is not None:
        _walk_deprecated(ctx, schema, cfg, schema.document, "")
        return
    for path, value, _loc in [("", cfg, None), *walk(cfg)]:
        if not isinstance(value, dict):
            continue
        for pattern, field_name, advice in BUILTIN_DEPRECATED:
            if field_name in value and pattern.match(path):
                here = f"{path}.{field_name}" if path else field_name
                ctx.error("deprecated", f"`{field_name}` is deprecated: {advice}", loc_of(value, field_name), here)


def _walk_deprecated(ctx: Ctx, schema: BundleSchema, node: Any, node_schema: dict[str, Any], path: str) -> None:
    if isinstance(node, dict):
        branch = schema.object_branch(node_schema)
        if branch is None:
            return
        props = branch.get("properties", {})
        extra = branch.get("additionalProperties")
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            prop = props.get(key)
            if prop is None and isinstance(extra, dict):
                prop = extra
            if not isinstance(prop, dict):
                continue
            if key in props and (prop.get("deprecated") or prop.get("deprecationMessage")):
                advice = _deprecation_advice(here, prop)
                ctx.error("deprecated", f"`{key}` is deprecated: {advice}", loc_of(node, key), here)
            _walk_deprecated(ctx, schema, value, prop, here)
    elif isinstance(node, list):
        branch = schema.array_branch(node_schema)
        if branch is None or not isinstance(branch.get("items"), dict):
            return
        for index, item in enumerate(node):
            _walk_deprecated(ctx, schema, item, branch["items"], f"{path}[{index}]")


def _deprecation_advice(path: str, prop: dict[str, Any]) -> str:
    for pattern, field_name, advice in BUILTIN_DEPRECATED:
        head, _, last = path.rpartition(".")
        if last == field_name and pattern.match(head):
            return advice
    message = str(prop.get("deprecationMessage") or "")
    return message.rstrip(".") if message else "see the bundle schema"


RULE = Rule("deprecated", "No deprecated fields", check_deprecated)
