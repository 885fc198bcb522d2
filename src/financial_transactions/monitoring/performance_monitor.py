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

Sampling error
--------------
A PR-AUC from a handful of anomalies is mostly noise: on a model of constant
quality it swings by ±0.3 between windows of 5 anomalies. So every monitored value
comes with a two-sided ``performance.confidence`` interval from a class-stratified
bootstrap of its rows (``performance.bootstrap_resamples``, seeded by
``performance.seed``; :func:`financial_transactions.models.metrics.bootstrap_average_precision`
for PR-AUC): ``rolling_lower`` / ``rolling_upper`` per window (null with fewer than two
anomalies, where a resample cannot vary the anomalies) and
:attr:`PerformanceReport.overall` over the *whole current window*, every scored row
pooled. ``overall`` is what the retraining trigger judges, never the latest
rolling window (which, at night, may be a single crypto hour with 5 anomalies).

Comparable degradation (what the trigger uses)
-----------------------------------------------
Precision and PR-AUC depend on the base rate: the same model, equally good at
telling anomalies from normal bars, has a much lower PR-AUC in a window where
anomalies are rarer than in the gate's holdout. Comparing the raw rolling PR-AUC
with the holdout value would report a base-rate change as a regression. So the
window's metric is also computed *at the baseline's base rate* π₀ (the anomaly
share of the gate holdout): negatives are weighted by
``c = (P/N)·(1−π₀)/π₀`` (P, N: the window's positives and negatives), which
gives the window the prevalence π₀ without changing either class's score
distribution. PR-AUC is then the weighted average precision, precision is
``TP / (TP + c·FP)``, and recall (base-rate free) is unchanged. This is
``rolling_adjusted``; the intervals and :attr:`PerformanceReport.current` are
measured at π₀ whenever it is known, and at the window's own base rate (flagged as
such) only when it is not.

The label is the training label, from the same code
(:func:`financial_transactions.features.labels.label_bars` with ``labels`` and
``features`` from config): the replay's ground truth
(``<landing>/_ground_truth/<window>/anomalies.ndjson``) labels the bars its
``coverage.json`` covers (anomalous when the bar holds a listed trade), and the
documented rule labels the others (``labels.source`` decides, as in training).
So a bar that the ground truth does not cover is never taken for a known
negative, and the champion is judged on exactly the label it was trained for.
Bars no rule can label are left out of the windows (counted in the report).

