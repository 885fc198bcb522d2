"""Shared helpers for the ingestion tests: a tiny seeded market config and landing readers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from financial_transactions.config import ProjectConfig
from financial_transactions.config.collectors import BackoffConfig, ReplayConfig, ReplayFaults
from financial_transactions.replay.market import MarketData

EQUITIES = ["AAPL", "MSFT", "NVDA"]
CRYPTO = ["BTCUSDT", "ETHUSDT"]
TOKEN = "test-token-123"
FAST_BACKOFF = BackoffConfig(initial_seconds=0.01, max_seconds=0.05, multiplier=2.0, max_attempts=20)


def small_replay(**overrides: Any) -> ReplayConfig:
    faults = overrides.pop("faults", {})
    base: dict[str, Any] = {
        "equity_trades_per_day": 1500,
        "crypto_trades_per_day": 400,
        "trading_days": 1,
        "history_days": 10,
        "anomaly_rate": 0.02,
        "identical_print_rate": 0.1,
        "start_grace_seconds": 1.0,
        "ping_interval_seconds": 5.0,
        "hold_timeout_seconds": 10.0,
        "faults": ReplayFaults(**faults),
    }
    base.update(overrides)
    return ReplayConfig(**base)


def read_landing(landing: Path, source: str) -> list[dict[str, Any]]:
    """Every record of every complete landing file of ``source``."""
    out: list[dict[str, Any]] = []
    for path in sorted((landing / source).rglob("*.ndjson")):
        assert not path.name.startswith((".", "_"))
        out.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return out


def read_quarantine(landing: Path, source: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((landing / "_quarantine" / source).rglob("*.ndjson")):
        out.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return out


def temp_files(landing: Path) -> list[Path]:
    return [p for p in landing.rglob(".*") if p.is_file()]


def served_multiset(market: MarketData, feed: Any) -> Counter[tuple[str, int, float, float]]:
    """(symbol, ts, price, volume) of every trade the feed counted as delivered, with multiplicity."""
    out: Counter[tuple[str, int, float, float]] = Counter()
    for pos, times in enumerate(feed.delivered.tolist()):
        if times:
            i = int(feed.events[pos])
            key = (market.symbols[market.sym[i]], int(market.ts[i]), float(market.price[i]), float(market.volume[i]))
            out[key] += times
    return out


def landed_multiset(records: list[dict[str, Any]]) -> Counter[tuple[str, int, float, float]]:
    return Counter((r["symbol"], r["ts"], r["price"], r["volume"]) for r in records)


def with_replay(config: ProjectConfig, replay: ReplayConfig) -> ProjectConfig:
    return config.model_copy(update={"replay": replay})
