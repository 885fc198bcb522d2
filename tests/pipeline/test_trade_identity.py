"""One identity per trade (issue 19, item 4), against the replay's vendor servers on 127.0.0.1.

* Binance gives a venue trade id: a window collected twice (a rerun of the runbook's
  "collector down" recovery), or by two overlapping collectors, lands once in silver.
* Finnhub gives none: identical prints stay distinct trades, and a second collector on
  the feed is refused by the feed lease, so one live trade is never received twice.
* Bronze remembers landing files relative to the landing root: a lakehouse copied to
  another folder re-ingests nothing.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from financial_transactions.ingest.collectors import (
    CryptoCollector,
    FeedLease,
    FeedLeaseHeld,
    FinnhubCollector,
    StreamCollector,
)
from financial_transactions.ingest.landing import landing_key
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub, StreamFeed
from financial_transactions.runtime import Platform
from tests.support.ingest import CRYPTO, EQUITIES, FAST_BACKOFF, TOKEN, read_landing, small_replay
from tests.support.replay import hub_factory, small_market

__all__ = ["hub_factory", "small_market"]


def _drained(collector: StreamCollector, feed: StreamFeed) -> Callable[[], bool]:
    return lambda: feed.exhausted.is_set() and collector.counters.frames >= feed.stats.frames_sent


def _collect_binance(hub: ReplayHub, landing: Path, *, leased: bool = True) -> int:
    """The recovery's "restart collection" against the replay: every trade of the window, once."""
    assert hub.urls is not None
    collector = CryptoCollector(
        url=hub.urls.binance, symbols=CRYPTO, landing=landing, backoff=FAST_BACKOFF, fsync=False,
        flush_max_records=200, flush_interval_seconds=0.2,
    )  # fmt: skip
    collector.leased = leased
    collector.run(duration=60, stop_when=_drained(collector, hub.binance))
    return collector.counters.landed


def _counts(platform: Platform) -> dict[str, int]:
    store, cfg = platform.store, platform.config
    silver = store.read_arrow(cfg.table("silver_trades"), columns=["source", "trade_id"])
    bronze = store.read_arrow(cfg.table("bronze_trades"), columns=["source", "_source_file"])
    return {
        "bronze": bronze.num_rows,
        "silver": silver.num_rows,
        "silver_binance": int(pc.sum(pc.equal(silver.column("source"), "binance")).as_py() or 0),
        "silver_ids": len(set(silver.column("trade_id").to_pylist())),
        "absolute_source_files": sum(1 for f in bronze.column("_source_file").to_pylist() if f.startswith("/")),
    }


