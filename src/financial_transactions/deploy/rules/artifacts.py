"""What a deploy installs: one fresh wheel for jobs and pipeline alike, one xgboost, the pinned CLI.

* One wheel per build: the artifact's build empties ``dist/`` (after a version bump ``../dist/*.whl``
  matched two wheels) and the wheel globs match at most one file.
* The pipeline gets the same new wheel as the jobs: ``dynamic_version`` rewrites job libraries and
  job environments but not a pipeline's environment dependencies (CLI 1.13.0,
  ``bundle/libraries/switch_to_patched_wheels.go``), so the build itself must give every wheel a new
  version (``deploy/wheel_build.py``). https://docs.databricks.com/aws/en/dev-tools/bundles/settings#artifacts
* One xgboost: the Databricks ML runtime ships ``xgboost``; a wheel that depends on ``xgboost-cpu``
  installs a second distribution of the same import over it
  (https://docs.databricks.com/aws/en/release-notes/runtime/); serverless environments that run
  model code declare ``xgboost`` themselves.
* The CLI: ``bundle.databricks_cli_version`` is the version pinned in ``.databricks-cli-version``, and at
  least what the fields in use need (pipeline ``environment`` 0.258, pipeline ``run_as`` 0.267,
  ``environment_version`` 0.294). https://docs.databricks.com/aws/en/dev-tools/bundles/settings#bundle
"""

from __future__ import annotations

import glob
import re
import tomllib
from pathlib import Path
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, walk
from financial_transactions.deploy.loader import LocDict
from financial_transactions.deploy.resolve import resolve, target_views
from financial_transactions.deploy.rules.files import is_local, local_path
from financial_transactions.deploy.sources import imports_any, parse

PIN_FILE = ".databricks-cli-version"
BUILDER = "wheel_build.py"
_CLEANS = re.compile(r"\brm\s+(-\w+\s+)*dist\b|\brm\s+(-\w+\s+)*dist/\*\.whl")
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
XGBOOST = ("xgboost", "xgboost-cpu", "xgboost-gpu")
#: Scripts whose code may load an XGBoost model (training, scoring, monitoring, rollback).
MODEL_USERS = ("financial_transactions.models", "financial_transactions.monitoring", "financial_transactions.decision")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def required_versions(cfg: dict[str, Any]) -> list[tuple[str, tuple[int, int, int]]]:
    """The bundle fields in use that need a minimum CLI version, with that version."""
    needed: list[tuple[str, tuple[int, int, int]]] = []
    pipelines = (cfg.get("resources") or {}).get("pipelines") or {}
    if any(isinstance(p, dict) and "environment" in p for p in pipelines.values()):
        needed.append(("a pipeline `environment`", (0, 258, 0)))
    if any(isinstance(p, dict) and "run_as" in p for p in pipelines.values()):
        needed.append(("a pipeline `run_as`", (0, 267, 0)))
    if any(path.endswith("environment_version") for path, _value, _loc in walk(cfg)):
        needed.append(("`environment_version`", (0, 294, 0)))
    return needed


def _base_dependencies(root: Path) -> list[str] | None:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    deps = data.get("project", {}).get("dependencies")
    return [str(d) for d in deps] if isinstance(deps, list) else None


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def check_artifacts(ctx: Ctx, inputs: RuleInputs) -> None:
    """One wheel per build, a new version for the pipeline too, one xgboost, the pinned CLI."""
    cfg = ctx.bundle.config
    _check_cli(ctx, cfg)
    artifacts = cfg.get("artifacts")
    artifacts = artifacts if isinstance(artifacts, dict) else {}
    outputs: list[Path] = []
    for name, spec in artifacts.items():
        if not isinstance(spec, dict) or spec.get("type", "whl") != "whl":
            continue
        apath = f"artifacts.{name}"
        out = (ctx.root / str(spec.get("path", "."))).resolve() / "dist"
        outputs.append(out)
        build = str(spec.get("build", ""))
        if BUILDER not in build and not _CLEANS.search(build):
            ctx.error(
                "artifacts",
                f"artifact '{name}' builds with {build!r}, which leaves earlier wheels in dist/: after a version "
                f"bump the bundle's wheel glob matches two; build with src/financial_transactions/deploy/{BUILDER}",
                loc_of(spec, "build") or loc_of(spec),
                f"{apath}.build",
            )
        if spec.get("dynamic_version") is True and _pipeline_uses(ctx, out):
            ctx.error(
                "artifacts",
                f"artifact '{name}' relies on dynamic_version, which the CLI applies to job libraries and "
                "environments but not to pipeline environment dependencies: the pipeline keeps a stale wheel; "
                "give every build its own version instead (deploy/wheel_build.py)",
                loc_of(spec, "dynamic_version"),
                f"{apath}.dynamic_version",
            )
    for path, value, loc in walk(cfg):
        if isinstance(value, str) and value.endswith(".whl") and any(ch in value for ch in "*?["):
            matches = _glob_matches(ctx, path, value)
            if len(matches) > 1 and any(m.parent in outputs for m in matches):
                ctx.error(
                    "artifacts",
                    f"{value!r} matches {len(matches)} wheels ({', '.join(m.name for m in matches)}): every one "
                    "gets installed; `make build` empties dist/ first",
                    loc,
                    path,
                )
    _check_xgboost(ctx, cfg)


