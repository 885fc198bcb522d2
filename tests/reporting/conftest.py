"""Exports the browser tests open.

``run_export`` is the real thing: ``fin-mlops run`` end to end on the replay market (a smaller replay
than the default, to keep the suite fast) in a fresh lakehouse, whose last stage writes the dashboard.
Before the run, one hostile trade record is dropped in the landing zone, as a broken or malicious feed
would deliver it: its symbol ``<img src=x onerror=alert(1)>`` fails the symbol rule, so the real pipeline
quarantines it and the real export shows it, which is what the XSS assertion needs.

``hostile_export`` writes the fixture tables with every displayed string hostile (symbols, model and feature
names, reasons, errors, alerts, explanations) through the real store, then runs the real export.

``empty_export`` is an export of a lakehouse where nothing has run yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from financial_transactions.config import ProjectConfig
from financial_transactions.orchestration import STAGES
from financial_transactions.reporting.export import export_dashboard
from financial_transactions.runtime import Platform

from .lakehouse_fixture import XSS_SYMBOL, WrittenTables, write_platform_tables

#: Stages whose output the page shows; the real run is used once all of them are registered.
RUN_STAGES = ("ingest", "pipeline", "train", "shift", "drift", "backtest", "decide", "dashboard")

#: A smaller replay than the default: one trading day, fewer trades (every stage still has data).
SMALL_REPLAY = {"trading_days": 1, "equity_trades_per_day": 4000, "crypto_trades_per_day": 3000}


def _hostile_landing_file(platform: Platform) -> Path:
    start = platform.config.replay.start_date
    ts = datetime(start.year, start.month, start.day, 15, 0, tzinfo=UTC)
    ms = int(ts.timestamp() * 1000)
    record = {
        "trade_id": "finnhub-hostile-c0-m0-p0",
        "record_type": "trade",
        "source": "finnhub",
        "symbol": XSS_SYMBOL,
        "price": 1.0,
        "volume": 1.0,
        "ts": ms,
        "conditions": [],
        "exchange_trade_id": None,
        "is_buyer_maker": None,
        "ingested_at": ms + 1000,
        "collector": "finnhub",
        "collector_run": "hostile",
        "connection": 0,
        "msg_seq": 0,
        "position": 0,
    }
    folder = Path(platform.paths.landing) / "finnhub" / f"date={start.isoformat()}" / "symbol=HOSTILE"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile-0.ndjson"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def _real_run(tmp: Path, project_root: Path) -> Path:
    raw = yaml.safe_load((project_root / "project_config.yml").read_text(encoding="utf-8"))
    raw.setdefault("replay", {}).update(SMALL_REPLAY)
    # intraday bars only: the daily history lands one file per past date, which only slows the pipeline here
    raw.setdefault("collectors", {}).setdefault("alphavantage", {})["functions"] = ["TIME_SERIES_INTRADAY"]
    config_path = tmp / "project_config.yml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    root = tmp / "lake"
    platform = Platform.create(ProjectConfig.from_yaml(config_path, "dev"), lakehouse_root=root)
    _hostile_landing_file(platform)
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION")}
    env["PYSPARK_PYTHON"] = sys.executable
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("fin-mlops")),
            "--env",
            "dev",
            "--config",
            str(config_path),
            "--lakehouse-root",
            str(root),
            "run",
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    log = tmp / "fin-mlops-run.log"
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"fin-mlops run failed (exit {proc.returncode}); log: {log}\n{proc.stdout[-4000:]}"
    index = Path(platform.paths.exports) / "index.html"
    assert f"dashboard: {index}" in proc.stdout.replace("\n", ""), "the run must end by printing the dashboard path"
    return index.parent


@pytest.fixture(scope="session")
def run_export(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    """The export of a real ``fin-mlops run`` (every stage registered, in the README's order)."""
    assert [s.name for s in STAGES] == list(RUN_STAGES), "the run's stages changed: update RUN_STAGES"
    return _real_run(tmp_path_factory.mktemp("run"), project_root)


@pytest.fixture(scope="module")
def empty_export(platform_factory: Callable[..., Platform]) -> Path:
    return export_dashboard(platform_factory("empty")).out_dir


@pytest.fixture(scope="module")
def hostile_export(platform_factory: Callable[..., Platform]) -> tuple[Path, WrittenTables]:
    platform = platform_factory("hostile")
    written = write_platform_tables(platform, hostile=True)
    return export_dashboard(platform).out_dir, written
