"""One Databricks CLI version, pinned in `.databricks-cli-version`: the bundle, CI, CD, the Makefile and the docs
all use it, and the setup action is pinned to the release commit of that version."""

from __future__ import annotations

import re

import yaml

from .bundle_fixture import PROJECT_ROOT

PIN = (PROJECT_ROOT / ".databricks-cli-version").read_text(encoding="utf-8").strip()
WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
#: databricks/setup-cli's tag v1.13.0 (a "Release CLI v1.13.0" commit; its VERSION file says 1.13.0).
SETUP_CLI_RELEASE = "6bb7075f85b326f8b9ce160933dfe9bcd63c8121"


def test_the_pin_is_a_1x_release() -> None:
    assert re.fullmatch(r"1\.\d+\.\d+", PIN), PIN


def test_the_bundle_requires_the_pinned_cli() -> None:
    bundle = yaml.safe_load((PROJECT_ROOT / "databricks.yml").read_text(encoding="utf-8"))["bundle"]
    assert bundle["databricks_cli_version"] == PIN
    assert bundle["engine"] == "direct"  # CLI 1.x: no Terraform


def test_every_workflow_installs_the_pinned_cli_through_a_released_action() -> None:
    installs = 0
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert "DATABRICKS_CLI_VERSION" not in text and "0.281" not in text, path.name
        for job in yaml.safe_load(text)["jobs"].values():
            steps = job.get("steps", [])
            for index, step in enumerate(steps):
                if not str(step.get("uses", "")).startswith("databricks/setup-cli@"):
                    continue
                installs += 1
                assert step["uses"] == f"databricks/setup-cli@{SETUP_CLI_RELEASE}", path.name
                assert step["with"]["version"] == "${{ steps.cli.outputs.version }}", path.name
                reader = next(s for s in steps[:index] if s.get("id") == "cli")
                assert reader["run"] == 'echo "version=$(cat .databricks-cli-version)" >> "$GITHUB_OUTPUT"'
                assert any(str(s.get("uses", "")).startswith("actions/checkout@") for s in steps[:index])
    assert installs == 7  # CI: tests + bundle-validate; CD: dev, acc, prd, rollback; model validation


def test_the_makefile_and_the_docs_use_the_pin() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DATABRICKS_CLI_VERSION := $(shell cat .databricks-cli-version)" in makefile
    deployment = (PROJECT_ROOT / "docs" / "DEPLOYMENT.md").read_text(encoding="utf-8")
    assert f"`{PIN}`" in deployment and ".databricks-cli-version" in deployment
