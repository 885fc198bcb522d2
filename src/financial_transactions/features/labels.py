"""The anomaly label of a gold bar, and why it cannot leak the model's inputs.

Four sources label a bar, in this order of precedence *per bar*: analyst **feedback**
(the latest verdict on the bar), the replay's **ground truth** where its coverage covers
the bar, **injected** anomalies (:mod:`.injection`: labelled anomalies injected into a copy
of the real trades, where ``labels.injection`` is enabled and no higher source labels the
bar) and the **rule**. ``labels.source`` picks the sources below feedback: ``auto`` all of
them in that order; ``ground_truth`` or ``injected`` that source only (other bars stay
unlabelled); ``rule`` the rule everywhere. The ``label_source`` column says which one
labelled each row (``feedback``, ``ground_truth``, ``injected``, ``rule``).

**Injected** (``injected``). A bar of a symbol the injection ran on (its coverage: the
symbol's first to last trade) is anomalous when it holds an injected or altered trade and
normal otherwise; ``anomaly_types`` lists the injected kinds. Injection never targets a bar
that feedback or ground truth labels, so no two sources disagree about a bar's trades.

**Ground truth** (``ground_truth``). The market replay injects anomalies and writes the
trades it tampered with to ``<landing>/_ground_truth/<window>/anomalies.ndjson``
(``{"source","symbol","ts","price","volume","anomaly_type"}``, ``ts`` epoch ms UTC) and,
beside it, ``coverage.json``: per symbol, the first and last trade time (``start_ms``,
``end_ms``) of the market it replayed. Coverage is what makes a *negative* a fact: a
covered bar without a listed trade is normal. A bar ``(symbol, bar_start)`` is covered when
``[bar_start, bar_end)`` overlaps ``[start, end]`` of one of its symbol's coverage entries,
and anomalous (label 1) when it holds at least one listed trade
(``bar_start = floor(ts, bar_interval)``, the bars' own flooring). A listed trade is a
positive even without coverage (e.g. a ground-truth file written before coverage was
recorded), but an uncovered bar without one is never a ground-truth negative: bars
from live vendors, or symbols and times the replay did not produce, get the rule. The
label comes from the generator, not from any column, so it cannot be a function of the
features. ``anomaly_types`` lists the kinds present in the bar (for per-type recall).

**Rule** (``rule``), for data without ground truth: a *transient dislocation* that the
market did not confirm. With ``k = rule_forward_bars``, ``z = rule_zscore`` and
``W = rule_scale_bars``:

* price: a bar's high or low lies more than ``z * sigma_t * sqrt(k)`` (in log terms) away
  from *both* the median close of the previous ``k`` bars and the median close of the
  *next* ``k`` bars, where ``sigma_t`` is the robust std (interquartile range / 1.349) of
  the symbol's bar log returns over the ``W`` bars *before* ``t`` (trailing, so the scale
  never sees the bar itself or anything after it);
* volume: ``log(1 + volume)`` exceeds *both* the previous-``k`` and the next-``k``
  medians by more than ``z`` robust stds of its bar-to-bar changes over the same
  trailing ``W`` bars.

So the label at ``t`` reads bars ``t - W .. t + k`` and nothing later: ``k`` bars of
future is its whole forward horizon, which the time split's per-symbol embargo
(``split.embargo_bars`` >= ``k``, :mod:`.feature_store_manager`) keeps inside one slice.

Why it does not leak the inputs: the rule needs the *next* ``k`` bars, which no feature
may see (every feature is causal, see :mod:`.feature_engineering`), and a persistent move
(a real re-pricing, a new volume regime) is *not* anomalous under the rule although it
looks identical to a transient one at time ``t``. So no feature, thresholded, reproduces
it; ``tests/features`` checks that the best single-feature F1 stays well below 1. Bars
without ``k`` bars of context on either side, or with fewer than
:data:`RULE_SCALE_MIN_BARS` earlier returns for the scale, cannot be judged and get no
rule label (they are dropped from training).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.config.ml import FeaturesConfig, LabelsConfig
from financial_transactions.lakehouse.paths import COVERAGE_FILE, GROUND_TRUTH_DIR, GROUND_TRUTH_FILE

ANOMALY_TYPES = ("price_spike", "volume_burst", "wash_trade", "stale_price")
LABEL_COLUMN = "label"
LABEL_SOURCE_COLUMN = "label_source"
LABEL_COLUMNS = [LABEL_COLUMN, "anomaly_types", LABEL_SOURCE_COLUMN]
GROUND_TRUTH, RULE, FEEDBACK, INJECTED = "ground_truth", "rule", "feedback", "injected"
#: Label sources, highest precedence first.
LABEL_SOURCES = (FEEDBACK, GROUND_TRUTH, INJECTED, RULE)
_TRUTH_COLUMNS = ["window", "source", "symbol", "ts", "price", "volume", "anomaly_type"]
_COVERAGE_COLUMNS = ["window", "symbol", "start", "end"]
_IQR_TO_STD = 1.349  # interquartile range of a standard normal
RULE_SCALE_MIN_BARS = 30
"""The rule's trailing scale needs at least this many earlier returns; younger bars get no rule label."""