def test_recollected_and_overlapping_binance_land_once_and_a_moved_lakehouse_reingests_nothing(
    platform: Platform, spark: Any, small_market: MarketData, hub_factory: Callable[..., ReplayHub], tmp_path: Path
) -> None:
    landing = Path(platform.paths.landing)
    cfg = small_replay(faults={"drop_every_n_messages": 150})
    window = len(hub_factory(small_market, cfg).binance.events)
    assert window > 0

    # the recovery, first time: collect the window, run the pipeline
    assert _collect_binance(hub_factory(small_market, cfg), landing) == window
    PipelineRunner(platform).run()
    first = _counts(platform)
    assert first == {"bronze": window, "silver": window, "silver_binance": window, "silver_ids": window,
                     "absolute_source_files": 0}  # fmt: skip

    # the recovery replayed: the same window collected again, pipeline again -> silver unchanged
    assert _collect_binance(hub_factory(small_market, cfg), landing) == window
    PipelineRunner(platform).run()
    assert _counts(platform) == {**first, "bronze": 2 * window}

    # two overlapping collectors on the same window (the feed lease prevents it on one landing zone; a handover
    # between hosts can still overlap for a moment): both land everything, silver keeps one row per trade
    hubs = [hub_factory(small_market, cfg), hub_factory(small_market, cfg)]
    landed: list[int] = []
    threads = [
        threading.Thread(target=lambda h=h: landed.append(_collect_binance(h, landing, leased=False))) for h in hubs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert landed == [window, window]
    assert len(read_landing(landing, "binance")) == 4 * window
    result = PipelineRunner(platform).run()
    assert result.silver is not None and result.silver.silver_inserted == 0
    assert _counts(platform) == {**first, "bronze": 4 * window}

    # a lakehouse restored elsewhere: same landing files under another root -> nothing re-ingested
    moved_root = tmp_path / "restored" / "lakehouse"
    shutil.copytree(platform.paths.root, moved_root)
    moved = Platform.create(platform.config, lakehouse_root=moved_root)
    moved._spark = spark
    assert Path(moved.paths.landing) != landing
    again = PipelineRunner(moved).run()
    assert (again.files_discovered, again.files_ingested, again.bronze_rows_added) == (again.files_discovered, 0, 0)
    assert again.files_discovered > 0 and again.mode == "up_to_date"
    assert _counts(moved) == {**first, "bronze": 4 * window}


def test_a_lakehouse_with_absolute_source_files_is_not_reingested_after_a_move(tmp_path: Path) -> None:
    """Rows written before bronze stored relative names compare equal to their relative form."""
    from financial_transactions.pipeline.bronze_ingest import new_files

    old = "file:/old/root/Volumes/landing/binance/date=2026-03-07/symbol=BTCUSDT/run-000001.ndjson"
    listed = [
        str(tmp_path / "landing/binance/date=2026-03-07/symbol=BTCUSDT/run-000001.ndjson"),
        str(tmp_path / "landing/binance/date=2026-03-07/symbol=BTCUSDT/run-000002.ndjson"),
    ]
    assert landing_key(old) == landing_key(listed[0]) == "binance/date=2026-03-07/symbol=BTCUSDT/run-000001.ndjson"
    assert new_files(listed, [old]) == listed[1:]
    assert new_files(listed, ["binance/date=2026-03-07/symbol=BTCUSDT/run-000002.ndjson"]) == listed[:1]


def _finnhub(hub: ReplayHub, landing: Path) -> FinnhubCollector:
    assert hub.urls is not None
    return FinnhubCollector(
        token=TOKEN, url=hub.urls.finnhub, symbols=EQUITIES, landing=landing, backoff=FAST_BACKOFF, fsync=False,
        flush_max_records=500, flush_interval_seconds=0.2,
    )  # fmt: skip


def test_a_second_finnhub_collector_on_the_feed_is_refused_by_the_lease(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay())
    first = _finnhub(hub, tmp_path)
    running = threading.Thread(target=first.run, kwargs={"duration": 60, "stop_when": _drained(first, hub.finnhub)})
    running.start()
    lease = tmp_path / "_leases" / "finnhub.json"
    for _ in range(200):
        if lease.exists():
            break
        threading.Event().wait(0.02)
    second = _finnhub(hub_factory(small_market, small_replay()), tmp_path)
    with pytest.raises(FeedLeaseHeld) as refused:
        second.run(duration=5)
    message = str(refused.value)
    assert "\n" not in message and first.run_id in message and "another collector is already receiving" in message
    assert second.counters.connections == 0 and second.counters.landed == 0
    running.join(timeout=90)
    assert not running.is_alive() and not lease.exists()  # released on a clean stop
    records = read_landing(tmp_path, "finnhub")
    assert len(records) == len(hub.finnhub.events) == first.counters.landed  # one collector, every trade once
    assert {r["collector_run"] for r in records} == {first.run_id}


def test_an_expired_or_dead_lease_is_taken_over_and_a_lost_one_stops_its_holder(tmp_path: Path) -> None:
    held = FeedLease(tmp_path, "finnhub", "run-a", ttl_seconds=0.3)
    held.acquire()
    with pytest.raises(FeedLeaseHeld):
        FeedLease(tmp_path, "finnhub", "run-b", ttl_seconds=0.3).acquire()
    threading.Event().wait(0.4)  # no heartbeat: expired
    taker = FeedLease(tmp_path, "finnhub", "run-b", ttl_seconds=0.3)
    taker.acquire()
    assert taker.holder() is not None and taker.holder()["run_id"] == "run-b"  # type: ignore[index]
    assert held.renew() is False  # the old holder learns it lost the feed
    taker.release()
    assert not taker.path.exists()
    # a holder whose process is gone on this host (SIGKILL) is taken over at once, without waiting for expiry
    dead = FeedLease(tmp_path, "finnhub", "run-c", ttl_seconds=3600)
    dead.owner["pid"] = 2**22 + 12345  # no such process
    dead.acquire()
    FeedLease(tmp_path, "finnhub", "run-d").acquire()
