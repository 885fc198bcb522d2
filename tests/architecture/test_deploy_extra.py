"""The wheel a Databricks job installs runs without the ``deploy`` extra.

Only the offline tooling (``deploy/``) and the command that starts it (``cli/deploy.py``, lazily)
may import the extra's packages, and no job entry point (``scripts/financial/*.py`` and the
``entrypoints`` module they share) reaches a deploy module, directly or through other modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp

from financial_transactions.cli.deploy import DEPLOY_EXTRA_MODULES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE = PROJECT_ROOT / "src" / "financial_transactions"
ALLOWED = (SOURCE / "deploy", SOURCE / "cli" / "deploy.py")
JOB_SCRIPTS = sorted((PROJECT_ROOT / "scripts" / "financial").glob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute import in ``path`` (module level or inside functions), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)  # a submodule?


def test_only_deploy_imports_the_deploy_extra() -> None:
    offenders = []
    for folder in ("src", "scripts", "benchmarks"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            if any(path == allowed or allowed in path.parents for allowed in ALLOWED):
                continue
            for line, module in _imports(path):
                if module.split(".")[0] in DEPLOY_EXTRA_MODULES:
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}")
    assert not offenders, "the deploy extra's packages outside deploy/:\n" + "\n".join(offenders)


def test_job_entry_points_import_no_deploy_module() -> None:
    assert JOB_SCRIPTS, "no job scripts found"
    graph = grimp.build_graph("financial_transactions", cache_dir=None)
    starts = {"financial_transactions.entrypoints"}
    for script in JOB_SCRIPTS:
        starts |= {m for _, m in _imports(script) if m.startswith("financial_transactions") and m in graph.modules}
    assert "financial_transactions.models.training" in starts, "the scripts' imports were not read"
    reached = set(starts)
    for module in starts:
        reached |= graph.find_upstream_modules(module)
    deploy = sorted(
        m for m in reached if m == "financial_transactions.deploy" or m.startswith("financial_transactions.deploy.")
    )
    chains = [
        " -> ".join(graph.find_shortest_chain(importer=start, imported=target) or ())
        for target in deploy
        for start in sorted(starts)
        if graph.find_shortest_chain(importer=start, imported=target)
    ]
    assert not deploy, "job entry points reach the offline deploy tooling:\n" + "\n".join(chains[:10])
