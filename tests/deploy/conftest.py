from __future__ import annotations

from pathlib import Path

import pytest

from .bundle_fixture import copy_bundle, schema_path_or_skip


@pytest.fixture(scope="session")
def bundle_schema() -> Path:
    """The official bundle JSON schema (skips the test with instructions when absent)."""
    return schema_path_or_skip()


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A scratch copy of the real bundle to break."""
    return copy_bundle(tmp_path / "bundle")
