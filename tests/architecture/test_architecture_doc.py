"""docs/ARCHITECTURE.md shows the layers that pyproject.toml declares and lint-imports checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from financial_transactions.deploy import architecture

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOC = PROJECT_ROOT / architecture.DOC


def _generated() -> str:
    return architecture.render(PROJECT_ROOT / "pyproject.toml", PROJECT_ROOT / "src" / architecture.ROOT_PACKAGE)


def test_architecture_doc_holds_the_generated_layers() -> None:
    assert _generated() in DOC.read_text(encoding="utf-8"), (
        "docs/ARCHITECTURE.md is stale: run `.venv/bin/python -m financial_transactions.deploy.architecture --write`"
    )


def test_every_layer_package_is_listed_with_what_it_owns() -> None:
    section = _generated()
    for layer in architecture.layers(architecture.contracts(PROJECT_ROOT / "pyproject.toml")):
        for package in layer.packages:
            assert f"| `{package}` |" in section


def test_check_mode_reports_a_hand_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "src").symlink_to(PROJECT_ROOT / "src")
    (tmp_path / "pyproject.toml").write_text((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    doc = tmp_path / architecture.DOC
    doc.write_text(DOC.read_text(encoding="utf-8").replace("| `config` |", "| `settings` |"), encoding="utf-8")
    assert architecture.main(["--root", str(tmp_path), "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert architecture.main(["--root", str(tmp_path), "--write"]) == 0
    assert architecture.main(["--root", str(tmp_path), "--check"]) == 0
    assert doc.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
