"""Generate ``docs/CONFIGURATION.md`` from the pydantic config models.

The document lists every field of :class:`~financial_transactions.config.ProjectConfig`
(its YAML path, type, default and bounds), so it is derived from the code rather
than written by hand; ``tests/reporting/test_config_doc.py`` fails when the
committed file differs from what this module generates.

Regenerate with ``python -m financial_transactions.reporting.config_doc --write``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from financial_transactions.config import ENDPOINT_OVERRIDES, ProjectConfig
from financial_transactions.config.project import EnvironmentConfig

DOC_PATH = Path("docs") / "CONFIGURATION.md"

HEADER = """# Configuration reference

<!-- Generated from the pydantic models in src/financial_transactions/config/ by
     `python -m financial_transactions.reporting.config_doc --write`; do not edit by hand.
     tests/reporting/test_config_doc.py fails when this file is stale. -->

Everything is configured in one file, `project_config.yml`, holding every environment; `--env dev|acc|prd`
picks one (`fin-mlops --env acc ...`, or `FIN_MLOPS_ENV`). Loading deep-merges
`environments.<env>.overrides` into the shared sections, then applies the environment-variable
overrides below, then validates everything: unknown keys are errors, and every error names the file, the
env, the field and the bad value.

Bounds use interval notation: `[a, b]` includes both ends, `(a, b]` excludes `a`. A field without bounds
accepts any value of its type. *required* means the field has no default.

Secrets are never values in this file: a credential field names an environment variable and/or a
Databricks secret scope and key (`CredentialRef`), resolved at run time (environment first).
"""


@dataclass
class Row:
    path: str
    type: str
    default: str
    bounds: str
    note: str


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, typing.List):  # noqa: UP006
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin in (dict, typing.Dict):  # noqa: UP006
        return f"map[{_type_name(args[0])} → {_type_name(args[1])}]" if args else "map"
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseModel):
            return annotation.__name__
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation).replace("typing.", "")


def _bounds(field: FieldInfo) -> str:
    lo: Any = None
    hi: Any = None
    lo_open = hi_open = False
    parts: list[str] = []
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            lo, lo_open = meta.gt, True
        elif isinstance(meta, annotated_types.Le):
            hi = meta.le
        elif isinstance(meta, annotated_types.Lt):
            hi, hi_open = meta.lt, True
        elif isinstance(meta, annotated_types.MinLen):
            parts.append(f"min length {meta.min_length}")
        elif isinstance(meta, annotated_types.MaxLen):
            parts.append(f"max length {meta.max_length}")
        elif getattr(meta, "pattern", None):
            parts.append(f"pattern `{meta.pattern}`")
    if lo is not None or hi is not None:
        left = ("(" if lo_open else "[") + (_num(lo) if lo is not None else "−∞")
        right = (_num(hi) if hi is not None else "∞") + (")" if hi_open else "]")
        parts.insert(0, f"{left}, {right}")
    return "; ".join(parts) if parts else "–"


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10_000:
        value = int(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:_}".replace("_", " ")
    return str(value)


def _default(field: FieldInfo) -> tuple[str, Any]:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*required*", PydanticUndefined
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)", value
    if isinstance(value, str):
        return (f"`{value}`" if value else '`""`'), value
    text = json.dumps(value, default=str, ensure_ascii=False)
    return f"`{text}`", value


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The nested model inside an annotation, and the path suffix to reach its fields."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (list, typing.List) and args:  # noqa: UP006
        inner, suffix = _model_of(args[0])
        return inner, "[]" + suffix
    if origin in (dict, typing.Dict) and len(args) == 2:  # noqa: UP006
        inner, suffix = _model_of(args[1])
        return inner, ".<name>" + suffix
    if origin in (Union, types.UnionType):
        for arg in args:
            inner, suffix = _model_of(arg)
            if inner is not None:
                return inner, suffix
    return None, ""


def _walk(model: type[BaseModel], prefix: str, out: list[tuple[str, type[BaseModel], list[Row]]]) -> None:
    rows: list[Row] = []
    section = (prefix, model, rows)
    out.append(section)
    nested: list[tuple[str, type[BaseModel]]] = []
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        inner, suffix = _model_of(field.annotation)
        default_text, _ = _default(field)
        if inner is not None and inner.__name__ != "CredentialRef":
            nested.append((path + suffix, inner))
            if suffix:  # a list or map of sections: still a field with its own default
                rows.append(Row(path, _type_name(field.annotation), default_text, _bounds(field), _doc_line(inner)))
            continue
        if inner is not None:  # CredentialRef: one row, the reference is the value
            default_text = f"`{json.dumps(_default(field)[1].model_dump(exclude_none=True))}`"
        note = field.description or comments.get(name, "")
        rows.append(Row(path, _type_name(field.annotation), default_text, _bounds(field), note))
    for path, inner in nested:
        _walk(inner, path, out)


def _doc_line(model: type[BaseModel]) -> str:
    """The first paragraph of the class's own docstring (an inherited one says nothing about it)."""
    doc = inspect.cleandoc(vars(model).get("__doc__") or "")
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Trailing ``# comments`` on field lines of the model's source: the notes column."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    out = {}
    for match in re.finditer(r"^\s+(\w+):[^\n]*?\s#\s*([^\n]+)$", source, flags=re.M):
        out[match.group(1)] = match.group(2).strip()
    return out


def _table(rows: list[Row]) -> str:
    lines = ["| field | type | default | bounds | notes |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r.path}` | {_cell(r.type)} | {_cell(r.default)} | {_cell(r.bounds)} | {_cell(r.note)} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def generate() -> str:
    """The full markdown text of docs/CONFIGURATION.md."""
    sections: list[tuple[str, type[BaseModel], list[Row]]] = []
    _walk(ProjectConfig, "", sections)
    out = [HEADER]
    top = sections[0]
    # ``env`` and ``environment`` are filled by the loader from --env and ``environments.<env>``
    top_rows = [r for r in top[2] if r.path not in ("env", "environment")]
    env_sections: list[tuple[str, type[BaseModel], list[Row]]] = []
    _walk(EnvironmentConfig, "environments.<env>", env_sections)
    out.append("## Environments\n")
    out.append(
        "`environments` maps each env name (`dev`, `acc`, `prd`) to its settings; the env chosen with `--env` "
        "becomes `ProjectConfig.environment`. Tables and the registered model live in "
        "`<catalog>.<project.schema>`.\n"
    )
    out.append(_table(env_sections[0][2]) + "\n")
    out.append("## Environment-variable overrides\n")
    out.append("| variable | overrides |\n|---|---|")
    for var, path in ENDPOINT_OVERRIDES.items():
        out.append(f"| `{var}` | `{'.'.join(path)}` |")
    out.append("")
    if top_rows:
        out.append("## Top level\n")
        out.append(_table(top_rows) + "\n")
    for prefix, model, rows in sections[1:]:
        if not rows or prefix == "environment":
            continue
        out.append(f"## `{prefix}`\n")
        doc = _doc_line(model)
        if doc:
            out.append(f"{doc}\n")
        out.append(_table(rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/CONFIGURATION.md from the config models")
    parser.add_argument("--write", action="store_true", help=f"write {DOC_PATH} instead of printing")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when {DOC_PATH} is stale")
    parser.add_argument("--path", type=Path, default=DOC_PATH)
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run python -m financial_transactions.reporting.config_doc --write")
            return 1
        return 0
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
