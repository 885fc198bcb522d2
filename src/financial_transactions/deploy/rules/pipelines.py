"""Pipelines: Unity Catalog publishing, a source, and a configuration the pipeline code really reads."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from financial_transactions.config.pipeline import EXPECTATION_CONFS, ExpectationsConfig, expectation_overrides
from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, suggest
from financial_transactions.deploy.resolve import unresolved

_PACKAGE = Path(__file__).resolve().parents[2]
#: Where the pipeline's Spark conf keys are defined (their ``CONF_*`` constants): the declarative
#: settings, and the expectation thresholds beside their bounds in the config.
PIPELINE_CONF_SOURCES = (_PACKAGE / "pipeline" / "declarative.py", _PACKAGE / "config" / "pipeline.py")


def pipeline_conf_keys(sources: tuple[Path, ...] = PIPELINE_CONF_SOURCES) -> set[str] | None:
    """The ``fin_mlops.*`` Spark conf keys the pipeline code reads (its ``CONF_*`` constants), read statically.

    None when a source cannot be read: an incomplete list would flag keys the code does read.
    """
    keys: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            return None
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
                continue
            if isinstance(node.value.value, str) and any(
                isinstance(t, ast.Name) and t.id.startswith("CONF_") for t in node.targets
            ):
                keys.add(node.value.value)
    return keys or None


def check_pipelines(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each pipeline publishes to a catalog and schema from a source, with configuration the code reads."""
    known = pipeline_conf_keys()
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        ppath = f"resources.pipelines.{key}"
        ploc = loc_of(pipeline)
        if not pipeline.get("catalog"):
            ctx.error("pipelines", f"pipeline '{key}' sets no catalog (Unity Catalog publishing)", ploc, ppath)
        if not pipeline.get("schema") and "target" not in pipeline:
            ctx.error("pipelines", f"pipeline '{key}' sets no schema", ploc, ppath)
        if not pipeline.get("libraries"):
            ctx.error("pipelines", f"pipeline '{key}' has no libraries (its source)", ploc, ppath)
        conf = pipeline.get("configuration")
        if known is not None and isinstance(conf, dict):
            for name in conf:
                if str(name).startswith("fin_mlops.") and name not in known:
                    ctx.error(
                        "pipelines",
                        f"pipeline '{key}' sets {name!r}, which the pipeline code never reads "
                        f"(it reads {', '.join(sorted(known))}){suggest(str(name), known)}",
                        loc_of(conf, str(name)),
                        f"{ppath}.configuration.{name}",
                    )
        if isinstance(conf, dict):
            _check_thresholds(ctx, key, conf, f"{ppath}.configuration")


def _check_thresholds(ctx: Ctx, key: str, conf: dict[str, Any], cpath: str) -> None:
    """Literal expectation thresholds must pass the bounds the pipeline applies when it starts."""
    for name in EXPECTATION_CONFS:
        value = conf.get(name)
        if value is None or unresolved(value):
            continue
        try:
            expectation_overrides(ExpectationsConfig(), {name: str(value)})
        except ValueError as exc:
            detail = str(exc).split(": ", 2)[-1]
            ctx.error("pipelines", f"pipeline '{key}': {detail}", loc_of(conf, name), f"{cpath}.{name}")


RULE = Rule("pipelines", "Pipelines publish to catalog + schema", check_pipelines)
