"""The coverage-guided fuzz targets of ``scripts/fuzz_landing.py``, run for a few seconds each.

The script runs them for longer (``--seconds``); here they guard against a parser or
landing-reader change that a few thousand mutated inputs already break.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("atheris")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_landing.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_landing", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_landing", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", ["records", "landing"])
def test_fuzz_target_runs_without_a_finding(target: str) -> None:
    executions = _script().run(target, 3)
    assert executions > 100


def test_a_long_line_is_quarantined_with_the_intact_lines_kept() -> None:
    _script().long_line(4)
