"""What the platform rules read from the project's Python code, statically (nothing is imported).

The rules judge the code the jobs run (which tables it reads at a pinned Delta version, which it
writes with conditional appends, what a job script imports) without importing it: the offline
tooling may load only ``config`` and ``lakehouse`` (``pyproject.toml`` import contracts), and a
check must not start Spark.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The installed package the jobs run (``src/financial_transactions``).
PACKAGE = Path(__file__).resolve().parents[1]
#: Store methods that read a table; given ``version=`` or ``timestamp=`` they time travel.
READ_METHODS = frozenset({"read", "read_arrow", "count", "to_spark", "changes"})
TIME_TRAVEL_SQL = ("VERSION AS OF", "TIMESTAMP AS OF")


@dataclass(frozen=True)
class Module:
    """One parsed source file of the package."""

    path: Path
    name: str  # dotted, e.g. financial_transactions.decision.backtester
    tree: ast.Module


def parse(path: Path) -> ast.Module | None:
    """The file's syntax tree; None when it cannot be read or parsed (a rule then has nothing to judge)."""
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=4)
def _modules(package: Path, _stamp: tuple[tuple[str, int], ...]) -> tuple[Module, ...]:
    out = []
    for path in sorted(package.rglob("*.py")):
        tree = parse(path)
        if tree is None:
            continue
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append(Module(path, name, tree))
    return tuple(out)


def modules(package: Path = PACKAGE) -> tuple[Module, ...]:
    """Every module of ``package`` (parsed once per change of its files)."""
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(package.rglob("*.py")))
    return _modules(package, stamp)


def string_constants(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every string literal with its line, docstrings and other bare string statements left out."""
    bare = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare:
            yield node.value, getattr(node, "lineno", 0)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def pinned_reads(tree: ast.AST) -> list[int]:
    """Lines that read a table at a pinned version or instant: a store read with ``version=`` /
    ``timestamp=`` (not a literal None), or SQL text with ``VERSION AS OF`` / ``TIMESTAMP AS OF``."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in READ_METHODS
            and any(k.arg in ("version", "timestamp") and not _is_none(k.value) for k in node.keywords)
        ):
            lines.append(node.lineno)
    lines += [line for text, line in string_constants(tree) if any(t in text.upper() for t in TIME_TRAVEL_SQL)]
    return sorted(set(lines))


def method_calls(tree: ast.AST, method: str) -> list[int]:
    """Lines calling ``<anything>.method(...)``."""
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    )


def imported_modules(tree: ast.AST) -> set[str]:
    """Dotted names of everything the module imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imports_any(tree: ast.AST, prefixes: Iterable[str]) -> bool:
    """Whether the module imports one of ``prefixes`` or something below it."""
    wanted = tuple(prefixes)
    return any(name == p or name.startswith(p + ".") for name in imported_modules(tree) for p in wanted)


def reachable(roots: Iterable[ast.AST], package: Path = PACKAGE) -> tuple[Module, ...]:
    """The package modules that ``roots`` (e.g. the job scripts) import, directly or through each other.

    A ``from a.b import c`` reaches ``a.b`` and, when it is a module, ``a.b.c``; a module reaches its
    parent packages (their ``__init__`` runs first).
    """
    by_name = {m.name: m for m in modules(package)}
    seen: dict[str, Module] = {}
    stack = [name for tree in roots for name in imported_modules(tree)]
    while stack:
        name = stack.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            module = by_name.get(candidate)
            if module is None or candidate in seen:
                continue
            seen[candidate] = module
            stack.extend(imported_modules(module.tree))
    return tuple(seen[n] for n in sorted(seen))
