"""AI/BI dashboards: every dataset query names real tables and columns of the table catalogue.

A dashboard's queries run only when someone opens it in the workspace, so a renamed column shows up
as a broken widget in production. Here each dataset query of each ``resources.dashboards.*``
file is parsed (sqlglot, databricks dialect) and every table must be a catalogue table or a view
``setup_uc_infrastructure.sql`` creates, named unqualified (``dataset_catalog`` / ``dataset_schema``
set it per target), and every column one of those tables has.
https://docs.databricks.com/aws/en/dev-tools/bundles/resources#dashboard
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError

from financial_transactions.config import ConfigError, ProjectConfig
from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, suggest
from financial_transactions.deploy.rules.tables import UC_SQL, physical_names
from financial_transactions.lakehouse.catalog import CATALOG

_VIEW = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.`]*?\.?`?(?P<name>\w+)`?\s+"
    r"(?:COMMENT\s+'(?:[^']|'')*'\s+)?AS\s+SELECT\s+(?P<select>.+?)\s+FROM\s",
    re.IGNORECASE | re.DOTALL,
)


def _config(project_config: Path | None) -> ProjectConfig | None:
    if project_config is None or not project_config.is_file():
        return None
    try:
        raw = yaml.safe_load(project_config.read_text(encoding="utf-8"))
        envs = list((raw or {}).get("environments") or {})
        return ProjectConfig.from_yaml(project_config, str(envs[0])) if envs else None
    except (ConfigError, OSError, ValueError, AttributeError, yaml.YAMLError):
        return None


def known_columns(project_config: Path | None, sql: str | None) -> dict[str, set[str]]:
    """Table or view name -> its columns: the catalogue (under the config) and the setup SQL's views."""
    cfg = _config(project_config)
    names = physical_names(project_config)
    tables: dict[str, set[str]] = {}
    for physical, key in names.items():
        spec = CATALOG.get(key)
        if spec is not None:
            schema = spec.schema_for(cfg) if cfg is not None else spec.schema
            tables[physical] = set(schema.names)
    for match in _VIEW.finditer(sql or ""):
        columns = set()
        for part in match.group("select").split(","):
            tokens = part.strip().split()
            if tokens:
                columns.add(tokens[-1].strip("`").split(".")[-1])
        tables[match.group("name")] = columns
    return tables


def query_problems(query: str, tables: dict[str, set[str]]) -> list[str]:
    """What is wrong with one dataset query: unparsable, unknown or qualified tables, unknown columns."""
    try:
        parsed = sqlglot.parse_one(query, read="databricks")
    except ParseError as exc:
        return [f"does not parse: {str(exc).splitlines()[0]}"]
    problems: list[str] = []
    used: list[str] = []
    for table in parsed.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog"):
            problems.append(f"names {table.sql()} qualified: leave catalog and schema to dataset_catalog/_schema")
        if table.name not in tables:
            problems.append(f"reads {table.name!r}, which is no catalogue table or view{suggest(table.name, tables)}")
        else:
            used.append(table.name)
    available = set().union(*(tables[t] for t in used)) if used else set()
    aliases = {a.alias for a in parsed.find_all(exp.Alias)}
    for column in parsed.find_all(exp.Column):
        name = column.name
        if used and name not in available and name not in aliases:
            problems.append(f"selects {name!r}, which {', '.join(used)} does not have{suggest(name, available)}")
    return problems


def _dataset_query(dataset: dict[str, Any]) -> str:
    lines = dataset.get("queryLines")
    return "".join(lines) if isinstance(lines, list) else str(dataset.get("query", ""))


def check_dashboards(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each dashboard file parses; its datasets query the target's catalogue tables and their columns."""
    sql_path = ctx.root / UC_SQL
    tables = known_columns(inputs.project_config, sql_path.read_text(encoding="utf-8") if sql_path.is_file() else None)
    for key, dashboard in ctx.bundle.iter_resources("dashboards"):
        dpath = f"resources.dashboards.{key}"
        for field, var in (("dataset_catalog", "catalog"), ("dataset_schema", "schema")):
            if dashboard.get(field) != f"${{var.{var}}}":
                ctx.error(
                    "dashboards",
                    f"dashboard '{key}' sets {field} {dashboard.get(field)!r}; use ${{var.{var}}} so its queries "
                    "read the target's tables",
                    loc_of(dashboard, field) or loc_of(dashboard),
                    f"{dpath}.{field}",
                )
        file_path = dashboard.get("file_path")
        if not isinstance(file_path, str):
            continue
        base = ctx.bundle.resource_files.get(("dashboards", key), ctx.root / "databricks.yml").parent
        path = (base / file_path).resolve()
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            ctx.error("dashboards", f"dashboard '{key}': {file_path} cannot be read: {exc}", loc_of(dashboard), dpath)
            continue
        datasets = document.get("datasets") if isinstance(document, dict) else None
        if not datasets:
            ctx.error("dashboards", f"dashboard '{key}': {file_path} has no datasets", loc_of(dashboard), dpath)
            continue
        names = {d.get("name") for d in datasets if isinstance(d, dict)}
        for dataset in datasets:
            if not isinstance(dataset, dict):
                continue
            for problem in query_problems(_dataset_query(dataset), tables):
                ctx.error(
                    "dashboards",
                    f"dashboard '{key}' dataset {dataset.get('name')!r} {problem}",
                    loc_of(dashboard, "file_path"),
                    f"{dpath} ({file_path})",
                )
        for page in document.get("pages") or []:
            for item in page.get("layout") or [] if isinstance(page, dict) else []:
                widget = item.get("widget") if isinstance(item, dict) else None
                if not isinstance(widget, dict):
                    continue
                for query in widget.get("queries") or []:
                    name = (query.get("query") or {}).get("datasetName") if isinstance(query, dict) else None
                    if name is not None and name not in names:
                        ctx.error(
                            "dashboards",
                            f"dashboard '{key}' widget {widget.get('name')!r} uses dataset {name!r}, which it lacks",
                            loc_of(dashboard, "file_path"),
                            f"{dpath} ({file_path})",
                        )


RULE = Rule("dashboards", "AI/BI dashboards query real tables and columns", check_dashboards)
