"""Secrets policy: secrets reach jobs and pipelines only through secret scopes, never in visible values."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.loader import Location
from financial_transactions.deploy.secret_scan import scan_text

_SECRET_NAME = re.compile(r"(api[-_]?key|token|secret|password|passwd|credential|private[-_]?key)", re.IGNORECASE)
_SECRET_REF = re.compile(r"^\{\{secrets/([A-Za-z0-9_.\-]+|\$\{var\.[\w-]+\})/[A-Za-z0-9_.\-]+\}\}$")

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


def check_secrets(ctx: Ctx, inputs: RuleInputs) -> None:
    """Secrets reach jobs and pipelines only as ``{{secrets/<scope>/<key>}}`` in env vars / Spark conf.

    Everything else that is visible in the workspace - task parameters, job parameters'
    defaults, pipeline configuration - must hold no secret: neither a secret-named entry with a
    literal value, nor a secret reference in parameters, nor a value shaped like a known
    credential (the repository secret scan's rules). One finding per offending value.
    """
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


RULE = Rule("secrets-policy", "Secrets only through secret scopes", check_secrets)
