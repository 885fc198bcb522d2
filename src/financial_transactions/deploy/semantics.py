"""Checks the bundle JSON schema cannot express.

Each function takes the loaded bundle and returns findings. They are run on the
merged configuration once, and target-dependent rules (catalog, pause status)
per target; identical findings from several targets are reported once.
"""

from __future__ import annotations

import ast
import difflib
import glob
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from financial_transactions.deploy.cron import CronError, validate_quartz
from financial_transactions.deploy.findings import Finding, Severity
from financial_transactions.deploy.loader import LoadedBundle, Location, LocDict, LocList

#: ``${root.a.b}`` references resolved by the CLI at deploy time.
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
#: ``{{...}}`` dynamic value references resolved by the Jobs service at run time.
DYNAMIC = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
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
#: Used when no schema is at hand: (config path pattern, field, advice).
BUILTIN_DEPRECATED = (
    (re.compile(r"^resources\.pipelines\.[^.]+$"), "target", "use `schema` (with `catalog`) instead"),
    (re.compile(r"^resources\.pipelines\.[^.]+$"), "trigger", "schedule the pipeline from a job instead"),
    (re.compile(r"^$"), "environments", "use `targets` instead"),
    (re.compile(r"^targets\.[^.]+$"), "compute_id", "use `cluster_id` instead"),
    (re.compile(r"^resources\.jobs\.[^.]+\.tasks\[\d+\]$"), "spark_submit_task", "use spark_python_task"),
)
TASK_TYPES = [
    "ai_runtime_task",
    "alert_task",
    "clean_rooms_notebook_task",
    "condition_task",
    "dashboard_task",
    "dbt_cloud_task",
    "dbt_platform_task",
    "dbt_task",
    "for_each_task",
    "gen_ai_compute_task",
    "notebook_task",
    "pipeline_task",
    "power_bi_task",
    "python_operator_task",
    "python_wheel_task",
    "run_job_task",
    "spark_jar_task",
    "spark_python_task",
    "spark_submit_task",
    "sql_task",
]
#: Task types that run Python/JVM code and so need compute (a cluster or a serverless environment).
COMPUTE_TASKS = ("python_wheel_task", "spark_python_task", "spark_jar_task")
PRODUCTION_TARGET_NAMES = ("prd", "prod", "production")
_SECRET_NAME = re.compile(r"(api[-_]?key|token|secret|password|passwd|credential|private[-_]?key)", re.IGNORECASE)
_SECRET_REF = re.compile(r"^\{\{secrets/([A-Za-z0-9_.\-]+|\$\{var\.[\w-]+\})/[A-Za-z0-9_.\-]+\}\}$")
_REMOTE_PREFIXES = ("/", "dbfs:", "s3:", "s3a:", "abfss:", "gs:", "wasbs:", "file:", "http:", "https:")


def rel(root: Path, file: Path) -> str:
    try:
        return str(file.resolve().relative_to(root))
    except ValueError:
        return str(file)


@dataclass
class Ctx:
    """What every check needs: the bundle, and a way to emit findings located in it."""

    bundle: LoadedBundle
    findings: list[Finding] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.bundle.root

    def add(self, check: str, severity: Severity, message: str, loc: Location | None, path: str | None) -> None:
        file, line = (rel(self.root, loc[0]), loc[1]) if loc else (None, None)
        finding = Finding(check, severity, message, file, line or None, path)
        if finding not in self.findings:
            self.findings.append(finding)

    def error(self, check: str, message: str, loc: Location | None = None, path: str | None = None) -> None:
        self.add(check, "error", message, loc, path)

    def warn(self, check: str, message: str, loc: Location | None = None, path: str | None = None) -> None:
        self.add(check, "warning", message, loc, path)


# --------------------------------------------------------------------------- walking


