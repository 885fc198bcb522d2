"""Acceptance on real market data: the whole ``fin-mlops run`` on the daily S&P 500 and NASDAQ bars ``arch`` ships.

The data are real (``arch.data.sp500`` / ``arch.data.nasdaq``, Yahoo Finance daily OHLCV), written to
a CSV as a user would bring them (``symbol,date,open,high,low,close,volume``) and run through the CLI
in a subprocess, exactly as ``fin-mlops --env dev run --fresh --csv FILE``. The last
:data:`YEARS` years keep CI reasonable; the last :data:`TOO_FEW_DAYS` days are too little labelled history to
train on, and that run must still end with a dashboard that says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]  # the 5-year run took 7.8 min at load 20 on 2 cores

#: Years of daily bars (the newest) the acceptance run replays: ~2,500 bars, ~12,500 prints.
YEARS = 5
#: Trading days of the run whose labels are too few to train on.
TOO_FEW_DAYS = 30
STAGES = ("ingest", "pipeline", "train", "shift", "drift", "backtest", "decide", "dashboard")


def daily_bars(last_days: int | None = None) -> pd.DataFrame:
    """The real S&P 500 (SPX) and NASDAQ Composite (NDX) daily bars, as a user's CSV columns."""
    pytest.importorskip("arch.data", reason="the real data set ships with arch (the test extra)")
    from arch.data import nasdaq, sp500

    frames = []
    for symbol, module in (("SPX", sp500), ("NDX", nasdaq)):
        bars = module.load()
        start = bars.index.max() - pd.DateOffset(years=YEARS)
        bars = bars[bars.index > start] if last_days is None else bars.tail(last_days)
        frame = bars.reset_index()[["Date", "Open", "High", "Low", "Close", "Volume"]]
        frame.columns = ["date", "open", "high", "low", "close", "volume"]
        frame.insert(0, "symbol", symbol)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def fin_mlops_run(csv: Path, lakehouse: Path, project_root: Path, log: Path) -> subprocess.CompletedProcess[str]:
    """``fin-mlops --env dev run --fresh --csv CSV`` on its own lakehouse, as a user types it."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION")}
    env.update(FIN_MLOPS_LAKEHOUSE_ROOT=str(lakehouse), COLUMNS="240", NO_COLOR="1")
    cli = [sys.executable, "-c", "from financial_transactions.cli import app; app()"]
    config = str(project_root / "project_config.yml")
    proc = subprocess.run(
        [*cli, "--config", config, "--env", "dev", "run", "--fresh", "--csv", str(csv)],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
    return proc


def exports_of(lakehouse: Path, cfg: ProjectConfig) -> Path:
    return lakehouse / "Volumes" / cfg.catalog / cfg.schema_name / "exports"


def sections(exports: Path, document: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((exports / f"{document}.json").read_text(encoding="utf-8"))
    return dict(doc["sections"])


def _ints(summary: str, keys: tuple[str, ...]) -> dict[str, int]:
    """``key=<int>`` figures of the run's summary table (the first occurrence of each key)."""
    import re

    out: dict[str, int] = {}
    for key in keys:
        match = re.search(rf"(?<![a-z_]){key}=(\d+)", summary)
        assert match is not None, f"{key}= not in the summary"
        out[key] = int(match.group(1))
    return out


