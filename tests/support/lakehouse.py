"""The one lakehouse fixture: a Platform on a fresh tmp lakehouse (the project's dev config, local runtime).

``platform`` is per test (with ``config`` and ``lakehouse_root`` it is built from); ``platform_factory`` makes
more of them for module- or session-scoped fixtures. Registered in ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.runtime import Platform

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def dev_config() -> ProjectConfig:
    """``project_config.yml``'s dev environment."""
    return ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")


@pytest.fixture
def config() -> ProjectConfig:
    return dev_config()


@pytest.fixture
def lakehouse_root(tmp_path: Path) -> Path:
    root = tmp_path / "lakehouse"
    root.mkdir()
    return root


@pytest.fixture
def platform(config: ProjectConfig, lakehouse_root: Path, request: pytest.FixtureRequest) -> Platform:
    """A Platform on a fresh tmp lakehouse; shares the session Spark when a test asks for it."""
    p = Platform.create(config, lakehouse_root=lakehouse_root)
    if "spark" in request.fixturenames:
        p._spark = request.getfixturevalue("spark")
    return p


@pytest.fixture(scope="session")
def platform_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Platform]:
    """``make(name, config=None)``: a Platform on a fresh tmp lakehouse, for fixtures wider than one test."""

    def make(name: str = "lakehouse", config: ProjectConfig | None = None) -> Platform:
        return Platform.create(config or dev_config(), lakehouse_root=tmp_path_factory.mktemp(name))

    return make
