"""JSON-schema validation of the merged bundle, with errors a person can act on.

The bundle schema wraps almost every node as ``oneOf[<the real type>, ${var...}]``,
so a raw jsonschema error reads "is not valid under any of the given schemas".
Here each such error is narrowed to the alternative that matches the value's
shape, and reported at the deepest point, with the file and line it came from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from financial_transactions.deploy.context import Ctx
from financial_transactions.deploy.loader import Location, LocDict, LocList
from financial_transactions.deploy.schema import BundleSchema

_TYPE_OF = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
_validators: dict[int, Draft202012Validator] = {}


def _validator(schema: BundleSchema) -> Draft202012Validator:
    key = id(schema.document)
    if key not in _validators:
        _validators[key] = Draft202012Validator(schema.document)
    return _validators[key]


def _type_name(value: Any) -> str:
    for py, name in _TYPE_OF.items():
        if isinstance(value, py):
            return name
    return "null" if value is None else type(value).__name__


def _branch_fits(errors: list[ValidationError], instance: Any) -> bool:
    """Whether an alternative of a oneOf is the one meant for this value's shape."""
    for err in errors:
        if err.validator == "type" and not err.relative_path:
            return False
        if err.validator == "pattern" and not err.relative_path and "\\$\\{" in str(err.validator_value):
            return False  # the ${var...} alternative, for a value that is not a reference
    return True


def _narrow(error: ValidationError) -> list[ValidationError]:
    """Replace oneOf/anyOf errors by the errors of the alternative that fits the value."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [errs for errs in by_branch.values() if _branch_fits(errs, error.instance)]
    if len(fitting) != 1:
        return [error]
    out: list[ValidationError] = []
    for sub in fitting[0]:
        out.extend(_narrow(sub))
    return out


def _locate(root: Any, path: Iterable[Any]) -> tuple[Location | None, Any, Any]:
    """(location of the deepest node, parent container, last key) along ``path``."""
    node, parent, last = root, None, None
    loc: Location | None = root.loc() if isinstance(root, LocDict) else None
    for step in path:
        parent, last = node, step
        if isinstance(node, LocDict) and isinstance(step, str):
            loc = node.loc(step)
        if isinstance(node, LocList) and isinstance(step, int):
            loc = node.loc(step)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return loc, parent, last


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _message(error: ValidationError) -> tuple[str, str | None]:
    """(message, key to locate more precisely)."""
    validator = error.validator
    if validator == "additionalProperties":
        allowed = sorted((error.schema or {}).get("properties", {}))
        instance = error.instance if isinstance(error.instance, dict) else {}
        extras = sorted(str(k) for k in instance if k not in allowed)
        if extras:
            bad = extras[0]
            close = difflib.get_close_matches(bad, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            more = f" (and {', '.join(repr(x) for x in extras[1:])})" if len(extras) > 1 else ""
            return f"unknown field {bad!r}{more}{hint}", bad
        return error.message, None
    if validator == "type":
        return f"expected {error.validator_value}, got {_type_name(error.instance)} {error.instance!r}", None
    if validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}", None
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return (f"missing required field {missing[0]!r}" if missing else error.message), None
    if validator in ("oneOf", "anyOf"):
        return f"{error.instance!r} does not fit the expected type here", None
    return error.message, None


def check_schema(ctx: Ctx, schema: BundleSchema) -> int:
    """Validate the merged configuration; returns how many schema errors were found."""
    config = ctx.bundle.config
    before = len(ctx.findings)
    for raw in _validator(schema).iter_errors(config):
        for error in _narrow(raw):
            message, key = _message(error)
            path = list(error.absolute_path)
            loc, _parent, _last = _locate(config, path)
            if key is not None:
                node = error.instance
                if isinstance(node, LocDict):
                    loc = node.loc(key)
                dotted = _dotted([*path, key])
            else:
                dotted = _dotted(path)
            ctx.error("schema", message, loc, dotted or "<root>")
    return len(ctx.findings) - before
