"""The collector entry points as users and jobs run them, against the real replay servers on 127.0.0.1.

`fin-mlops ingest crypto|alphavantage` through typer's CliRunner, and the job scripts
``collect_finnhub_stream.py`` / ``collect_alphavantage_history.py`` as subprocesses with
``--env dev``, pointed at the replay through the ``FIN_MLOPS_*_URL`` overrides.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from financial_transactions.config import ProjectConfig
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from financial_transactions.replay.synthetic import build_synthetic_market
from tests.support.ingest import TOKEN, read_landing, read_quarantine, small_replay, temp_files

LANDING = Path("Volumes/mlops_dev/financial_transactions/landing")


@pytest.fixture(scope="module")
def configured_market(project_root: Path) -> MarketData:
    """A tiny market of exactly the symbols `--env dev` collects, so every subscription has a feed."""
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    return build_synthetic_market(small_replay(), list(cfg.symbols.equities), list(cfg.symbols.crypto))


def _counter(output: str, name: str) -> int:
    match = re.search(rf"{name}\s*[:│|]?\s*([\d,]+)", output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def _daily_and_intraday(market: MarketData, symbol: str) -> dict[str, int]:
    return {"daily": len(market.daily_bars(symbol)), "1min": len(market.minute_bars(symbol))}


def _bars_by_symbol(landing: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for bar in read_landing(landing, "alphavantage"):
        per = out.setdefault(bar["symbol"], {"daily": 0, "1min": 0})
        per[bar["interval"]] += 1
    return out


def test_cli_ingest_crypto_lands_every_trade_served(
    tmp_path: Path, project_root: Path, configured_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(configured_market, small_replay(start_grace_seconds=0.2))
    assert hub.urls is not None
    from financial_transactions.cli import app

    root = tmp_path / "lake"
    result = CliRunner().invoke(
        app,
        ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root),
         "ingest", "crypto", "--duration", "4", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT"],
        env={"FIN_MLOPS_CRYPTO_WS_URL": hub.urls.binance, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    feed = hub.binance
    records = read_landing(root / LANDING, "binance")
    n = len(configured_market.indices_for("crypto"))
    assert feed.stats.trades_sent == n and feed.stats.undelivered == 0  # the whole feed reached the collector
    assert len(records) == len({r["trade_id"] for r in records}) == n
    assert {r["symbol"] for r in records} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert {(r["source"], r["collector"]) for r in records} == {("binance", "binance")}
    assert _counter(result.output, "landed") == _counter(result.output, "received") == n
    assert _counter(result.output, "quarantined") == 0 and temp_files(root) == []


def test_cli_ingest_alphavantage_lands_bars_and_reports_a_failed_symbol(
    tmp_path: Path, project_root: Path, configured_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(configured_market)
    assert hub.urls is not None
    from financial_transactions.cli import app

    root = tmp_path / "lake"
    args = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root), "ingest",
            "alphavantage", "--outputsize", "full", "--calls-per-minute", "600"]  # fmt: skip
    env = {"ALPHAVANTAGE_API_KEY": TOKEN, "FIN_MLOPS_ALPHAVANTAGE_URL": hub.urls.alphavantage, "COLUMNS": "200"}
    result = CliRunner().invoke(app, [*args, "--symbols", "AAPL,NOPE,MSFT"], env=env)
    assert result.exit_code == 1, result.output  # one symbol failed: the job says so ...
    landing = root / LANDING
    expected = {s: _daily_and_intraday(configured_market, s) for s in ("AAPL", "MSFT")}
    assert _bars_by_symbol(landing) == expected  # ... while the others landed every bar
    assert hub.alphavantage.stats.as_dict()["data"] == 4  # 2 symbols x (daily + intraday) answered with data
    assert "NOPE" in result.output and "Error Message" in result.output
    assert _counter(result.output, "bars_landed") == sum(sum(v.values()) for v in expected.values())
    assert TOKEN not in result.output  # the key is never printed

    ok = CliRunner().invoke(app, [*args, "--symbols", "JPM"], env=env)
    assert ok.exit_code == 0, ok.output
    assert _bars_by_symbol(landing)["JPM"] == _daily_and_intraday(configured_market, "JPM")


def _run_script(script: str, root: Path, project_root: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(project_root / "scripts/financial" / script), "--env", "dev",
         "--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root), *args],
        capture_output=True, text=True, timeout=180, cwd=project_root,
        env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return proc.stdout


def test_collect_finnhub_stream_script_lands_every_trade_served(
    tmp_path: Path, project_root: Path, configured_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(configured_market)
    assert hub.urls is not None
    root = tmp_path / "lake"
    env = {"FINNHUB_API_KEY": TOKEN, "FIN_MLOPS_FINNHUB_WS_URL": hub.urls.finnhub}
    out = _run_script("collect_finnhub_stream.py", root, project_root, env, "--duration", "4")
    n = len(configured_market.indices_for("equity"))
    records = read_landing(root / LANDING, "finnhub")
    assert hub.finnhub.stats.trades_sent == n and hub.finnhub.stats.undelivered == 0
    assert len(records) == len({r["trade_id"] for r in records}) == n
    assert {r["symbol"] for r in records} == set(configured_market.symbols_of("equity"))
    assert f"landed: {n}\n" in out and f"received: {n}\n" in out and "quarantined: 0\n" in out
    assert read_quarantine(root / LANDING, "finnhub") == [] and temp_files(root) == []
    assert TOKEN not in out


def test_collect_alphavantage_history_script_lands_every_bar(
    tmp_path: Path, project_root: Path, configured_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(configured_market)
    assert hub.urls is not None
    root = tmp_path / "lake"
    env = {"ALPHAVANTAGE_API_KEY": TOKEN, "FIN_MLOPS_ALPHAVANTAGE_URL": hub.urls.alphavantage}
    out = _run_script(
        "collect_alphavantage_history.py", root, project_root, env, "--outputsize", "full", "--calls-per-minute", "600"
    )
    equities = configured_market.symbols_of("equity")
    expected = {s: _daily_and_intraday(configured_market, s) for s in equities}
    assert _bars_by_symbol(root / LANDING) == expected
    for symbol, counts in expected.items():
        assert f"{symbol}: {counts['daily'] + counts['1min']} bars\n" in out
    assert hub.alphavantage.stats.as_dict()["data"] == 2 * len(equities)
    assert TOKEN not in out
