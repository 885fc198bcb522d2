"""How the Databricks CLI sees the bundle per target: its variables, ``${...}`` substitution, defined resources.

Several rule families judge the configuration as one target deploys it (a catalog, a pause
status, a cron expression held in a variable), so the resolution lives here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from financial_transactions.deploy.loader import LocDict

#: ``${root.a.b}`` references resolved by the CLI at deploy time.
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
#: ``{{...}}`` dynamic value references resolved by the Jobs service at run time.
DYNAMIC = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PRODUCTION_TARGET_NAMES = ("prd", "prod", "production")


def segments(expr: str) -> list[str]:
    """The dotted parts of a ``${...}`` expression, list indexes dropped (``a.b[0]`` -> ``a``, ``b``)."""
    return [re.sub(r"\[\d+\]$", "", s) for s in expr.split(".")]


@dataclass
class TargetView:
    """One target as deployed: its spec and the variable values it ends up with."""

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
    """Every target (or one ``default`` when none is declared), with defaults and overrides applied."""
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
            parts = segments(m.group(1))
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


def defined_resources(cfg: LocDict) -> dict[str, set[str]]:
    """Resource keys by kind, from the top level and every target's ``resources`` override."""
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