def _glob_matches(ctx: Ctx, path: str, value: str) -> list[Path]:
    if not is_local(value):
        return []
    parts = path.split(".")
    base = ctx.root
    if len(parts) > 2 and parts[0] == "resources":
        key = re.sub(r"\[\d+\]$", "", parts[2])
        base = ctx.bundle.resource_files.get((parts[1], key), ctx.root / "databricks.yml").parent
    return sorted(Path(p) for p in glob.glob(str(local_path(ctx, base, value))))


def _pipeline_uses(ctx: Ctx, output: Path) -> bool:
    for key, pipeline in ctx.bundle.iter_resources("pipelines"):
        base = ctx.bundle.resource_files.get(("pipelines", key), ctx.root / "databricks.yml").parent
        env = pipeline.get("environment")
        for dep in env.get("dependencies") or [] if isinstance(env, dict) else []:
            if isinstance(dep, str) and is_local(dep) and local_path(ctx, base, dep).parent == output:
                return True
    return False


def _check_cli(ctx: Ctx, cfg: LocDict) -> None:
    bundle = cfg.get("bundle")
    bundle = bundle if isinstance(bundle, dict) else {}
    constraint = str(bundle.get("databricks_cli_version", ""))
    pin_path = ctx.root / PIN_FILE
    pinned = pin_path.read_text(encoding="utf-8").strip() if pin_path.is_file() else None
    where = loc_of(bundle, "databricks_cli_version") or loc_of(bundle)
    if pinned is not None and constraint != pinned:
        ctx.error(
            "artifacts",
            f"bundle.databricks_cli_version is {constraint!r} but {PIN_FILE} pins {pinned!r} (CI and CD install "
            "that one, and the schema checked is its)",
            where,
            "bundle.databricks_cli_version",
        )
    lowest = parse_version(constraint)
    for what, needed in required_versions(cfg):
        if lowest is None or lowest < needed:
            ctx.error(
                "artifacts",
                f"the bundle uses {what}, which needs Databricks CLI {'.'.join(map(str, needed))} or later; "
                f"databricks_cli_version allows {constraint or 'any version'}",
                where,
                "bundle.databricks_cli_version",
            )


def _check_xgboost(ctx: Ctx, cfg: LocDict) -> None:
    deps = _base_dependencies(ctx.root)
    if deps is None:
        return
    wheel_xgboost = [d for d in deps if _dist_name(d) in XGBOOST]
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    views = target_views(cfg)
    for key, job in ctx.bundle.iter_resources("jobs"):
        base = ctx.bundle.resource_files.get(("jobs", key), ctx.root / "databricks.yml").parent
        clusters = {
            c.get("job_cluster_key"): c.get("new_cluster") for c in job.get("job_clusters") or [] if isinstance(c, dict)
        }
        envs = {e.get("environment_key"): e.get("spec") for e in job.get("environments") or [] if isinstance(e, dict)}
        for index, task in enumerate(job.get("tasks") or []):
            if not isinstance(task, dict):
                continue
            tloc = loc_of(job.get("tasks"), index)
            cluster = clusters.get(task.get("job_cluster_key"))
            runtime = str(cluster.get("spark_version", "")) if isinstance(cluster, dict) else ""
            ml = any("-ml" in str(resolve(runtime, v, bundle_name)) for v in views)
            if ml and wheel_xgboost and task.get("libraries"):
                ctx.error(
                    "artifacts",
                    f"task '{task.get('task_key')}' of job '{key}' runs on an ML runtime, which ships xgboost, and "
                    f"installs the wheel, which depends on {wheel_xgboost[0]!r}: two distributions of one import; "
                    "move it to the `local` extra",
                    tloc,
                    f"resources.jobs.{key}.tasks[{index}]",
                )
            env = envs.get(task.get("environment_key"))
            spt = task.get("spark_python_task")
            if not (isinstance(env, dict) and isinstance(spt, dict) and isinstance(spt.get("python_file"), str)):
                continue
            tree = parse(local_path(ctx, base, spt["python_file"])) if is_local(spt["python_file"]) else None
            env_deps = [str(d) for d in env.get("dependencies") or []]
            provided = wheel_xgboost or any(_dist_name(d) in XGBOOST for d in env_deps)
            if tree is not None and imports_any(tree, MODEL_USERS) and not provided:
                ctx.error(
                    "artifacts",
                    f"serverless task '{task.get('task_key')}' of job '{key}' runs model code, but neither the "
                    "wheel nor its environment provides xgboost (add `xgboost` to the environment's dependencies)",
                    tloc,
                    f"resources.jobs.{key}.environments",
                )


RULE = Rule("artifacts", "One fresh wheel per build, one xgboost, the pinned CLI", check_artifacts)
