"""The import contracts of pyproject.toml hold: layers, forbidden imports, no import cycle.

Each contract runs through import-linter's own command (``lint-imports --contract <id>``, as
``make lint`` runs them all), so a broken contract fails here with import-linter's report. The
cycle test reads the import graph itself: it names the cycle even if a contract were loosened.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "financial_transactions"


def _importlinter() -> dict:  # type: ignore[type-arg]
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    config: dict = data["tool"]["importlinter"]  # type: ignore[type-arg]
    return config


CONTRACTS = _importlinter()["contracts"]


def _lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    return str(found) if found.exists() else (shutil.which("lint-imports") or "lint-imports")


@pytest.mark.parametrize("contract_id", [c["id"] for c in CONTRACTS])
def test_contract_is_kept(contract_id: str) -> None:
    run = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo", "--contract", contract_id],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"import contract {contract_id!r} is broken:\n{run.stdout}\n{run.stderr}"
    assert "KEPT" in run.stdout, run.stdout


def test_every_package_sits_in_a_layer() -> None:
    layers = next(c for c in CONTRACTS if c["type"] == "layers")
    assert layers.get("exhaustive") is True, "the layers contract must be exhaustive: a new package needs a layer"
    declared = {p.strip() for spec in layers["layers"] for p in spec.replace(":", "|").split("|")}
    source = PROJECT_ROOT / "src" / PACKAGE
    actual = {p.name for p in source.iterdir() if (p / "__init__.py").is_file()}
    actual |= {p.stem for p in source.glob("*.py") if p.stem != "__init__"}
    assert declared == actual, f"undeclared: {sorted(actual - declared)}; gone: {sorted(declared - actual)}"
    stray = [
        p.name for p in source.iterdir() if p.is_dir() and p.name != "__pycache__" and not (p / "__init__.py").exists()
    ]
    assert not stray, f"folders without __init__.py are invisible to the contracts: {stray}"


def _ignored_imports() -> set[tuple[str, str]]:
    """The known exceptions, each listed with its owner in pyproject.toml."""
    pairs = set()
    for contract in CONTRACTS:
        for expression in contract.get("ignore_imports", []):
            importer, imported = (part.strip() for part in expression.split("->"))
            pairs.add((importer, imported))
    return pairs


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Tarjan's components of more than one node (each an import cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in nodes:
        if node not in index:
            yield from visit(node)


def test_no_import_cycle_between_packages() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    ignored = _ignored_imports()
    packages = sorted({m.split(".")[1] for m in graph.modules if m.count(".") >= 1})
    edges: dict[str, set[str]] = {}
    evidence: dict[tuple[str, str], str] = {}
    for importer in graph.modules:
        if importer.count(".") < 1:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.count(".") < 1 or (importer, imported) in ignored:
                continue
            a, b = importer.split(".")[1], imported.split(".")[1]
            if a != b:
                edges.setdefault(a, set()).add(b)
                evidence.setdefault((a, b), f"{importer} -> {imported}")
    cycles = list(_strongly_connected(packages, edges))
    report = [
        " <-> ".join(cycle) + ": " + "; ".join(evidence[(a, b)] for a in cycle for b in cycle if (a, b) in evidence)
        for cycle in cycles
    ]
    assert not cycles, "import cycles between packages:\n" + "\n".join(report)
