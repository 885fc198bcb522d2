"""The package layers of ``docs/ARCHITECTURE.md``, drawn from the import contracts in ``pyproject.toml``.

``lint-imports`` enforces the contracts of ``[tool.importlinter]``; this module renders the same
contracts as the document's layer diagram and package list (one line per package: the first
paragraph of its docstring), so the picture cannot drift from what is checked.
``tests/architecture/test_architecture_doc.py`` fails when the committed section is stale.

Regenerate with ``python -m financial_transactions.deploy.architecture --write``.
"""

from __future__ import annotations

import argparse
import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from financial_transactions.deploy.generated import write_or_check

ROOT_PACKAGE = "financial_transactions"
BEGIN = (
    "<!-- BEGIN layers: generated from pyproject.toml [tool.importlinter] by "
    "`python -m financial_transactions.deploy.architecture --write`; do not edit by hand -->"
)
END = "<!-- END layers -->"
DOC = Path("docs") / "ARCHITECTURE.md"


@dataclass(frozen=True)
class Layer:
    """One row of the layers contract: its packages, and whether they may import each other."""

    packages: tuple[str, ...]
    independent: bool

    @classmethod
    def parse(cls, spec: str) -> Layer:
        for delimiter, independent in (("|", True), (":", False)):
            if delimiter in spec:
                return cls(tuple(p.strip() for p in spec.split(delimiter)), independent)
        return cls((spec.strip(),), True)


def contracts(pyproject: Path) -> list[dict[str, Any]]:
    """The import-linter contracts, in the order declared."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = data.get("tool", {}).get("importlinter", {}).get("contracts", [])
    return found


def layers(declared: list[dict[str, Any]]) -> list[Layer]:
    """The layers of the (one) ``layers`` contract, top to bottom."""
    matches = [c for c in declared if c.get("type") == "layers"]
    if len(matches) != 1:
        raise ValueError(f"expected one layers contract in [tool.importlinter], found {len(matches)}")
    return [Layer.parse(spec) for spec in matches[0]["layers"]]


def package_summary(package_dir: Path, name: str) -> str:
    """The first paragraph of the package's (or top-level module's) docstring, on one line."""
    source = package_dir / name / "__init__.py"
    if not source.is_file():
        source = package_dir / f"{name}.py"
    docstring = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) if source.is_file() else None
    if not docstring:
        raise ValueError(f"{ROOT_PACKAGE}.{name} has no docstring saying what it owns ({source})")
    return " ".join(docstring.split("\n\n", 1)[0].split())


def _short(module: str) -> str:
    prefix = f"{ROOT_PACKAGE}."
    return module[len(prefix) :] if module.startswith(prefix) else module


def render(pyproject: Path, package_dir: Path) -> str:
    """The generated section: a Mermaid diagram of the layers, the package list, the other contracts."""
    declared = contracts(pyproject)
    stack = layers(declared)
    lines = [BEGIN, "", "```mermaid", "flowchart TB"]
    for index, layer in enumerate(stack):
        joiner = " · " if layer.independent else " : "
        lines.append(f'  L{index}["{joiner.join(layer.packages)}"]')
    lines += [f"  L{i} --> L{i + 1}" for i in range(len(stack) - 1)]
    lines += [
        "```",
        "",
        "An arrow means *may import*: a package imports only packages in the boxes below its own. "
        "Packages sharing a box separated by `·` never import each other.",
        "",
        "| layer | package | what it owns |",
        "|---|---|---|",
    ]
    for index, layer in enumerate(stack, start=1):
        for package in layer.packages:
            lines.append(f"| {index} | `{package}` | {package_summary(package_dir, package)} |")
    others = [c for c in declared if c.get("type") != "layers"]
    if others:
        lines += ["", "Also checked:", ""]
        for contract in others:
            lines.append(f"- {contract['name']}{_contract_detail(contract)}.")
    ignored = sorted({i for c in declared for i in c.get("ignore_imports", [])})
    if ignored:
        lines += ["", "Known exceptions, each with who removes it in `pyproject.toml`:", ""]
        lines += [f"- `{' -> '.join(_short(m.strip()) for m in i.split('->'))}`" for i in ignored]
    lines += ["", END]
    return "\n".join(lines)


def _contract_detail(contract: dict[str, Any]) -> str:
    if contract.get("type") == "forbidden":
        sources = ", ".join(f"`{_short(m)}`" for m in contract["source_modules"])
        forbidden = ", ".join(f"`{_short(m)}`" for m in contract["forbidden_modules"])
        return f": {sources} may not import {forbidden}"
    if contract.get("type") == "acyclic_siblings":
        return " (at every level of the package)"
    return ""


def sync(document: str, section: str) -> str:
    """``document`` with its generated section replaced by ``section``."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no generated layers section ({BEGIN!r} ... {END!r})")
    return document[:start] + section + document[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (holding pyproject.toml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"rewrite the section of {DOC}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when {DOC} is stale")
    args = parser.parse_args(argv)
    section = render(args.root / "pyproject.toml", args.root / "src" / ROOT_PACKAGE)
    if not (args.write or args.check):
        print(section)
        return 0
    path = args.root / DOC
    wanted = sync(path.read_text(encoding="utf-8"), section)
    return write_or_check(path, wanted, check=args.check, module="financial_transactions.deploy.architecture")


if __name__ == "__main__":
    raise SystemExit(main())
