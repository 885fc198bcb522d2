"""``PerformanceMonitor``: the champion's precision, recall and PR-AUC per window as labels arrive.

Windows and metrics
-------------------
Scored rows (``score`` in [0, 1], the model's 0/1 ``prediction``) are joined to
their ground-truth label and cut into fixed windows of
``retraining.performance.window_minutes`` on the bar time. Per window:

* ``precision`` = TP / predicted positives, ``recall`` = TP / actual positives,
  ``pr_auc`` = average precision (the tournament's convention, scikit-learn's
  step-wise sum);
* ``rolling_*`` = the same metrics over the rows of the last
  ``retraining.performance.rolling_windows`` windows pooled, which is what the
  trigger compares (one quiet window is not a regression).

A metric that is undefined (no predicted positives, no actual positives, or
fewer than ``min_labelled_rows`` rows) is stored as null, never as 0.0.

The label (the contract's definition): a (symbol, bar) is anomalous when the
replay's ground truth (``<landing>/_ground_truth/<window>/anomalies.ndjson``)
has at least one anomalous trade in it.

Baseline for the trigger: the champion's metric on the gate's holdout, read
from its PROMOTE row in ``champion_challenger_audit``; without one, the
champion's first monitored window.

Results are merged into ``model_monitoring`` (key: model_version + window_start),
so re-scoring a window replaces its row.

On Databricks :func:`ensure_lakehouse_monitor` creates or updates a Lakehouse
Monitor (``w.quality_monitors``) on ``model_monitoring`` — a time-series profile
on ``window_end`` sliced by ``model_version`` — and queues a refresh, so the
metric history gets Databricks' profile/drift tables and dashboard.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.config.monitoring import PerformanceConfig
from financial_transactions.lakehouse import Platform

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = logging.getLogger(__name__)

METRICS = ("precision", "recall", "pr_auc")

MONITORING_SCHEMA = pa.schema(
    [
        ("monitored_at", pa.timestamp("us", tz="UTC")),
        ("env", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("window_start", pa.timestamp("us", tz="UTC")),
        ("window_end", pa.timestamp("us", tz="UTC")),
        ("rows", pa.int64()),
        ("positives", pa.int64()),
        ("predicted_positives", pa.int64()),
        ("precision", pa.float64()),
        ("recall", pa.float64()),
        ("pr_auc", pa.float64()),
        ("rolling_rows", pa.int64()),
        ("rolling_precision", pa.float64()),
        ("rolling_recall", pa.float64()),
        ("rolling_pr_auc", pa.float64()),
        ("metric", pa.string()),
        ("baseline", pa.float64()),
        ("baseline_source", pa.string()),
    ]
)


@dataclass(frozen=True)
class WindowPerformance:
    window_start: datetime
    window_end: datetime
    rows: int
    positives: int
    predicted_positives: int
    precision: float | None
    recall: float | None
    pr_auc: float | None
    rolling_rows: int
    rolling_precision: float | None
    rolling_recall: float | None
    rolling_pr_auc: float | None

    def rolling(self, metric: str) -> float | None:
        return getattr(self, f"rolling_{metric}")  # type: ignore[no-any-return]


@dataclass
class PerformanceReport:
    model_name: str
    model_version: str
    metric: str
    windows: list[WindowPerformance]
    baseline: float | None
    baseline_source: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> float | None:
        """The latest defined rolling value of the monitored metric."""
        for w in reversed(self.windows):
            value = w.rolling(self.metric)
            if value is not None:
                return value
        return None

    @property
    def drop(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.baseline - self.current

    def summary(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "windows": len(self.windows),
            self.metric: round(self.current, 4) if self.current is not None else None,
            "baseline": round(self.baseline, 4) if self.baseline is not None else None,
        }

    def to_table(self, env: str) -> pa.Table:
        now = datetime.now(UTC)
        rows = [
            {
                "monitored_at": now,
                "env": env,
                "model_name": self.model_name,
                "model_version": self.model_version,
                **{k: getattr(w, k) for k in MONITORING_SCHEMA.names if hasattr(w, k)},
                "metric": self.metric,
                "baseline": self.baseline,
                "baseline_source": self.baseline_source,
            }
            for w in self.windows
        ]
        return pa.Table.from_pylist(rows, schema=MONITORING_SCHEMA)


# -- pure metrics ----------------------------------------------------------------------------
def _metrics(y: np.ndarray, score: np.ndarray, pred: np.ndarray, min_rows: int) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score

    out: dict[str, float | None] = dict.fromkeys(METRICS)
    if y.size < min_rows:
        return out
    tp = int(np.sum((pred == 1) & (y == 1)))
    predicted = int(np.sum(pred == 1))
    positives = int(np.sum(y == 1))
    out["precision"] = tp / predicted if predicted else None
    out["recall"] = tp / positives if positives else None
    out["pr_auc"] = float(average_precision_score(y, score)) if 0 < positives < y.size else None
    return out


def window_metrics(
    frame: pd.DataFrame,
    config: PerformanceConfig,
    *,
    time_col: str = "bar_start",
    label_col: str = "label",
    score_col: str = "score",
    prediction_col: str = "prediction",
) -> list[WindowPerformance]:
    """Per-window and rolling metrics over labelled, scored rows (oldest window first)."""
    missing = [c for c in (time_col, label_col, score_col, prediction_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"scored rows lack column(s) {missing}")
    if frame.empty:
        return []
    labels = frame[label_col]
    if labels.isna().any():
        raise ValueError(f"{int(labels.isna().sum())} scored row(s) have no label; join labels before monitoring")
    ts = pd.to_datetime(frame[time_col], utc=True)
    freq = f"{config.window_minutes}min"
    start = ts.dt.floor(freq)
    data = pd.DataFrame(
        {
            "w": start,
            "y": labels.to_numpy(dtype=np.int64),
            "s": frame[score_col].to_numpy(dtype=np.float64),
            "p": frame[prediction_col].to_numpy(dtype=np.int64),
        }
    ).sort_values("w", kind="stable")
    starts = list(pd.unique(data["w"]))
    groups = {w: g for w, g in data.groupby("w", sort=True)}
    width = pd.Timedelta(minutes=config.window_minutes)
    out: list[WindowPerformance] = []
    for i, w in enumerate(starts):
        g = groups[w]
        pooled = pd.concat([groups[x] for x in starts[max(0, i - config.rolling_windows + 1) : i + 1]])
        y, s, p = g["y"].to_numpy(), g["s"].to_numpy(), g["p"].to_numpy()
        single = _metrics(y, s, p, config.min_labelled_rows)
        rolling = _metrics(
            pooled["y"].to_numpy(), pooled["s"].to_numpy(), pooled["p"].to_numpy(), config.min_labelled_rows
        )
        out.append(
            WindowPerformance(
                window_start=pd.Timestamp(w).to_pydatetime(),
                window_end=(pd.Timestamp(w) + width).to_pydatetime(),
                rows=int(y.size),
                positives=int(y.sum()),
                predicted_positives=int(p.sum()),
                precision=single["precision"],
                recall=single["recall"],
                pr_auc=single["pr_auc"],
                rolling_rows=len(pooled),
                rolling_precision=rolling["precision"],
                rolling_recall=rolling["recall"],
                rolling_pr_auc=rolling["pr_auc"],
            )
        )
    return out


# -- labels --------------------------------------------------------------------------------------
def read_ground_truth(paths: Sequence[Path]) -> pd.DataFrame:
    """The replay's anomalous trades (symbol, ts as UTC timestamp) from one or more NDJSON files."""
    frames = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"ground truth file {path} does not exist (run the replay ingest first)")
        frame = pd.read_json(path, lines=True, dtype={"symbol": str})
        if frame.empty:
            continue
        frames.append(frame[["symbol", "ts"]])
    if not frames:
        return pd.DataFrame({"symbol": pd.Series(dtype=str), "ts": pd.Series(dtype="datetime64[us, UTC]")})
    out = pd.concat(frames, ignore_index=True)
    out["ts"] = pd.to_datetime(out["ts"], unit="ms", utc=True)
    return out


