"""Damaged landing files (issue 19, item 5): each kind is quarantined with its reason, nothing valid
in the same batch is lost, and the pipeline never stops on it.

Kinds: a truncated file, a partial last line, binary garbage, a zero-byte file, a very long line
(a few MB here; ``scripts/fuzz_landing.py --long-line-mb 100`` tries 100 MB), invalid UTF-8, and a
file renamed between the run's listing and its read.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.runtime import Platform
from tests.support.landing_sample import trade


def _lines(prefix: str, n: int) -> list[bytes]:
    return [
        json.dumps(trade(f"{prefix}-{i}", "AAPL", "2026-03-06T15:00:00", 100.0 + i, 1.0)).encode() + b"\n"
        for i in range(n)
    ]


def _file(landing: Path, name: str) -> Path:
    path = landing / "finnhub" / "date=2026-03-06" / "symbol=AAPL" / f"{name}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


#: kind -> (intact records, damaged units, reason fragment)
EXPECTED: dict[str, tuple[int, int, str]] = {
    "clean": (20, 0, ""),
    "truncated": (6, 1, "truncated last line"),
    "partial_last_line": (5, 1, "truncated last line"),
    "garbage": (0, 3, ""),  # three non-blank garbage lines: invalid UTF-8 or not JSON
    "zero_byte": (0, 1, "empty file (0 bytes"),
    "long_line": (4, 1, "exceeds the 1,048,576-byte limit"),
    "invalid_utf8": (3, 1, "invalid UTF-8"),
    "renamed": (0, 1, "file vanished between listing and reading"),
}


def _build(landing: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    files["clean"] = _file(landing, "clean-000001")
    files["clean"].write_bytes(b"".join(_lines("clean", 20)))
    whole = b"".join(_lines("trunc", 7))
    files["truncated"] = _file(landing, "trunc-000001")
    files["truncated"].write_bytes(whole[: len(whole) - 40])  # cut inside the 7th record
    files["partial_last_line"] = _file(landing, "partial-000001")
    files["partial_last_line"].write_bytes(b"".join(_lines("partial", 5)) + b'{"trade_id": "partial-5", "pri')
    rng = random.Random(19)
    garbage = [b"\x00" + bytes(b for b in rng.randbytes(2048) if b != 0x0A) for _ in range(3)]
    files["garbage"] = _file(landing, "garbage-000001")
    files["garbage"].write_bytes(b"\n".join(garbage) + b"\n")
    files["zero_byte"] = _file(landing, "empty-000001")
    files["zero_byte"].write_bytes(b"")
    long_line = json.dumps({**trade("long-x", "AAPL", "2026-03-06T15:00:00", 1.0, 1.0), "pad": "x" * (3 << 20)})
    good = _lines("long", 4)
    files["long_line"] = _file(landing, "long-000001")
    files["long_line"].write_bytes(b"".join(good[:2]) + long_line.encode() + b"\n" + b"".join(good[2:]))
    utf8 = _lines("utf8", 3)
    bad = json.dumps(trade("utf8-bad", "AAPL", "2026-03-06T15:00:00", 1.0, 1.0)).encode().replace(b"AAPL", b"AA\xffPL")
    files["invalid_utf8"] = _file(landing, "utf8-000001")
    files["invalid_utf8"].write_bytes(utf8[0] + bad + b"\n" + b"".join(utf8[1:]))
    files["renamed"] = _file(landing, "renamed-000001")
    files["renamed"].write_bytes(b"".join(_lines("renamed", 8)))
    return files


def _damaged(platform: Platform) -> list[dict[str, Any]]:
    q = platform.store.read(platform.config.table("silver_trades_quarantine"))
    return [{**json.loads(r), "_source_file": f} for r, f in zip(q["_rescued_data"], q["_source_file"], strict=True)]


def test_each_damaged_file_kind_is_quarantined_with_its_reason_and_nothing_valid_is_lost(
    platform: Platform, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = Path(platform.paths.landing)
    files = _build(landing)
    moved_to = files["renamed"].with_name("renamed-000002.ndjson")
    listing = bronze_ingest.list_landing_files

    def list_then_rename(root: Path) -> list[str]:  # the file is renamed after the run listed it
        found = listing(root)
        os.rename(files["renamed"], moved_to)
        return found

    monkeypatch.setattr(bronze_ingest, "list_landing_files", list_then_rename)
    first = PipelineRunner(platform).run()
    monkeypatch.undo()

    intact = sum(n for n, _, _ in EXPECTED.values())
    damaged = sum(d for _, d, _ in EXPECTED.values())
    assert first.files_ingested == len(EXPECTED)
    assert first.bronze_rows_added == intact + damaged
    assert first.silver is not None
    assert first.silver.silver_inserted == intact
    assert first.silver.quarantine_inserted == damaged
    assert first.silver.quarantine_by_rule.get("landing_line_intact") == damaged
    rows = _damaged(platform)
    assert len(rows) == damaged
    for kind, (_, units, reason) in EXPECTED.items():
        key = f"finnhub/date=2026-03-06/symbol=AAPL/{files[kind].name}"
        mine = [r for r in rows if r["_source_file"] == key]
        assert len(mine) == units, kind
        assert all(reason in r["_damaged"] for r in mine), (kind, [r["_damaged"] for r in mine])
    garbage = [r["_damaged"] for r in rows if "garbage" in r["_source_file"]]
    assert all(g.startswith(("invalid UTF-8", "not JSON")) for g in garbage)
    long_row = next(r for r in rows if "long" in r["_source_file"])
    assert long_row["_line"] == 3 and len(long_row["_corrupt_record"]) == 65_536  # raw capped, not 3 MB

    # the renamed file is read under its new name by the next run; everything else is remembered
    second = PipelineRunner(platform).run()
    assert (second.files_ingested, second.bronze_rows_added) == (1, 8)
    assert second.silver is not None and second.silver.silver_inserted == 8
    assert second.silver.quarantine_inserted == 0
    third = PipelineRunner(platform).run()
    assert (third.files_ingested, third.mode) == (0, "up_to_date")  # the zero-byte file is not re-read
    assert platform.store.count(platform.config.table("silver_trades")) == intact + 8
    assert platform.store.count(platform.config.table("silver_trades_quarantine")) == damaged


def test_a_complete_last_line_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = _file(tmp_path, "nonl-000001")
    path.write_bytes(b"".join(_lines("nonl", 3)).rstrip(b"\n"))
    scan = bronze_ingest.inspect_file(str(path))
    assert scan.damage == [] and not scan.drifted