def stage_rows(stdout: str) -> dict[str, str]:
    """``stage -> status`` from the run's summary table."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│")]
        if len(cells) > 3 and cells[1] in STAGES:
            out[cells[1]] = cells[2]
    return out


def test_the_whole_run_on_real_daily_bars_ends_ok_with_a_filled_dashboard(tmp_path: Path, project_root: Path) -> None:
    csv = tmp_path / "sp500_nasdaq_daily.csv"
    daily_bars().to_csv(csv, index=False)
    lakehouse = tmp_path / "lakehouse"
    log = tmp_path / "run.log"
    proc = fin_mlops_run(csv, lakehouse, project_root, log)
    assert proc.returncode == 0, f"fin-mlops run failed (exit {proc.returncode}); log: {log}\n{proc.stdout[-4000:]}"
    assert stage_rows(proc.stdout) == dict.fromkeys(STAGES, "ok"), f"log: {log}"
    assert "no stage failed" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr

    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    store = LocalDeltaStore(lakehouse)
    attempts = store.read(cfg.table("training_runs"))
    latest = attempts.sort_values("started_at").iloc[-1]
    assert latest["status"] != "not_trained" and 0.0 < latest["test_pr_auc"] <= 1.0
    label_sources = json.loads(latest["label_sources"])
    assert label_sources and set(label_sources) <= {"feedback", "ground_truth", "injected", "rule"}
    # real bars carry no labels: project_config.yml's labels.injection labels them from an injected copy
    assert label_sources.get("injected", 0) > 0
    recall = json.loads(latest["recall_by_type"])["injected"]
    assert set(recall) <= {"price_spike", "volume_burst", "wash_trade", "stale_price"} and len(recall) >= 3
    assert all(r["bars"] > 0 and r["recall"] == round(r["flagged"] / r["bars"], 4) for r in recall.values())
    # the summary prints the champion's held-out PR-AUC with its label sources and per-type recall
    summary = " ".join(proc.stdout.split())
    assert f"test_pr_auc={latest['test_pr_auc']:.4g}" in summary and "label_sources={" in summary
    assert "held-out recall on injected anomalies:" in summary and "injected_recall={" in summary
    # injected trades stay on the training path: silver holds exactly the trades the replay landed
    landed = sum(int(v) for k, v in _ints(summary, ("finnhub_trades", "ingest_finnhub_trades")).items())
    assert store.count(cfg.table("silver_trades")) == landed

    exports = exports_of(lakehouse, cfg)
    assert (exports / "index.html").is_file() and (exports / "data.js").is_file()
    layers = {r["key"]: r["rows"] for r in sections(exports, "pipeline_health")["layers"]["data"] if r["exists"]}
    for key in ("bronze_trades", "silver_trades", "gold_trade_features"):
        assert layers[key] == store.count(cfg.table(key)) > 0, key
    filled = {
        "pipeline_health": ("layers",),
        "leaderboard": (),
        "champion": ("registry", "training", "decisions"),
        "drift": (),
        "decision_matrix": (),
        "backtest": (),
    }
    for document, names in filled.items():
        secs = sections(exports, document)
        for name in names or tuple(secs):
            assert secs[name]["status"] == "ok", f"{document}.{name}: {secs[name]['status']} {secs[name]['message']}"
    shown = sections(exports, "champion")["training"]["data"][0]
    assert shown["test_pr_auc"] == pytest.approx(latest["test_pr_auc"]) and shown["label_sources"] == label_sources


def test_too_few_labels_still_ends_with_a_dashboard_that_says_why(tmp_path: Path, project_root: Path) -> None:
    csv = tmp_path / "last_weeks.csv"
    daily_bars(last_days=TOO_FEW_DAYS).to_csv(csv, index=False)
    lakehouse = tmp_path / "lakehouse"
    log = tmp_path / "run.log"
    proc = fin_mlops_run(csv, lakehouse, project_root, log)
    assert proc.returncode == 0, f"an expected condition is not a failure; log: {log}\n{proc.stdout[-4000:]}"
    assert stage_rows(proc.stdout)["train"] == "not run", f"log: {log}"
    assert stage_rows(proc.stdout)["dashboard"] == "ok" and "Traceback" not in proc.stdout + proc.stderr
    assert "training did not run:" in " ".join(proc.stdout.split())

    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    exports = exports_of(lakehouse, cfg)
    assert (exports / "index.html").is_file()
    training = sections(exports, "champion")["training"]
    assert training["status"] == "ok"
    latest = training["data"][0]
    assert latest["status"] == "not_trained" and latest["reason"] and latest["remedy"]