Baseline for the trigger: the champion's metric on the gate's holdout, read
from its PROMOTE row in ``champion_challenger_audit`` (π₀ = ``holdout_anomalies
/ holdout_rows``; its bootstrap standard error ``challenger_primary_se`` when the
row's primary metric is the monitored one); without one, the champion's first
monitored window (π₀ = that window's rolling anomaly share, its standard error
from that window's interval).

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
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.config.monitoring import PerformanceConfig
from financial_transactions.features.feedback import load_feedback
from financial_transactions.features.injection import injected_gold
from financial_transactions.features.labels import (
    LABEL_COLUMN,
    LABEL_COLUMNS,
    LabelReport,
    label_bars,
    load_coverage,
    load_ground_truth,
)
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.models.metrics import bootstrap_average_precision
from financial_transactions.models.pyfunc import model_inputs
from financial_transactions.models.registry import CHAMPION, ModelRegistry
from financial_transactions.runtime import Platform
from financial_transactions.runtime.journal import remembered, resumed_attempt

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from financial_transactions.config.project import ProjectConfig

log = logging.getLogger(__name__)

METRICS = ("precision", "recall", "pr_auc")


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
    rolling_positives: int = 0
    rolling_adjusted: float | None = None  # the monitored metric at the reference base rate (module docstring)
    rolling_lower: float | None = None  # interval of the monitored value (adjusted when the base rate is known)
    rolling_upper: float | None = None

    def rolling(self, metric: str) -> float | None:
        return getattr(self, f"rolling_{metric}")  # type: ignore[no-any-return]

    @property
    def rolling_prevalence(self) -> float | None:
        return self.rolling_positives / self.rolling_rows if self.rolling_rows else None


@dataclass(frozen=True)
class Estimate:
    """The monitored metric over a set of labelled rows, with its two-sided bootstrap interval."""

    value: float | None
    lower: float | None
    upper: float | None
    se: float | None
    positives: int
    rows: int
    confidence: float


@dataclass(frozen=True)
class Baseline:
    """The champion's reference value of the metric, the base rate it was measured at, and where it came from."""

    value: float | None
    prevalence: float | None
    source: str
    se: float | None = None  # its standard error, when known (the gate's bootstrap, or the window's interval)


@dataclass
class PerformanceReport:
    model_name: str
    model_version: str
    metric: str
    windows: list[WindowPerformance]
    baseline: float | None
    baseline_source: str
    baseline_prevalence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    overall: Estimate | None = None  # the whole current window, every scored row pooled (what the trigger judges)
    baseline_se: float | None = None

    @property
    def comparable(self) -> bool:
        """Whether :attr:`current` is measured at the baseline's base rate (else it is the raw rolling value)."""
        return self.baseline_prevalence is not None

    @property
    def current(self) -> float | None:
        """The whole current window's value (:attr:`overall`) when measured, else the latest defined rolling value;
        at the baseline's base rate when that is known."""
        if self.overall is not None:
            return self.overall.value
        for w in reversed(self.windows):
            value = w.rolling_adjusted if self.comparable else w.rolling(self.metric)
            if value is not None:
                return value
        return None

    @property
    def current_raw(self) -> float | None:
        """The latest defined rolling value at the window's own base rate (what a dashboard plots)."""
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
        out: dict[str, Any] = {
            "model_version": self.model_version,
            "windows": len(self.windows),
            self.metric: round(self.current, 4) if self.current is not None else None,
            "baseline": round(self.baseline, 4) if self.baseline is not None else None,
        }
        if self.overall is not None:
            out["positives"] = self.overall.positives
            out["interval"] = _interval_text(self.overall.lower, self.overall.upper)
        return out

    def to_table(self, env: str) -> pa.Table:
        now = datetime.now(UTC)
        rows = [
            {
                "monitored_at": now,
                "env": env,
                "model_name": self.model_name,
                "model_version": self.model_version,
                **{k: getattr(w, k) for k in spec("model_monitoring").schema.names if hasattr(w, k)},
                "metric": self.metric,
                "confidence": self.overall.confidence if self.overall is not None else None,
                "reference_prevalence": self.baseline_prevalence,
                "baseline": self.baseline,
                "baseline_source": self.baseline_source,
            }
            for w in self.windows
        ]
        return pa.Table.from_pylist(rows, schema=spec("model_monitoring").schema)


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


def prevalence_weights(y: np.ndarray, reference_prevalence: float) -> np.ndarray | None:
    """Weights (positives 1, negatives ``c``) that give ``y`` the base rate ``reference_prevalence``.

    None when the window has no positives or no negatives (no base rate to move).
    """
    positives = int(np.sum(y == 1))
    negatives = int(y.size - positives)
    if positives == 0 or negatives == 0 or not 0.0 < reference_prevalence < 1.0:
        return None
    c = positives * (1.0 - reference_prevalence) / (reference_prevalence * negatives)
    return np.where(y == 1, 1.0, c)


def metric_at_prevalence(
    metric: str, y: np.ndarray, score: np.ndarray, pred: np.ndarray, reference_prevalence: float, min_rows: int
) -> float | None:
    """``metric`` of the window as if its base rate were ``reference_prevalence`` (class score laws unchanged)."""
    from sklearn.metrics import average_precision_score

    if y.size < min_rows:
        return None
    if metric == "recall":  # TP / actual positives does not depend on the base rate
        return _metrics(y, score, pred, min_rows)["recall"]
    weights = prevalence_weights(y, reference_prevalence)
    if weights is None:
        return None
    if metric == "pr_auc":
        return float(average_precision_score(y, score, sample_weight=weights))
    if metric == "precision":
        tp = float(np.sum((pred == 1) & (y == 1)))
        fp = float(np.sum((pred == 1) & (y == 0)))
        c = float(weights[y == 0][0])
        return tp / (tp + c * fp) if tp + fp > 0 else None
    raise ValueError(f"unknown metric {metric!r}")


def bootstrap_values(
    metric: str,
    y: np.ndarray,
    score: np.ndarray,
    pred: np.ndarray,
    reference_prevalence: float | None,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``metric`` on ``resamples`` class-stratified bootstrap resamples (at ``reference_prevalence`` when given).

    NaN where a resample leaves the metric undefined (precision with nothing flagged).
    """
    labels = np.asarray(y, dtype=np.int64)
    pos = labels == 1
    positives, negatives = int(pos.sum()), int((~pos).sum())
    if positives == 0 or negatives == 0:
        return np.full(resamples, np.nan)
    c = 1.0
    if reference_prevalence is not None and metric != "recall":
        weights = prevalence_weights(labels, reference_prevalence)
        if weights is None:
            return np.full(resamples, np.nan)
        c = float(weights[~pos][0])
    if metric == "pr_auc":
        return bootstrap_average_precision(labels, [score], resamples=resamples, rng=rng, negative_weight=c)[:, 0]
    flagged = np.asarray(pred) == 1
    copies = rng.multinomial(positives, np.full(positives, 1.0 / positives), size=resamples)
    tp = copies @ flagged[pos].astype(np.float64)
    if metric == "recall":
        return np.asarray(tp / positives)
    if metric == "precision":
        fp = rng.binomial(negatives, float(flagged[~pos].mean()), size=resamples).astype(np.float64)
        denom = tp + c * fp
        return np.divide(tp, denom, out=np.full(resamples, np.nan), where=denom > 0)
    raise ValueError(f"unknown metric {metric!r}")


def estimate(
    metric: str,
    y: np.ndarray,
    score: np.ndarray,
    pred: np.ndarray,
    config: PerformanceConfig,
    *,
    reference_prevalence: float | None,
    rng: np.random.Generator,
) -> Estimate:
    """The monitored value of these rows (at ``reference_prevalence`` when given) and its bootstrap interval.

    The interval needs two anomalies at least: from one, every resample holds the same anomaly.
    """
    labels = np.asarray(y, dtype=np.int64)
    positives, rows = int(labels.sum()), int(labels.size)
    if reference_prevalence is not None:
        value = metric_at_prevalence(metric, labels, score, pred, reference_prevalence, config.min_labelled_rows)
    else:
        value = _metrics(labels, score, pred, config.min_labelled_rows)[metric]
    if value is None or positives < 2:
        return Estimate(value, None, None, None, positives, rows, config.confidence)
    boot = bootstrap_values(metric, labels, score, pred, reference_prevalence, config.bootstrap_resamples, rng)
    boot = boot[np.isfinite(boot)]
    if boot.size < 2:
        return Estimate(value, None, None, None, positives, rows, config.confidence)
    tail = (1.0 - config.confidence) / 2.0
    lower, upper = np.quantile(boot, [tail, 1.0 - tail])
    return Estimate(value, float(lower), float(upper), float(boot.std(ddof=1)), positives, rows, config.confidence)


def se_of_interval(lower: float | None, upper: float | None, confidence: float) -> float | None:
    """The standard error a two-sided normal interval of this width has (a stored interval's spread)."""
    if lower is None or upper is None or pd.isna(lower) or pd.isna(upper):
        return None
    return (float(upper) - float(lower)) / (2.0 * NormalDist().inv_cdf(0.5 + confidence / 2.0))


def window_metrics(
    frame: pd.DataFrame,
    config: PerformanceConfig,
    *,
    reference_prevalence: float | None = None,
    intervals: bool = True,
    time_col: str = "bar_start",
    label_col: str = "label",
    score_col: str = "score",
    prediction_col: str = "prediction",
) -> list[WindowPerformance]:
    """Per-window and rolling metrics over labelled, scored rows (oldest window first).

    With ``reference_prevalence`` each window also gets ``rolling_adjusted``: the
    monitored metric (``config.metric``) at that base rate. With ``intervals`` each
    window gets the bootstrap interval of its monitored value (seeded per window).
    """
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
        py, ps, pp = pooled["y"].to_numpy(), pooled["s"].to_numpy(), pooled["p"].to_numpy()
        single = _metrics(y, s, p, config.min_labelled_rows)
        rolling = _metrics(py, ps, pp, config.min_labelled_rows)
        adjusted = (
            metric_at_prevalence(config.metric, py, ps, pp, reference_prevalence, config.min_labelled_rows)
            if reference_prevalence is not None
            else None
        )
        band = (
            estimate(
                config.metric, py, ps, pp, config,
                reference_prevalence=reference_prevalence, rng=np.random.default_rng((config.seed, i)),
            )
            if intervals
            else None
        )  # fmt: skip
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
                rolling_positives=int(py.sum()),
                rolling_adjusted=adjusted,
                rolling_lower=band.lower if band is not None else None,
                rolling_upper=band.upper if band is not None else None,
            )
        )
    return out


# -- labels --------------------------------------------------------------------------------------
def labelled_bars(
    gold: pd.DataFrame,
    ground_truth: Sequence[Path],
    config: ProjectConfig,
    feedback: pd.DataFrame | None = None,
    platform: Platform | None = None,
) -> tuple[pd.DataFrame, LabelReport]:
    """``gold`` labelled exactly as training labels it: ``feedback`` first, then the files ``ground_truth``.

    Each path is an ``anomalies.ndjson`` (its ``coverage.json`` beside it) or a folder
    holding them; a path that does not exist raises (the labels have not arrived). Rows
    no rule can label are dropped, so the result may be shorter than ``gold`` and is
    sorted by (symbol, bar_start). With ``platform`` and ``labels.injection`` enabled, the bars
    no feedback or ground truth labels are the bars of an injected copy of silver
    (:func:`financial_transactions.features.injection.injected_gold`, its own ``monitor`` seed
    stream), labelled ``injected``: the champion is judged against known anomalies on real trades.
    """
    paths = list(dict.fromkeys(Path(p) for p in ground_truth))
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"ground truth file {missing[0]} does not exist (run the replay ingest first)")
    truth = _stack([load_ground_truth(p) for p in paths])
    coverage = _stack([load_coverage(p) for p in paths])
    injected = injected_gold(platform, gold, truth, coverage, feedback, salt="monitor") if platform else None
    if injected is None:
        return label_bars(gold, config.labels, config.features, truth, coverage, feedback)
    events, covered = injected.injection.events, injected.injection.coverage
    return label_bars(injected.gold, config.labels, config.features, truth, coverage, feedback, events, covered)


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """One frame from per-file frames (empty ones add nothing); None when there were no files."""
    if not frames:
        return None
    rows = [f for f in frames if not f.empty]
    return pd.concat(rows, ignore_index=True) if rows else frames[0]


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
        """Metrics for rows that already carry ``score``, ``prediction`` and ``label``.

        The baseline (and its base rate) is found first, so every window's
        ``rolling_adjusted`` is measured at that base rate.
        """
        cfg = self.platform.config
        base = self.baseline(model_version, window_metrics(scored, self.cfg, intervals=False, time_col=time_col))
        windows = window_metrics(scored, self.cfg, reference_prevalence=base.prevalence, time_col=time_col)
        baseline_se = base.se
        if base.source == "first monitored window" and baseline_se is None:
            first = next((w for w in windows if w.rolling(self.cfg.metric) is not None), None)
            if first is not None:
                baseline_se = se_of_interval(first.rolling_lower, first.rolling_upper, self.cfg.confidence)
        overall = (
            estimate(
                self.cfg.metric,
                scored["label"].to_numpy(dtype=np.int64),
                scored["score"].to_numpy(dtype=np.float64),
                scored["prediction"].to_numpy(dtype=np.int64),
                self.cfg,
                reference_prevalence=base.prevalence,
                rng=np.random.default_rng(self.cfg.seed),
            )
            if len(scored)
            else None
        )
        report = PerformanceReport(
            cfg.model_name,
            str(model_version),
            self.cfg.metric,
            windows,
            base.value,
            base.source,
            base.prevalence,
            overall=overall,
            baseline_se=baseline_se,
        )
        if record and windows:
            self.platform.store.merge(
                cfg.table("model_monitoring"), report.to_table(cfg.env), ["model_version", "window_start"]
            )
        return report

    def score_champion(self, labelled: pd.DataFrame) -> tuple[str, pd.DataFrame]:
        """Champion scores for labelled gold rows (the registry says which version), keeping their ``label``."""
        if LABEL_COLUMN not in labelled.columns:
            raise ValueError(f"rows to score lack the {LABEL_COLUMN!r} column; label them with labelled_bars first")
        registry = ModelRegistry.from_platform(self.platform)
        # a resumed fin-mlops run monitors the champion its killed attempt monitored: the retrain that
        # attempt launched may have promoted another version since (see runtime.journal)
        pinned = remembered("performance.champion", registry.champion_version) if resumed_attempt() else None
        version, model = registry.load_alias(CHAMPION) if pinned is None else (pinned, registry.load(pinned))
        rows = labelled.reset_index(drop=True)
        features = rows.drop(columns=[c for c in LABEL_COLUMNS if c in rows.columns])
        predictions = pd.DataFrame(model.predict(model_inputs(model, features)))  # only its inputs: no MLflow warning
        if len(predictions) != len(rows):
            raise ValueError(f"champion v{version} returned {len(predictions)} predictions for {len(rows)} rows")
        scored = pd.DataFrame(
            {
                "symbol": rows["symbol"].to_numpy(),
                "bar_start": pd.to_datetime(rows["bar_start"], utc=True).to_numpy(),
                "score": np.asarray(predictions["score"], dtype=np.float64),
                "prediction": np.asarray(predictions["label"], dtype=np.int64),
                LABEL_COLUMN: rows[LABEL_COLUMN].to_numpy(dtype=np.int64),
            }
        )
        return str(version), scored

    def monitor(self, gold: pd.DataFrame, ground_truth: Sequence[Path], *, record: bool = True) -> PerformanceReport:
        """Label ``gold`` as training does (ground truth where covered, the rule elsewhere), score the
        champion on the labelled rows and record the windows (not for a diagnostic run: ``record=False``)."""
        labelled, labels = labelled_bars(
            gold, ground_truth, self.platform.config, load_feedback(self.platform), self.platform
        )
        version, scored = self.score_champion(labelled)
        report = self.evaluate(scored, model_version=version, record=record)
        report.extra["labels"] = labels.summary() | {"unlabelled_bars": labels.unlabelled}
        return report

    def baseline(self, model_version: str, windows: list[WindowPerformance]) -> Baseline:
        """The champion's metric at promotion (gate audit), else its first monitored window; with its base rate."""
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
                    se = row.get("challenger_primary_se") if row.get("primary_metric") == metric else None
                    return Baseline(
                        float(value),
                        _holdout_prevalence(row),
                        f"gate holdout (decision {row['decision_id']})",
                        None if se is None or pd.isna(se) else float(se),
                    )
        history = self._history(model_version)
        if history is not None:
            return history
        for w in windows:
            value = w.rolling(metric)
            if value is not None:
                return Baseline(value, w.rolling_prevalence, "first monitored window")
        return Baseline(None, None, "none")

    def _history(self, model_version: str) -> Baseline | None:
        fqn = self.platform.config.table("model_monitoring")
        if not self.platform.store.exists(fqn):
            return None
        hist = self.platform.store.read(fqn)
        column = f"rolling_{self.cfg.metric}"
        hist = hist[(hist["model_version"] == str(model_version)) & hist[column].notna()]
        if hist.empty:
            return None
        first = hist.sort_values("window_start").iloc[0]
        prevalence = None
        if "rolling_positives" in hist.columns and not pd.isna(first["rolling_positives"]) and first["rolling_rows"]:
            prevalence = float(first["rolling_positives"]) / float(first["rolling_rows"])
        se = None
        if "rolling_lower" in hist.columns and "rolling_upper" in hist.columns:
            se = se_of_interval(first["rolling_lower"], first["rolling_upper"], self.cfg.confidence)
        return Baseline(float(first[column]), prevalence, "first monitored window", se)


def _interval_text(lower: float | None, upper: float | None) -> str | None:
    return None if lower is None or upper is None else f"[{lower:.3f}, {upper:.3f}]"


def _holdout_prevalence(row: pd.Series) -> float | None:
    """The anomaly share of the gate holdout a PROMOTE row was measured on (None if not recorded)."""
    rows, anomalies = row.get("holdout_rows"), row.get("holdout_anomalies")
    if rows is None or anomalies is None or pd.isna(rows) or pd.isna(anomalies) or float(rows) <= 0:
        return None
    return float(anomalies) / float(rows)


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
