"""Exports the browser tests open: one with data, one from an empty lakehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import Platform
from financial_transactions.reporting.export import export_dashboard

from .lakehouse_fixture import write_platform_tables


@pytest.fixture(scope="module")
def run_export(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    """An export produced from a lakehouse holding every table the page shows."""
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("lake"))
    write_platform_tables(platform)
    return export_dashboard(platform).out_dir


@pytest.fixture(scope="module")
def empty_export(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("empty"))
    return export_dashboard(platform).out_dir