def walk(node: Any, path: str = "", loc: Location | None = None) -> Iterator[tuple[str, Any, Location | None]]:
    """Every (path, value, location) below ``node``, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            where = node.loc(key) if isinstance(node, LocDict) else loc
            yield here, value, where
            yield from walk(value, here, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            here = f"{path}[{index}]"
            where = node.loc(index) if isinstance(node, LocList) else loc
            yield here, value, where
            yield from walk(value, here, where)


def loc_of(node: Any, key: str | int | None = None) -> Location | None:
    if isinstance(node, LocDict):
        return node.loc(key if isinstance(key, str) else None)
    if isinstance(node, LocList):
        return node.loc(key if isinstance(key, int) else None)
    return None


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _segments(expr: str) -> list[str]:
    return [re.sub(r"\[\d+\]$", "", s) for s in expr.split(".")]


# --------------------------------------------------------------------------- targets


@dataclass
class TargetView:
    name: str
    spec: LocDict | dict[str, Any]
    variables: dict[str, Any]
    explicit: set[str]

    @property
    def mode(self) -> str | None:
        mode = self.spec.get("mode")
        return mode if isinstance(mode, str) else None

    @property
    def is_production(self) -> bool:
        return self.mode == "production" or self.name in PRODUCTION_TARGET_NAMES


def declared_variables(cfg: LocDict) -> dict[str, Any]:
    variables = cfg.get("variables")
    return dict(variables) if isinstance(variables, dict) else {}


def target_views(cfg: LocDict) -> list[TargetView]:
    declared = declared_variables(cfg)
    targets = cfg.get("targets")
    names = list(targets) if isinstance(targets, dict) and targets else ["default"]
    views = []
    for name in names:
        spec = targets.get(name) if isinstance(targets, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        values: dict[str, Any] = {}
        for var, definition in declared.items():
            if isinstance(definition, dict) and "default" in definition:
                values[var] = definition["default"]
        explicit: set[str] = set()
        overrides = spec.get("variables")
        if isinstance(overrides, dict):
            for var, value in overrides.items():
                explicit.add(var)
                if isinstance(value, dict) and "default" in value:
                    values[var] = value["default"]
                elif isinstance(value, dict) and "lookup" in value:
                    values[var] = f"<lookup {var}>"
                else:
                    values[var] = value
        views.append(TargetView(name, spec, values, explicit))
    return views


def resolve(value: Any, view: TargetView, bundle_name: str = "") -> Any:
    """Substitute ``${var.x}``, ``${bundle.target}``, ``${bundle.name}`` with the target's values."""
    if isinstance(value, dict):
        return {k: resolve(v, view, bundle_name) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, view, bundle_name) for v in value]
    if not isinstance(value, str):
        return value
    for _ in range(8):
        match = re.fullmatch(r"\$\{var\.([\w-]+)\}", value)
        if match and match.group(1) in view.variables and not isinstance(view.variables[match.group(1)], str):
            return view.variables[match.group(1)]  # a complex variable used whole

        def sub(m: re.Match[str]) -> str:
            parts = _segments(m.group(1))
            if parts[0] == "var" and len(parts) == 2 and parts[1] in view.variables:
                return str(view.variables[parts[1]])
            if parts == ["bundle", "target"]:
                return view.name
            if parts == ["bundle", "name"] and bundle_name:
                return bundle_name
            return m.group(0)

        new = INTERPOLATION.sub(sub, value)
        if new == value:
            break
        value = new
    return value


def unresolved(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def check_targets(ctx: Ctx, project_config: Path | None) -> None:
    cfg = ctx.bundle.config
    targets = cfg.get("targets")
    if not isinstance(targets, dict) or not targets:
        ctx.error("targets", "the bundle defines no targets (expected dev, acc and prd)", cfg.loc(), "targets")
        return
    defaults = [name for name, spec in targets.items() if isinstance(spec, dict) and spec.get("default") is True]
    if len(defaults) > 1:
        ctx.error("targets", f"more than one default target: {', '.join(defaults)}", loc_of(targets), "targets")
    envs = _config_environments(project_config)
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    for view in target_views(cfg):
        tpath = f"targets.{view.name}"
        tloc = loc_of(targets, view.name)
        # catalog: set explicitly per target
        if "catalog" not in declared_variables(cfg):
            ctx.error("targets", "the bundle declares no `catalog` variable", cfg.loc("variables"), "variables")
        elif "catalog" not in view.explicit:
            ctx.error("targets", f"target '{view.name}' does not set variable `catalog`", tloc, tpath)
        else:
            catalog = resolve(view.variables.get("catalog"), view, bundle_name)
            if not isinstance(catalog, str) or not catalog.strip() or unresolved(catalog):
                ctx.error("targets", f"target '{view.name}' sets an empty catalog ({catalog!r})", tloc, tpath)
            elif envs is not None and view.name in envs and envs[view.name].get("catalog") not in (None, catalog):
                ctx.error(
                    "targets",
                    f"target '{view.name}' uses catalog {catalog!r} but project_config.yml says "
                    f"{envs[view.name].get('catalog')!r} for env '{view.name}'",
                    tloc,
                    tpath,
                )
        if envs is not None and view.name not in envs:
            ctx.error(
                "targets",
                f"target '{view.name}' is not an env of project_config.yml (envs: {', '.join(sorted(envs))}); "
                "tasks pass --env ${bundle.target}",
                tloc,
                tpath,
            )
        workspace = view.spec.get("workspace")
        host = workspace.get("host") if isinstance(workspace, dict) else None
        if not isinstance(host, str) or not host.strip():
            ctx.error("targets", f"target '{view.name}' sets no workspace.host", tloc, tpath)
        elif not host.startswith("https://"):
            ctx.error("targets", f"target '{view.name}' workspace.host {host!r} must start with https://", tloc, tpath)
        if view.is_production:
            if view.mode != "production":
                ctx.error("targets", f"production target '{view.name}' must set `mode: production`", tloc, tpath)
            if not isinstance(view.spec.get("run_as"), dict):
                ctx.error("targets", f"production target '{view.name}' must run as a service principal", tloc, tpath)
            if not (isinstance(workspace, dict) and workspace.get("root_path")):
                ctx.error(
                    "targets", f"production target '{view.name}' must set a fixed workspace.root_path", tloc, tpath
                )
        _check_pause_status(ctx, view, bundle_name)


def _config_environments(project_config: Path | None) -> dict[str, dict[str, Any]] | None:
    if project_config is None or not project_config.is_file():
        return None
    try:
        data = yaml.safe_load(project_config.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    envs = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(envs, dict):
        return None
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in envs.items()}


def _job_overrides(view: TargetView, key: str) -> dict[str, Any]:
    resources = view.spec.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("jobs"), dict):
        override = resources["jobs"].get(key)
        if isinstance(override, dict):
            return override
    return {}


