"""``fin-mlops pipeline`` through a real Spark Connect server (pyspark's own, on 127.0.0.1:15002).

The server is the ``SparkConnectServer`` class from the ``spark-connect`` jar that
pyspark ships (no Maven download). The test owns port 15002 for its duration, so
it is marked ``spark_connect`` and must never run in parallel with another such test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample

PORT = 15002
BIN = Path(sys.executable).parent
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.spark_connect


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def connect_server(tmp_path: Path) -> Iterator[str]:
    if _port_open(PORT):
        pytest.skip(f"SPARK CONNECT TEST SKIPPED: port {PORT} on 127.0.0.1 is already in use by another process")
    log = tmp_path / "connect-server.log"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_REMOTE", None)
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                str(BIN / "spark-submit"),
                "--class",
                SERVER_CLASS,
                "--master",
                "local[2]",
                "--conf",
                f"spark.connect.grpc.binding.port={PORT}",
                "--conf",
                "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.sql.session.timeZone=UTC",
                "--conf",
                "spark.sql.shuffle.partitions=2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while not _port_open(PORT):
            if server.poll() is not None:
                text = log.read_text()
                if "ClassNotFoundException" in text or "Failed to find Spark jars" in text:
                    pytest.skip(
                        "SPARK CONNECT TEST SKIPPED: pyspark's Spark Connect server cannot start offline "
                        f"on this machine:\n{text[-2000:]}"
                    )
                pytest.fail(f"Spark Connect server exited with {server.returncode}:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Spark Connect server did not listen on {PORT} within 240 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{PORT}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)


def _cli(root: Path, remote: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "COLUMNS": "200"}
    env.pop("SPARK_REMOTE", None)
    return subprocess.run(
        [str(BIN / "fin-mlops"), "--lakehouse-root", str(root), "--spark-remote", remote, "pipeline", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pipeline_cli_through_spark_connect(connect_server: str, tmp_path: Path) -> None:
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    root = tmp_path / "lakehouse"
    sample.build(Platform.create(cfg, lakehouse_root=root).paths.landing)

    first = _cli(root, connect_server)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "pipeline run (incremental)" in first.stdout
    store = LocalDeltaStore(root)
    counts = {key: store.count(cfg.table(key)) for key in ("bronze_trades", "silver_trades", "silver_bars")}
    assert counts == {"bronze_trades": sample.BRONZE_ROWS, "silver_trades": sample.SILVER_ROWS, "silver_bars": 2}
    assert store.count(cfg.table("silver_trades_quarantine")) == sample.QUARANTINE_ROWS
    gold_rows = store.count(cfg.table("gold_trade_features"))
    assert gold_rows > 0
    assert "price_positive" in first.stdout and "ohlc_consistent" in first.stdout

    again = _cli(root, connect_server)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "nothing new in the landing zone" in again.stdout
    assert store.version(cfg.table("silver_trades")) == 0

    travel = _cli(root, connect_server, "--as-of-version", "0")
    assert travel.returncode == 0, (travel.stdout + travel.stderr)[-4000:]
    assert "yes (identical)" in travel.stdout and str(gold_rows) in travel.stdout
