"""PerformanceMonitor: windowed metrics, the training label (ground truth where covered), table, Lakehouse Monitor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import average_precision_score

from financial_transactions.config.monitoring import PerformanceConfig, RetrainingConfig
from financial_transactions.features.labels import label_bars, load_coverage, load_ground_truth
from financial_transactions.monitoring.performance_monitor import (
    PerformanceMonitor,
    PerformanceReport,
    ensure_model_monitor,
    labelled_bars,
    metric_at_prevalence,
    prevalence_weights,
    window_metrics,
)
from financial_transactions.monitoring.retraining_trigger import TriggerSignals
from financial_transactions.runtime import Platform
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


BARS = 320  # per symbol: more than labels.rule_scale_bars (240), so uncovered bars can get the rule's label
COVERED_BARS = 200  # AAPL's first 200 bars are covered by the ground truth; MSFT is not covered at all


def _bar(i: int) -> pd.Timestamp:
    return pd.Timestamp(T0) + pd.Timedelta(minutes=i)


def _gold(rng: np.random.Generator) -> pd.DataFrame:
    """Calm 1-minute bars for AAPL and MSFT, with one-bar price spikes the rule flags at AAPL 150 / 260, MSFT 280."""
    frames = []
    for symbol, spikes in (("AAPL", (150, 260)), ("MSFT", (280,))):
        close = 100.0 * np.exp(np.cumsum(rng.normal(0, 5e-4, BARS)))
        high = close * (1 + np.abs(rng.normal(0, 2e-4, BARS)))
        low = close * (1 - np.abs(rng.normal(0, 2e-4, BARS)))
        for i in spikes:
            high[i] = close[i] * 1.05  # ~100 return sigmas, undone by the next bar: a transient dislocation
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "bar_start": [_bar(i) for i in range(BARS)],
                    "open": close,
                    "high": high,
                    "low": low,
                    "close": close,
                    "volume": rng.lognormal(8, 0.3, BARS).round(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _truth_files(landing: Path) -> Path:
    """Replay-style ground truth: AAPL covered for bars [0, 200), listed trades in AAPL bar 100 and MSFT bar 290."""
    folder = landing / "_ground_truth" / "window2"
    folder.mkdir(parents=True)

    def ms(ts: pd.Timestamp) -> int:
        return int(ts.value // 1_000_000)

    records = [
        {"source": "finnhub", "symbol": "AAPL", "ts": ms(_bar(100)) + 1234, "price": 1, "volume": 1,
         "anomaly_type": "wash_trade"},
        {"source": "finnhub", "symbol": "MSFT", "ts": ms(_bar(290)) + 59_999, "price": 1, "volume": 1,
         "anomaly_type": "price_spike"},
    ]  # fmt: skip
    path = folder / "anomalies.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    coverage = {
        "window": "window2",
        "symbols": [{"symbol": "AAPL", "start_ms": ms(_bar(0)), "end_ms": ms(_bar(COVERED_BARS - 1)) + 59_000}],
    }
    (folder / "coverage.json").write_text(json.dumps(coverage), encoding="utf-8")
    return path


def _at(frame: pd.DataFrame, symbol: str, i: int) -> pd.Series:
    rows = frame[(frame["symbol"] == symbol) & (pd.to_datetime(frame["bar_start"], utc=True) == _bar(i))]
    assert len(rows) == 1, f"{symbol} bar {i}: {len(rows)} rows"
    return rows.iloc[0]


def _label(frame: pd.DataFrame, symbol: str, i: int) -> tuple[int, str]:
    row = _at(frame, symbol, i)
    return int(row["label"]), str(row["label_source"])


def test_bars_are_labelled_as_training_labels_them(platform: Platform, tmp_path: Path) -> None:
    gold = _gold(np.random.default_rng(8))
    path = _truth_files(tmp_path)
    labelled, report = labelled_bars(gold, [path], platform.config)

    # the one implementation: what the feature store would train on
    truth, coverage = load_ground_truth(path), load_coverage(path)
    expected, _ = label_bars(gold, platform.config.labels, platform.config.features, truth, coverage)
    pd.testing.assert_frame_equal(labelled, expected)

    # covered bars: ground truth, both ways; a spike the ground truth does not list is a known normal bar
    assert _label(labelled, "AAPL", 100) == (1, "ground_truth")
    assert _label(labelled, "AAPL", 150) == (0, "ground_truth")
    assert _label(labelled, "AAPL", 20) == (0, "ground_truth")
    # uncovered bars are never ground-truth negatives: the rule labels them
    assert _label(labelled, "AAPL", 260) == (1, "rule")
    assert _label(labelled, "MSFT", 280) == (1, "rule")
    # a listed trade is a positive even where the ground truth has no coverage
    assert _label(labelled, "MSFT", 290) == (1, "ground_truth")
    # an uncovered bar the rule cannot judge yet (fewer than 30 earlier returns) is left out, not called normal
    assert _at(gold, "MSFT", 10) is not None
    assert ((labelled["symbol"] == "MSFT") & (pd.to_datetime(labelled["bar_start"], utc=True) == _bar(10))).sum() == 0
    aapl = labelled[labelled["symbol"] == "AAPL"]
    covered = pd.to_datetime(aapl["bar_start"], utc=True) < _bar(COVERED_BARS)
    assert set(aapl.loc[covered, "label_source"]) == {"ground_truth"} and covered.sum() == COVERED_BARS
    assert report.by_source["ground_truth"] == COVERED_BARS + 1 and report.unlabelled > 0

    with pytest.raises(FileNotFoundError, match="ground truth"):
        labelled_bars(gold, [tmp_path / "missing.ndjson"], platform.config)


class _SpikeModel:
    """A stand-in champion: scores a bar by how far its high sits above its close."""

    seen: list[str] = []

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        _SpikeModel.seen = list(frame.columns)
        score = np.clip((frame["high"] / frame["close"] - 1.0) * 20.0, 0.0, 1.0)
        return pd.DataFrame({"score": score, "label": (score >= 0.5).astype(int)})


def test_monitor_scores_the_champion_on_the_training_labels(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from financial_transactions.models.registry import ModelRegistry

    monkeypatch.setattr(ModelRegistry, "load_alias", lambda self, alias: (3, _SpikeModel()))
    gold = _gold(np.random.default_rng(8))
    path = _truth_files(tmp_path)
    labelled, _ = labelled_bars(gold, [path], platform.config)
    monitor = PerformanceMonitor(
        platform, PerformanceConfig(window_minutes=60, rolling_windows=1, min_labelled_rows=10)
    )
    report = monitor.monitor(gold.sample(frac=1.0, random_state=1), [path])  # row order must not matter

    assert "label" not in _SpikeModel.seen and "label_source" not in _SpikeModel.seen and "high" in _SpikeModel.seen
    assert report.model_version == "3"
    assert sum(w.rows for w in report.windows) == len(labelled)
    assert sum(w.positives for w in report.windows) == int(labelled["label"].sum()) == 4
    labels = report.extra["labels"]
    assert labels["label_source"] == "mixed" and labels["ground_truth_bars"] == COVERED_BARS + 1
    assert labels["unlabelled_bars"] == 2 * BARS - len(labelled)
    # the window holding AAPL 150 (a spike the ground truth calls normal) is a false positive for the spike model;
    # the one holding AAPL 260 and MSFT 280/290 has the rule's positives and the listed MSFT trade
    by_start = {pd.Timestamp(w.window_start): w for w in report.windows}
    w150 = by_start[_bar(120)]
    assert (w150.positives, w150.predicted_positives, w150.precision) == (0, 1, 0.0)
    w240 = by_start[_bar(240)]
    assert (w240.positives, w240.predicted_positives, w240.recall) == (3, 2, pytest.approx(2 / 3))
    table = platform.store.read(platform.config.table("model_monitoring"))
    assert len(table) == len(report.windows) and set(table["model_version"]) == {"3"}


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
    # the trigger judges the whole current window (every row pooled), never the latest rolling window alone
    assert report.current == pytest.approx(average_precision_score(frame["label"], frame["score"]))
    assert report.current != pytest.approx(report.windows[-1].pr_auc)
    assert report.overall is not None and report.overall.positives == int(frame["label"].sum())
    assert report.overall.lower is not None and report.overall.upper is not None
    assert report.overall.lower < report.current < report.overall.upper
    assert report.drop is not None and report.drop > 0.2
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


# -- degradation measured at the baseline's base rate ------------------------------------------------
def _model_output(rng: np.random.Generator, n: int, prevalence: float, separation: float) -> pd.DataFrame:
    """One fixed model's scores: anomalies ~ Beta(separation, 2), normal bars ~ Beta(2, separation)."""
    y = (rng.random(n) < prevalence).astype(int)
    score = np.where(y == 1, rng.beta(separation, 2, n), rng.beta(2, separation, n))
    return pd.DataFrame({"label": y, "score": score, "prediction": (score >= 0.5).astype(int)})


