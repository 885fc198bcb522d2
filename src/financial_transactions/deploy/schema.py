"""The official bundle JSON schema, loaded so Python's ``re`` can use it.

The schema comes from ``databricks bundle schema`` and is never committed (it
follows the CLI version). Its string patterns use the Unicode property classes
``\\p{L}`` and ``\\p{N}``, which Python's ``re`` lacks; they are rewritten on load
into explicit code-point ranges built from :mod:`unicodedata`, so the patterns
keep their meaning instead of being dropped.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

SCHEMA_ENV = "FIN_MLOPS_BUNDLE_SCHEMA"
#: Where the team keeps the schema, relative to the project root.
DEFAULT_SCHEMA_RELATIVE = Path("..") / "shared" / "databricks" / "bundle_schema.json"
HOW_TO_GET = (
    "install the Databricks CLI and run `databricks bundle schema > bundle_schema.json`, "
    f"then pass `--schema bundle_schema.json` or set {SCHEMA_ENV}"
)

_PROPERTY = re.compile(r"\\([pP])\{([A-Za-z_]+)\}")


class SchemaUnavailable(RuntimeError):
    """No schema file could be found; the message says how to get one."""


@cache
def category_ranges(major: str) -> str:
    """A character-class body (no brackets) matching every code point whose category starts with ``major``."""
    ranges: list[tuple[int, int]] = []
    start = prev = -2
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] != major:
            continue
        if cp == prev + 1:
            prev = cp
            continue
        if start >= 0:
            ranges.append((start, prev))
        start = prev = cp
    if start >= 0:
        ranges.append((start, prev))
    if not ranges:
        raise ValueError(f"no Unicode category starts with {major!r}")
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def translate_pattern(pattern: str) -> str:
    """Rewrite ``\\p{L}`` / ``\\p{N}`` (inside or outside a character class) for Python's ``re``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            match = _PROPERTY.match(pattern, i)
            if match:
                negated, name = match.group(1) == "P", match.group(2)
                if name not in ("L", "N"):
                    raise ValueError(f"unsupported Unicode property \\p{{{name}}} in schema pattern {pattern!r}")
                if negated and in_class:
                    raise ValueError(f"negated property inside a class is not supported: {pattern!r}")
                body = category_ranges(name)
                if in_class:
                    out.append(body)
                else:
                    out.append(f"[{'^' if negated else ''}{body}]")
                i = match.end()
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a literal ']' first in the class
                out.append("\\]")
                i += 1
            continue
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _rewrite_patterns(node: Any) -> int:
    """Rewrite every ``pattern`` in place; returns how many needed it."""
    count = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                if _PROPERTY.search(value):
                    node[key] = translate_pattern(value)
                    count += 1
            else:
                count += _rewrite_patterns(value)
    elif isinstance(node, list):
        for item in node:
            count += _rewrite_patterns(item)
    return count


@dataclass(frozen=True)
class BundleSchema:
    path: Path
    document: dict[str, Any]
    rewritten_patterns: int

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` chains (local ``#/$defs/...`` pointers only)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref!r} in {self.path}")
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
            seen += 1
            if seen > 64:
                raise ValueError(f"$ref loop at {ref!r} in {self.path}")
        return node

    def object_branch(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """The object-typed alternative of a node (the schema wraps most objects as oneOf[object, ${var}])."""
        node = self.resolve(node)
        if node.get("type") == "object":
            return node
        for key in ("oneOf", "anyOf"):
            for alt in node.get(key, []):
                alt = self.resolve(alt)
                if alt.get("type") == "object":
                    return alt
        return None

    def array_branch(self, node: dict[str, Any]) -> dict[str, Any] | None:
        node = self.resolve(node)
        if node.get("type") == "array":
            return node
        for key in ("oneOf", "anyOf"):
            for alt in node.get(key, []):
                alt = self.resolve(alt)
                if alt.get("type") == "array":
                    return alt
        return None

    def properties(self, dotted_def: str) -> dict[str, Any]:
        """``properties`` of a definition such as ``github.com/databricks/cli/bundle/config.Bundle``."""
        branch = self.object_branch({"$ref": "#/$defs/" + dotted_def})
        return dict(branch.get("properties", {})) if branch else {}

    def iter_deprecated(self, node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(property name, property schema) of the deprecated properties of an object node."""
        branch = self.object_branch(node)
        if branch is None:
            return
        for name, prop in branch.get("properties", {}).items():
            if isinstance(prop, dict) and (prop.get("deprecated") or prop.get("deprecationMessage")):
                yield name, prop


def candidate_paths(project_root: Path, explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where a schema is looked for, in order: ``--schema``, ``$FIN_MLOPS_BUNDLE_SCHEMA``, ``../shared``."""
    if explicit:
        return [Path(explicit)]
    env = os.environ.get(SCHEMA_ENV)
    if env:
        return [Path(env)]
    return [(project_root / DEFAULT_SCHEMA_RELATIVE).resolve()]


def load_schema(project_root: Path, explicit: str | os.PathLike[str] | None = None) -> BundleSchema:
    """Load and adapt the bundle schema; raise :class:`SchemaUnavailable` with instructions when absent."""
    paths = candidate_paths(project_root, explicit)
    for path in paths:
        if path.is_file():
            return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)
    where = ", ".join(str(p) for p in paths)
    raise SchemaUnavailable(f"no bundle JSON schema at {where}: {HOW_TO_GET}")


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int) -> BundleSchema:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaUnavailable(f"{path} is not valid JSON ({exc}); regenerate it: {HOW_TO_GET}") from None
    if not isinstance(document, dict) or "$defs" not in document:
        raise SchemaUnavailable(f"{path} does not look like the bundle schema (no $defs); {HOW_TO_GET}")
    rewritten = _rewrite_patterns(document)
    return BundleSchema(Path(path), document, rewritten)
