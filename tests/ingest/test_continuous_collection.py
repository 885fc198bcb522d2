"""Always-on collection against the real replay servers on 127.0.0.1: forced disconnects, the feed
lease between processes (refusal, takeover after SIGKILL), SIGTERM, and the gaps the events measure."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from financial_transactions.config import ProjectConfig
from financial_transactions.config.collectors import BackoffConfig
from financial_transactions.ingest.collectors import CryptoCollector, FeedLeaseHeld, FinnhubCollector, backoff_delay
from financial_transactions.ingest.health import collection_health, events_dir, read_events
from financial_transactions.ingest.jobs import record_gaps
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from financial_transactions.runtime import Platform
from tests.support.ingest import CRYPTO, EQUITIES, TOKEN, read_landing, small_replay, temp_files

#: Reconnect delays uniform(0, 0.2 s): long enough to measure, short enough for a fast test.
BACKOFF = BackoffConfig(initial_seconds=0.2, max_seconds=0.2, multiplier=2.0, max_attempts=1)
#: What a reconnect adds to its backoff sleep: the TCP + WebSocket handshake and the subscription on
#: 127.0.0.1 (about a millisecond) and the collector noticing the close (the server's close frame arrives
#: at once). 0.25 s covers scheduler stalls on this shared 2-core machine at a load average of 8.
RECONNECT_OVERHEAD = 0.25


def test_continuous_collector_survives_forced_disconnects_and_measures_each_gap(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    # 294 frames of 20 trades: a forced close after every 40th, 7 in all, the last well before the end
    cfg = small_replay(faults={"drop_every_n_messages": 40}, finnhub_batch_size=20)
    hub = hub_factory(small_market, cfg)
    assert hub.urls is not None
    collector = FinnhubCollector(
        token=TOKEN, url=hub.urls.finnhub, symbols=EQUITIES, landing=tmp_path, backoff=BACKOFF, fsync=False,
        flush_max_records=500, flush_interval_seconds=0.2, heartbeat_seconds=0.1, seed=7,
    )  # fmt: skip
    feed = hub.finnhub
    # persistent: max_attempts=1 would end a bounded run at the first empty connection; this one never gives up
    drained = lambda: feed.exhausted.is_set() and collector.counters.frames >= feed.stats.frames_sent  # noqa: E731
    counters = collector.run(None, persistent=True, stop_when=drained)
    assert feed.stats.drops == 7 and counters.reconnects == feed.stats.drops
    assert counters.landed == len(feed.events) == len(read_landing(tmp_path, "finnhub"))  # nothing lost

    events = read_events(tmp_path, "finnhub")
    (run,) = events.runs
    kinds = [e["event"] for e in run.events]
    assert kinds[0] == "start" and kinds[-1] == "stop" and run.events[-1]["clean"] is True
    assert kinds.count("connect") == counters.connections and kinds.count("disconnect") == feed.stats.drops
    rows = collection_health(tmp_path, ["finnhub", "binance"], now=time.time(), stale_after=5.0)
    assert {r["feed"] for r in rows} == {"finnhub"}  # no binance events, no binance row
    assert sum(r["disconnects"] for r in rows) == feed.stats.drops
    assert sum(r["trades_landed"] for r in rows) == counters.landed
    assert sum(r["runs"] for r in rows) == len(rows)  # one run, on each day it touched
    # the backoff sleeps the collector drew (seeded, reset after every connection that delivered data)
    rng = random.Random(7)
    sleeps = [backoff_delay(BACKOFF, 0, rng) for _ in range(feed.stats.drops)]
    down = sum(r["downtime_seconds"] for r in rows)
    assert sum(sleeps) - 0.005 * len(sleeps) <= down <= sum(sleeps) + RECONNECT_OVERHEAD * len(sleeps)
    longest = max(r["longest_gap_seconds"] for r in rows)
    assert max(sleeps) - 0.005 <= longest <= max(sleeps) + RECONNECT_OVERHEAD
    first_connect = next(e["at"] for e in run.events if e["event"] == "connect")
    span = run.events[-1]["at"] - first_connect
    assert sum(r["connected_seconds"] for r in rows) + down == pytest.approx(span, abs=0.002 * len(rows) + 0.002)


def _config(project_root: Path, tmp_path: Path) -> Path:
    raw = yaml.safe_load((project_root / "project_config.yml").read_text())
    raw["collectors"]["crypto"].update(flush_interval_seconds=0.3, fsync=False, heartbeat_seconds=0.2)
    path = tmp_path / "project_config.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _ingest(config: Path, root: Path, url: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-c", "from financial_transactions.cli import app; app()",
        "--config", str(config), "--lakehouse-root", str(root), "ingest", "crypto", "--continuous",
    ]  # fmt: skip
    env = {**os.environ, "FIN_MLOPS_CRYPTO_WS_URL": url, "COLUMNS": "200"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(check: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"collector exited ({proc.returncode}) before {what}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _events(landing: Path, run_id: str) -> list[dict[str, Any]]:
    path = events_dir(landing, "binance") / f"{run_id}.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_the_lease_refuses_a_second_collector_a_killed_one_is_taken_over_and_sigterm_flushes(
    tmp_path: Path, project_root: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay(speed=200.0))  # minutes of feed: still playing throughout
    assert hub.urls is not None
    config, root = _config(project_root, tmp_path), tmp_path / "lake"
    platform = Platform.create(ProjectConfig.from_yaml(config, "dev"), lakehouse_root=root)
    landing = Path(platform.paths.landing)
    lease = landing / "_leases" / "binance.json"

    first = _ingest(config, root, hub.urls.binance)
    _wait(lambda: lease.exists() and any((landing / "binance").rglob("*.ndjson")), first, "the first landing file")
    first_run = orjson.loads(lease.read_bytes())["run_id"]

    # a second collector on the feed is refused while the first holds the lease: in process ...
    second = CryptoCollector(url=hub.urls.binance, symbols=CRYPTO, landing=landing, fsync=False)
    with pytest.raises(FeedLeaseHeld) as refused:
        second.run(duration=2)
    assert first_run in str(refused.value) and second.counters.connections == 0
    assert not (events_dir(landing, "binance") / f"{second.run_id}.ndjson").exists()  # it never started
    # ... and from the command line: one line, exit 2, no traceback
    cli = _ingest(config, root, hub.urls.binance)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 2, (out, err)
    assert err.strip().count("\n") == 0 and "another collector is already receiving this feed" in err.replace("\n", " ")

    # the first dies without a word (SIGKILL): its lease names a dead pid, so a new collector takes over at once
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = time.time()
    assert lease.exists()  # nothing released it
    third = _ingest(config, root, hub.urls.binance)
    _wait(lambda: lease.exists() and orjson.loads(lease.read_bytes())["run_id"] != first_run, third, "the takeover")
    third_run = orjson.loads(lease.read_bytes())["run_id"]
    _wait(lambda: any(e["event"] == "heartbeat" for e in _events(landing, third_run)), third, "a heartbeat")
    third.send_signal(signal.SIGTERM)
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0, (out, err)

    # SIGTERM: flushed, complete files only, lease released, a clean stop with the landed count
    assert not lease.exists() and temp_files(landing) == []
    records = read_landing(landing, "binance")
    by_run = {run: sum(1 for r in records if r["collector_run"] == run) for run in (first_run, third_run)}
    stop = _events(landing, third_run)[-1]
    assert stop["event"] == "stop" and stop["clean"] is True and stop["landed"] == by_run[third_run] > 0
    assert len({r["trade_id"] for r in records}) == len(records)

    # the gap: from the killed run's last event to the next connect, counted as one disconnect
    first_events, third_events = _events(landing, first_run), _events(landing, third_run)
    assert first_events[-1]["event"] != "stop"  # the crash wrote nothing
    reconnect = next(e["at"] for e in third_events if e["event"] == "connect")
    expected_gap = reconnect - first_events[-1]["at"]
    # it starts at the last heartbeat (every 0.2 s), before the kill
    assert 0 < reconnect - killed_at < expected_gap <= reconnect - killed_at + 0.2 + RECONNECT_OVERHEAD
    now = time.time()
    rows = record_gaps(platform, now=now)
    assert [(r["feed"], r["runs"], r["disconnects"]) for r in rows] == [("binance", 2, 1)] or (
        len(rows) == 2 and sum(r["disconnects"] for r in rows) == 1  # the run crossed midnight UTC
    )
    assert sum(r["downtime_seconds"] for r in rows) == pytest.approx(expected_gap, abs=0.002)
    assert max(r["longest_gap_seconds"] for r in rows) == pytest.approx(expected_gap, abs=0.002)
    # trades landed: the killed run's until its last event, the stopped run's all
    assert sum(r["trades_landed"] for r in rows) == first_events[-1]["landed"] + by_run[third_run]
    # idempotent: recomputing merges the same (feed, day) rows in place
    table = platform.config.table("collector_gaps")
    written = platform.store.read(table).sort_values("day").to_dict("records")
    assert record_gaps(platform, now=now) == rows
    again = platform.store.read(table).sort_values("day").to_dict("records")
    assert again == written and len(again) == len(rows)