def test_metric_at_a_prevalence_equals_the_metric_on_reweighted_data() -> None:
    rng = np.random.default_rng(11)
    frame = _model_output(rng, 3000, 0.05, 4.0)
    y, s, p = frame["label"].to_numpy(), frame["score"].to_numpy(), frame["prediction"].to_numpy()
    prevalence = float(y.mean())
    # a reference base rate that makes every negative count twice: c = (P/N)(1-pi0)/pi0 = 2
    pi0 = prevalence / (prevalence + 2 * (1 - prevalence))
    weights = prevalence_weights(y, pi0)
    assert weights is not None and set(np.round(weights, 12)) == {1.0, 2.0}
    doubled = pd.concat([frame, frame[frame["label"] == 0]], ignore_index=True)
    assert metric_at_prevalence("pr_auc", y, s, p, pi0, 1) == pytest.approx(
        average_precision_score(doubled["label"], doubled["score"]), abs=1e-12
    )
    tp = int(((doubled.prediction == 1) & (doubled.label == 1)).sum())
    assert metric_at_prevalence("precision", y, s, p, pi0, 1) == pytest.approx(tp / doubled.prediction.sum())
    assert metric_at_prevalence("recall", y, s, p, pi0, 1) == pytest.approx(tp / (y == 1).sum())  # base-rate free
    # at the window's own base rate nothing changes
    assert metric_at_prevalence("pr_auc", y, s, p, prevalence, 1) == pytest.approx(average_precision_score(y, s))
    assert prevalence_weights(np.zeros(10, dtype=int), 0.1) is None