def _check_pause_status(ctx: Ctx, view: TargetView, bundle_name: str) -> None:
    presets = view.spec.get("presets")
    preset_pause = presets.get("trigger_pause_status") if isinstance(presets, dict) else None
    preset_pause = resolve(preset_pause, view, bundle_name)
    for key, job in ctx.bundle.iter_resources("jobs"):
        override = _job_overrides(view, key)
        for trigger in ("schedule", "trigger", "continuous"):
            spec = override.get(trigger) if trigger in override else job.get(trigger)
            if not isinstance(spec, dict):
                continue
            explicit = resolve(spec.get("pause_status"), view, bundle_name)
            if explicit in ("PAUSED", "UNPAUSED"):
                effective = explicit
            elif explicit is not None:
                ctx.error(
                    "targets",
                    f"job '{key}' {trigger}.pause_status resolves to {explicit!r} in target '{view.name}' "
                    "(expected PAUSED or UNPAUSED)",
                    loc_of(spec, "pause_status"),
                    f"resources.jobs.{key}.{trigger}.pause_status",
                )
                continue
            elif view.mode == "development" or preset_pause == "PAUSED":
                effective = "PAUSED"
            else:
                effective = "UNPAUSED"
            if effective == "UNPAUSED" and not view.is_production:
                ctx.error(
                    "targets",
                    f"job '{key}' {trigger} runs unpaused in non-production target '{view.name}'; "
                    "schedules must be paused outside prd",
                    loc_of(spec, "pause_status") or loc_of(job, trigger),
                    f"resources.jobs.{key}.{trigger}",
                )
            elif effective == "PAUSED" and view.is_production:
                ctx.warn(
                    "targets",
                    f"job '{key}' {trigger} is paused in production target '{view.name}'",
                    loc_of(spec, "pause_status") or loc_of(job, trigger),
                    f"resources.jobs.{key}.{trigger}",
                )


# --------------------------------------------------------------------------- variables and references


def _defined_resources(cfg: LocDict) -> dict[str, set[str]]:
    defined: dict[str, set[str]] = {}
    sources = [cfg.get("resources")]
    targets = cfg.get("targets")
    if isinstance(targets, dict):
        sources += [t.get("resources") for t in targets.values() if isinstance(t, dict)]
    for resources in sources:
        if isinstance(resources, dict):
            for kind, group in resources.items():
                if isinstance(group, dict):
                    defined.setdefault(kind, set()).update(group)
    return defined


