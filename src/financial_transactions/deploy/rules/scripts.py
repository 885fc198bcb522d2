"""Script tasks: ``--env ${bundle.target}``, git provenance, and only the flags the script accepts."""

from __future__ import annotations

import ast
from pathlib import Path

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, rel, suggest
from financial_transactions.deploy.rules.files import is_local, local_path


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


def check_scripts(ctx: Ctx, inputs: RuleInputs) -> None:
    """Every script task passes ``--env ${bundle.target}`` and git provenance, and only flags the script accepts."""
    entrypoints = inputs.entrypoints
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
            if not isinstance(python_file, str) or not is_local(python_file):
                continue
            script = local_path(ctx, base, python_file)
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
                        f"accept{suggest(flag, options)}",
                        ploc,
                        f"{tpath}.spark_python_task.parameters",
                    )


RULE = Rule("scripts", "Script tasks: --env, provenance, accepted flags", check_scripts)