def _promote(platform: Platform, version: int, pr_auc: float, rows: int, anomalies: int) -> None:
    row = {
        "decision_id": f"d{version}",
        "decided_at": T0 - timedelta(days=1),
        "decision": "PROMOTE",
        "challenger_version": version,
        "primary_metric": "pr_auc",
        "challenger_primary": pr_auc,
        "challenger_metrics": json.dumps({"pr_auc": pr_auc}),
        "holdout_rows": rows,
        "holdout_anomalies": anomalies,
        "supersedes": None,
    }
    platform.store.append(platform.config.table("champion_challenger_audit"), pa.Table.from_pylist([row]))


def _windows(frame: pd.DataFrame, per_window: int) -> pd.DataFrame:
    return frame.assign(bar_start=[T0 + timedelta(minutes=60 * (i // per_window)) for i in range(len(frame))])


def test_a_lower_anomaly_rate_alone_is_not_a_degradation_but_a_worse_model_is(platform: Platform) -> None:
    rng = np.random.default_rng(21)
    holdout = _model_output(rng, 20_000, 0.10, 4.0)  # the gate's holdout: 10 % anomalies
    gate_pr_auc = float(average_precision_score(holdout["label"], holdout["score"]))
    _promote(platform, 7, gate_pr_auc, len(holdout), int(holdout["label"].sum()))
    monitor = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=3, min_labelled_rows=20))
    trigger_cfg = RetrainingConfig(performance_drop=0.1)

    # the same model on a quieter market: 2 % anomalies
    same = monitor.evaluate(_windows(_model_output(rng, 9000, 0.02, 4.0), 3000), model_version="7")
    assert same.baseline == pytest.approx(gate_pr_auc) and same.baseline_prevalence == pytest.approx(0.10, abs=0.01)
    assert same.comparable and same.current_raw is not None and same.current is not None
    assert gate_pr_auc - same.current_raw > 0.2  # the raw PR-AUC "drops" only because anomalies are rarer
    assert abs(gate_pr_auc - same.current) < 0.05  # at the holdout's base rate the model is as good as it was
    assert not TriggerSignals.from_reports(None, same, trigger_cfg).performance_degraded

    # a model that really got worse, on the same quiet market
    worse = monitor.evaluate(_windows(_model_output(rng, 9000, 0.02, 1.6), 3000), model_version="7", record=False)
    assert worse.current is not None and gate_pr_auc - worse.current > 0.2
    signals = TriggerSignals.from_reports(None, worse, trigger_cfg)
    assert signals.performance_degraded and signals.performance_current == pytest.approx(worse.current)

    table = platform.store.read(platform.config.table("model_monitoring")).sort_values("window_start")
    assert table["reference_prevalence"].tolist() == pytest.approx([same.baseline_prevalence] * 3)
    assert table["rolling_adjusted"].tolist() == pytest.approx([w.rolling_adjusted for w in same.windows])
    assert table["rolling_positives"].tolist() == [w.rolling_positives for w in same.windows]


def test_without_a_gate_row_the_first_window_sets_the_base_rate(platform: Platform) -> None:
    rng = np.random.default_rng(4)
    frames = [_model_output(rng, 3000, rate, 4.0) for rate in (0.10, 0.03, 0.03)]
    frame = _windows(pd.concat(frames, ignore_index=True), 3000)
    report = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=1, min_labelled_rows=20)).evaluate(
        frame, model_version="9"
    )
    assert report.baseline_source == "first monitored window"
    first = report.windows[0]
    assert report.baseline == pytest.approx(first.rolling_pr_auc)
    assert report.baseline_prevalence == pytest.approx(first.rolling_positives / first.rolling_rows)
    assert first.rolling_adjusted == pytest.approx(first.rolling_pr_auc)  # its own base rate: unchanged
    assert report.current_raw is not None and report.current is not None and report.baseline is not None
    assert report.baseline - report.current_raw > 0.1 and abs(report.baseline - report.current) < 0.06


