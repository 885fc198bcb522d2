"""Every expected error is one clear line on stderr and exit code 2 (issue 20): no traceback, what to do next."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from financial_transactions.cli import app
from financial_transactions.replay.av_server import AlphaVantageReplay
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.synthetic import build_synthetic_market
from tests.support.ingest import CRYPTO, EQUITIES, small_replay


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another process holds: a real listening socket on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(project_root: Path, root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root)]
    return CliRunner().invoke(app, [*base, *args], env=env, terminal_width=80)


def _one_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("busy", ["--alphavantage-port", "--finnhub-port", "--binance-port"])
def test_replay_on_a_busy_port_is_one_line_exit_2(
    tmp_path: Path, project_root: Path, busy_port: int, busy: str
) -> None:
    ports = {"--alphavantage-port": "0", "--finnhub-port": "0", "--binance-port": "0", busy: str(busy_port)}
    result = _cli(project_root, tmp_path, "replay", "--duration", "0.2", *(x for kv in ports.items() for x in kv))
    _one_line_error(result, str(busy_port), "--alphavantage-port")


def test_serve_on_a_busy_port_is_one_line_exit_2_like_replay(
    tmp_path: Path, project_root: Path, busy_port: int
) -> None:
    result = _cli(
        project_root, tmp_path, "serve", "--host", "127.0.0.1", "--port", str(busy_port), "--insecure-no-auth"
    )
    _one_line_error(result, f"cannot serve on 127.0.0.1:{busy_port}", "--port")  # before any app or model load


def test_a_ragged_csv_row_names_the_file_and_line(tmp_path: Path, project_root: Path) -> None:
    ragged = tmp_path / "trades.csv"
    ragged.write_text(
        "timestamp,symbol,price,volume\n2024-01-02T14:30:00Z,AAPL,187.1,100\n2024-01-02T14:30:01Z,AAPL,187.2,100,9\n"
    )
    result = _cli(project_root, tmp_path / "lake", "replay", "--csv", str(ragged), "--duration", "0.2")
    _one_line_error(result, str(ragged), "line 3", "5 fields where the header has 4")


def test_bundle_check_with_a_missing_schema_fails_instead_of_skipping(tmp_path: Path, project_root: Path) -> None:
    missing = tmp_path / "MISSING.json"
    result = CliRunner().invoke(
        app, ["bundle-check", "--root", str(project_root), "--schema", str(missing)], terminal_width=80
    )
    _one_line_error(result, str(missing), "databricks bundle schema")
    assert "bundle OK" not in result.output


@pytest.fixture(scope="module")
def market() -> MarketData:
    return build_synthetic_market(small_replay(), EQUITIES, CRYPTO)


def test_an_invalid_alphavantage_key_fails_on_the_first_answer(
    tmp_path: Path, project_root: Path, market: MarketData
) -> None:
    server = AlphaVantageReplay(market, small_replay(), token="the-right-key")
    port = server.start("127.0.0.1", 0)
    try:
        env = {"ALPHAVANTAGE_API_KEY": "a-wrong-key", "FIN_MLOPS_ALPHAVANTAGE_URL": f"http://127.0.0.1:{port}"}
        started = time.monotonic()
        result = _cli(
            project_root, tmp_path, "ingest", "alphavantage", "--symbols", "AAPL,MSFT,NVDA",
            "--calls-per-minute", "5", env=env,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    _one_line_error(result, "apikey is invalid", "ALPHAVANTAGE_API_KEY")
    assert len(server.stats.calls) == 1  # stopped at the first refusal: no retry, no other symbol
    assert elapsed < 10  # at 5 calls/minute a second call alone would wait 12 s
    assert "a-wrong-key" not in result.output


def test_a_stream_collector_that_never_connected_exits_non_zero(tmp_path: Path, project_root: Path) -> None:
    url = f"ws://127.0.0.1:{_free_port()}"  # nothing listens there
    env = {"FINNHUB_API_KEY": "some-key"}
    result = _cli(project_root, tmp_path, "ingest", "finnhub", "--duration", "1", "--url", url, env=env)
    assert result.exit_code == 2, result.output
    assert "finnhub: never connected in 1s" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("mode", ["--stream", "--full-refresh"])
def test_missing_java_is_the_helpful_message_alone(tmp_path: Path, project_root: Path, mode: str) -> None:
    fin_mlops = Path(project_root) / ".venv" / "bin" / "fin-mlops"
    if not fin_mlops.exists():
        pytest.skip("the fin-mlops entry point is not installed in .venv")
    lake = tmp_path / "lake"
    landing = lake / "Volumes" / "mlops_dev" / "financial_transactions" / "landing" / "finnhub"
    landing = landing / "date=2025-03-07" / "symbol=AAPL"
    landing.mkdir(parents=True)
    (landing / "part-0.ndjson").write_text('{"s":"AAPL","p":187.1,"v":100,"t":1741354200123}\n')
    proc = subprocess.run(
        [str(fin_mlops), "--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(lake),
         "pipeline", mode],
        capture_output=True, text=True, timeout=180,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},  # no java on PATH, no JAVA_HOME
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("Java 17 is required") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stdout + proc.stderr


def test_version_prints_the_installed_version_without_a_config() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"fin-mlops {version('financial-ai-mlops')}"
