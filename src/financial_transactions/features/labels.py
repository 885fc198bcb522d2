"""The anomaly label of a gold bar, and why it cannot leak the model's inputs.

Two sources, chosen by ``labels.source`` (``auto``: ground truth when the replay wrote
any, else the rule):

**Ground truth** (``ground_truth``). The market replay injects anomalies and writes the
trades it tampered with to ``<landing>/_ground_truth/<window>/anomalies.ndjson``
(``{"source","symbol","ts","price","volume","anomaly_type"}``, ``ts`` epoch ms UTC).
A bar ``(symbol, bar_start)`` is anomalous (label 1) when it contains at least one such
trade: ``bar_start = floor(ts, bar_interval)``, the same flooring the bars use. The label
comes from the generator, not from any column, so it cannot be a function of the
features. ``anomaly_types`` lists the kinds present in the bar (for per-type recall).

**Rule** (``rule``), for data without ground truth: a *transient dislocation* that the
market did not confirm. With ``k = rule_forward_bars`` and ``z = rule_zscore``:

* price: a bar's high or low lies more than ``z * sigma * sqrt(k)`` (in log terms) away
  from *both* the median close of the previous ``k`` bars and the median close of the
  *next* ``k`` bars, where ``sigma`` is the robust (1.4826 x MAD) std of the symbol's
  bar log returns over the whole series;
* volume: ``log(1 + volume)`` exceeds *both* the previous-``k`` and the next-``k``
  medians by more than ``z`` robust stds of its bar-to-bar changes.

Why it does not leak: the rule needs the *next* ``k`` bars and a whole-series scale,
neither of which any feature may see (every feature is causal, see
:mod:`.feature_engineering`), and a persistent move (a real re-pricing, a new volume
regime) is *not* anomalous under the rule although it looks identical to a transient
one at time ``t``. So no feature, thresholded, reproduces it; ``tests/features`` checks
that the best single-feature F1 stays well below 1. Bars within ``k`` bars of either end
of a symbol's series cannot be judged and get no label (they are dropped from training).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config.ml import FeaturesConfig, LabelsConfig
from financial_transactions.features.bars import interval_ns

GROUND_TRUTH_DIR = "_ground_truth"
GROUND_TRUTH_FILE = "anomalies.ndjson"
ANOMALY_TYPES = ("price_spike", "volume_burst", "wash_trade", "stale_price")
LABEL_COLUMN = "label"
LABEL_COLUMNS = [LABEL_COLUMN, "anomaly_types", "label_source"]
_TRUTH_COLUMNS = ["window", "source", "symbol", "ts", "price", "volume", "anomaly_type"]
_MAD_TO_STD = 1.4826


@dataclass
class LabelReport:
    """What labelling did: shown by the train stage, logged with the run."""

    source: str  # "ground_truth" | "rule"
    rows: int = 0
    labelled: int = 0
    positives: int = 0
    unlabelled: int = 0  # rule: series edges without k bars of context
    truth_trades: int = 0
    truth_unmatched: int = 0  # ground-truth trades whose bar is not in gold (e.g. quarantined)
    by_type: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        rate = self.positives / self.labelled if self.labelled else 0.0
        return {
            "label_source": self.source,
            "labelled_bars": self.labelled,
            "positive_bars": self.positives,
            "positive_rate": round(rate, 4),
            "truth_unmatched": self.truth_unmatched,
        }


def ground_truth_files(location: Path, windows: Iterable[str] | None = None) -> list[Path]:
    """The ``anomalies.ndjson`` files at ``location``, for ``windows`` (all when None).

    ``location`` may be the landing zone, its ``_ground_truth`` folder, one window's
    folder, or the file itself (what a replay run hands over as its ground-truth path).
    """
    location = Path(location)
    if location.is_file():
        return [location]
    if (location / GROUND_TRUTH_FILE).is_file():
        return [location / GROUND_TRUTH_FILE]
    base = location if location.name == GROUND_TRUTH_DIR else location / GROUND_TRUTH_DIR
    if not base.is_dir():
        return []
    wanted = None if windows is None else set(windows)
    return sorted(
        p
        for p in base.glob(f"*/{GROUND_TRUTH_FILE}")
        if not p.parent.name.startswith((".", "_")) and (wanted is None or p.parent.name in wanted)
    )


def load_ground_truth(location: Path, windows: Iterable[str] | None = None) -> pd.DataFrame:
    """All ground-truth anomalous trades at ``location`` (see :func:`ground_truth_files`), ``ts`` UTC.

    A malformed line raises with its file and line number: silently losing labels
    would quietly turn anomalies into negatives.
    """
    records: list[dict[str, Any]] = []
    for path in ground_truth_files(location, windows):
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    row = {k: rec[k] for k in ("symbol", "ts", "anomaly_type")}
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}:{number}: not a ground-truth record ({exc})") from exc
                if row["anomaly_type"] not in ANOMALY_TYPES:
                    raise ValueError(f"{path}:{number}: unknown anomaly_type {row['anomaly_type']!r}")
                row.update(
                    window=path.parent.name,
                    source=rec.get("source"),
                    price=rec.get("price"),
                    volume=rec.get("volume"),
                )
                records.append(row)
    frame = pd.DataFrame.from_records(records, columns=_TRUTH_COLUMNS)
    ts = frame["ts"]
    if pd.api.types.is_numeric_dtype(ts.dtype):
        frame["ts"] = pd.to_datetime(ts.astype("int64"), unit="ms", utc=True)
    else:
        frame["ts"] = pd.to_datetime(ts, utc=True, format="ISO8601")
    return frame


def ground_truth_labels(gold: pd.DataFrame, truth: pd.DataFrame, bar_interval: str) -> tuple[pd.DataFrame, LabelReport]:
    """``gold`` plus ``label`` (1 when the bar holds a ground-truth trade), ``anomaly_types``, ``label_source``."""
    bar_ns = interval_ns(bar_interval)
    report = LabelReport(source="ground_truth", rows=len(gold), truth_trades=len(truth))
    ts_ns = truth["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    keyed = pd.DataFrame(
        {
            "symbol": truth["symbol"].astype(str).to_numpy(),
            "bar_start": pd.to_datetime((ts_ns // bar_ns) * bar_ns, unit="ns", utc=True).as_unit("us"),
            "anomaly_type": truth["anomaly_type"].to_numpy(),
        }
    )
    per_bar = (
        keyed.groupby(["symbol", "bar_start"], sort=False)["anomaly_type"]
        .agg(lambda s: ",".join(sorted(set(s))))
        .rename("anomaly_types")
        .reset_index()
    )
    out = gold.copy()
    out["bar_start"] = pd.to_datetime(out["bar_start"], utc=True).dt.as_unit("us")
    merged = out.merge(per_bar, on=["symbol", "bar_start"], how="left", validate="one_to_one")
    matched = keyed.merge(out[["symbol", "bar_start"]], on=["symbol", "bar_start"], how="inner")
    report.truth_unmatched = len(keyed) - len(matched)
    merged["anomaly_types"] = merged["anomaly_types"].fillna("")
    merged[LABEL_COLUMN] = (merged["anomaly_types"] != "").astype(np.int64)
    merged["label_source"] = "ground_truth"
    report.labelled = len(merged)
    report.positives = int(merged[LABEL_COLUMN].sum())
    report.by_type = {t: int(merged["anomaly_types"].str.contains(t, regex=False).sum()) for t in ANOMALY_TYPES}
    return merged, report


def _robust_std(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    return float(_MAD_TO_STD * np.median(np.abs(finite - np.median(finite))))


def _past_and_future_median(values: pd.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    past = values.shift(1).rolling(k, min_periods=k).median()
    future = values[::-1].shift(1).rolling(k, min_periods=k).median()[::-1]
    return past.to_numpy(dtype=np.float64), future.to_numpy(dtype=np.float64)


def rule_flags(frame: pd.DataFrame, cfg: LabelsConfig) -> np.ndarray:
    """The documented rule for one symbol's bars in time order: 1.0 / 0.0, NaN when undecidable."""
    k, z = cfg.rule_forward_bars, cfg.rule_zscore
    log_close = pd.Series(np.log(frame["close"].to_numpy(dtype=np.float64)))
    sigma = _robust_std(np.diff(log_close.to_numpy()))
    past_p, future_p = _past_and_future_median(log_close, k)
    hi = np.log(frame["high"].to_numpy(dtype=np.float64))
    lo = np.log(frame["low"].to_numpy(dtype=np.float64))
    dislocation = np.maximum(
        np.minimum(np.abs(hi - past_p), np.abs(hi - future_p)),
        np.minimum(np.abs(lo - past_p), np.abs(lo - future_p)),
    )
    price_flag = dislocation > z * sigma * np.sqrt(k) if sigma > 0 else dislocation > 0

    log_vol = pd.Series(np.log1p(frame["volume"].to_numpy(dtype=np.float64)))
    sigma_v = _robust_std(np.diff(log_vol.to_numpy()))
    past_v, future_v = _past_and_future_median(log_vol, k)
    excess = np.minimum(log_vol.to_numpy() - past_v, log_vol.to_numpy() - future_v)
    volume_flag = excess > z * sigma_v if sigma_v > 0 else excess > 0

    flags = (price_flag | volume_flag).astype(np.float64)
    flags[np.isnan(past_p) | np.isnan(future_p)] = np.nan
    return flags


