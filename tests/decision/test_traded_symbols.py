"""Backtest and decide cover the symbols a user's file brought, besides the configured ones."""

from __future__ import annotations

import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.decision.symbols import traded_symbols


def test_a_user_files_symbols_join_the_configured_ones_with_their_own_asset_class(config: ProjectConfig) -> None:
    gold = pd.DataFrame({"symbol": ["SPX", "ESZ6", "AAPL"], "asset_class": ["equity", "future", "equity"]})
    covered = traded_symbols(gold, config)
    assert list(covered)[: len(config.symbols.all)] == list(config.symbols.all)
    assert covered["SPX"] == "equity" and covered["ESZ6"] == "future"
    assert list(covered)[len(config.symbols.all) :] == ["ESZ6", "SPX"]
    assert traded_symbols(None, config) == {s: config.symbols.asset_class(s) for s in config.symbols.all}
