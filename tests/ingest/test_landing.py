"""Landing writer: atomic files, partitions, flush by size and age; quarantine lines."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from financial_transactions.ingest.landing import LandingWriter, QuarantineWriter, partition_value, write_atomic
from financial_transactions.ingest.records import Reject, landing_line
from tests.support.ingest import read_landing, read_quarantine, temp_files

DAY1 = 1_772_807_400_000  # 2026-03-06T14:30Z
DAY2 = DAY1 + 86_400_000


def _rec(symbol: str, ts: int, n: int) -> tuple[str, int, bytes]:
    return landing_line({"trade_id": f"t{n}", "symbol": symbol, "ts": ts, "price": 1.0 + n, "volume": 1.0})


def test_flush_by_size_partitions_by_date_and_symbol(tmp_path: Path) -> None:
    writer = LandingWriter(tmp_path, "finnhub", "run1", max_records=4, max_age_seconds=3600, fsync=False)
    assert writer.add_many([_rec("AAPL", DAY1, 0), _rec("BINANCE:BTCUSDT", DAY2, 1), _rec("AAPL", DAY1, 2)]) == 0
    assert not list(tmp_path.rglob("*.ndjson"))
    assert writer.add_many([_rec("AAPL", DAY2, 3)]) == 4
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ndjson"))
    assert files == [
        "finnhub/date=2026-03-06/symbol=AAPL/run1-000001.ndjson",
        "finnhub/date=2026-03-07/symbol=AAPL/run1-000003.ndjson",
        "finnhub/date=2026-03-07/symbol=BINANCE_BTCUSDT/run1-000002.ndjson",
    ]
    assert [r["trade_id"] for r in read_landing(tmp_path, "finnhub")] == ["t0", "t2", "t3", "t1"]
    rec = read_landing(tmp_path, "finnhub")[3]
    assert rec["symbol"] == "BINANCE:BTCUSDT"  # the record keeps the real symbol
    assert writer.close() == 0 and writer.stats.records == 4 and writer.stats.files == 3
    with pytest.raises(RuntimeError):
        writer.add_many([_rec("AAPL", DAY1, 9)])


def test_flush_by_age_and_on_close(tmp_path: Path) -> None:
    writer = LandingWriter(tmp_path, "binance", "r", max_records=1000, max_age_seconds=0.05, fsync=True)
    writer.add_many([_rec("BTCUSDT", DAY1, 0)])
    assert writer.flush_if_due() == 0
    time.sleep(0.06)
    assert writer.flush_if_due() == 1
    writer.add_many([_rec("BTCUSDT", DAY1, 1)])
    assert writer.close() == 1
    assert [r["trade_id"] for r in read_landing(tmp_path, "binance")] == ["t0", "t1"]
    assert temp_files(tmp_path) == []


def test_write_atomic_leaves_no_partial_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x" / "a.ndjson"

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b'{"a":1}\n')
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [".a.ndjson.tmp"]  # readers skip dot-files


def test_quarantine_lines_carry_reason_and_raw(tmp_path: Path) -> None:
    q = QuarantineWriter(tmp_path, "finnhub", "run9", fsync=False)
    q.add([Reject("not JSON: unexpected character", "garbage"), Reject("non-positive price", '{"p":-1}')], DAY1)
    assert q.flush() == 2 and q.flush() == 0
    (path,) = list((tmp_path / "_quarantine" / "finnhub" / "date=2026-03-06").glob("*.ndjson"))
    assert path.name == "run9-000001.ndjson"
    assert read_quarantine(tmp_path, "finnhub") == [
        {"source": "finnhub", "received_at": DAY1, "reason": "not JSON: unexpected character", "raw": "garbage"},
        {"source": "finnhub", "received_at": DAY1, "reason": "non-positive price", "raw": '{"p":-1}'},
    ]
    assert q.reasons == {"not JSON": 1, "non-positive price": 1}
    assert orjson.loads(path.read_bytes().splitlines()[1])["raw"] == '{"p":-1}'


def test_partition_value_is_path_safe() -> None:
    assert partition_value("BRK.B") == "BRK.B"
    assert partition_value("BINANCE:BTCUSDT") == "BINANCE_BTCUSDT"
    assert partition_value("../etc") == "etc"
    assert partition_value("..") == "_"
