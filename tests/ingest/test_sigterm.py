"""SIGTERM during `fin-mlops ingest finnhub`: a clean exit that leaves only complete, parseable files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import yaml

from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from tests.support.ingest import TOKEN, small_replay, temp_files


def _config_with_fast_flush(project_root: Path, tmp_path: Path) -> Path:
    raw = yaml.safe_load((project_root / "project_config.yml").read_text())
    raw["collectors"]["finnhub"]["flush_interval_seconds"] = 0.3
    raw["collectors"]["finnhub"]["fsync"] = False
    path = tmp_path / "project_config.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _counter(output: str, name: str) -> int:
    match = re.search(rf"{name}\s*\S\s*([\d,]+)", output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def test_sigterm_flushes_and_leaves_only_complete_files(
    tmp_path: Path, project_root: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay(speed=200.0))  # ~5 minutes of feed: still playing at SIGTERM
    assert hub.urls is not None
    root = tmp_path / "lake"
    env = {
        **os.environ,
        "FINNHUB_API_KEY": TOKEN,
        "FIN_MLOPS_FINNHUB_WS_URL": hub.urls.finnhub,
        "COLUMNS": "120",
    }
    cmd = [
        sys.executable, "-c", "from financial_transactions.cli import app; app()",
        "--config", str(_config_with_fast_flush(project_root, tmp_path)), "--lakehouse-root", str(root),
        "ingest", "finnhub", "--duration", "120", "--symbols", "AAPL,MSFT,NVDA",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    landing = root / "Volumes" / "mlops_dev" / "financial_transactions" / "landing" / "finnhub"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(landing.rglob("*.ndjson"))) < 2 and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output

    ids: list[str] = []
    for path in landing.rglob("*"):
        if path.is_file():
            assert path.suffix == ".ndjson" and not path.name.startswith(".")
            lines = path.read_bytes().splitlines()
            assert lines and path.read_bytes().endswith(b"\n")
            ids.extend(orjson.loads(line)["trade_id"] for line in lines)
    assert temp_files(root) == []
    assert len(ids) == len(set(ids)) == _counter(output, "landed") == _counter(output, "received") > 0
    assert len(ids) <= hub.finnhub.stats.trades_sent < len(hub.finnhub.events)
