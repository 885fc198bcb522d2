"""The `fin-mlops run` ingest stages on a tiny replay: every source collected, checked, reusable, safe to re-run
after a crash; the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.config import ProjectConfig
from financial_transactions.orchestration import STAGES
from financial_transactions.pipeline.bronze_ingest import canonical_file, list_landing_files
from financial_transactions.replay.stage import run_ingest, run_shift_ingest
from financial_transactions.replay.window import MARKER
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext
from tests.support.ingest import read_landing, small_replay, temp_files, with_replay


def _platform(config: ProjectConfig, root: Path, **replay: object) -> Platform:
    cfg = with_replay(config, small_replay(start_grace_seconds=0.5, **replay))  # type: ignore[arg-type]
    return Platform.create(cfg, lakehouse_root=root)


def test_ingest_stage_lands_everything_and_reuses_it(config: ProjectConfig, lakehouse_root: Path) -> None:
    assert STAGES[0].name == "ingest" and STAGES[0].run is run_ingest
    platform = _platform(config, lakehouse_root)
    ctx = RunContext(platform=platform, console=Console(quiet=True))
    summary = run_ingest(ctx)
    landing = platform.paths.landing
    finnhub, binance, bars = (read_landing(landing, s) for s in ("finnhub", "binance", "alphavantage"))
    assert summary["finnhub_trades"] == len(finnhub) > 1000 and summary["binance_trades"] == len(binance) > 500
    assert summary["alphavantage_bars"] == len(bars) > 0 and summary["reused"] is False
    assert len({r["trade_id"] for r in finnhub + binance + bars}) == len(finnhub) + len(binance) + len(bars)
    landed_window = orjson.loads((landing / "_ground_truth" / "window1" / MARKER).read_bytes())
    truth = Path(landed_window["ground_truth_path"])
    assert truth == landing / "_ground_truth" / "window1" / "anomalies.ndjson"
    assert landed_window["summary"]["window"] == "window1"
    assert landed_window["summary"]["finnhub_trades"] == len(finnhub)
    labels = [orjson.loads(x) for x in truth.read_bytes().splitlines()]
    assert len(labels) == summary["anomalous_trades"] > 0
    landed = {(r["symbol"], r["ts"], r["price"], r["volume"]) for r in finnhub + binance}
    assert all((g["symbol"], g["ts"], g["price"], g["volume"]) in landed for g in labels)
    assert temp_files(landing) == []
    again = run_ingest(RunContext(platform=platform, console=Console(quiet=True)))
    assert again["reused"] is True and len(read_landing(landing, "finnhub")) == len(finnhub)

    shifted = run_shift_ingest(ctx)
    shifted_window = orjson.loads((landing / "_ground_truth" / "window2" / MARKER).read_bytes())
    assert shifted["reused"] is False and shifted_window["summary"]["window"] == "window2"
    assert Path(shifted_window["ground_truth_path"]).parent.name == "window2"
    assert len(read_landing(landing, "finnhub")) == len(finnhub) + shifted["finnhub_trades"]


def test_replay_and_ingest_commands(config: ProjectConfig, tmp_path: Path) -> None:
    from financial_transactions.cli import app

    root = tmp_path / "lake"
    result = CliRunner().invoke(
        app,
        ["--lakehouse-root", str(root), "replay", "--finnhub-port", "0", "--binance-port", "0",
         "--alphavantage-port", "0", "--duration", "0.5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Finnhub WebSocket" in result.output and "ws://127.0.0.1:" in result.output
    assert (root / "Volumes/mlops_dev/financial_transactions/landing/_ground_truth/window1/anomalies.ndjson").is_file()
    missing = CliRunner().invoke(
        app, ["--lakehouse-root", str(root), "ingest", "finnhub", "--duration", "1"], env={"FINNHUB_API_KEY": ""}
    )
    assert missing.exit_code == 2 and "no API key" in missing.output


def _landing_state(landing: Path) -> tuple[list[Path], list[Path], int]:
    """(complete data files, in-flight temp files, records in the data files) outside ``_`` folders."""

    def live(path: Path) -> bool:
        return not any(part.startswith("_") for part in path.relative_to(landing).parts)

    data = [p for p in landing.rglob("*.ndjson") if live(p)]
    temps = [p for p in temp_files(landing) if live(p)]
    return sorted(data), sorted(temps), sum(p.read_bytes().count(b"\n") for p in data)


def test_crashed_ingest_is_set_aside_and_the_window_lands_exactly_once(
    config: ProjectConfig, lakehouse_root: Path
) -> None:
    """SIGKILL mid-ingest, then the stage again: nothing of the dead attempt reaches bronze, nothing is deleted."""
    from financial_transactions.replay.window import ABANDONED_DIR, ATTEMPT_MARKER, build_market
    from tests.ingest.ingest_worker import platform_for

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "ingest" / "ingest_worker.py"), str(lakehouse_root), "6"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
    platform = platform_for(lakehouse_root)
    landing = platform.paths.landing
    truth_dir = landing / "_ground_truth" / "window1"
    attempt = orjson.loads((truth_dir / ATTEMPT_MARKER).read_bytes())["attempt"]
    assert not (truth_dir / MARKER).exists()
    dead_files, dead_temps, dead_records = _landing_state(landing)
    market = build_market(platform.config, 1)
    assert len(dead_files) >= 5 and len(dead_temps) == 1 and 300 <= dead_records < len(market) // 2  # partial
    dead_ids = {r["trade_id"] for p in dead_files for r in map(orjson.loads, p.read_bytes().splitlines())}
    assert all(attempt in i or i.startswith("alphavantage-") for i in dead_ids)

    console = Console(record=True, width=400)
    ctx = RunContext(platform=platform, console=console)
    shown = run_ingest(ctx)
    summary = orjson.loads((truth_dir / MARKER).read_bytes())["summary"]  # the whole summary of the landed window
    assert (shown["abandoned_files"], shown["abandoned_records"]) == (6, dead_records)  # in the run's summary table

    # the abandoned attempt: moved aside whole (same relative paths, same bytes), counted and reported
    aside = landing / ABANDONED_DIR / "window1" / attempt
    moved = sorted(p for p in aside.rglob("*") if p.is_file())
    assert len(moved) == len(dead_files) + len(dead_temps) == summary["abandoned_files"]
    assert {p.relative_to(aside) for p in moved} == {p.relative_to(landing) for p in dead_files + dead_temps}
    assert sum(p.read_bytes().count(b"\n") for p in moved if not p.name.startswith(".")) == dead_records
    assert summary["abandoned_records"] == dead_records
    assert f"set aside {len(moved)} of its file(s) ({dead_records:,} landed record(s)" in console.export_text()
    assert not (truth_dir / ATTEMPT_MARKER).exists() and (truth_dir / MARKER).is_file()

    # the landing zone holds the window exactly once: the new attempt's trades, every one, nothing else
    finnhub, binance = read_landing(landing, "finnhub"), read_landing(landing, "binance")
    assert len(finnhub) == summary["finnhub_trades"] == len(market.indices_for("equity"))
    assert len(binance) == summary["binance_trades"] == len(market.indices_for("crypto"))
    ids = [r["trade_id"] for r in finnhub + binance]
    assert len(ids) == len(set(ids)) and not set(ids) & dead_ids
    assert {r["collector_run"] for r in finnhub + binance} == {summary["collector_run"]} != {attempt}
    files, temps, records = _landing_state(landing)
    assert temps == [] and records == len(finnhub) + len(binance) + summary["alphavantage_bars"]
    assert {canonical_file(f) for f in list_landing_files(landing)} == {canonical_file(str(f)) for f in files}

    # a third run reuses the window and moves nothing more
    again = run_ingest(RunContext(platform=platform, console=Console(quiet=True)))
    assert again["reused"] is True and "abandoned_files" in again  # the summary of the run that landed it
    assert sorted(p for p in aside.rglob("*") if p.is_file()) == moved


def test_abandoned_files_already_in_bronze_stop_the_stage(config: ProjectConfig, lakehouse_root: Path) -> None:
    """A pipeline run ingested part of a dead attempt: re-landing would double those trades, so the stage refuses."""
    import pandas as pd

    from financial_transactions.replay.window import ABANDONED_DIR, ATTEMPT_MARKER, ingest_window

    platform = _platform(config, lakehouse_root)
    landing = platform.paths.landing
    dead = landing / "finnhub/date=2026-03-06/symbol=AAPL/20260101T000000Z-dead01-000001.ndjson"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b'{"trade_id":"finnhub-20260101T000000Z-dead01-c1-m1-p0"}\n')
    (landing / "_ground_truth/window1").mkdir(parents=True)
    (landing / "_ground_truth/window1" / ATTEMPT_MARKER).write_bytes(b'{"attempt":"20260101T000000Z-dead01"}')
    bronze = platform.config.table("bronze_trades")
    platform.store.append(bronze, pd.DataFrame({"trade_id": ["x"], "_source_file": [f"file:{dead}"]}))

    with pytest.raises(RuntimeError, match=r"1 landing file\(s\) of an abandoned ingest attempt .* --full-refresh"):
        ingest_window(platform, 1)
    assert (landing / ABANDONED_DIR / "window1/20260101T000000Z-dead01" / dead.relative_to(landing)).is_file()
    assert not dead.exists() and read_landing(landing, "finnhub") == []  # set aside, and nothing landed

    platform.store.overwrite(bronze, pd.DataFrame({"trade_id": ["y"], "_source_file": ["file:/elsewhere.ndjson"]}))
    result = ingest_window(platform, 1)  # after a full refresh bronze no longer holds them: the stage proceeds
    assert result.reused is False and len(read_landing(landing, "finnhub")) == result.summary["finnhub_trades"]
    assert "abandoned_files" not in result.summary  # moved by the refused run already
