"""The README's first command on a fresh clone: ``make run`` ends by printing the dashboard's path,
and the page it names carries that run's real tables.

The clone is taken from this checkout's HEAD (what CI clones); the already installed
virtual environment stands in for the install step (``make -o <stamp>``: nothing is
reinstalled), so the test exercises the Makefile, the committed config and the whole
run exactly as a fresh clone does, in about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore

pytestmark = pytest.mark.e2e


def test_make_run_on_a_fresh_clone_prints_a_dashboard_of_the_run(tmp_path: Path, project_root: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None or not (project_root / ".git").exists():
        pytest.skip("needs make, git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(project_root), str(clone)], check=True, timeout=120)
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION")}
    env.pop("FIN_MLOPS_LAKEHOUSE_ROOT", None)
    proc = subprocess.run(
        ["make", "--no-print-directory", "-o", str(venv / ".installed"), "run", f"VENV={venv}"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = tmp_path / "make-run.log"
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"make run failed (exit {proc.returncode}); log: {log}\n{proc.stdout[-3000:]}"

    cfg = ProjectConfig.from_yaml(clone / "project_config.yml", "dev")
    lake = clone / ".fin_mlops" / "dev"
    exports = lake / "Volumes" / cfg.catalog / cfg.schema_name / "exports"
    index = exports / "index.html"
    assert f"dashboard: {index}" in proc.stdout.replace("\n", ""), "make run must end by printing the dashboard path"
    assert index.is_file() and (exports / "data.js").is_file()

    # the page's data are this run's tables, not a sample
    store = LocalDeltaStore(lake)
    layers = json.loads((exports / "pipeline_health.json").read_text())["sections"]["layers"]["data"]
    shown = {layer["key"]: layer["rows"] for layer in layers if layer["exists"]}
    for key in ("bronze_trades", "silver_trades", "gold_trade_features"):
        assert shown[key] == store.count(cfg.table(key)) > 0, key
    matrix = json.loads((exports / "decision_matrix.json").read_text())["sections"]["matrix"]["data"]
    decided = store.read(cfg.table("decision_matrix"))
    assert sorted(r["symbol"] for r in matrix["rows"]) == sorted(
        decided[decided["run_id"] == matrix["run_id"]]["symbol"]
    )
    assert sorted(r["symbol"] for r in matrix["rows"]) == sorted(cfg.symbols.all)
