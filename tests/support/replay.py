"""Replay fixtures shared by the ingest and replay tests: a tiny seeded market and hubs on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from financial_transactions.config.collectors import ReplayConfig
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from financial_transactions.replay.synthetic import build_synthetic_market
from tests.support.ingest import CRYPTO, EQUITIES, TOKEN, small_replay


@pytest.fixture(scope="session")
def small_market() -> MarketData:
    return build_synthetic_market(small_replay(), EQUITIES, CRYPTO)


@pytest.fixture
def hub_factory() -> Iterator[Callable[..., ReplayHub]]:
    hubs: list[ReplayHub] = []

    def make(market: MarketData, cfg: ReplayConfig | None = None, **kw: Any) -> ReplayHub:
        hub = ReplayHub(market, cfg or small_replay(), ports=(0, 0, 0), token=kw.pop("token", TOKEN), **kw)
        hub.start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.stop()
