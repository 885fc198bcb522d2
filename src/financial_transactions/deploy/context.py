"""What every bundle rule shares: the check context that collects findings, and the walk over the config.

A rule family is one module of :mod:`financial_transactions.deploy.rules`; each exposes a
:class:`Rule` whose check takes the :class:`Ctx` (the loaded bundle and the findings so far)
and the :class:`RuleInputs` (what a few rules read beside the bundle).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from financial_transactions.deploy.findings import Finding, Severity
from financial_transactions.deploy.loader import LoadedBundle, Location, LocDict, LocList
from financial_transactions.deploy.schema import BundleSchema


def rel(root: Path, file: Path) -> str:
    """``file`` relative to the project root when inside it (findings name files the way a reader types them)."""
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


@dataclass(frozen=True)
class RuleInputs:
    """What some rules read beside the bundle: its JSON schema, ``project_config.yml``, the job entry points."""

    schema: BundleSchema | None = None
    project_config: Path | None = None
    entrypoints: Path | None = None


@dataclass(frozen=True)
class Rule:
    """One rule family: a row of the bundle-check report (``name``, ``title``) and the check that fills it."""

    name: str
    title: str
    check: Callable[[Ctx, RuleInputs], None]


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
    """Where ``node`` (or its entry ``key``) was written, when the loader recorded it."""
    if isinstance(node, LocDict):
        return node.loc(key if isinstance(key, str) else None)
    if isinstance(node, LocList):
        return node.loc(key if isinstance(key, int) else None)
    return None


def suggest(name: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest choice, or nothing: typos are the usual cause of a miss."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