def label_bars(
    bars: pd.DataFrame, anomalies: pd.DataFrame, bar_interval: str, *, time_col: str = "bar_start"
) -> pd.Series:
    """1 where the (symbol, bar) holds at least one ground-truth anomalous trade, else 0."""
    bar_start = pd.to_datetime(bars[time_col], utc=True)
    if anomalies.empty:
        return pd.Series(np.zeros(len(bars), dtype=np.int64), index=bars.index, name="label")
    anomalous = pd.MultiIndex.from_arrays(
        [anomalies["symbol"].astype(str), pd.to_datetime(anomalies["ts"], utc=True).dt.floor(bar_interval)]
    ).unique()
    keys = pd.MultiIndex.from_arrays([bars["symbol"].astype(str), bar_start])
    return pd.Series(keys.isin(anomalous).astype(np.int64), index=bars.index, name="label")


# -- the monitor -------------------------------------------------------------------------------------
class PerformanceMonitor:
    """Score the champion on labelled gold rows, compute windowed metrics, record them."""

    def __init__(self, platform: Platform, config: PerformanceConfig | None = None) -> None:
        self.platform = platform
        self.cfg = config or platform.config.retraining.performance

    def evaluate(
        self,
        scored: pd.DataFrame,
        *,
        model_version: str,
        time_col: str = "bar_start",
        record: bool = True,
    ) -> PerformanceReport:
        """Metrics for rows that already carry ``score``, ``prediction`` and ``label``."""
        cfg = self.platform.config
        windows = window_metrics(scored, self.cfg, time_col=time_col)
        baseline, source = self.baseline(model_version, windows)
        report = PerformanceReport(cfg.model_name, str(model_version), self.cfg.metric, windows, baseline, source)
        if record and windows:
            self.platform.store.merge(
                cfg.table("model_monitoring"), report.to_table(cfg.env), ["model_version", "window_start"]
            )
        return report

    def score_champion(self, gold: pd.DataFrame, anomalies: pd.DataFrame) -> tuple[str, pd.DataFrame]:
        """Champion scores + ground-truth labels for gold rows (the registry says which version)."""
        from financial_transactions.models.registry import CHAMPION, ModelRegistry

        registry = ModelRegistry.from_platform(self.platform)
        version, model = registry.load_alias(CHAMPION)
        predictions = pd.DataFrame(model.predict(gold))
        scored = pd.DataFrame(
            {
                "symbol": gold["symbol"].to_numpy(),
                "bar_start": pd.to_datetime(gold["bar_start"], utc=True).to_numpy(),
                "score": np.asarray(predictions["score"], dtype=np.float64),
                "prediction": np.asarray(predictions["label"], dtype=np.int64),
            }
        )
        scored["label"] = label_bars(gold.reset_index(drop=True), anomalies, self.platform.config.features.bar_interval)
        return str(version), scored

    def monitor(self, gold: pd.DataFrame, ground_truth: Sequence[Path]) -> PerformanceReport:
        """Score the champion on ``gold``, label from ``ground_truth`` files, record the windows."""
        version, scored = self.score_champion(gold, read_ground_truth(ground_truth))
        return self.evaluate(scored, model_version=version)

    def baseline(self, model_version: str, windows: list[WindowPerformance]) -> tuple[float | None, str]:
        """The metric the champion had at promotion (gate audit), else its first monitored window."""
        metric = self.cfg.metric
        cfg = self.platform.config
        fqn = cfg.table("champion_challenger_audit")
        store = self.platform.store
        if store.exists(fqn):
            audit = store.read(fqn)
            cancelled = set(audit["supersedes"].dropna()) if "supersedes" in audit.columns else set()
            rows = audit[
                (audit["decision"] == "PROMOTE")
                & (audit["challenger_version"].astype("Int64").astype(str) == str(model_version))
                & ~audit["decision_id"].isin(cancelled)
            ]
            if not rows.empty:
                row = rows.sort_values("decided_at").iloc[-1]
                metrics = json.loads(row["challenger_metrics"]) if isinstance(row["challenger_metrics"], str) else {}
                value = metrics.get(metric)
                if value is None and row.get("primary_metric") == metric:
                    value = row.get("challenger_primary")
                if value is not None and not pd.isna(value):
                    return float(value), f"gate holdout (decision {row['decision_id']})"
        history = self._history(model_version)
        if history is not None:
            return history, "first monitored window"
        for w in windows:
            value = w.rolling(metric)
            if value is not None:
                return value, "first monitored window"
        return None, "none"

    def _history(self, model_version: str) -> float | None:
        fqn = self.platform.config.table("model_monitoring")
        if not self.platform.store.exists(fqn):
            return None
        hist = self.platform.store.read(fqn)
        column = f"rolling_{self.cfg.metric}"
        hist = hist[(hist["model_version"] == str(model_version)) & hist[column].notna()]
        if hist.empty:
            return None
        return float(hist.sort_values("window_start").iloc[0][column])


