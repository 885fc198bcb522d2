"""PerformanceMonitor: windowed metrics, labels from ground truth, the table, and the Lakehouse Monitor calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import average_precision_score

from financial_transactions.config.monitoring import PerformanceConfig
from financial_transactions.lakehouse import Platform
from financial_transactions.monitoring.performance_monitor import (
    PerformanceMonitor,
    ensure_model_monitor,
    label_bars,
    read_ground_truth,
    window_metrics,
)
from tests.support.rest_stub import RestStub

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


def _scored(rng: np.random.Generator, n_per_window: int, windows: int, quality: list[float]) -> pd.DataFrame:
    frames = []
    for w in range(windows):
        y = (rng.random(n_per_window) < 0.1).astype(int)
        noise = rng.random(n_per_window)
        score = np.clip(quality[w] * y + (1 - quality[w]) * noise, 0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "bar_start": [T0 + timedelta(minutes=60 * w + i % 60) for i in range(n_per_window)],
                    "label": y,
                    "score": score,
                    "prediction": (score >= 0.5).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_window_metrics_match_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    frame = _scored(rng, 400, 3, [0.9, 0.6, 0.2])
    cfg = PerformanceConfig(window_minutes=60, rolling_windows=2, min_labelled_rows=10)
    windows = window_metrics(frame, cfg)
    assert [w.window_start for w in windows] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    last = frame.iloc[800:]
    tp = int(((last.prediction == 1) & (last.label == 1)).sum())
    assert windows[2].precision == pytest.approx(tp / last.prediction.sum())
    assert windows[2].recall == pytest.approx(tp / last.label.sum())
    assert windows[2].pr_auc == pytest.approx(average_precision_score(last.label, last.score))
    pooled = frame.iloc[400:]  # rolling over the last two windows
    assert windows[2].rolling_rows == 800
    assert windows[2].rolling_pr_auc == pytest.approx(average_precision_score(pooled.label, pooled.score))
    assert windows[0].pr_auc > windows[2].pr_auc  # the quality decay is visible


def test_undefined_metrics_are_null_not_zero() -> None:
    frame = pd.DataFrame(
        {"bar_start": [T0] * 30, "label": [0] * 30, "score": np.linspace(0, 0.4, 30), "prediction": [0] * 30}
    )
    (w,) = window_metrics(frame, PerformanceConfig(min_labelled_rows=5))
    assert w.precision is None and w.recall is None and w.pr_auc is None and w.rows == 30
    small = window_metrics(frame.head(3), PerformanceConfig(min_labelled_rows=5))
    assert small[0].rolling_pr_auc is None
    with pytest.raises(ValueError, match="no label"):
        window_metrics(frame.assign(label=[None] * 30), PerformanceConfig())


def test_bars_are_labelled_from_ground_truth_trades(tmp_path: Path) -> None:
    gt = tmp_path / "anomalies.ndjson"
    ts = int(pd.Timestamp("2026-03-10T14:31:42.5Z").timestamp() * 1000)
    gt.write_text(
        json.dumps({"source": "finnhub", "symbol": "AAPL", "ts": ts, "price": 1, "volume": 1, "anomaly_type": "x"})
        + "\n",
        encoding="utf-8",
    )
    bars = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT"],
            "bar_start": pd.to_datetime(["2026-03-10T14:31Z", "2026-03-10T14:32Z", "2026-03-10T14:31Z"], utc=True),
        }
    )
    labels = label_bars(bars, read_ground_truth([gt]), "1min")
    assert labels.tolist() == [1, 0, 0]
    with pytest.raises(FileNotFoundError, match="ground truth"):
        read_ground_truth([tmp_path / "missing.ndjson"])


def test_evaluate_records_windows_with_the_gate_baseline(platform: Platform) -> None:
    audit = pa.Table.from_pylist(
        [
            {
                "decision_id": "d1",
                "decided_at": T0 - timedelta(days=1),
                "decision": "PROMOTE",
                "challenger_version": 4,
                "primary_metric": "pr_auc",
                "challenger_primary": 0.91,
                "challenger_metrics": json.dumps({"pr_auc": 0.91, "recall": 0.8}),
                "supersedes": None,
            }
        ]
    )
    platform.store.append(platform.config.table("champion_challenger_audit"), audit)
    rng = np.random.default_rng(5)
    frame = _scored(rng, 300, 3, [0.9, 0.4, 0.1])
    monitor = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=1, min_labelled_rows=10))
    report = monitor.evaluate(frame, model_version="4")
    assert report.baseline == pytest.approx(0.91) and report.baseline_source == "gate holdout (decision d1)"
    assert report.current == pytest.approx(report.windows[-1].pr_auc)
    assert report.drop is not None and report.drop > 0.3
    table = platform.store.read(platform.config.table("model_monitoring"))
    assert len(table) == 3 and set(table["model_version"]) == {"4"}
    # re-scoring the same windows replaces their rows (key: model_version + window_start)
    monitor.evaluate(frame, model_version="4")
    assert len(platform.store.read(platform.config.table("model_monitoring"))) == 3
    # a version without a PROMOTE row falls back to its first monitored window
    other = monitor.evaluate(frame, model_version="5", record=False)
    assert other.baseline == pytest.approx(other.windows[0].rolling_pr_auc)
    assert other.baseline_source == "first monitored window"


def test_lakehouse_monitor_created_then_updated_through_the_sdk(platform: Platform) -> None:
    from databricks.sdk import WorkspaceClient

    fqn = platform.config.table("model_monitoring")
    path = f"/api/2.1/unity-catalog/tables/{fqn}/monitor"
    state = {"exists": False}

    def get(_req):  # type: ignore[no-untyped-def]
        if state["exists"]:
            return 200, {"table_name": fqn, "status": "MONITOR_STATUS_ACTIVE"}
        return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"no monitor on {fqn}"}

    def create(_req):  # type: ignore[no-untyped-def]
        state["exists"] = True
        return 200, {"table_name": fqn, "status": "MONITOR_STATUS_PENDING"}

    with RestStub() as stub:
        stub.route("GET", path, handler=get)
        stub.route("POST", path, handler=create)
        stub.route("PUT", path, json={"table_name": fqn})
        stub.route("POST", f"{path}/refreshes", json={"refresh_id": 1, "state": "PENDING"})
        client = WorkspaceClient(host=stub.url, token="test-token", auth_type="pat")
        assert ensure_model_monitor(platform, client) == "created"
        assert ensure_model_monitor(platform, client) == "updated"
        created = stub.calls("POST", path)[0].body
        updated = stub.calls("PUT", path)[0].body
        refreshes = stub.calls("POST", f"{path}/refreshes")
    assert created["output_schema_name"] == "mlops_dev.financial_transactions"
    assert created["assets_dir"] == "/Workspace/Shared/financial-ai-mlops/lakehouse_monitoring/dev"
    assert created["time_series"] == {"timestamp_col": "window_end", "granularities": ["1 day"]}
    assert created["slicing_exprs"] == ["model_version"]
    assert updated["time_series"] == created["time_series"] and "assets_dir" not in updated
    assert len(refreshes) == 2
