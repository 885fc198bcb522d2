"""Tables as the platform serves them: no time travel on views, no masks on job tables, Serializable audits.

Three Databricks rules the embedded engine does not enforce, checked against the code the deployed
jobs run (the scripts the bundle names and what they import, read statically):

* a table the pipeline publishes as a materialized view has no Delta time travel, so no job may
  read it at a pinned version (https://docs.databricks.com/aws/en/ldp/limitations);
* a table with a row filter or column mask refuses ``DESCRIBE HISTORY`` and time travel
  (``ROW_LEVEL_SECURITY_COLUMN_MASK_FEATURE_NOT_SUPPORTED.*``, ``FGAC_*`` on dedicated compute;
  https://docs.databricks.com/aws/en/tables/row-and-column-filters#limitations), and every store
  write reads the table's history, so no table of the catalogue may carry one;
* a table written with conditional appends (``append_if_version``) needs
  ``delta.isolationLevel = 'Serializable'``: under the default WriteSerializable level a concurrent
  blind append does not conflict with the guarded insert
  (https://docs.databricks.com/aws/en/optimizations/isolation-level).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from financial_transactions.config import ConfigError, ProjectConfig
from financial_transactions.config.project import TablesConfig
from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, rel
from financial_transactions.deploy.loader import Location
from financial_transactions.deploy.sources import (
    PACKAGE,
    Module,
    method_calls,
    parse,
    pinned_reads,
    reachable,
    string_constants,
)
from financial_transactions.lakehouse.catalog import CATALOG, TableSpec

UC_SQL = "setup_uc_infrastructure.sql"
CATALOG_FILE = PACKAGE / "lakehouse" / "catalog.py"
#: The store implements time travel and conditional appends; it is not a caller of them.
IMPLEMENTATION = ("financial_transactions.lakehouse.store", "financial_transactions.deploy")
_MASK = re.compile(
    r"ALTER\s+TABLE\s+(?P<alter>[\w.`]+)\s+(?:ALTER\s+COLUMN\s+\S+\s+SET\s+MASK|SET\s+ROW\s+FILTER)"
    r"|CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<create>[\w.`]+)[^;]*?"
    r"(?:\bWITH\s+ROW\s+FILTER\b|\bMASK\s+[\w.`]+)",
    re.IGNORECASE | re.DOTALL,
)


def physical_names(project_config: Path | None) -> dict[str, str]:
    """Physical table name -> catalogue key, from ``project_config.yml`` (its first env) or the defaults."""
    tables = TablesConfig()
    if project_config is not None and project_config.is_file():
        try:
            raw = yaml.safe_load(project_config.read_text(encoding="utf-8"))
            envs = list((raw or {}).get("environments") or {})
            if envs:
                tables = ProjectConfig.from_yaml(project_config, str(envs[0])).tables
        except (ConfigError, OSError, ValueError, AttributeError):
            pass
    return {str(getattr(tables, key)): key for key in type(tables).model_fields}


def _resolve_name(
    node: ast.expr, assigned: Mapping[str, ast.expr], physical: Mapping[str, str], depth: int = 0
) -> str | None:
    """The catalogue key a dataset ``name=`` expression publishes, when it can be told statically."""
    if depth > 8:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return physical.get(node.value.split(".")[-1])
    if isinstance(node, ast.Name) and node.id in assigned:
        return _resolve_name(assigned[node.id], assigned, physical, depth + 1)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "table_name"  # DeclarativeSettings.table_name(key): the table's own name
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in physical.values()
    ):
        return str(node.args[0].value)
    return None


def materialized_views(source: Path, physical: Mapping[str, str]) -> dict[str, int]:
    """Catalogue key -> line, for each dataset the pipeline file publishes as a materialized view."""
    tree = parse(source)
    if tree is None:
        return {}
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            assigned[node.target.id] = node.value
    found: dict[str, int] = {}
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr != "materialized_view":
            continue
        name = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
        key = _resolve_name(name, assigned, physical) if name is not None else None
        if key is not None:
            found.setdefault(key, call.lineno)
    return found


def _pipeline_sources(ctx: Ctx) -> list[Path]:
    sources = []
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        base = ctx.bundle.resource_files.get(("pipelines", key), ctx.root / "databricks.yml").parent
        for lib in pipeline.get("libraries") or []:
            spec = lib.get("file") or lib.get("notebook") if isinstance(lib, dict) else None
            path = spec.get("path") if isinstance(spec, dict) else None
            if isinstance(path, str) and "${" not in path:
                candidate = (base / path).resolve()
                if candidate.suffix == "" and candidate.with_suffix(".py").is_file():
                    candidate = candidate.with_suffix(".py")
                if candidate.is_file():
                    sources.append(candidate)
    return sources


def _job_scripts(ctx: Ctx) -> list[Path]:
    scripts = []
    for key, job in ctx.bundle.iter_resources("jobs"):
        base = ctx.bundle.resource_files.get(("jobs", key), ctx.root / "databricks.yml").parent
        for task in job.get("tasks") or []:
            spt = task.get("spark_python_task") if isinstance(task, dict) else None
            path = spt.get("python_file") if isinstance(spt, dict) else None
            if isinstance(path, str) and "${" not in path and (base / path).resolve().is_file():
                scripts.append((base / path).resolve())
    return scripts


def deployed_modules(ctx: Ctx, package: Path = PACKAGE) -> tuple[Module, ...]:
    """The package modules the bundle's job scripts and pipeline files run (the store itself left out)."""
    trees = [t for t in (parse(p) for p in [*_job_scripts(ctx), *_pipeline_sources(ctx)]) if t is not None]
    return tuple(m for m in reachable(trees, package) if not m.name.startswith(IMPLEMENTATION))


