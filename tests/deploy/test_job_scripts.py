"""The retraining job's scripts, run as subprocesses (as the Databricks tasks run them) on a real lakehouse.

A real tournament registers v1 (first deploy: champion) and v2 (rejected: challenger); then, in the
job's task order: validate_challenger -> score_and_backtest -> build_decision_matrix ->
export_dashboard_metrics, each a ``python scripts/financial/<x>.py --env dev ...`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from financial_transactions.config import ProjectConfig
from financial_transactions.decision.backtester import BENCHMARK
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.training import run_training
from financial_transactions.runtime import Platform
from tests.support.labelled_market import write_market
from tests.support.models import small

from .bundle_fixture import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts" / "financial"


def run_script(name: str, root: Path, *extra: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION")}
    env["PYSPARK_PYTHON"] = sys.executable
    argv = [
        sys.executable,
        str(SCRIPTS / name),
        "--env",
        "dev",
        "--config",
        str(config or PROJECT_ROOT / "project_config.yml"),
    ]
    argv += ["--lakehouse-root", str(root), "--git-sha", "feedbeef", "--git-branch", "main", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=root, check=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """v1 promoted (first deploy), v2 an identical retrain the gate rejects."""
    cfg = small(ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev"))
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("job") / "lake")
    write_market(platform, minutes=700)
    first = run_training(platform, git_sha="feedbeef")
    second = run_training(platform, git_sha="feedbeef")
    assert (first.status, second.status) == ("promoted", "rejected")
    yield platform


def _strict_config(tmp: Path) -> Path:
    """project_config.yml with a latency budget no model meets (1 µs for a 10k-row batch)."""
    raw = yaml.safe_load((PROJECT_ROOT / "project_config.yml").read_text(encoding="utf-8"))
    raw["validator"]["latency_budget_ms"] = 0.001
    path = tmp / "strict_config.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_validate_sets_deploy_only_for_a_valid_champion(trained: Platform, tmp_path: Path) -> None:
    root = trained.lakehouse_root
    name = trained.config.model_name
    champion = run_script("validate_challenger.py", root, "--version", "1")
    assert champion.returncode == 0, champion.stderr
    assert f"validation of models:/{name}/1: PASS" in champion.stdout
    for check in ("loads", "signature", "no_nan_predictions", "min_pr_auc", "min_roc_auc", "latency"):
        assert f"[pass] {check}:" in champion.stdout, check
    assert "version 1: champion" in champion.stdout and "deploy=True" in champion.stdout

    rejected = run_script("validate_challenger.py", root)  # default: latest-model = v2, the rejected challenger
    assert rejected.returncode == 0, rejected.stderr
    assert f"validation of models:/{name}/2: PASS" in rejected.stdout
    assert "version 2: not champion" in rejected.stdout and "deploy=False" in rejected.stdout

    nothing = run_script("validate_challenger.py", root, "--version", "0")  # train registered nothing
    assert nothing.returncode == 1
    assert "no registered version to validate" in nothing.stderr


def test_a_promoted_version_failing_validation_is_rolled_back(trained: Platform, tmp_path: Path) -> None:
    registry = ModelRegistry.from_platform(trained)
    before = registry.aliases()
    # as if the gate had just promoted v2 over v1
    registry.apply_aliases({"champion": 2, "previous-champion": 1, "latest-model": 2})
    try:
        proc = run_script("validate_challenger.py", trained.lakehouse_root, "--version", "2",
                          config=_strict_config(tmp_path))  # fmt: skip
        assert proc.returncode == 1, proc.stdout
        assert "[FAIL] latency: 10000 rows in" in proc.stdout and "(budget 0 ms)" in proc.stdout
        assert "deploy=False" in proc.stdout
        assert "registered v2 failed validation after promotion (latency)" in proc.stdout
        assert "rolled back: champion v2 -> v1" in proc.stdout
        assert registry.aliases()["champion"] == 1
        audit = trained.store.read(trained.config.table("rollback_audit"))
        row = audit.iloc[-1]
        assert (row["status"], row["from_version"], row["to_version"]) == ("done", 2, 1)
        assert row["reason"] == "registered v2 failed validation after promotion (latency)"
    finally:
        registry.apply_aliases(before)


def test_score_backtest_decide_and_export_fill_the_dashboard_tables(trained: Platform, tmp_path: Path) -> None:
    root, cfg, store = trained.lakehouse_root, trained.config, trained.store
    gold_rows = len(store.read(cfg.table("gold_trade_features")))

    scored = run_script("score_and_backtest.py", root)
    assert scored.returncode == 0, scored.stderr
    assert f"predictions_added={gold_rows} champion=1" in scored.stdout
    preds = store.read(cfg.table("synthesized_predictions"))
    assert len(preds) == gold_rows and set(preds["model_version"]) == {"1"}
    backtest = store.read(cfg.table("backtest_results"))
    strategies = {*cfg.backtest.strategies, BENCHMARK}  # every symbol's buy-and-hold benchmark beside the strategies
    assert set(backtest["strategy"]) == strategies and set(backtest["symbol"]) == {"BTCUSDT", "ETHUSDT"}
    again = run_script("score_and_backtest.py", root)  # nothing new to score: append-only
    assert again.returncode == 0 and "predictions_added=0" in again.stdout
    assert len(store.read(cfg.table("synthesized_predictions"))) == gold_rows

    decided = run_script("build_decision_matrix.py", root)
    assert decided.returncode == 0, decided.stderr
    matrix = store.read(cfg.table("decision_matrix"))
    assert sorted(matrix["symbol"]) == sorted(cfg.symbols.all)
    assert f"symbols={len(cfg.symbols.all)}" in decided.stdout
    by_symbol = dict(zip(matrix["symbol"], matrix["recommendation"], strict=True))
    for symbol, recommendation in by_symbol.items():  # only the two pairs of this market have gold bars
        traded = symbol in ("BTCUSDT", "ETHUSDT")
        assert (recommendation in {"Strong Buy", "Buy", "Hold", "Sell"}) == traded, (symbol, recommendation)
        assert (recommendation == "Insufficient data") != traded, (symbol, recommendation)

    out, reports = tmp_path / "site", tmp_path / "reports"
    exported = run_script("export_dashboard_metrics.py", root, "--out-dir", str(out), "--reports-dir", str(reports))
    assert exported.returncode == 0, exported.stderr
    assert f"dashboard: {out / 'index.html'}" in exported.stdout
    docs = {kind: json.loads((out / f"{kind}.json").read_text()) for kind in ("decision_matrix", "backtest")}
    rows = docs["decision_matrix"]["sections"]["matrix"]["data"]["rows"]
    assert sorted(r["symbol"] for r in rows) == sorted(matrix["symbol"])
    assert docs["backtest"]["sections"]["results"]["status"] == "ok"
    report = next(reports.glob("*-decision-report.md"))
    assert f"decision report: {report}" in exported.stdout
    assert "BTCUSDT" in report.read_text(encoding="utf-8")
