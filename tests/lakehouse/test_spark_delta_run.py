"""``fin-mlops run`` end to end with every table going through Spark SQL on native Delta.

``local.table_store: spark-delta`` makes the local runtime use :class:`SparkDeltaStore` on the
embedded Spark with the Delta jars: the MERGEs, ``DESCRIBE HISTORY``, ``VERSION AS OF`` reads and
guarded audit inserts a Databricks job runs, with ``catalog.schema.table`` mapped to the session
catalog. One run on a small replay (one trading day, as the dashboard tests use); then every
table's Delta log must show Spark's Delta writer and nothing from delta-rs, and delta-rs must read
each table back with the row count Spark reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore, SparkDeltaStore
from financial_transactions.lakehouse.engine import DELTA_VERSION

#: A real run: over 10 minutes measured on a 2-core machine shared at load ~18 (the default 600 s is too short).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

#: One trading day with fewer trades: every stage still gets data (tests/reporting uses the same).
SMALL_REPLAY = {"trading_days": 1, "equity_trades_per_day": 4000, "crypto_trades_per_day": 3000}


def _writers(table: Path) -> set[str]:
    """Who committed each version: Spark's ``engineInfo`` or delta-rs's ``clientVersion``."""
    found = set()
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            info = json.loads(line).get("commitInfo")
            if info is not None:
                found.add(str(info.get("engineInfo") or info.get("clientVersion") or "unknown"))
    return found


@pytest.fixture(scope="module")
def spark_delta_run(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> tuple[Path, ProjectConfig, str]:
    tmp = tmp_path_factory.mktemp("spark-delta-run")
    raw = yaml.safe_load((project_root / "project_config.yml").read_text(encoding="utf-8"))
    raw.setdefault("replay", {}).update(SMALL_REPLAY)
    raw.setdefault("collectors", {}).setdefault("alphavantage", {})["functions"] = ["TIME_SERIES_INTRADAY"]
    raw.setdefault("local", {})["table_store"] = "spark-delta"
    config_path = tmp / "project_config.yml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    root = tmp / "lake"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION")}
    env["PYSPARK_PYTHON"] = sys.executable
    fin_mlops = str(Path(sys.executable).with_name("fin-mlops"))
    cmd = [fin_mlops, "--env", "dev", "--config", str(config_path), "--lakehouse-root", str(root), "run", "--fresh"]
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=1700, check=False)
    log = tmp / "fin-mlops-run.log"
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"fin-mlops run failed (exit {proc.returncode}); log: {log}\n{proc.stdout[-4000:]}"
    return root, ProjectConfig.from_yaml(config_path, "dev"), proc.stdout


def test_the_whole_loop_runs_on_spark_sql_delta(spark_delta_run: tuple[Path, ProjectConfig, str], spark) -> None:  # type: ignore[no-untyped-def]
    root, cfg, stdout = spark_delta_run
    out = stdout.replace("\n", "")
    assert "dashboard: " in out and "index.html" in out
    tables = LocalDeltaStore(root).list_tables(cfg.catalog, cfg.schema_name)
    written = {fqn.split(".")[-1] for fqn in tables}
    assert {
        "bronze_trades",
        "silver_trades",
        "gold_trade_features",
        "train_set",
        "tournament_results",
        "champion_challenger_audit",
        "retraining_audit",
        "drift_monitoring",
        "synthesized_predictions",
        "backtest_results",
        "decision_matrix",
    } <= written
    sql = SparkDeltaStore(spark, root=root)
    rs = LocalDeltaStore(root)
    for fqn in tables:
        writers = _writers(rs.path(fqn))
        assert writers and all(f"Delta-Lake/{DELTA_VERSION}" in w for w in writers), (fqn, writers)
        assert rs.count(fqn) == sql.count(fqn), fqn  # the other engine reads the same table
    assert sql.count(cfg.table("decision_matrix")) == len(cfg.symbols.all)
    assert sql.count(cfg.table("silver_trades")) > 10_000
    gold = cfg.table("gold_trade_features")
    assert [h["version"] for h in sql.history(gold)][-1] == 0 and sql.count(gold, version=0) > 0
