"""Landing -> gold throughput of the embedded pipeline runner.

Lands N trades (default 1,000,000: 5 equities + 3 crypto pairs over two days,
runs of identical prints with distinct ids, 0.1% bad rows) the way the collectors
do: Finnhub frames of 50 trades and single-trade Binance events go through the
collectors' own parsers (real trade ids, ``collector`` = ``finnhub``/``binance``)
into a :class:`LandingWriter` per source, which writes atomic files per source,
UTC date and symbol, flushed every ``--flush-records`` (default: the ``fin-mlops
run`` collectors' ``replay.collect_flush_max_records``). The bad rows carry a
lower-case symbol, outside ``symbols.pattern``: collectors land them (a feed's
symbol is its own), silver's ``symbol_valid`` quarantines them. (A feed clock
ahead of the receive time is rejected by the parsers since live timestamps are
bounded relative to the receive clock, so it no longer reaches landing.) Then ``PipelineRunner`` runs on ``local[2]``
and prints the time per layer (bronze, silver, gold) and end-to-end trades/s.

A warm-up run (200,000 trades by default) in another lakehouse first pays the JVM's
class loading and JIT compilation and the Python workers' start-up, which are not
per-trade costs (a 20,000-trade warm-up left the JSON reader ~30% slower than warm).
A second run on the same landing zone shows the idempotent no-op.

Then the cold figure: a fresh ``fin-mlops pipeline`` subprocess (its own JVM, Python
workers and imports, the project's engine settings) on a landing zone of
``--cold-trades`` (default 500,000), with the engine's start measured alone in another
fresh subprocess and printed beside it.

Every phase also prints its CPU seconds (this process, the JVM and the Python workers,
read from /proc): on a shared machine the wall clock depends on the load, CPU time much
less. The load average is printed with each figure.

Usage: python benchmarks/pipeline.py [--trades N] [--flush-records R] [--warmup-trades W] [--cold-trades C]
Targets: at least 100,000 trades/s warm end to end; the cold 500k-trade run within 12 s, engine start included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.ingest.landing import LandingWriter
from financial_transactions.ingest.records import BINANCE, FINNHUB, FrameContext, parse_binance, parse_finnhub
from financial_transactions.lakehouse.engine import get_spark
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.pipeline.runs import PipelineResult
from financial_transactions.runtime import Platform

TARGET = 100_000
COLD_TARGET_S = 12.0
EQUITIES = ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"]
CRYPTO = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FINNHUB_BATCH = 50  # trades per Finnhub frame, as the replay sends them


def _trades(trades: int, seed: int) -> pd.DataFrame:
    """Time-ordered trades of 8 symbols over two days; every 20th repeats its predecessor (an identical print)."""
    rng = np.random.default_rng(seed)
    symbols = np.array(EQUITIES + CRYPTO)
    sym = symbols[rng.integers(0, len(symbols), trades)]
    start = pd.Timestamp("2026-03-06T09:00:00Z").value // 1_000_000
    ts = start + np.sort(rng.integers(0, 2 * 86_400_000, trades))
    price = np.round(rng.lognormal(5, 0.4, trades), 2)
    volume = rng.integers(1, 500, trades).astype("float64")
    repeat = np.flatnonzero(np.arange(trades) % 20 == 19)
    for column in (ts, price, volume, sym):
        column[repeat] = column[repeat - 1]
    return pd.DataFrame({"symbol": sym, "ts": ts, "price": price, "volume": volume, "bad": rng.random(trades) < 0.001})


def make_landing(landing: Path, trades: int, flush_records: int, seed: int = 7) -> tuple[int, int]:
    """Land ``trades`` through the collectors' parsers and landing writers; returns (bad rows, files)."""
    frame = _trades(trades, seed)
    files = 0
    for source, collector, symbols, batch in (
        (FINNHUB, "finnhub", EQUITIES, FINNHUB_BATCH),
        (BINANCE, "binance", CRYPTO, 1),
    ):
        part = frame[frame["symbol"].isin(symbols)]
        writer = LandingWriter(landing, source, "bench", max_records=flush_records, fsync=False)
        columns = zip(*(part[c].tolist() for c in ("symbol", "ts", "price", "volume", "bad")), strict=True)
        for seq, chunk in enumerate(_batched(columns, batch), start=1):
            received = chunk[-1][1] + 150
            ctx = FrameContext(source, collector, "bench", 1, seq, received)
            if source == FINNHUB:
                data = [
                    {"s": s.lower() if bad else s, "p": p, "v": int(v), "t": t, "c": ["1", "12"]}
                    for s, t, p, v, bad in chunk
                ]
                parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), ctx)
            else:
                ((s, t, p, v, bad),) = chunk
                event = {"e": "trade", "E": received, "s": s.lower() if bad else s, "t": seq, "p": f"{p:.8f}",
                         "q": f"{v:.8f}", "T": t, "m": bool(seq % 2)}  # fmt: skip
                parsed = parse_binance(orjson.dumps(event), ctx)
            assert parsed.kind == "trade" and not parsed.rejects, parsed
            writer.add_chunks(parsed.chunks)
            writer.add_many(parsed.records)
        writer.close()
        files += writer.stats.files
        assert writer.stats.records == len(part), (source, writer.stats.records, len(part))
    return int(frame["bad"].sum()), files


