"""One wheel per build, with a version no earlier build used (`make build` and the bundle's artifact build)."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from financial_transactions.deploy import wheel_build
from financial_transactions.deploy.wheel_build import build, build_label, clean_dist, stamp_wheel

from .bundle_fixture import PROJECT_ROOT

BUILD = "python3 src/financial_transactions/deploy/wheel_build.py"


def _wheel(folder: Path, version: str = "0.1.0") -> Path:
    """A minimal wheel as `pip wheel` writes one (module, dist-info, RECORD)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"financial_ai_mlops-{version}-py3-none-any.whl"
    info = f"financial_ai_mlops-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("financial_transactions/__init__.py", "")
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.4\nName: financial-ai-mlops\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def test_stamping_rewrites_name_metadata_dist_info_and_record(tmp_path: Path) -> None:
    stamped = stamp_wheel(_wheel(tmp_path / "in", "0.1.0+old"), "20260101000000", tmp_path / "out")
    assert stamped.name == "financial_ai_mlops-0.1.0+20260101000000-py3-none-any.whl"
    with zipfile.ZipFile(stamped) as zf:
        names = zf.namelist()
        info = "financial_ai_mlops-0.1.0+20260101000000.dist-info"
        assert f"{info}/METADATA" in names and not [n for n in names if "0.1.0+old" in n]
        assert "Version: 0.1.0+20260101000000" in zf.read(f"{info}/METADATA").decode()
        record = zf.read(f"{info}/RECORD").decode().splitlines()
    assert sorted(r.split(",")[0] for r in record) == sorted(names)
    assert all(r.split(",")[1].startswith("sha256=") for r in record if not r.startswith(f"{info}/RECORD"))


def test_a_bad_label_or_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="local version label"):
        stamp_wheel(_wheel(tmp_path), "Not-Valid", tmp_path / "out")
    with pytest.raises(ValueError, match="not a wheel"):
        stamp_wheel(tmp_path / "x.zip", "1", tmp_path / "out")


def test_the_label_is_the_utc_build_time() -> None:
    assert build_label(datetime(2026, 4, 15, 13, 43, 11, tzinfo=UTC)) == "20260415134311"


def test_each_build_leaves_exactly_one_new_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old build left 0.1.0 and 0.2.0 side by side after a bump; the bundle's glob then matched both."""
    dist = tmp_path / "dist"
    _wheel(dist, "0.0.9")  # a leftover of an earlier version
    versions = iter(["0.1.0", "0.2.0"])

    def fake_pip(command: list[str], check: bool) -> Any:
        _wheel(Path(command[command.index("--wheel-dir") + 1]), next(versions))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(wheel_build.subprocess, "run", fake_pip)
    first = build(tmp_path, dist, "1")
    assert sorted(p.name for p in dist.glob("*.whl")) == [first.name] == ["financial_ai_mlops-0.1.0+1-py3-none-any.whl"]
    second = build(tmp_path, dist, "2")
    assert (
        sorted(p.name for p in dist.glob("*.whl")) == [second.name] == ["financial_ai_mlops-0.2.0+2-py3-none-any.whl"]
    )
    assert clean_dist(dist) == [second] and not list(dist.glob("*.whl"))


def test_make_build_and_the_bundle_use_the_builder_and_no_dynamic_version() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("\nbuild:") :].split("\n\n", 1)[0]
    assert "src/financial_transactions/deploy/wheel_build.py" in target and "pip wheel" not in target
    artifact = yaml.safe_load((PROJECT_ROOT / "databricks.yml").read_text(encoding="utf-8"))["artifacts"]
    assert artifact["financial_transactions_wheel"]["build"] == BUILD
    assert "dynamic_version" not in artifact["financial_transactions_wheel"]
    ci = (PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "run: python src/financial_transactions/deploy/wheel_build.py" in ci