# -- Databricks Lakehouse Monitoring ----------------------------------------------------------------------
def ensure_lakehouse_monitor(
    client: WorkspaceClient,
    table_name: str,
    *,
    output_schema_name: str,
    assets_dir: str,
    granularity: str,
    timestamp_col: str = "window_end",
    slicing_exprs: Sequence[str] = ("model_version",),
    refresh: bool = True,
) -> str:
    """Create (or update, when one exists) a time-series Lakehouse Monitor; returns "created"/"updated"."""
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.catalog import MonitorTimeSeries

    series = MonitorTimeSeries(timestamp_col=timestamp_col, granularities=[granularity])
    try:
        client.quality_monitors.get(table_name)
        exists = True
    except NotFound:
        exists = False
    if exists:
        client.quality_monitors.update(
            table_name, output_schema_name, time_series=series, slicing_exprs=list(slicing_exprs)
        )
        action = "updated"
    else:
        client.quality_monitors.create(
            table_name, output_schema_name, assets_dir, time_series=series, slicing_exprs=list(slicing_exprs)
        )
        action = "created"
    if refresh:
        client.quality_monitors.run_refresh(table_name)
    log.info("lakehouse monitor on %s %s", table_name, action)
    return action


def ensure_model_monitor(platform: Platform, client: WorkspaceClient | None = None) -> str:
    """The Lakehouse Monitor for ``model_monitoring`` in this env (Databricks only)."""
    if client is None:
        from databricks.sdk import WorkspaceClient

        client = WorkspaceClient()
    cfg = platform.config
    perf = cfg.retraining.performance
    return ensure_lakehouse_monitor(
        client,
        cfg.table("model_monitoring"),
        output_schema_name=f"{cfg.catalog}.{cfg.schema_name}",
        assets_dir=f"{perf.monitor_assets_dir.rstrip('/')}/{cfg.env}",
        granularity=perf.monitor_granularity,
    )
