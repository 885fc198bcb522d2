"""A scratch copy of the real bundle, for tests that break it one way at a time.

Scripts another engineer has not written yet are replaced in the copy (never in the
repository) by a minimal entry point accepting the flags the bundle passes, so the
copy's baseline is clean and each break yields exactly its own finding.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from financial_transactions.deploy.schema import SCHEMA_ENV, SchemaUnavailable, load_schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUNDLE_PARTS = (
    "databricks.yml",
    "resources",
    "scripts",
    "project_config.yml",
    # what the platform rules read beside the bundle: the CLI pin, the wheel's dependencies, the UC setup
    ".databricks-cli-version",
    "pyproject.toml",
    "setup_uc_infrastructure.sql",
)
_STUB = '''"""Stand-in entry point (test copy only)."""

from financial_transactions.entrypoints import script_platform


def _extra(parser):
{adds}


if __name__ == "__main__":
    script_platform("stand-in", _extra)
'''


def schema_path_or_skip() -> Path:
    """``$FIN_MLOPS_BUNDLE_SCHEMA`` (CI sets it from ``databricks bundle schema``), else ``../shared``.

    A schema named by the environment variable must load: CI exports it so that these tests run
    there, and a broken path must fail the run instead of silently skipping every schema test.
    """
    try:
        return load_schema(PROJECT_ROOT).path
    except SchemaUnavailable as exc:
        if os.environ.get(SCHEMA_ENV):
            pytest.fail(f"{SCHEMA_ENV} is set but the schema cannot be used: {exc}")
        pytest.skip(f"bundle JSON schema not available, so schema-based checks cannot run: {exc}")


def _flags_by_script(root: Path) -> dict[Path, set[str]]:
    flags: dict[Path, set[str]] = {}
    for resource in sorted((root / "resources").glob("*.yml")):
        doc = yaml.safe_load(resource.read_text(encoding="utf-8")) or {}
        for job in (doc.get("resources", {}).get("jobs") or {}).values():
            for task in job.get("tasks", []):
                spt = task.get("spark_python_task")
                if spt:
                    script = (resource.parent / spt["python_file"]).resolve()
                    params = [p for p in spt.get("parameters", []) if str(p).startswith("--")]
                    flags.setdefault(script, set()).update(params)
    return flags


def copy_bundle(dest: Path) -> Path:
    """Copy the bundle's files into ``dest`` (stand-ins for missing scripts); return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in BUNDLE_PARTS:
        src = PROJECT_ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dest / part)
    base = {"--env", "--config", "--git-sha", "--git-branch", "--lakehouse-root", "--spark-remote"}
    for script, flags in _flags_by_script(dest).items():
        if script.exists():
            continue
        script.parent.mkdir(parents=True, exist_ok=True)
        adds = "\n".join(f'    parser.add_argument("{flag}")' for flag in sorted(flags - base)) or "    pass"
        script.write_text(_STUB.format(adds=adds), encoding="utf-8")
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` exactly ``count`` times (fails loudly when the anchor moved)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found {count} time(s) in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