def check_variables(ctx: Ctx) -> None:
    cfg = ctx.bundle.config
    declared = declared_variables(cfg)
    defined = _defined_resources(cfg)
    artifacts = cfg.get("artifacts")
    artifact_names = set(artifacts) if isinstance(artifacts, dict) else set()
    used: set[str] = set()
    for path, value, loc in walk(cfg):
        if not isinstance(value, str):
            continue
        for match in INTERPOLATION.finditer(value):
            expr = match.group(1)
            parts = _segments(expr)
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
                        f"undefined variable ${{var.{parts[1]}}}{_suggest(parts[1], declared)}",
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
                        f"${{{expr}}}: unknown resource kind {parts[1]!r}{_suggest(parts[1], RESOURCE_KINDS)}",
                        loc,
                        path,
                    )
                elif parts[2] not in defined.get(parts[1], set()):
                    known = sorted(defined.get(parts[1], set()))
                    ctx.error(
                        "references",
                        f"${{{expr}}} refers to {parts[1]} '{parts[2]}', which the bundle does not define "
                        f"(defined: {', '.join(known) or 'none'}){_suggest(parts[2], known)}",
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
                        f"target '{view.name}' sets undeclared variable {var!r}{_suggest(var, declared)}",
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


# --------------------------------------------------------------------------- files


def _artifact_outputs(ctx: Ctx) -> list[Path]:
    outputs = []
    artifacts = ctx.bundle.config.get("artifacts")
    if isinstance(artifacts, dict):
        for name, spec in artifacts.items():
            if not isinstance(spec, dict):
                continue
            base = (ctx.root / str(spec.get("path", "."))).resolve()
            if not base.is_dir():
                ctx.error(
                    "files",
                    f"artifact '{name}' path {spec.get('path')!r} is not a directory",
                    loc_of(spec, "path"),
                    f"artifacts.{name}.path",
                )
            if spec.get("type", "whl") == "whl":
                outputs.append(base / "dist")
            files = spec.get("files")
            if isinstance(files, list):
                for entry in files:
                    if isinstance(entry, dict) and isinstance(entry.get("source"), str):
                        outputs.append((base / entry["source"]).parent)
    return outputs


def _is_local(value: str) -> bool:
    if value.startswith("${workspace.file_path}/"):
        return True
    return not (value.startswith(_REMOTE_PREFIXES) or "${" in value or "{{" in value)


def _local_path(ctx: Ctx, base: Path, value: str) -> Path:
    if value.startswith("${workspace.file_path}/"):
        return (ctx.root / value[len("${workspace.file_path}/") :]).resolve()
    return (base / value).resolve()


def _check_path(
    ctx: Ctx,
    value: Any,
    base: Path,
    loc: Location | None,
    path: str,
    *,
    what: str,
    produced: list[Path],
    directory: bool = False,
    notebook: bool = False,
) -> None:
    if not isinstance(value, str) or not value or not _is_local(value):
        return
    target = _local_path(ctx, base, value)
    try:
        target.relative_to(ctx.root)
    except ValueError:
        ctx.error("files", f"{what} {value!r} points outside the bundle root", loc, path)
        return
    if any(ch in value for ch in "*?["):
        if glob.glob(str(target), recursive=True):
            return
        if any(_under(target, out) for out in produced):
            return  # made by an artifact build (e.g. dist/*.whl)
        ctx.error("files", f"{what} {value!r} matches no file", loc, path)
        return
    if any(_under(target, out) for out in produced) and not target.exists():
        return
    if directory:
        if not target.is_dir():
            ctx.error("files", f"{what} {value!r} is not a directory", loc, path)
        return
    if target.is_file():
        return
    if notebook and any(target.with_suffix(s).is_file() for s in (".py", ".ipynb", ".sql", ".scala", ".r")):
        return
    ctx.error("files", f"{what} {value!r} does not exist (looked for {rel(ctx.root, target)})", loc, path)


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _looks_like_path(dep: str) -> bool:
    return dep.startswith(("./", "../", "/", "${workspace.file_path}")) or dep.endswith((".whl", ".txt", ".jar"))


def check_files(ctx: Ctx) -> None:
    bundle = ctx.bundle
    produced = _artifact_outputs(ctx)
    for pattern, matches in bundle.includes.items():
        if not matches:
            includes = bundle.config.get("include")
            index = includes.index(pattern) if isinstance(includes, list) else None
            ctx.error("files", f"include glob {pattern!r} matches no file", loc_of(includes, index), "include")
    for key, job in bundle.iter_resources("jobs"):
        base = bundle.resource_files.get(("jobs", key), bundle.root / "databricks.yml").parent
        jpath = f"resources.jobs.{key}"
        tasks = job.get("tasks")
        for index, task in enumerate(tasks if isinstance(tasks, list) else []):
            if not isinstance(task, dict):
                continue
            tpath = f"{jpath}.tasks[{index}]"
            spt = task.get("spark_python_task")
            if isinstance(spt, dict) and spt.get("source") != "GIT":
                _check_path(
                    ctx,
                    spt.get("python_file"),
                    base,
                    loc_of(spt, "python_file"),
                    f"{tpath}.spark_python_task.python_file",
                    what="python_file",
                    produced=produced,
                )
            nbt = task.get("notebook_task")
            if isinstance(nbt, dict) and nbt.get("source") != "GIT":
                _check_path(
                    ctx,
                    nbt.get("notebook_path"),
                    base,
                    loc_of(nbt, "notebook_path"),
                    f"{tpath}.notebook_task.notebook_path",
                    what="notebook",
                    produced=produced,
                    notebook=True,
                )
            sqlt = task.get("sql_task")
            if isinstance(sqlt, dict) and isinstance(sqlt.get("file"), dict):
                _check_path(
                    ctx,
                    sqlt["file"].get("path"),
                    base,
                    loc_of(sqlt["file"], "path"),
                    f"{tpath}.sql_task.file.path",
                    what="SQL file",
                    produced=produced,
                )
            libraries = task.get("libraries")
            for li, lib in enumerate(libraries if isinstance(libraries, list) else []):
                if isinstance(lib, dict):
                    for kind in ("whl", "jar", "requirements", "egg"):
                        if kind in lib:
                            _check_path(
                                ctx,
                                lib[kind],
                                base,
                                loc_of(lib, kind),
                                f"{tpath}.libraries[{li}].{kind}",
                                what=f"{kind} library",
                                produced=produced,
                            )
        envs = job.get("environments")
        for ei, env in enumerate(envs if isinstance(envs, list) else []):
            spec = env.get("spec") if isinstance(env, dict) else None
            deps = spec.get("dependencies") if isinstance(spec, dict) else None
            for di, dep in enumerate(deps if isinstance(deps, list) else []):
                if isinstance(dep, str) and _looks_like_path(dep):
                    _check_path(
                        ctx,
                        dep,
                        base,
                        loc_of(deps, di),
                        f"{jpath}.environments[{ei}].spec.dependencies[{di}]",
                        what="environment dependency",
                        produced=produced,
                    )
    for key, pipeline in bundle.iter_resources("pipelines"):
        base = bundle.resource_files.get(("pipelines", key), bundle.root / "databricks.yml").parent
        ppath = f"resources.pipelines.{key}"
        if "root_path" in pipeline:
            _check_path(
                ctx,
                pipeline.get("root_path"),
                base,
                loc_of(pipeline, "root_path"),
                f"{ppath}.root_path",
                what="root_path",
                produced=produced,
                directory=True,
            )
        libraries = pipeline.get("libraries")
        for li, lib in enumerate(libraries if isinstance(libraries, list) else []):
            if not isinstance(lib, dict):
                continue
            for kind, field_name, nb in (
                ("file", "path", False),
                ("notebook", "path", True),
                ("glob", "include", False),
            ):
                spec = lib.get(kind)
                if isinstance(spec, dict):
                    _check_path(
                        ctx,
                        spec.get(field_name),
                        base,
                        loc_of(spec, field_name),
                        f"{ppath}.libraries[{li}].{kind}.{field_name}",
                        what=f"pipeline {kind}",
                        produced=produced,
                        notebook=nb,
                    )
        env = pipeline.get("environment")
        deps = env.get("dependencies") if isinstance(env, dict) else None
        for di, dep in enumerate(deps if isinstance(deps, list) else []):
            if isinstance(dep, str) and _looks_like_path(dep):
                _check_path(
                    ctx,
                    dep,
                    base,
                    loc_of(deps, di),
                    f"{ppath}.environment.dependencies[{di}]",
                    what="pipeline dependency",
                    produced=produced,
                )
    # any "${workspace.file_path}/x" string names a synced file
    for path, value, loc in walk(bundle.config):
        if isinstance(value, str) and value.startswith("${workspace.file_path}/") and ".libraries" not in path:
            if "python_file" in path or "dependencies" in path:
                continue  # checked above with a better message
            _check_path(ctx, value, bundle.root, loc, path, what="synced file", produced=produced)


# --------------------------------------------------------------------------- tasks


def _task_refs(value: Any) -> Iterator[str]:
    for _path, item, _loc in [("", value, None), *walk(value)]:
        if isinstance(item, str):
            for match in DYNAMIC.finditer(item):
                yield match.group(1)


def check_tasks(ctx: Ctx) -> None:
    defined_jobs = _defined_resources(ctx.bundle.config).get("jobs", set())
    for key, job in ctx.bundle.iter_resources("jobs"):
        jpath = f"resources.jobs.{key}"
        tasks = job.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            ctx.error("tasks", f"job '{key}' has no tasks", loc_of(job), jpath)
            continue
        by_key: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, task in enumerate(tasks):
            if not isinstance(task, dict) or not isinstance(task.get("task_key"), str):
                continue
            if task["task_key"] in by_key:
                ctx.error(
                    "tasks",
                    f"job '{key}' has two tasks named {task['task_key']!r}",
                    loc_of(tasks, index),
                    f"{jpath}.tasks[{index}]",
                )
            by_key.setdefault(task["task_key"], (index, task))
        clusters = {c.get("job_cluster_key") for c in job.get("job_clusters") or [] if isinstance(c, dict)}
        environments = {e.get("environment_key") for e in job.get("environments") or [] if isinstance(e, dict)}
        parameters = {p.get("name") for p in job.get("parameters") or [] if isinstance(p, dict)}
        edges: dict[str, list[str]] = {}
        for task_key, (index, task) in by_key.items():
            tpath = f"{jpath}.tasks[{index}]"
            tloc = loc_of(tasks, index)
            kinds = [k for k in TASK_TYPES if k in task]
            if len(kinds) != 1:
                what = "no task type" if not kinds else f"several task types ({', '.join(kinds)})"
                ctx.error("tasks", f"task '{task_key}' of job '{key}' has {what}", tloc, tpath)
            deps = task.get("depends_on")
            edges[task_key] = []
            for di, dep in enumerate(deps if isinstance(deps, list) else []):
                upstream = dep.get("task_key") if isinstance(dep, dict) else None
                dloc = loc_of(deps, di)
                if upstream == task_key:
                    ctx.error(
                        "tasks", f"task '{task_key}' of job '{key}' depends on itself", dloc, f"{tpath}.depends_on"
                    )
                    continue
                if upstream not in by_key:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' depends on unknown task {upstream!r}"
                        f"{_suggest(str(upstream), by_key)}",
                        dloc,
                        f"{tpath}.depends_on[{di}]",
                    )
                    continue
                edges[task_key].append(str(upstream))
                outcome = dep.get("outcome")
                if outcome is not None:
                    if "condition_task" not in by_key[str(upstream)][1]:
                        ctx.error(
                            "tasks",
                            f"task '{task_key}' sets outcome on '{upstream}', which is not a condition_task",
                            dloc,
                            f"{tpath}.depends_on[{di}]",
                        )
                    elif str(outcome) not in ("true", "false"):
                        ctx.error(
                            "tasks", f'outcome {outcome!r} must be "true" or "false"', dloc, f"{tpath}.depends_on[{di}]"
                        )
            if any(k in task for k in COMPUTE_TASKS):
                compute = [
                    k for k in ("job_cluster_key", "existing_cluster_id", "new_cluster", "environment_key") if k in task
                ]
                if not compute:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' has no compute (job_cluster_key, "
                        "existing_cluster_id, new_cluster or environment_key)",
                        tloc,
                        tpath,
                    )
                elif len(compute) > 1:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' sets several computes: {', '.join(compute)}",
                        tloc,
                        tpath,
                    )
            if "job_cluster_key" in task and task["job_cluster_key"] not in clusters:
                ctx.error(
                    "tasks",
                    f"task '{task_key}' uses job cluster {task['job_cluster_key']!r}, which job "
                    f"'{key}' does not define",
                    loc_of(task, "job_cluster_key"),
                    tpath,
                )
            if "environment_key" in task:
                if task["environment_key"] not in environments:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' uses environment {task['environment_key']!r}, which job "
                        f"'{key}' does not define",
                        loc_of(task, "environment_key"),
                        tpath,
                    )
                if task.get("libraries"):
                    ctx.error(
                        "tasks",
                        f"serverless task '{task_key}' sets libraries; put them in the environment's dependencies",
                        loc_of(task, "libraries"),
                        tpath,
                    )
            run_job = task.get("run_job_task")
            if isinstance(run_job, dict):
                job_id = run_job.get("job_id")
                match = re.fullmatch(r"\$\{resources\.jobs\.([\w-]+)\.id\}", str(job_id))
                if match and match.group(1) == key:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' starts its own job",
                        loc_of(run_job, "job_id"),
                        f"{tpath}.run_job_task.job_id",
                    )
                elif not match and not isinstance(job_id, int):
                    ctx.error(
                        "tasks",
                        f"run_job_task.job_id {job_id!r} should be ${{resources.jobs.<key>.id}} "
                        f"(jobs: {', '.join(sorted(defined_jobs))})",
                        loc_of(run_job, "job_id"),
                        f"{tpath}.run_job_task.job_id",
                    )
        _check_cycles(ctx, key, jpath, tasks, by_key, edges)
        ancestors = _ancestors(edges)
        for task_key, (index, task) in by_key.items():
            tpath = f"{jpath}.tasks[{index}]"
            for ref in _task_refs({k: v for k, v in task.items() if k != "depends_on"}):
                parts = ref.split(".")
                if parts[0] == "tasks" and len(parts) >= 3:
                    upstream = parts[1]
                    if upstream not in by_key:
                        ctx.error(
                            "tasks",
                            f"{{{{{ref}}}}} refers to unknown task {upstream!r}{_suggest(upstream, by_key)}",
                            loc_of(tasks, index),
                            tpath,
                        )
                    elif upstream not in ancestors.get(task_key, set()):
                        ctx.error(
                            "tasks",
                            f"task '{task_key}' reads {{{{{ref}}}}} but does not depend on "
                            f"'{upstream}' (add it to depends_on)",
                            loc_of(tasks, index),
                            tpath,
                        )
                elif parts[:2] == ["job", "parameters"] and len(parts) >= 3 and parts[2] not in parameters:
                    ctx.error(
                        "tasks",
                        f"{{{{{ref}}}}}: job '{key}' has no parameter {parts[2]!r}",
                        loc_of(tasks, index),
                        tpath,
                    )


