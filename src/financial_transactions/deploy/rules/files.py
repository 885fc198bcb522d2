"""Referenced files: scripts, notebooks, SQL, libraries and includes exist inside the bundle (or are built)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, rel, walk
from financial_transactions.deploy.loader import Location

_REMOTE_PREFIXES = ("/", "dbfs:", "s3:", "s3a:", "abfss:", "gs:", "wasbs:", "file:", "http:", "https:")


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


def is_local(value: str) -> bool:
    """A path inside the synced bundle (not a volume, a URL or a value known only at deploy/run time)."""
    if value.startswith("${workspace.file_path}/"):
        return True
    return not (value.startswith(_REMOTE_PREFIXES) or "${" in value or "{{" in value)


def local_path(ctx: Ctx, base: Path, value: str) -> Path:
    """Where a local bundle path lands on disk (relative to the file that names it)."""
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
    if not isinstance(value, str) or not value or not is_local(value):
        return
    target = local_path(ctx, base, value)
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


def check_files(ctx: Ctx, inputs: RuleInputs) -> None:
    """Every local path the bundle syncs or runs exists (globs match; artifact outputs count as made)."""
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


RULE = Rule("files", "Referenced scripts and files exist", check_files)