def _batched(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def platform_on(root: Path, spark: object) -> Platform:
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=root)
    platform._spark = spark  # type: ignore[assignment]
    return platform


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and its reaped children), from /proc."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / _TICK)
    return table


def tree_cpu_seconds(root: int | None = None) -> float:
    """CPU seconds (user + system) of ``root`` and every descendant: the JVM, the Python workers.

    Linux only (``/proc``); elsewhere this process alone, through ``os.times``.
    """
    if not os.path.isdir("/proc"):
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system
    root = root or os.getpid()
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _cpu) in table.items():
        children.setdefault(parent, []).append(pid)
    total, stack = table.get(root, (0, 0.0))[1], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            total += table[child][1]
            stack.append(child)
    return total


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


class LayerClock:
    """The runner's progress messages mark where each layer starts: CPU seconds per layer."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        layer = message.split(":", 1)[0]
        if not self.marks or self.marks[-1][0] != layer:
            self.marks.append((layer, tree_cpu_seconds()))

    def cpu(self, end: float) -> dict[str, float]:
        bounds = [*self.marks, ("end", end)]
        return {name: bounds[i + 1][1] - at for i, (name, at) in enumerate(self.marks)}


def report(result: PipelineResult, trades: int, wall: float, cpu: dict[str, float]) -> None:
    print(f"  files ingested      {result.files_ingested:>12,}")
    for layer in ("bronze", "silver", "gold"):
        seconds = result.seconds.get(layer, 0.0)
        rate = trades / seconds if seconds else float("inf")
        print(f"  {layer:<8} {seconds:>8.2f} s   {rate:>12,.0f} trades/s   cpu {cpu.get(layer, 0.0):>6.2f} s")
    print(f"  rows: {json.dumps(result.counts)}")
    total = trades / wall
    verdict = "PASS" if total >= TARGET else "FAIL"
    print(
        f"  end to end {wall:>6.2f} s   {total:>12,.0f} trades/s   cpu {sum(cpu.values()):>6.2f} s "
        f"({sum(cpu.values()) / trades * 1e6:.1f} us/trade)   (target >= {TARGET:,}: {verdict}; {load()})"
    )


def _watch_tree(proc: subprocess.Popen[bytes]) -> float:
    """Wait for ``proc``, sampling its process tree's CPU seconds; the last total seen.

    A descendant (the JVM) may outlive its reaping parent's accounting, so each process's
    own figure is kept as last seen, every 0.1 s.
    """
    seen: dict[int, float] = {}
    while proc.poll() is None:
        table = _proc_table()
        members, frontier = {proc.pid}, [proc.pid]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, _cpu) in table.items():
                if ppid == parent and pid not in members:
                    members.add(pid)
                    frontier.append(pid)
        for pid in members:
            if pid in table:
                seen[pid] = table[pid][1]
        time.sleep(0.1)
    return sum(seen.values())


def cold_run(trades: int, flush_records: int) -> None:
    """A fresh ``fin-mlops pipeline`` process on ``trades`` landed trades, and the engine's start alone."""
    fin_mlops = Path(sys.executable).with_name("fin-mlops")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cold"
        landing = platform_on(root, None).paths.landing
        make_landing(landing, trades, flush_records, seed=11)
        env = {**os.environ, "FIN_MLOPS_LAKEHOUSE_ROOT": str(root), "FIN_MLOPS_ENV": "dev"}
        env.pop("SPARK_REMOTE", None)
        command = [str(fin_mlops), "-c", str(PROJECT_ROOT / "project_config.yml"), "pipeline"]
        tick = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp)
        cpu = _watch_tree(proc)
        wall = time.perf_counter() - tick
        output = (proc.stdout.read() if proc.stdout else b"").decode(errors="replace")
        if proc.returncode:
            raise SystemExit(f"fin-mlops pipeline failed ({proc.returncode}):\n{output}")
        layers = dict(re.findall(r"(bronze|silver|gold) (\d+\.\d)s", output))
        start_code = (
            "import time; t = time.perf_counter()\n"
            "from financial_transactions.config import ProjectConfig\n"
            "from financial_transactions.runtime import Platform\n"
            f"cfg = ProjectConfig.from_yaml({str(PROJECT_ROOT / 'project_config.yml')!r}, 'dev')\n"
            f"platform = Platform.create(cfg, lakehouse_root={str(Path(tmp) / 'start')!r})\n"
            "i = time.perf_counter(); platform.spark; s = time.perf_counter()\n"
            "print(f'{i - t:.3f} {s - i:.3f}')\n"
        )
        tick = time.perf_counter()
        started = subprocess.Popen([sys.executable, "-c", start_code], env=env, stdout=subprocess.PIPE, cwd=tmp)
        start_cpu = _watch_tree(started)
        start_wall = time.perf_counter() - tick
        imports, engine = (float(x) for x in (started.stdout.read() if started.stdout else b"0 0").split()[-2:])
    print(f"cold `fin-mlops pipeline`, a fresh process on {trades:,} landed trades ({load()}):")
    print(f"  engine start alone (fresh process): {engine:.2f} s, imports + config {imports:.2f} s; "
          f"that process {start_wall:.2f} s wall, cpu {start_cpu:.2f} s")  # fmt: skip
    print("  layers: " + ", ".join(f"{k} {v} s" for k, v in layers.items()))
    verdict = "PASS" if wall <= COLD_TARGET_S else "FAIL"
    print(f"  whole command {wall:.2f} s wall, cpu {cpu:.2f} s   (target <= {COLD_TARGET_S:.0f} s: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument(
        "--flush-records",
        type=int,
        default=ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev").replay.collect_flush_max_records,
        help="landing writer flush size (default: replay.collect_flush_max_records)",
    )
    parser.add_argument(
        "--warmup-trades",
        type=int,
        default=200_000,
        help="trades of the untimed warm-up run (JVM class loading, JIT compilation, Python workers)",
    )
    parser.add_argument("--cold-trades", type=int, default=500_000, help="trades of the cold run (0: skip it)")
    args = parser.parse_args()
    spark = get_spark(master="local[2]", driver_memory="4g", shuffle_partitions=4, app_name="bench-pipeline")
    with tempfile.TemporaryDirectory() as tmp:
        warm = platform_on(Path(tmp) / "warmup", spark)
        make_landing(warm.paths.landing, args.warmup_trades, args.flush_records, seed=1)
        PipelineRunner(warm).run()

        platform = platform_on(Path(tmp) / "bench", spark)
        tick = time.perf_counter()
        bad, files = make_landing(platform.paths.landing, args.trades, args.flush_records)
        took = time.perf_counter() - tick
        print(f"landing: {args.trades:,} trades in {files} files ({bad} bad) in {took:.1f} s")

        clock = LayerClock()
        tick = time.perf_counter()
        result = PipelineRunner(platform, progress=clock).run()
        wall = time.perf_counter() - tick
        print(f"pipeline landing -> gold on local[2], {args.trades:,} trades (warm):")
        report(result, args.trades, wall, clock.cpu(tree_cpu_seconds()))
        expected_silver = args.trades - bad
        assert result.counts["silver_trades"] == expected_silver, (result.counts, expected_silver)
        assert result.counts["silver_trades_quarantine"] == bad, (result.counts, bad)

        tick = time.perf_counter()
        again = PipelineRunner(platform).run()
        took = time.perf_counter() - tick
        print(f"re-run on the same landing zone: {again.mode} in {took:.2f} s, rows {again.counts}")
    spark.stop()
    if args.cold_trades:
        cold_run(args.cold_trades, args.flush_records)


if __name__ == "__main__":
    main()