def _check_cycles(
    ctx: Ctx,
    key: str,
    jpath: str,
    tasks: list[Any],
    by_key: dict[str, tuple[int, dict[str, Any]]],
    edges: dict[str, list[str]],
) -> None:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(edges, white)
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        color[node] = grey
        stack.append(node)
        for nxt in edges.get(node, []):
            if color.get(nxt) == grey:
                cycle = stack[stack.index(nxt) :]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    first = min(cycle, key=lambda k: by_key[k][0])
                    # edges point downstream -> upstream; show the run order, starting at the first task
                    run_order = list(reversed(cycle))
                    start = run_order.index(first)
                    ordered = run_order[start:] + run_order[:start]
                    chain = " -> ".join([*ordered, first])
                    index = by_key[first][0]
                    ctx.error(
                        "tasks",
                        f"job '{key}' has a dependency cycle: {chain}",
                        loc_of(tasks, index),
                        f"{jpath}.tasks[{index}].depends_on",
                    )
            elif color.get(nxt) == white:
                visit(nxt, stack)
        stack.pop()
        color[node] = black

    for node in sorted(edges, key=lambda k: by_key[k][0]):
        if color[node] == white:
            visit(node, [])


def _ancestors(edges: dict[str, list[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for start in edges:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(edges.get(node, []))
        out[start] = seen
    return out


# --------------------------------------------------------------------------- schedules


def check_schedules(ctx: Ctx) -> None:
    cfg = ctx.bundle.config
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    views = target_views(cfg)
    for key, job in ctx.bundle.iter_resources("jobs"):
        schedule = job.get("schedule")
        if not isinstance(schedule, dict):
            continue
        spath = f"resources.jobs.{key}.schedule"
        seen: set[str] = set()
        for view in views:
            expr = resolve(schedule.get("quartz_cron_expression"), view, bundle_name)
            if not isinstance(expr, str) or unresolved(expr) or expr in seen:
                continue
            seen.add(expr)
            try:
                validate_quartz(expr)
            except CronError as exc:
                ctx.error(
                    "cron",
                    f"job '{key}': invalid Quartz cron: {exc}",
                    loc_of(schedule, "quartz_cron_expression"),
                    f"{spath}.quartz_cron_expression",
                )
        zone = schedule.get("timezone_id")
        if isinstance(zone, str) and not unresolved(zone):
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                ctx.error(
                    "cron",
                    f"job '{key}': unknown timezone_id {zone!r}",
                    loc_of(schedule, "timezone_id"),
                    f"{spath}.timezone_id",
                )


# --------------------------------------------------------------------------- deprecated fields


def check_deprecated(ctx: Ctx, schema: Any | None) -> None:
    """Deprecated fields: from the schema's ``deprecated`` flags when available, else a built-in list."""
    cfg = ctx.bundle.config
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


def _walk_deprecated(ctx: Ctx, schema: Any, node: Any, node_schema: dict[str, Any], path: str) -> None:
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


# --------------------------------------------------------------------------- pipelines


DECLARATIVE_SETTINGS = Path(__file__).resolve().parent.parent / "dlt" / "declarative.py"


def pipeline_conf_keys(source: Path = DECLARATIVE_SETTINGS) -> set[str] | None:
    """The ``fin_mlops.*`` Spark conf keys the pipeline code reads (its ``CONF_*`` constants), read statically."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    keys: set[str] = set()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
            continue
        if isinstance(node.value.value, str) and any(
            isinstance(t, ast.Name) and t.id.startswith("CONF_") for t in node.targets
        ):
            keys.add(node.value.value)
    return keys or None


def check_pipelines(ctx: Ctx) -> None:
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
                        f"(it reads {', '.join(sorted(known))}){_suggest(str(name), known)}",
                        loc_of(conf, str(name)),
                        f"{ppath}.configuration.{name}",
                    )
        if isinstance(conf, dict):
            _check_thresholds(ctx, key, conf, f"{ppath}.configuration")


def _check_thresholds(ctx: Ctx, key: str, conf: dict[str, Any], cpath: str) -> None:
    """Literal expectation thresholds must pass the bounds the pipeline applies when it starts."""
    from financial_transactions.config.pipeline import ExpectationsConfig
    from financial_transactions.pipeline.declarative import EXPECTATION_CONFS, expectation_overrides

    for name in EXPECTATION_CONFS:
        value = conf.get(name)
        if value is None or unresolved(value):
            continue
        try:
            expectation_overrides(ExpectationsConfig(), {name: str(value)})
        except ValueError as exc:
            detail = str(exc).split(": ", 2)[-1]
            ctx.error("pipelines", f"pipeline '{key}': {detail}", loc_of(conf, name), f"{cpath}.{name}")


# --------------------------------------------------------------------------- secrets and task parameters

#: Maps whose entries reach the runtime as environment variables or Spark conf (where
#: ``{{secrets/<scope>/<key>}}`` is resolved): a secret-named entry must be such a reference.
_SECRET_REF_MAPS = ("spark_env_vars", "spark_conf", "configuration")
#: Keyed task parameters (shown in the run's UI and API): no secret may travel in them.
_NAMED_PARAMETER_MAPS = (
    "parameters",  # sql_task
    "named_parameters",
    "base_parameters",
    "job_parameters",
    "python_named_params",
    "notebook_params",
    "sql_params",
)
#: Positional parameter lists of task types and ``run_job_task``.
_PARAMETER_LISTS = ("parameters", "python_params", "jar_params", "spark_submit_params")


_Flag = Callable[[str, "Location | None", str], None]


def _secret_roots(ctx: Ctx) -> Iterator[tuple[str, Any]]:
    """Jobs and pipelines, merged and as target overrides (``targets.<t>.resources``)."""
    for kind in ("jobs", "pipelines"):
        for key, node in ctx.bundle.iter_resources(kind):
            yield f"resources.{kind}.{key}", node
    targets = ctx.bundle.config.get("targets")
    for target, spec in targets.items() if isinstance(targets, dict) else []:
        resources = spec.get("resources") if isinstance(spec, dict) else None
        for kind in ("jobs", "pipelines"):
            group = resources.get(kind) if isinstance(resources, dict) else None
            for key, node in group.items() if isinstance(group, dict) else []:
                yield f"targets.{target}.resources.{kind}.{key}", node


def check_secrets(ctx: Ctx) -> None:
    """Secrets reach jobs and pipelines only as ``{{secrets/<scope>/<key>}}`` in env vars / Spark conf.

    Everything else that is visible in the workspace - task parameters, job parameters'
    defaults, pipeline configuration - must hold no secret: neither a secret-named entry with a
    literal value, nor a secret reference in parameters, nor a value shaped like a known
    credential (the repository secret scan's rules). One finding per offending value.
    """
    from financial_transactions.deploy.secret_scan import scan_text

    reported: set[str] = set()  # one finding per value (paths start with their resource, so are unique)

    def flag(message: str, loc: Location | None, path: str) -> None:
        if path not in reported:
            reported.add(path)
            ctx.error("secrets", message, loc, path)

    for root, node in _secret_roots(ctx):
        for path, leaf, container, value, loc in _walk_named(node, root):
            if not isinstance(value, str):
                if isinstance(value, dict) and container == "parameters" and leaf.isdigit():
                    _check_job_parameter(value, path, loc, flag)
                continue
            secret_named = not leaf.isdigit() and bool(_SECRET_NAME.search(leaf))
            if container in _SECRET_REF_MAPS and secret_named and not _SECRET_REF.match(value):
                flag(
                    f"{leaf} must come from a secret scope ({{{{secrets/<scope>/<key>}}}}), not a literal value",
                    loc,
                    path,
                )
            elif container in _PARAMETER_LISTS and leaf.isdigit():
                _check_parameter(None, value, loc, path, flag)
            elif container in _NAMED_PARAMETER_MAPS and not leaf.isdigit():
                _check_parameter(leaf, value, loc, path, flag)
            if path not in reported and not _SECRET_REF.match(value):
                hits = scan_text(f"{leaf}: {value!r}" if secret_named else value)
                if hits:
                    flag(
                        f"value looks like a credential ({hits[0].rule}, {hits[0].excerpt}); "
                        "keep it in a secret scope and reference it as {{secrets/<scope>/<key>}}",
                        loc,
                        path,
                    )


def _walk_named(node: Any, path: str, container: str = "") -> Iterator[tuple[str, str, str, Any, Location | None]]:
    """(path, key or list index, the key holding it, value, location); keys may contain dots."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            yield here, str(key), container, value, loc_of(node, str(key))
            yield from _walk_named(value, here, str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            here = f"{path}[{index}]"
            yield here, str(index), container, value, loc_of(node, index)
            yield from _walk_named(value, here, str(index))


def _check_parameter(name: str | None, value: str, loc: Location | None, path: str, flag: _Flag) -> None:
    if "{{secrets/" in value:
        flag(
            "a secret reference in task parameters ends up in the run's visible arguments; "
            "pass it through spark_env_vars or read the scope in code",
            loc,
            path,
        )
        return
    option = value.split("=", 1)[0]
    if option.startswith("--") and _SECRET_NAME.search(option):
        flag(f"parameter {option} passes a secret on the command line; use a secret scope", loc, path)
    elif name is not None and _SECRET_NAME.search(name) and value.strip():
        flag(f"parameter {name!r} passes a secret in the task parameters; use a secret scope", loc, path)


def _check_job_parameter(param: dict[str, Any], path: str, loc: Location | None, flag: _Flag) -> None:
    """Job-level ``parameters: [{name, default}]``: shown in the run UI and overridable per run."""
    name, default = param.get("name"), param.get("default")
    where = loc_of(param, "default") or loc
    if not isinstance(default, str) or not default.strip():
        return
    if "{{secrets/" in default:
        flag(
            f"job parameter {name!r} defaults to a secret reference, which is not resolved there and is "
            "visible in every run; read the secret scope in code",
            where,
            f"{path}.default",
        )
    elif isinstance(name, str) and _SECRET_NAME.search(name):
        flag(
            f"job parameter {name!r} has a literal default; secrets belong in a secret scope",
            where,
            f"{path}.default",
        )


def _script_options(script: Path, entrypoints: Path | None) -> set[str] | None:
    """Option strings the script's argparse accepts, read statically; None when they cannot be known."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (OSError, SyntaxError):
        return None
    options = _add_argument_options(tree)
    uses_platform = any(
        isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "script_platform"
        for n in ast.walk(tree)
    )
    if uses_platform:
        if entrypoints is None or not entrypoints.is_file():
            return None
        options |= _add_argument_options(ast.parse(entrypoints.read_text(encoding="utf-8")))
    elif not options:
        return None
    options |= {"-h", "--help"}
    return options


def _add_argument_options(tree: ast.AST) -> set[str]:
    options: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-"):
                    options.add(arg.value)
    return options


def check_scripts(ctx: Ctx, entrypoints: Path | None) -> None:
    """Every script task passes ``--env ${bundle.target}`` and git provenance, and only flags the script accepts."""
    for key, job in ctx.bundle.iter_resources("jobs"):
        base = ctx.bundle.resource_files.get(("jobs", key), ctx.root / "databricks.yml").parent
        tasks = job.get("tasks")
        for index, task in enumerate(tasks if isinstance(tasks, list) else []):
            if not isinstance(task, dict):
                continue
            tpath = f"resources.jobs.{key}.tasks[{index}]"
            spec = task.get("spark_python_task") or task.get("python_wheel_task")
            if not isinstance(spec, dict):
                continue
            kind = "spark_python_task" if "spark_python_task" in task else "python_wheel_task"
            params = spec.get("parameters")
            params = [str(p) for p in params] if isinstance(params, list) else []
            ploc = loc_of(spec, "parameters") or loc_of(tasks, index)
            tkey = task.get("task_key")
            env_value = params[params.index("--env") + 1] if "--env" in params[:-1] else None
            if env_value is None:
                ctx.error(
                    "scripts",
                    f"task '{tkey}' of job '{key}' does not pass --env ${{bundle.target}}",
                    ploc,
                    f"{tpath}.{kind}.parameters",
                )
            elif env_value != "${bundle.target}":
                ctx.error(
                    "scripts",
                    f"task '{tkey}' passes --env {env_value!r}; use ${{bundle.target}} so each target runs its own env",
                    ploc,
                    f"{tpath}.{kind}.parameters",
                )
            for flag in ("--git-sha", "--git-branch"):
                if flag not in params:
                    ctx.error(
                        "scripts",
                        f"task '{tkey}' of job '{key}' does not pass {flag} (git provenance)",
                        ploc,
                        f"{tpath}.{kind}.parameters",
                    )
            if kind != "spark_python_task":
                continue
            python_file = spec.get("python_file")
            if not isinstance(python_file, str) or not _is_local(python_file):
                continue
            script = _local_path(ctx, base, python_file)
            if not script.is_file():
                continue  # reported by the files check
            options = _script_options(script, entrypoints)
            if options is None:
                continue
            for param in params:
                flag = param.split("=", 1)[0]
                if flag.startswith("--") and flag not in options:
                    ctx.error(
                        "scripts",
                        f"task '{tkey}' passes {flag}, which {rel(ctx.root, script)} does not "
                        f"accept{_suggest(flag, options)}",
                        ploc,
                        f"{tpath}.spark_python_task.parameters",
                    )