def masked_tables(sql: str) -> dict[str, int]:
    """Table name (last part) -> line, for each table the SQL gives a column mask or row filter."""
    found: dict[str, int] = {}
    for match in _MASK.finditer(sql):
        name = (match.group("alter") or match.group("create") or "").replace("`", "").split(".")[-1]
        found.setdefault(name, sql.count("\n", 0, match.start()) + 1)
    return found


def conditional_writers(mods: tuple[Module, ...]) -> dict[str, tuple[Module, int]]:
    """Catalogue key -> (module, line) for each table its owning module writes with ``append_if_version``."""
    out: dict[str, tuple[Module, int]] = {}
    for module in mods:
        lines = method_calls(module.tree, "append_if_version")
        if not lines:
            continue
        for spec in CATALOG.values():
            if spec.owner == module.name or spec.owner.startswith(module.name + "."):
                out.setdefault(spec.key, (module, lines[0]))
    return out


def _catalog_line(key: str) -> Location | None:
    try:
        for number, line in enumerate(CATALOG_FILE.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip() == f'"{key}",':
                return (CATALOG_FILE, number)
    except OSError:
        return None
    return (CATALOG_FILE, 1)


def is_serializable(spec: TableSpec) -> bool:
    return str(spec.properties.get("delta.isolationLevel", "")).lower() == "serializable"


def check_tables(ctx: Ctx, inputs: RuleInputs) -> None:
    """Jobs never time travel a materialized view; no catalogue table is masked; conditional appends
    land in Serializable tables."""
    physical = physical_names(inputs.project_config)
    mods = deployed_modules(ctx)
    views: dict[str, tuple[Path, int]] = {}
    for source in _pipeline_sources(ctx):
        for key, line in materialized_views(source, physical).items():
            views.setdefault(key, (source, line))
    for module in mods:
        lines = pinned_reads(module.tree)
        if not lines:
            continue
        named = {text for text, _ in string_constants(module.tree) if text in CATALOG}
        for key in sorted(named & set(views)):
            source, line = views[key]
            ctx.error(
                "tables",
                f"{module.name} reads tables at a pinned Delta version (line {lines[0]}) and names {key!r}, "
                f"which the pipeline publishes as a materialized view: Delta time travel works on streaming "
                f"tables only; publish it under another name and snapshot it into a job-owned table",
                (source, line),
                f"pipeline dataset {key}",
            )
    sql_path = ctx.root / UC_SQL
    if sql_path.is_file():
        for table, line in masked_tables(sql_path.read_text(encoding="utf-8")).items():
            if table in physical:
                ctx.error(
                    "tables",
                    f"{table} gets a column mask or row filter, but the jobs read its history on every write "
                    "and time travel it; Databricks refuses both on masked tables "
                    "(ROW_LEVEL_SECURITY_COLUMN_MASK_FEATURE_NOT_SUPPORTED): mask in a view instead",
                    (sql_path, line),
                    f"{UC_SQL}",
                )
    for key, (module, line) in conditional_writers(mods).items():
        if not is_serializable(CATALOG[key]):
            ctx.error(
                "tables",
                f"{key} is written with append_if_version ({rel(ctx.root, module.path)}:{line}) but its catalogue "
                "properties lack delta.isolationLevel = 'Serializable'; under WriteSerializable a concurrent "
                "blind append does not conflict with the guarded insert",
                _catalog_line(key),
                f"lakehouse.catalog.{key}",
            )


RULE = Rule("tables", "Tables: no time travel on views, no masks, Serializable audits", check_tables)
