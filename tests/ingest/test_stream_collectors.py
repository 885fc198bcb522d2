"""Finnhub and Binance collectors against the real replay servers over real sockets on 127.0.0.1."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import websocket

from financial_transactions.ingest.collectors import CryptoCollector, FinnhubCollector, StreamCollector
from financial_transactions.ingest.redaction import CollectorError
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub, StreamFeed
from tests.support.ingest import (
    CRYPTO,
    EQUITIES,
    FAST_BACKOFF,
    TOKEN,
    landed_multiset,
    read_landing,
    read_quarantine,
    served_multiset,
    small_replay,
    temp_files,
)


def _drained(collector: StreamCollector, feed: StreamFeed) -> Callable[[], bool]:
    return lambda: feed.exhausted.is_set() and collector.counters.frames >= feed.stats.frames_sent


def _finnhub(hub: ReplayHub, landing: Path, **kw: object) -> FinnhubCollector:
    assert hub.urls is not None
    return FinnhubCollector(
        token=TOKEN, url=hub.urls.finnhub, symbols=EQUITIES, landing=landing, backoff=FAST_BACKOFF, fsync=False,
        flush_max_records=500, flush_interval_seconds=0.2, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_finnhub_lossless_across_forced_disconnects_and_malformed_frames(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    cfg = small_replay(faults={"drop_every_n_messages": 7, "malformed_every_n_messages": 5}, finnhub_batch_size=20)
    hub = hub_factory(small_market, cfg)
    collector = _finnhub(hub, tmp_path, seed=1)
    counters = collector.run(duration=60, stop_when=_drained(collector, hub.finnhub))
    feed = hub.finnhub
    n = len(feed.events)
    records = read_landing(tmp_path, "finnhub")
    ids = [r["trade_id"] for r in records]
    # N trades served (every one exactly once, the timeline held while the collector reconnected) ...
    assert feed.stats.trades_sent == n and (feed.delivered == 1).all() and feed.stats.undelivered == 0
    # ... land as exactly N distinct trade ids, identical prints included
    assert len(ids) == len(set(ids)) == n == counters.landed
    assert landed_multiset(records) == served_multiset(small_market, feed)
    content = [(r["symbol"], r["ts"], r["price"], r["volume"]) for r in records]
    assert len(set(content)) < n  # identical prints were served and none was collapsed
    # every connection after the first follows a drop; a drop after the feed's last batch (its frames
    # crossed a multiple of drop_every) leaves nothing to reconnect for, so it may go unanswered
    assert feed.stats.drops >= 5 and counters.reconnects == feed.stats.connections - 1
    assert feed.stats.drops - counters.reconnects in (0, 1)
    assert {r["connection"] for r in records} == set(range(1, counters.connections + 1))
    # malformed frames: every one quarantined with a reason, none landed
    quarantine = read_quarantine(tmp_path, "finnhub")
    assert len(quarantine) == counters.quarantined == feed.stats.malformed_sent > 0
    assert all(q["reason"] and q["raw"] for q in quarantine)
    assert temp_files(tmp_path) == []


def test_without_hold_the_feed_drops_what_nobody_received_and_the_count_still_matches(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    """Like the real Finnhub: no replay after a disconnect. Landed == what was actually sent."""
    cfg = small_replay(
        faults={"drop_every_n_messages": 10, "delay_ms": 2.0}, hold_when_unsubscribed=False, finnhub_batch_size=10
    )
    hub = hub_factory(small_market, cfg)
    collector = _finnhub(hub, tmp_path)
    collector.backoff = FAST_BACKOFF.model_copy(update={"initial_seconds": 0.1, "max_seconds": 0.1})
    collector.run(duration=60, stop_when=_drained(collector, hub.finnhub))
    feed = hub.finnhub
    records = read_landing(tmp_path, "finnhub")
    assert feed.stats.undelivered > 0 and feed.stats.trades_sent < len(feed.events)
    assert len({r["trade_id"] for r in records}) == len(records) == feed.stats.trades_sent
    assert landed_multiset(records) == served_multiset(small_market, feed)


def test_crypto_collector_over_binance_combined_stream(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    cfg = small_replay(faults={"drop_every_n_messages": 150, "malformed_every_n_messages": 40})
    hub = hub_factory(small_market, cfg)
    assert hub.urls is not None
    collector = CryptoCollector(
        url=hub.urls.binance, symbols=CRYPTO, landing=tmp_path, backoff=FAST_BACKOFF, fsync=False,
        flush_interval_seconds=0.2,
    )  # fmt: skip
    counters = collector.run(duration=60, stop_when=_drained(collector, hub.binance))
    records = read_landing(tmp_path, "binance")
    feed = hub.binance
    assert len({r["trade_id"] for r in records}) == len(records) == len(feed.events) == feed.stats.trades_sent
    assert landed_multiset(records) == served_multiset(small_market, feed)
    assert counters.reconnects >= 2 and counters.quarantined == feed.stats.malformed_sent > 0
    assert all(r["exchange_trade_id"] and r["is_buyer_maker"] in (True, False) for r in records)
    assert {r["symbol"] for r in records} == set(CRYPTO)


def test_binance_raw_stream_and_subscribe_method(
    small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay(start_grace_seconds=0.2, hold_when_unsubscribed=False))
    assert hub.urls is not None
    ws = websocket.create_connection(f"{hub.urls.binance}/ws", timeout=10)
    ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 7}).decode())
    assert orjson.loads(ws.recv()) == {"result": None, "id": 7}
    ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}).decode())
    assert orjson.loads(ws.recv()) == {"result": ["ethusdt@trade"], "id": 8}
    event = orjson.loads(ws.recv())
    assert event["e"] == "trade" and event["s"] == "ETHUSDT" and isinstance(event["p"], str)
    ws.close()


def test_finnhub_token_required_and_checked(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market)
    assert hub.urls is not None
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        websocket.create_connection(f"{hub.urls.finnhub}/", timeout=5)
    assert missing.value.status_code == 401
    wrong = "wrong-" + secrets.token_hex(6)  # generated: no key-like literal in the tree
    collector = FinnhubCollector(token=wrong, url=hub.urls.finnhub, symbols=EQUITIES, landing=tmp_path)
    with pytest.raises(CollectorError, match="HTTP 401") as refused:
        collector.run(duration=10)
    assert wrong not in str(refused.value) and "token=***" in str(refused.value)
    with pytest.raises(CollectorError, match="no API key"):
        FinnhubCollector(token="", url=hub.urls.finnhub, symbols=EQUITIES, landing=tmp_path)


def test_finnhub_server_protocol_pings_and_errors(
    small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    cfg = small_replay(ping_interval_seconds=0.1, start_grace_seconds=30)
    hub = hub_factory(small_market, cfg)
    assert hub.urls is not None
    ws = websocket.create_connection(f"{hub.urls.finnhub}/?token={TOKEN}", timeout=10)
    ws.send("hello")
    assert orjson.loads(ws.recv()) == {"type": "error", "msg": "Invalid message: expected subscribe/unsubscribe"}
    ws.send(orjson.dumps({"type": "subscribe", "symbol": "AAPL"}).decode())  # not all symbols: playback waits
    assert orjson.loads(ws.recv()) == {"type": "ping"}
    ws.close()
    assert hub.finnhub.stats.client_errors == 1 and hub.finnhub.stats.pings_sent >= 1


def test_reconnect_with_backoff_when_the_server_is_unreachable(tmp_path: Path) -> None:
    collector = FinnhubCollector(
        token="unreachable-key", url="ws://127.0.0.1:9", symbols=["AAPL"], landing=tmp_path,
        backoff=FAST_BACKOFF.model_copy(update={"max_attempts": 3}), connect_timeout_seconds=1,
    )  # fmt: skip
    start = time.monotonic()
    with pytest.raises(CollectorError, match="giving up after 3 attempts"):
        collector.run(duration=30)
    assert time.monotonic() - start < 10 and collector.counters.connections == 0


def test_duration_and_stop_flush_everything_received(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay(speed=300.0))  # slow enough to still be playing
    collector = _finnhub(hub, tmp_path)
    collector.writer.max_age = 3600  # nothing flushes by age: only the final flush lands data
    start = time.monotonic()
    counters = collector.run(duration=1.5)
    assert 1.4 <= time.monotonic() - start < 6
    records = read_landing(tmp_path, "finnhub")
    assert 0 < counters.received == counters.landed == len(records) < len(hub.finnhub.events)
    # stop() from another thread ends the loop just the same
    other = _finnhub(hub, tmp_path / "b")
    threading.Timer(0.8, other.stop).start()
    other.run(duration=60)
    assert other.counters.landed == len(read_landing(tmp_path / "b", "finnhub")) > 0


def test_keys_never_reach_logs_or_landing(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub], caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"sk-finnhub-{uuid.uuid4().hex[:12]}"  # generated: no credential-like literal in git
    hub = hub_factory(small_market, small_replay(faults={"drop_every_n_messages": 20}), token=secret)
    caplog.set_level("DEBUG")
    assert hub.urls is not None
    collector = FinnhubCollector(
        token=secret, url=hub.urls.finnhub, symbols=EQUITIES, landing=tmp_path, backoff=FAST_BACKOFF, fsync=False
    )
    collector.run(duration=60, stop_when=_drained(collector, hub.finnhub))
    assert collector.counters.reconnects > 0 and "token=***" in caplog.text
    assert secret not in caplog.text
    assert all(secret.encode() not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_keepalives_answered_and_dead_connections_replaced(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    # Binance-style protocol pings (answered by the client) and Finnhub JSON pings (counted), on a slow feed
    cfg = small_replay(ping_interval_seconds=0.1, speed=50.0)
    hub = hub_factory(small_market, cfg)
    assert hub.urls is not None
    crypto = CryptoCollector(url=hub.urls.binance, symbols=CRYPTO, landing=tmp_path, fsync=False)
    finn = _finnhub(hub, tmp_path)
    t = threading.Thread(target=crypto.run, kwargs={"duration": 1.5})
    t.start()
    finn.run(duration=1.5)
    t.join()
    assert hub.binance.stats.connections == 1 and crypto.counters.reconnects == 0  # pongs kept it alive
    assert finn.counters.pings >= 3 and finn.counters.reconnects == 0
    # a connection that goes silent (no trades, no pings) is declared dead and replaced
    quiet = hub_factory(small_market, small_replay(ping_interval_seconds=3600, start_grace_seconds=300))
    assert quiet.urls is not None
    stale = FinnhubCollector(
        token=TOKEN, url=quiet.urls.finnhub, symbols=["AAPL"], landing=tmp_path / "q", backoff=FAST_BACKOFF,
        stale_after_seconds=0.3,
    )  # fmt: skip
    stale.run(duration=2.0)
    assert stale.counters.reconnects >= 2 and stale.last_error == "no frame for 0.3s"


def test_backoff_is_exponential_full_jitter_and_bounded() -> None:
    import random

    from financial_transactions.config.collectors import BackoffConfig
    from financial_transactions.ingest.collectors import backoff_delay

    cfg = BackoffConfig(initial_seconds=0.5, max_seconds=4.0, multiplier=2.0)
    rng = random.Random(3)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (10_000, 4.0)]:
        draws = [backoff_delay(cfg, attempt, rng) for _ in range(200)]
        assert min(draws) >= 0 and max(draws) <= cap and max(draws) > 0.8 * cap  # spread over [0, cap]