@dataclass
class LabelReport:
    """What labelling did: shown by the train stage, logged with the run."""

    source: str  # "ground_truth" | "rule" | "mixed": which rules labelled the kept rows
    rows: int = 0
    labelled: int = 0
    positives: int = 0
    unlabelled: int = 0  # rule: bars without k bars of context or a scale; ground_truth-only: uncovered bars
    truth_trades: int = 0
    injected_trades: int = 0  # injected or altered trades in the copy the injected labels come from
    truth_unmatched: int = 0  # ground-truth trades whose bar is not in gold (e.g. quarantined)
    by_type: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)  # labelled rows per label_source

    def summary(self) -> dict[str, Any]:
        rate = self.positives / self.labelled if self.labelled else 0.0
        return {
            "label_source": self.source,
            "labelled_bars": self.labelled,
            "ground_truth_bars": self.by_source.get(GROUND_TRUTH, 0),
            "injected_bars": self.by_source.get(INJECTED, 0),
            "rule_bars": self.by_source.get(RULE, 0),
            "feedback_bars": self.by_source.get(FEEDBACK, 0),
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


def _utc(values: pd.Series) -> pd.Series:
    """Epoch milliseconds or ISO strings -> tz-aware UTC timestamps."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return pd.to_datetime(values.astype("int64"), unit="ms", utc=True)
    return pd.to_datetime(values, utc=True, format="ISO8601")


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
    frame["ts"] = _utc(frame["ts"])
    return frame


def load_coverage(location: Path, windows: Iterable[str] | None = None) -> pd.DataFrame:
    """What the ground truth at ``location`` covers: one row per (window, symbol) with ``start``/``end`` (UTC).

    Read from the ``coverage.json`` beside each ``anomalies.ndjson``
    (``{"window", "symbols": [{"symbol", "start_ms", "end_ms", ...}]}``). A ground-truth
    file without one covers nothing (its listed trades still label their bars as
    anomalous); a malformed one raises naming the file and the entry.
    """
    rows: list[dict[str, Any]] = []
    for truth_path in ground_truth_files(location, windows):
        path = truth_path.parent / COVERAGE_FILE
        if not path.is_file():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            entries = doc["symbols"]
            if not isinstance(entries, list):
                raise TypeError(f"'symbols' is {type(entries).__name__}, not a list")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a ground-truth coverage file ({exc})") from exc
        for i, entry in enumerate(entries):
            try:
                symbol, start, end = str(entry["symbol"]), int(entry["start_ms"]), int(entry["end_ms"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: symbols[{i}] is not a coverage entry ({exc!r})") from exc
            if end < start:
                raise ValueError(f"{path}: symbols[{i}] ({symbol}) ends before it starts")
            rows.append({"window": truth_path.parent.name, "symbol": symbol, "start": start, "end": end})
    frame = pd.DataFrame.from_records(rows, columns=_COVERAGE_COLUMNS)
    for col in ("start", "end"):
        frame[col] = _utc(frame[col].astype("int64"))
    return frame


def _epoch_ns(values: pd.Series) -> np.ndarray:
    utc = pd.to_datetime(values, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
    return utc.to_numpy(dtype="datetime64[ns]").view(np.int64)


def covered_bars(gold: pd.DataFrame, coverage: pd.DataFrame | None, bar_interval: str) -> np.ndarray:
    """True for the gold rows whose bar ``[bar_start, bar_start + interval)`` overlaps a coverage entry."""
    out = np.zeros(len(gold), dtype=bool)
    if coverage is None or coverage.empty or gold.empty:
        return out
    bar_ns = interval_ns(bar_interval)
    start = _epoch_ns(gold["bar_start"])
    symbol = gold["symbol"].astype(str).to_numpy()
    cov_start, cov_end = _epoch_ns(coverage["start"]), _epoch_ns(coverage["end"])
    for sym, lo, hi in zip(coverage["symbol"].astype(str).to_numpy(), cov_start, cov_end, strict=True):
        out |= (symbol == sym) & (start <= hi) & (start + bar_ns > lo)
    return out


def _truth_keys(truth: pd.DataFrame, bar_interval: str) -> pd.DataFrame:
    """One row per ground-truth trade: its symbol, its bar's start and its anomaly type."""
    bar_ns = interval_ns(bar_interval)
    ts_ns = _epoch_ns(truth["ts"])
    return pd.DataFrame(
        {
            "symbol": truth["symbol"].astype(str).to_numpy(),
            "bar_start": pd.to_datetime((ts_ns // bar_ns) * bar_ns, unit="ns", utc=True).as_unit("us"),
            "anomaly_type": truth["anomaly_type"].to_numpy(),
        }
    )


def _types(frame: pd.DataFrame) -> dict[str, int]:
    return {t: int(frame["anomaly_types"].str.contains(t, regex=False).sum()) for t in ANOMALY_TYPES}


def ground_truth_labels(gold: pd.DataFrame, truth: pd.DataFrame, bar_interval: str) -> tuple[pd.DataFrame, LabelReport]:
    """``gold`` plus ``label`` (1 when the bar holds a ground-truth trade), ``anomaly_types``, ``label_source``.

    Every row is labelled from ``truth`` as though the ground truth covered all of
    ``gold``; :func:`label_bars` decides coverage.
    """
    report = LabelReport(source=GROUND_TRUTH, rows=len(gold), truth_trades=len(truth))
    keyed = _truth_keys(truth, bar_interval)
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
    merged[LABEL_SOURCE_COLUMN] = GROUND_TRUTH
    report.labelled = len(merged)
    report.positives = int(merged[LABEL_COLUMN].sum())
    report.by_type = _types(merged)
    report.by_source = {GROUND_TRUTH: len(merged)}
    return merged, report


def _trailing_robust_std(values: pd.Series, window: int) -> np.ndarray:
    """Robust std (IQR / 1.349) of the ``window`` values *before* each position (NaN until
    :data:`RULE_SCALE_MIN_BARS` of them exist): position t never sees itself or later values."""
    past = values.shift(1).rolling(window, min_periods=min(window, RULE_SCALE_MIN_BARS))
    iqr = past.quantile(0.75) - past.quantile(0.25)
    return (iqr / _IQR_TO_STD).to_numpy(dtype=np.float64)


def _past_and_future_median(values: pd.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    past = values.shift(1).rolling(k, min_periods=k).median()
    future = values[::-1].shift(1).rolling(k, min_periods=k).median()[::-1]
    return past.to_numpy(dtype=np.float64), future.to_numpy(dtype=np.float64)


def rule_flags(frame: pd.DataFrame, cfg: LabelsConfig) -> np.ndarray:
    """The documented rule for one symbol's bars in time order: 1.0 / 0.0, NaN when undecidable.

    Output ``t`` reads bars ``t - rule_scale_bars .. t + rule_forward_bars`` only.
    """
    k, z, w = cfg.rule_forward_bars, cfg.rule_zscore, cfg.rule_scale_bars
    log_close = pd.Series(np.log(frame["close"].to_numpy(dtype=np.float64)))
    sigma = _trailing_robust_std(log_close.diff(), w)
    past_p, future_p = _past_and_future_median(log_close, k)
    hi = np.log(frame["high"].to_numpy(dtype=np.float64))
    lo = np.log(frame["low"].to_numpy(dtype=np.float64))
    dislocation = np.maximum(
        np.minimum(np.abs(hi - past_p), np.abs(hi - future_p)),
        np.minimum(np.abs(lo - past_p), np.abs(lo - future_p)),
    )
    with np.errstate(invalid="ignore"):
        price_flag = np.where(sigma > 0, dislocation > z * sigma * np.sqrt(k), dislocation > 0)

    log_vol = pd.Series(np.log1p(frame["volume"].to_numpy(dtype=np.float64)))
    sigma_v = _trailing_robust_std(log_vol.diff(), w)
    past_v, future_v = _past_and_future_median(log_vol, k)
    excess = np.minimum(log_vol.to_numpy() - past_v, log_vol.to_numpy() - future_v)
    with np.errstate(invalid="ignore"):
        volume_flag = np.where(sigma_v > 0, excess > z * sigma_v, excess > 0)

    flags = (price_flag | volume_flag).astype(np.float64)
    flags[np.isnan(past_p) | np.isnan(future_p) | np.isnan(sigma) | np.isnan(sigma_v)] = np.nan
    return flags


def _rule_flags_by_symbol(ordered: pd.DataFrame, cfg: LabelsConfig) -> np.ndarray:
    """:func:`rule_flags` per symbol of ``ordered`` (sorted by symbol, bar_start)."""
    flags = np.full(len(ordered), np.nan)
    for _, idx in ordered.groupby("symbol", sort=False).indices.items():
        flags[idx] = rule_flags(ordered.iloc[idx], cfg)
    return flags


def rule_labels(gold: pd.DataFrame, cfg: LabelsConfig) -> tuple[pd.DataFrame, LabelReport]:
    """``gold`` plus the rule label per symbol; rows the rule cannot judge are dropped (counted)."""
    return label_bars(gold, cfg.model_copy(update={"source": RULE}), None, None)


def label_bars(
    gold: pd.DataFrame,
    labels_cfg: LabelsConfig,
    features_cfg: FeaturesConfig | None,
    truth: pd.DataFrame | None,
    coverage: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    injected: pd.DataFrame | None = None,
    injected_coverage: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, LabelReport]:
    """Label every gold row by the highest-precedence source that labels it (see the module doc).

    Returns the labelled rows sorted by (symbol, bar_start), with ``label``,
    ``anomaly_types`` and ``label_source``; rows no source could label are dropped and
    counted in ``unlabelled``. ``source="ground_truth"`` with nothing covered raises, and
    so does ``source="injected"`` without injected coverage. ``feedback`` (latest analyst
    verdict per ``(symbol, bar_start)``, see :mod:`financial_transactions.features.feedback`)
    outranks every other source: a confirmed bar is 1, a dismissed bar 0, ``label_source``
    is ``feedback``, and the bar is kept even where no other source could judge it.
    ``injected`` / ``injected_coverage`` are an :class:`~financial_transactions.features.injection.Injection`'s
    ``events`` and ``coverage`` (same shape as ``truth`` / ``coverage``); ``gold`` is then
    the gold of the injected copy.
    """
    source = labels_cfg.source
    bar_interval = (features_cfg or FeaturesConfig()).bar_interval
    ordered = gold.sort_values(["symbol", "bar_start"], kind="stable").reset_index(drop=True)
    report = LabelReport(source=source, rows=len(ordered))
    n = len(ordered)
    label = np.full(n, np.nan)
    sources = np.full(n, RULE, dtype=object)
    types = np.full(n, "", dtype=object)
    taken = np.zeros(n, dtype=bool)  # labelled by a higher-precedence source than the one at hand

    has_truth = truth is not None and not truth.empty
    has_coverage = coverage is not None and not coverage.empty
    if source == GROUND_TRUTH and not (has_truth or has_coverage):
        raise ValueError("labels.source is ground_truth but no ground-truth anomalies or coverage were found")
    if source in (GROUND_TRUTH, "auto") and (has_truth or has_coverage):
        rows, truth_label, truth_types, gt_report = _listed_labels(ordered, truth, coverage, bar_interval)
        report.truth_trades, report.truth_unmatched = gt_report.truth_trades, gt_report.truth_unmatched
        if source == GROUND_TRUTH and not rows.any():
            raise ValueError("labels.source is ground_truth but the ground truth covers no gold bar")
        _take(rows & ~taken, label, sources, types, taken, truth_label, truth_types, GROUND_TRUTH)

    has_injected = (injected is not None and not injected.empty) or (
        injected_coverage is not None and not injected_coverage.empty
    )
    if source == INJECTED and not has_injected:
        raise ValueError(
            "labels.source is injected but nothing was injected: enable labels.injection (and check that silver "
            "holds trades for bars no analyst verdict or ground truth labels)"
        )
    if source in (INJECTED, "auto") and has_injected:
        rows, inj_label, inj_types, inj_report = _listed_labels(ordered, injected, injected_coverage, bar_interval)
        report.injected_trades = inj_report.truth_trades
        _take(rows & ~taken, label, sources, types, taken, inj_label, inj_types, INJECTED)

    if source in (RULE, "auto") and not taken.all():
        rest = ~taken
        flags = _rule_flags_by_symbol(ordered, labels_cfg)
        label[rest] = flags[rest]
        sources[rest] = RULE
        types[rest & (flags == 1)] = RULE

    reviewed, verdict = _feedback_rows(ordered, feedback)
    label[reviewed] = verdict[reviewed]
    sources[reviewed] = FEEDBACK
    types[reviewed] = np.where(verdict[reviewed] == 1, FEEDBACK, "")

    keep = ~np.isnan(label)
    labelled = ordered.copy()
    labelled["anomaly_types"] = types
    labelled[LABEL_COLUMN] = np.nan_to_num(label, nan=0.0).astype(np.int64)
    labelled[LABEL_SOURCE_COLUMN] = sources
    out = labelled.loc[keep].reset_index(drop=True)
    report.unlabelled = int((~keep).sum())
    report.labelled = len(out)
    report.positives = int(out[LABEL_COLUMN].sum())
    report.by_source = {k: int(v) for k, v in out[LABEL_SOURCE_COLUMN].value_counts().items()}
    if len(report.by_source) == 1:
        report.source = next(iter(report.by_source))
    elif report.by_source:
        report.source = "mixed"
    report.by_type = {}
    for listed in (GROUND_TRUTH, INJECTED):
        if report.by_source.get(listed):
            counts = _types(out[out[LABEL_SOURCE_COLUMN] == listed])
            for kind, count in counts.items():
                report.by_type[kind] = report.by_type.get(kind, 0) + count
    if report.by_source.get(RULE):
        report.by_type[RULE] = int(((out[LABEL_SOURCE_COLUMN] == RULE) & (out[LABEL_COLUMN] == 1)).sum())
    return out, report


def _listed_labels(
    ordered: pd.DataFrame, listed: pd.DataFrame | None, coverage: pd.DataFrame | None, bar_interval: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LabelReport]:
    """A source of listed anomalous trades (ground truth, injection) on ``ordered``: the rows it labels
    (covered, or holding a listed trade), their 0/1 label and anomaly types, and its report."""
    frame = listed if listed is not None else pd.DataFrame(columns=_TRUTH_COLUMNS)
    merged, report = ground_truth_labels(ordered, frame, bar_interval)
    positive = merged[LABEL_COLUMN].to_numpy() == 1
    rows = covered_bars(merged, coverage, bar_interval) | positive
    return rows, positive.astype(np.float64), merged["anomaly_types"].to_numpy(dtype=object), report


def _take(
    rows: np.ndarray,
    label: np.ndarray,
    sources: np.ndarray,
    types: np.ndarray,
    taken: np.ndarray,
    values: np.ndarray,
    kinds: np.ndarray,
    name: str,
) -> None:
    """Give ``rows`` the label of source ``name`` (in place)."""
    label[rows] = values[rows]
    sources[rows] = name
    types[rows] = kinds[rows]
    taken |= rows


def _feedback_rows(bars: pd.DataFrame, feedback: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``bars`` an analyst reviewed, and the verdict as a label (1 confirmed, 0 dismissed)."""
    reviewed = np.zeros(len(bars), dtype=bool)
    verdict = np.zeros(len(bars), dtype=float)
    if feedback is None or feedback.empty or bars.empty:
        return reviewed, verdict
    latest = feedback.sort_values("decided_at", kind="stable").drop_duplicates(["symbol", "bar_start"], keep="last")
    keys = pd.DataFrame({"symbol": latest["symbol"].astype(str), "bar_ns": _epoch_ns(latest["bar_start"])})
    keys["verdict"] = (latest["verdict"].to_numpy() == "confirmed").astype(float)
    probe = pd.DataFrame({"symbol": bars["symbol"].astype(str).to_numpy(), "bar_ns": _epoch_ns(bars["bar_start"])})
    matched = probe.merge(keys, on=["symbol", "bar_ns"], how="left")["verdict"].to_numpy()
    reviewed = ~np.isnan(matched)
    verdict[reviewed] = matched[reviewed]
    return reviewed, verdict


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
