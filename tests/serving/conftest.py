"""One small trained champion (v1) and a second version (v2) for all serving tests of a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform
from tests.support.gold import gold_frame, synthetic_trades, train_champion, write_gold

from .support import SYMBOLS, Served


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[Served]:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("serving") / "lakehouse")
    trades = synthetic_trades(SYMBOLS, 150, seed=21)
    gold = gold_frame(platform, trades)
    write_gold(platform, gold)
    v2 = train_champion(platform, gold, n_estimators=40, seed=2)
    v1 = train_champion(platform, gold, n_estimators=10, seed=1)  # registered last: champion is v1
    registry = ModelRegistry.from_platform(platform)
    assert registry.champion_version() == v1
    yield Served(platform, gold, trades, v1, v2, registry)