def rule_labels(gold: pd.DataFrame, cfg: LabelsConfig) -> tuple[pd.DataFrame, LabelReport]:
    """``gold`` plus the rule label per symbol; rows the rule cannot judge are dropped (counted)."""
    report = LabelReport(source="rule", rows=len(gold))
    ordered = gold.sort_values(["symbol", "bar_start"], kind="stable").reset_index(drop=True)
    flags = np.full(len(ordered), np.nan)
    for _, idx in ordered.groupby("symbol", sort=False).indices.items():
        flags[idx] = rule_flags(ordered.iloc[idx], cfg)
    keep = ~np.isnan(flags)
    out = ordered.loc[keep].copy()
    out[LABEL_COLUMN] = flags[keep].astype(np.int64)
    out["anomaly_types"] = np.where(out[LABEL_COLUMN] == 1, "rule", "")
    out["label_source"] = "rule"
    report.unlabelled = int((~keep).sum())
    report.labelled = len(out)
    report.positives = int(out[LABEL_COLUMN].sum())
    report.by_type = {"rule": report.positives}
    return out.reset_index(drop=True), report


def label_bars(
    gold: pd.DataFrame,
    labels_cfg: LabelsConfig,
    features_cfg: FeaturesConfig,
    truth: pd.DataFrame | None,
) -> tuple[pd.DataFrame, LabelReport]:
    """Label gold rows by ``labels_cfg.source`` (``auto``: ground truth when ``truth`` has rows)."""
    has_truth = truth is not None and not truth.empty
    if labels_cfg.source == "ground_truth" and not has_truth:
        raise ValueError("labels.source is ground_truth but no ground-truth anomalies were found")
    if labels_cfg.source == "ground_truth" or (labels_cfg.source == "auto" and has_truth):
        assert truth is not None
        return ground_truth_labels(gold, truth, features_cfg.bar_interval)
    return rule_labels(gold, labels_cfg)


def best_single_feature_f1(frame: pd.DataFrame, columns: Iterable[str], label: str = LABEL_COLUMN) -> dict[str, float]:
    """For each column, the best F1 any threshold (either direction) reaches on ``label``.

    The leakage check: a label that some feature reproduces by a threshold would score
    ~1.0 here. NaNs count as "not flagged". Exact: every distinct value is tried.
    """
    y = frame[label].to_numpy(dtype=np.int64)
    positives = int(y.sum())
    out: dict[str, float] = {}
    for col in columns:
        x = frame[col].to_numpy(dtype=np.float64)
        best = 0.0
        for sign in (1.0, -1.0):
            v = np.where(np.isfinite(x), sign * x, -np.inf)
            order = np.argsort(-v, kind="stable")
            vs, ys = v[order], y[order]
            tp = np.cumsum(ys)
            flagged = np.arange(1, len(ys) + 1)
            last_of_value = np.append(vs[1:] != vs[:-1], True) & np.isfinite(vs)  # thresholds between values
            if not last_of_value.any() or positives == 0:
                continue
            f1 = 2 * tp[last_of_value] / (flagged[last_of_value] + positives)
            best = max(best, float(f1.max()))
        out[col] = best
    return out
