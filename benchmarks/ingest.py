"""Finnhub collector throughput against the replay, next to a bare WebSocket receive loop.

The replay (Finnhub-compatible server, synthetic market of ~N trades) runs in a
child process, so server and client do not share a GIL. It is started twice
with the same seeded market:

1. **bare loop**: websocket-client connects, subscribes, and only receives
   frames and ``orjson.loads`` them to count the trades (no validation, no ids,
   no files): the ceiling for any Python consumer of this feed;
2. **collector**: :class:`FinnhubCollector` receiving, validating, assigning
   trade ids, quarantining and writing atomic NDJSON landing files.

Both clock from the subscription to the last trade (the collector also
includes its final flush). The client's CPU time per trade is printed too: on a
shared machine the wall-clock rates move with the load, the CPU cost does not.
Afterwards every landing file is read back: the
number of distinct trade ids must equal the trades the server counted as sent,
with no duplicate ids and the same multiset of (symbol, ts, price, volume).

Usage: python benchmarks/ingest.py [--trades 1000000] [--batch 50]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from collections import Counter
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import orjson
import websocket

from financial_transactions.config.collectors import BackoffConfig, ReplayConfig
from financial_transactions.ingest.collectors import FinnhubCollector
from financial_transactions.replay.synthetic import build_synthetic_market

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"]
TOKEN = "bench-token"


def replay_config(trades: int, batch: int) -> ReplayConfig:
    per_day = int(trades / len(SYMBOLS) / 2 / 1.04 / 1.05)  # 2 days, mean activity, identical-print runs
    return ReplayConfig(
        equity_trades_per_day=min(per_day, 10_000_000),
        trading_days=2,
        finnhub_batch_size=batch,
        start_grace_seconds=5.0,
        history_days=0,
    )


def serve(cfg_json: str, conn: Any) -> None:
    """Child process: build the market, serve it, report what was sent when told to stop."""
    from financial_transactions.replay.servers import ReplayHub

    cfg = ReplayConfig.model_validate_json(cfg_json)
    market = build_synthetic_market(cfg, SYMBOLS, [])
    hub = ReplayHub(market, cfg, ports=(0, 0, 0), token=TOKEN)
    urls = hub.start()
    conn.send({"url": urls.finnhub, "trades": len(market.indices_for("equity"))})
    conn.recv()  # "stop"
    conn.send(
        {
            "stats": hub.finnhub.stats.as_dict(),
            "delivered_once": bool((hub.finnhub.delivered == 1).all()),
            "exhausted": hub.finnhub.exhausted.is_set(),
        }
    )
    hub.stop()


def start_replay(cfg: ReplayConfig) -> tuple[BaseProcess, Any, dict[str, Any]]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(cfg.model_dump_json(), child), daemon=True)
    proc.start()
    return proc, parent, parent.recv()


def stop_replay(proc: BaseProcess, pipe: Any) -> dict[str, Any]:
    pipe.send("stop")
    result: dict[str, Any] = pipe.recv()
    proc.join(timeout=15)
    return result


def bare_loop(url: str, expected: int) -> tuple[int, float, float]:
    ws = websocket.create_connection(f"{url}/?token={TOKEN}", skip_utf8_validation=True)
    for s in SYMBOLS:
        ws.send(orjson.dumps({"type": "subscribe", "symbol": s}).decode())
    start, cpu = time.perf_counter(), time.process_time()
    trades = 0
    while trades < expected:
        _, data = ws.recv_data()
        msg = orjson.loads(data)
        if msg.get("type") == "trade":
            trades += len(msg["data"])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    ws.close()
    return trades, elapsed, cpu


def collector_run(url: str, expected: int, landing: Path) -> tuple[FinnhubCollector, float, float]:
    collector = FinnhubCollector(
        token=TOKEN,
        url=url,
        symbols=SYMBOLS,
        landing=landing,
        flush_max_records=50_000,
        flush_interval_seconds=5.0,
        backoff=BackoffConfig(initial_seconds=0.05, max_seconds=1.0),
        fsync=False,
    )
    start, cpu = time.perf_counter(), time.process_time()
    collector.run(stop_when=lambda: collector.counters.received + collector.counters.quarantined >= expected)
    return collector, time.perf_counter() - start, time.process_time() - cpu


def verify(landing: Path, cfg: ReplayConfig) -> dict[str, Any]:
    ids: set[str] = set()
    lines = 0
    landed: Counter[tuple[str, int, float, float]] = Counter()
    for path in sorted(landing.glob("finnhub/**/*.ndjson")):
        for line in path.read_bytes().splitlines():
            rec = orjson.loads(line)
            ids.add(rec["trade_id"])
            landed[(rec["symbol"], rec["ts"], rec["price"], rec["volume"])] += 1
            lines += 1
    market = build_synthetic_market(cfg, SYMBOLS, [])
    served: Counter[tuple[str, int, float, float]] = Counter(
        zip(
            [market.symbols[i] for i in market.sym.tolist()],
            market.ts.tolist(),
            market.price.tolist(),
            market.volume.tolist(),
            strict=True,
        )
    )
    leftovers = [p for p in landing.rglob(".*") if p.is_file()]
    return {
        "lines": lines,
        "distinct_ids": len(ids),
        "duplicated_ids": lines - len(ids),
        "content_matches_served": landed == served,
        "identical_print_rows": sum(c for c in served.values() if c > 1),
        "temp_files_left": len(leftovers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50, help="trades per Finnhub frame")
    args = parser.parse_args()
    cfg = replay_config(args.trades, args.batch)

    proc, pipe, info = start_replay(cfg)
    n = info["trades"]
    print(f"market: {n:,} trades over {len(SYMBOLS)} symbols, {args.batch} trades per frame")
    bare_trades, bare_s, bare_cpu = bare_loop(info["url"], n)
    bare_srv = stop_replay(proc, pipe)

    with tempfile.TemporaryDirectory(prefix="fin-ingest-bench-") as tmp:
        landing = Path(tmp)
        proc, pipe, info = start_replay(cfg)
        collector, coll_s, coll_cpu = collector_run(info["url"], n, landing)
        coll_srv = stop_replay(proc, pipe)
        check = verify(landing, cfg)

    bare_rate = bare_trades / bare_s
    coll_rate = collector.counters.received / coll_s
    sent = coll_srv["stats"]["trades_sent"]
    lost = sent - check["distinct_ids"]
    got = collector.counters.received
    print(f"bare websocket loop : {bare_trades:>10,} trades in {bare_s:6.2f}s = {bare_rate:>10,.0f} trades/s")
    print(f"FinnhubCollector    : {got:>10,} trades in {coll_s:6.2f}s = {coll_rate:>10,.0f} trades/s")
    print(f"collector / bare    : {coll_rate / bare_rate:.1%}")
    print(
        f"client CPU per trade: bare {bare_cpu / bare_trades * 1e6:.2f} us, collector {coll_cpu / got * 1e6:.2f} us "
        f"(= {got / coll_cpu:,.0f} trades per CPU-second); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"served {sent:,} | landed {check['lines']:,} lines, {check['distinct_ids']:,} distinct ids | "
        f"lost {lost} | duplicated {check['duplicated_ids']} | "
        f"content matches served: {check['content_matches_served']} | "
        f"identical-print rows in feed: {check['identical_print_rows']:,} | files {collector.counters.files} | "
        f"temp files left {check['temp_files_left']}"
    )
    print(
        f"server: bare run {bare_srv['stats']['trades_sent']:,} sent; "
        f"collector run delivered once: {coll_srv['delivered_once']}"
    )
    verdicts = {
        ">=100k trades/s": coll_rate >= 100_000,
        ">=50% of bare": coll_rate >= 0.5 * bare_rate,
        "0 lost": lost == 0,
        "0 duplicated": check["duplicated_ids"] == 0,
        "content = served": bool(check["content_matches_served"]),
        "every trade delivered once": bool(coll_srv["delivered_once"]),
        "0 temp files left": check["temp_files_left"] == 0,
    }
    failed = [name for name, ok in verdicts.items() if not ok]
    print(f"targets ({', '.join(verdicts)}):", "met" if not failed else f"NOT met: {', '.join(failed)}")


if __name__ == "__main__":
    main()
