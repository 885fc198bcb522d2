"""The `fin-mlops run` ingest stages on a tiny replay: every source collected, checked, reusable; the CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import Platform
from financial_transactions.orchestration import STAGES, RunContext
from financial_transactions.streaming.stage import run_ingest, run_shift_ingest
from tests.streaming.helpers import read_landing, small_replay, temp_files, with_replay


def _platform(config: ProjectConfig, root: Path, **replay: object) -> Platform:
    cfg = with_replay(config, small_replay(start_grace_seconds=0.5, **replay))  # type: ignore[arg-type]
    return Platform.create(cfg, lakehouse_root=root)


def test_ingest_stage_lands_everything_and_reuses_it(config: ProjectConfig, lakehouse_root: Path) -> None:
    assert STAGES[0].name == "ingest" and STAGES[0].target.endswith("streaming.stage:run_ingest")
    platform = _platform(config, lakehouse_root)
    ctx = RunContext(platform=platform, console=Console(quiet=True))
    summary = run_ingest(ctx)
    landing = platform.paths.landing
    finnhub, binance, bars = (read_landing(landing, s) for s in ("finnhub", "binance", "alphavantage"))
    assert summary["finnhub_trades"] == len(finnhub) > 1000 and summary["binance_trades"] == len(binance) > 500
    assert summary["alphavantage_bars"] == len(bars) > 0 and summary["reused"] is False
    assert len({r["trade_id"] for r in finnhub + binance + bars}) == len(finnhub) + len(binance) + len(bars)
    truth = Path(ctx.state["ground_truth_path"])
    assert truth == landing / "_ground_truth" / "window1" / "anomalies.ndjson"
    assert ctx.state["replay_window"] == "window1" and ctx.state["ingest"]["finnhub_trades"] == len(finnhub)
    labels = [orjson.loads(x) for x in truth.read_bytes().splitlines()]
    assert len(labels) == summary["anomalous_trades"] > 0
    landed = {(r["symbol"], r["ts"], r["price"], r["volume"]) for r in finnhub + binance}
    assert all((g["symbol"], g["ts"], g["price"], g["volume"]) in landed for g in labels)
    assert temp_files(landing) == []
    again = run_ingest(RunContext(platform=platform, console=Console(quiet=True)))
    assert again["reused"] is True and len(read_landing(landing, "finnhub")) == len(finnhub)

    shifted = run_shift_ingest(ctx)
    assert shifted["reused"] is False and ctx.state["replay_window"] == "window2"
    assert Path(ctx.state["shift_ground_truth_path"]).parent.name == "window2"
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
