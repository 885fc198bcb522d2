"""``fin-mlops bundle-check`` without the ``deploy`` extra: one clear line and exit code 2.

A job's environment installs the wheel without the extra; the command must say what to install
instead of a traceback. The extra's packages are hidden from a fresh interpreter (an import of a
name mapped to ``None`` in ``sys.modules`` fails as if it were not installed).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from financial_transactions.cli.deploy import DEPLOY_EXTRA_MODULES, MISSING_EXTRA

from .bundle_fixture import PROJECT_ROOT

_WITHOUT_EXTRA = """
import sys
for name in {modules!r}:
    sys.modules[name] = None
from financial_transactions.cli import app
app(["bundle-check", "--root", {root!r}])
"""


@pytest.mark.parametrize("hidden", [DEPLOY_EXTRA_MODULES, DEPLOY_EXTRA_MODULES[:1], DEPLOY_EXTRA_MODULES[1:]])
def test_bundle_check_without_the_deploy_extra_says_what_to_install(hidden: tuple[str, ...]) -> None:
    code = _WITHOUT_EXTRA.format(modules=hidden, root=str(PROJECT_ROOT))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip() == MISSING_EXTRA
    assert "Traceback" not in run.stdout + run.stderr


def test_the_deploy_extra_holds_the_tooling_dependencies_and_test_pulls_it_in() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    runtime = " ".join(project["dependencies"])
    for module in DEPLOY_EXTRA_MODULES:
        assert module not in runtime, f"{module} is a runtime dependency: jobs would install the deploy tooling"
        assert any(req.startswith(module) for req in extras["deploy"]), f"{module} missing from the deploy extra"
    assert any(req.startswith("financial-ai-mlops[") and "deploy" in req for req in extras["test"])
