"""Coverage-guided fuzzing (atheris / libFuzzer) of the vendor parsers and the landing reader.

Targets (``--target``):

* ``records``: one input is a frame for ``parse_finnhub``, ``parse_binance`` and
  ``parse_alphavantage`` (``ingest/records.py``). Oracle: no exception, no frame caught
  only by the parsers' defensive ``parser error`` net (that is a parser bug), and every
  landing line is a JSON object with a positive finite price and an integer event time.
* ``landing``: one input is a landing file's bytes for the bronze scan
  (``pipeline.bronze_ingest.inspect_file``). Oracle: no exception, every non-blank line is
  either an intact JSON object or one damaged unit, and a file with no record is damaged.

Seeds are valid vendor frames and landing lines, so the fuzzer starts from the accepted
shapes. The run prints ``executions=<n>``; the exit status is non-zero on a finding.

    python scripts/fuzz_landing.py --target all --seconds 600
    python scripts/fuzz_landing.py --long-line-mb 100        # one 100 MB line through the scan
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SEEDS: dict[str, list[bytes]] = {
    "records": [
        b'{"type":"trade","data":[{"s":"AAPL","p":187.25,"v":100,"t":1772809200000,"c":["1","12"]}]}',
        b'{"type":"trade","data":[{"s":"MSFT","p":410.5,"v":3,"t":1772809200001},'
        b'{"s":"MSFT","p":410.5,"v":3,"t":1772809200001,"c":null}]}',
        b'{"type":"ping"}',
        b'{"type":"error","msg":"Invalid API key"}',
        b'{"e":"trade","E":1772809200000,"s":"BTCUSDT","t":12345,"p":"90000.10","q":"0.015","T":1772809200000,'
        b'"m":true}',
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"1.5","q":"2","T":1772809200000,'
        b'"m":false}}',
        b'{"Meta Data":{"2. Symbol":"AAPL"},"Time Series (1min)":{"2026-03-06 09:31:00":{"1. open":"1","2. high":"2",'
        b'"3. low":"0.5","4. close":"1.5","5. volume":"10"}}}',
        b'{"Note":"Thank you for using Alpha Vantage!"}',
    ],
    "landing": [
        b'{"trade_id":"fh-1","record_type":"trade","source":"finnhub","symbol":"AAPL","price":1.0,"volume":1.0,'
        b'"ts":1772809200000}\n',
        b'{"trade_id":"a"}\n{"trade_id":"b","venue":"X"}\n',
        b"",
        b'{"trade_id":"c","pri',
        b"\xff\xfe\n\x00\n",
    ],
}


def _check_records(data: bytes) -> None:
    from financial_transactions.ingest.records import FrameContext, parse_alphavantage, parse_binance, parse_finnhub

    received = 1_772_809_260_000
    for source, parse in (("finnhub", parse_finnhub), ("binance", parse_binance)):
        parsed = parse(data, FrameContext(source, source, "fuzz", 1, 1, received))
        for reject in parsed.rejects:
            if reject.reason.startswith("parser error"):
                raise AssertionError(f"{source} parser bug: {reject.reason} on {data[:200]!r}")
        for _symbol, line in parsed.landing_lines():
            for text in line.splitlines():
                record = orjson.loads(text)
                assert type(record) is dict, record
                price = record["price"]
                assert isinstance(price, float | int) and price > 0 and math.isfinite(price), record
                assert type(record["ts"]) is int, record
    av = parse_alphavantage(data, symbol="AAPL", interval="1min", received_at=received, collector_run="fuzz")
    for reject in av.rejects:
        if reject.reason.startswith("parser error"):
            raise AssertionError(f"alphavantage parser bug: {reject.reason} on {data[:200]!r}")


def _check_landing(data: bytes, folder: Path) -> None:
    from financial_transactions.pipeline.bronze_ingest import inspect_file

    path = folder / "fuzz-000001.ndjson"
    path.write_bytes(data)
    scan = inspect_file(str(path))
    lines = data.split(b"\n")
    non_blank = sum(1 for line in lines if line.strip())
    line_units = [d for d in scan.damage if d.line is not None]
    if scan.damage:
        assert len(scan.intact) + len(line_units) == non_blank, (len(scan.intact), len(line_units), non_blank)
        for text in scan.intact:
            assert type(orjson.loads(text)) is dict
    if non_blank == 0:
        assert [d.line for d in scan.damage] == [None] and "empty file" in scan.damage[0].reason


def _fuzz(target: str, seconds: float, corpus: Path) -> None:
    """Runs inside the child: atheris instruments our modules, libFuzzer drives the inputs."""
    import atheris

    with atheris.instrument_imports(include=["financial_transactions"]):
        import financial_transactions.ingest.records
        import financial_transactions.pipeline.bronze_ingest  # noqa: F401
    folder = Path(tempfile.mkdtemp(prefix="fuzz-landing-"))

    def one(data: bytes) -> None:
        if target == "records":
            _check_records(data)
        else:
            _check_landing(data, folder)

    flags = [f"-max_total_time={max(1, int(seconds))}", "-print_final_stats=1", f"-artifact_prefix={corpus}/"]
    atheris.Setup([sys.argv[0], *flags, str(corpus)], one)
    atheris.Fuzz()


def run(target: str, seconds: float) -> int:
    """Fuzz ``target`` for ``seconds`` in a child process; returns the executions (raises on a finding)."""
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        corpus = Path(tmp)
        for i, seed in enumerate(SEEDS[target]):
            (corpus / f"seed-{i}").write_bytes(seed)
        child = subprocess.run(
            [sys.executable, __file__, "--child", target, "--seconds", str(seconds), "--corpus", str(corpus)],
            capture_output=True,
            text=True,
            timeout=seconds + 300,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    stats = re.findall(r"stat::number_of_executed_units:\s*(\d+)", child.stderr)
    done = re.findall(r"Done (\d+) runs", child.stderr)
    executions = int(stats[-1]) if stats else int(done[-1]) if done else 0
    if child.returncode != 0:
        tail = "\n".join(child.stderr.splitlines()[-40:])
        raise RuntimeError(f"fuzz target {target} found a failure after {executions} executions:\n{tail}")
    return executions


def long_line(megabytes: int) -> None:
    """One ``megabytes`` MB line between two intact records: quarantined, capped, the records kept."""
    from financial_transactions.pipeline.bronze_ingest import inspect_file

    good = b'{"trade_id":"ok","record_type":"trade"}\n'
    with tempfile.TemporaryDirectory(prefix="fuzz-long-") as tmp:
        path = Path(tmp) / "long-000001.ndjson"
        with open(path, "wb") as fh:
            fh.write(good + b'{"pad":"')
            chunk = b"x" * (1 << 20)
            for _ in range(megabytes):
                fh.write(chunk)
            fh.write(b'"}\n' + good)
        started = time.perf_counter()
        scan = inspect_file(str(path))
        took = time.perf_counter() - started
    assert len(scan.intact) == 2 and len(scan.damage) == 1 and len(scan.damage[0].raw) <= 65_536, scan.damage
    print(f"long line: {megabytes} MB -> quarantined ({scan.damage[0].reason}), 2 intact lines kept, {took:.2f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["records", "landing", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=60.0, help="per target")
    parser.add_argument("--long-line-mb", type=int, default=0, help="also scan one line of this many MB")
    parser.add_argument("--child", choices=["records", "landing"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _fuzz(args.child, args.seconds, args.corpus)
        return 0
    targets = ["records", "landing"] if args.target == "all" else [args.target]
    total = 0
    for target in targets:
        executions = run(target, args.seconds)
        total += executions
        print(f"{target}: executions={executions} in {args.seconds:g}s, no finding")
    print(f"executions={total}")
    if args.long_line_mb:
        long_line(args.long_line_mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