# -- sampling error: the band per window, the whole current window, the trigger's evidence -------------------------
def test_every_window_records_its_anomalies_and_a_band_around_the_monitored_value(platform: Platform) -> None:
    rng = np.random.default_rng(31)
    holdout = _model_output(rng, 20_000, 0.05, 4.0)
    _promote(platform, 8, float(average_precision_score(holdout["label"], holdout["score"])), 20_000, 1000)
    frame = _windows(
        pd.concat([_model_output(rng, n, 0.03, 4.0) for n in (2000, 2000, 60)], ignore_index=True), 2000
    ).head(4060)
    report = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=1, min_labelled_rows=20)).evaluate(
        frame, model_version="8"
    )
    for w in report.windows[:2]:
        assert w.rolling_lower is not None and w.rolling_upper is not None and w.rolling_adjusted is not None
        assert w.rolling_lower < w.rolling_adjusted < w.rolling_upper
    last = report.windows[-1]  # 60 bars, about 2 anomalies: a wide band or none, never a confident value
    assert last.rolling_lower is None or (last.rolling_upper or 0) - last.rolling_lower > 0.2
    table = platform.store.read(platform.config.table("model_monitoring")).sort_values("window_start")
    assert table["rolling_lower"].tolist()[:2] == pytest.approx([w.rolling_lower for w in report.windows[:2]])
    assert table["positives"].tolist() == [w.positives for w in report.windows]
    assert set(table["confidence"]) == {0.95}
    # seeded: the same rows give the same band
    again = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=1, min_labelled_rows=20)).evaluate(
        frame, model_version="8", record=False
    )
    assert [w.rolling_lower for w in again.windows] == [w.rolling_lower for w in report.windows]
    assert report.overall is not None and report.overall.positives == int(frame["label"].sum())


def test_a_drop_on_too_few_anomalies_or_within_noise_does_not_count(platform: Platform) -> None:
    rng = np.random.default_rng(12)
    holdout = _model_output(rng, 20_000, 0.02, 4.0)
    gate = float(average_precision_score(holdout["label"], holdout["score"]))
    _promote(platform, 5, gate, 20_000, int(holdout["label"].sum()))
    monitor = PerformanceMonitor(platform, PerformanceConfig(rolling_windows=3, min_labelled_rows=20))
    cfg = RetrainingConfig(performance_drop=0.1)

    # a clearly worse model, but the whole window holds only ~12 anomalies: not judged
    few = monitor.evaluate(_windows(_model_output(rng, 600, 0.02, 1.6), 200), model_version="5", record=False)
    signals = TriggerSignals.from_reports(None, few, cfg)
    assert few.drop is not None and few.drop > 0.1 and not signals.performance_degraded
    assert signals.performance_note is not None and "too few anomalies" in signals.performance_note
    assert signals.performance_positives == few.overall.positives < 30  # type: ignore[union-attr]

    # the same worse model on a whole day (~180 anomalies): the drop's lower bound is far above zero
    day = monitor.evaluate(_windows(_model_output(rng, 9000, 0.02, 1.6), 3000), model_version="5", record=False)
    signals = TriggerSignals.from_reports(None, day, cfg)
    assert signals.performance_degraded and signals.performance_drop_lower is not None
    assert 0 < signals.performance_drop_lower < signals.performance_drop  # type: ignore[operator]
    assert signals.performance_lower < signals.performance_current < signals.performance_upper  # type: ignore[operator]
    assert "on 1" in signals.describe() and "lower bound" in signals.describe()

    # a drop of >= 0.1 whose interval still reaches the baseline is noise: with a huge baseline uncertainty
    noisy = TriggerSignals.from_reports(
        None,
        PerformanceReport(**{**day.__dict__, "baseline_se": 1.0}),
        cfg,  # type: ignore[arg-type]
    )
    assert not noisy.performance_degraded and "within noise" in (noisy.performance_note or "")
