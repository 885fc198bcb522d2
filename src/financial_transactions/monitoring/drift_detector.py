"""``DriftDetector``: PSI and Jensen–Shannon distance per feature, one decision per run.

Binning (one set of bins per feature, shared by PSI and JS)
-----------------------------------------------------------
* **Numeric features.** Inner edges come from the reference's quantiles at
  ``1/bins, 2/bins, …, (bins-1)/bins`` (numpy's default *linear* quantile), each
  placed in a *gap* between distinct reference values, never on one: at the
  midpoint between the quantile and the next larger reference value. Many
  features live on a lattice (multiples of tick / price, so many bars share a
  value and the values form tight clusters around 1, 2, 3 … ticks); an edge on
  a cluster splits it by where the price level happened to be, and a ~1 % level
  move then carries the whole cluster across the edge, a PSI alert every window
  between two windows of one stationary process. So where the reference has
  ties and a gap at least 5 % of its own value wide lies within 25 % of the
  quantile, the edge goes to the midpoint of the one nearest the quantile in rank
  (``_cluster_gap``). Continuous data has no ties: its edges move only to the
  next order statistic, the reference counts are unchanged and a current value
  changes bin only if it lies in that gap (PSI equal to the on-quantile edges
  within 1e-3, tested). Edges that coincide merge, so heavily tied features get
  fewer bins than configured; the reference maximum, having no larger value,
  stays an edge. The outer edges are −∞ and +∞: current values outside the
  reference range land in the outer bins instead of being dropped, and ±inf
  values are ordinary values there. Bins are right-closed, ``(e[i-1], e[i]]``
  (a current value exactly on a midpoint goes down). When the lowest quantile
  equals the reference minimum (a point mass at the minimum, or a constant
  feature), one more edge just below it gives values under the reference range
  their own bin.
* **Categorical features** (strings, booleans, categories, and numeric columns
  named in ``drift.categorical_features``): one bin per category seen in either
  window, so a new category is counted against an (almost) empty reference bin.
* **Missing values** (NaN/None). ``nan_policy="bin"`` (default): when either
  window has any, they form one extra bin, so a surge of missing values is drift
  like any other change of distribution. ``nan_policy="drop"``: they are
  excluded from both windows. Missing counts are recorded either way.

Measures
--------
* ``p`` (reference) and ``q`` (current) are the bin shares.
* **PSI** ``= Σ (q−p)·ln(q/p)``. An empty bin would make it infinite, so shares
  of exactly 0 are replaced by ``drift.epsilon`` (default 1e-4) and each vector
  is renormalised to sum to 1 before the sum.
* **JS distance** ``= sqrt(½·KL(p‖m) + ½·KL(q‖m))`` with ``m = (p+q)/2`` and
  base-2 logarithms, on the raw shares (``0·log 0 = 0``; no epsilon needed), so
  it lies in [0, 1]. It equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

Status per feature: each measure has its own pair of thresholds on one scale
(JS distance ≈ sqrt(PSI / (8·ln 2)) for small shifts, so the defaults JS
0.134 / 0.212 sit where PSI 0.1 / 0.25 do; see :class:`DriftConfig`). PSI gives
``ok``/``warn``/``alert`` against ``psi_warn``/``psi_alert``, JS against
``js_warn``/``js_alert``, and the feature's status is the worse of the two;
``insufficient_data`` when the reference (or, with ``drop``, the current window)
has fewer than ``drift.min_rows`` non-missing values, or the current window
fewer rows.

Signals
-------
Some model features carry one signal twice: ``returns`` and ``log_return`` are monotone
transforms of each other (the same bins, the same PSI), and the SMA/EMA deviations are
near-duplicates. Counted as columns they would inflate the drifted share and let one
shift satisfy ``min_drifted_features: 2`` alone. So features are **grouped**, not dropped
(each stays a model input and keeps its own row, PSI and status): ``drift.signal_groups``
maps a signal name to fnmatch patterns of its members (defaults:
:func:`~financial_transactions.config.monitoring.default_signal_groups`: ``return``,
``ma_deviation``, ``identical_prints``, ``cross_ts_repeats``); the first group a feature
matches is its signal, and a feature in no group is a signal of its own. A signal's status
is the worst of its members' (it has drifted when any member has), and it has a status when
any member has one.

Overall decision (``drift.decision_rule``), over the *signals* with a status:

* ``share`` – drifted share of signals ≥ ``drifted_share_alert`` **and** at least
  ``min_drifted_features`` signals drifted (one noisy signal is not enough);
* ``critical`` – any feature listed in ``critical_features`` drifted;
* ``share_or_critical`` (default) / ``share_and_critical`` – the combinations.

Speed: every numeric column costs one exact quantile selection on the reference
(a sorted sample brackets each quantile, then only the values inside the bracket
are partitioned; the next larger value comes from the same bracket, or from one
extraction pass for a point mass) and one vectorised ``<=`` count per edge on
each window; there are no per-row Python loops and no full sorts. Features run on a small thread
pool (numpy releases the GIL in its comparison kernels).
"""

from __future__ import annotations

import fnmatch
import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.config.monitoring import DriftConfig
from financial_transactions.features.feature_engineering import feature_columns
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.runtime import Platform
from financial_transactions.runtime.journal import scoped_id

log = logging.getLogger(__name__)

Status = Literal["ok", "warn", "alert", "insufficient_data"]
Overall = Literal["drift", "no_drift", "insufficient_data"]

#: Columns of the gold/feature tables that are keys, times or labels, never model inputs.
NON_FEATURE_COLUMNS = frozenset(
    {
        "symbol",
        "bar_start",
        "bar_end",
        "ts",
        "trade_date",
        "session_type",
        "asset_class",
        "source",
        "label",
        "is_anomaly",
        "anomaly_type",
        "split",
        "window",
        "_source_file",
        "ingested_at",
    }
)

# below this many values numpy's own quantile is as fast as the bracketed selection
_FAST_QUANTILE_MIN = 200_000
_SAMPLE_SIZE = 65_536


# -- exact quantiles --------------------------------------------------------------------
def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation, step for step, so the edges equal ``np.quantile``'s."""
    if a == b:
        return a
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def exact_quantiles(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile(values, probs)`` (linear method) for NaN-free ``values``, without a full selection.

    A sorted strided sample brackets each needed order statistic ``[lo, hi]``;
    one pass counts the values below ``lo``, one extracts the values inside the
    bracket, and a partition of those (a few thousand) gives the exact order
    statistic. Heavily tied data (a point mass at 0, small integer counts) would
    make the bracket huge, so values equal to ``lo``/``hi`` are counted instead
    of partitioned. A bracket that misses (adversarial data) falls back to
    ``np.partition`` on everything, so the result is always exact.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("quantiles of an empty array")
    return _quantiles(x, np.asarray(probs, dtype=np.float64), None, successors=False)[0]


def _sorted_sample(x: np.ndarray) -> np.ndarray:
    """Every ``n // 65,536``-th value, sorted (all of them below 131,072 values)."""
    return np.sort(x[:: max(1, x.size // _SAMPLE_SIZE)])


def _successors(x: np.ndarray, values: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """For each value, the smallest element of ``x`` above it (+inf when there is none).

    ``sample`` (sorted, drawn from ``x``) gives a candidate ``s``; one pass extracts the
    values strictly between, which is empty on lattice data, so ``s`` is the answer.
    """
    whole = sample.size == x.size
    found: dict[float, float] = {}
    for v in map(float, values):
        if v in found:
            continue
        k = int(np.searchsorted(sample, v, "right"))
        if k < sample.size:
            s = float(sample[k])
            between = x[(x > v) & (x < s)] if not whole else x[:0]
            found[v] = float(between.min()) if between.size else s
        else:
            above = x[x > v] if not whole else x[:0]
            found[v] = float(above.min()) if above.size else math.inf
    return np.array([found[float(v)] for v in values], dtype=np.float64)


def _quantiles(
    x: np.ndarray, probs: np.ndarray, sample: np.ndarray | None, *, successors: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Exact quantiles of ``x`` and each one's successor (the next larger value of ``x``, +inf for none).

    The successor mostly comes free from the bracket the quantile was selected in;
    point masses and bracket misses cost one pass each.
    """
    n = x.size
    if n < _FAST_QUANTILE_MIN:
        small = np.asarray(np.quantile(x, probs), dtype=np.float64)
        if not successors:
            return small, np.full(small.size, np.nan)
        return small, _successors(x, small, _sorted_sample(x) if sample is None else sample)
    sample = _sorted_sample(x) if sample is None else sample
    virtual = (n - 1) * probs
    lower = np.floor(virtual).astype(np.int64)
    upper = np.minimum(lower + 1, n - 1)
    gamma = virtual - lower
    stride = max(1, n // _SAMPLE_SIZE)
    m = sample.size
    out = np.empty(probs.size, dtype=np.float64)
    succ = np.full(probs.size, np.nan)
    brackets: dict[tuple[float, float], tuple[int, np.ndarray]] = {}
    masses: dict[float, tuple[int, int]] = {}
    for j, p in enumerate(probs):
        k0, k1 = int(lower[j]), int(upper[j])
        pos = p * (m - 1)
        width = int(6.0 * math.sqrt(m * p * (1.0 - p) + 1.0)) + 2
        lo = float(sample[max(0, int(pos) - width)])
        hi = float(sample[min(m - 1, int(pos) + width + 1)])
        if lo == hi:  # a point mass: two counts decide it, nothing to extract
            if lo not in masses:
                masses[lo] = (int(np.count_nonzero(x < lo)), int(np.count_nonzero(x == lo)))
            below, equal = masses[lo]
            if below <= k0 and k1 < below + equal:
                out[j] = lo
                continue
        if (lo, hi) not in brackets:  # tied data reuses brackets across quantiles
            ge = x >= lo
            brackets[(lo, hi)] = (n - int(np.count_nonzero(ge)), x[ge & (x <= hi)])
        below, inside = brackets[(lo, hi)]
        a, b = k0 - below, k1 - below
        if a < 0 or b >= inside.size:  # the sample mis-bracketed: select on everything
            part = np.partition(x, (k0, k1))
            va, vb = float(part[k0]), float(part[k1])
            out[j] = _lerp(va, vb, float(gamma[j]))
            continue
        if inside.size > 8 * (2 * width + 2) * stride:  # ties at the bracket ends
            va, vb = _tied_order_stats(inside, lo, hi, a, b)
        else:
            part = np.partition(inside, (a, b)) if a != b else np.partition(inside, a)
            va, vb = float(part[a]), float(part[b])
        out[j] = _lerp(va, vb, float(gamma[j]))
        if successors:  # inside holds every value in [lo, hi], so a larger one there is the successor
            larger = inside[inside > out[j]]
            if larger.size:
                succ[j] = larger.min()
    todo = np.isnan(succ)
    if successors and todo.any():
        succ[todo] = _successors(x, out[todo], sample)
    return out, succ


def _tied_order_stats(inside: np.ndarray, lo: float, hi: float, a: int, b: int) -> tuple[float, float]:
    """Order statistics ``a`` and ``b`` of ``inside`` (all within [lo, hi]) when many equal ``lo`` or ``hi``."""
    at_lo = int(np.count_nonzero(inside == lo))
    at_hi = int(np.count_nonzero(inside == hi)) if hi != lo else 0
    middle = inside[(inside > lo) & (inside < hi)] if hi != lo else inside[:0]

    def pick(rank: int) -> float:
        if rank < at_lo:
            return lo
        rank -= at_lo
        if rank < middle.size:
            return float(np.partition(middle, rank)[rank])
        if rank - middle.size < at_hi:
            return hi
        raise AssertionError("order statistic outside its bracket")

    return pick(a), pick(b)


# -- bin edges in the gaps ------------------------------------------------------------------
# A quantile inside a cluster of near-equal values (a tick lattice over a drifting price:
# 1 tick / 4990 ... 1 tick / 5010) moves to the gap between clusters nearest it in rank,
# when a gap within _CLUSTER_REACH (relative) of it is at least _CLUSTER_MIN_GAP of its own
# midpoint wide (so a price-level move of a few % carries no cluster across the edge).
# Only where the sample has ties and at least _CLUSTER_MIN_VALUES distinct values nearby:
# continuous data has no ties, and a small exact lattice just takes the next-value midpoint.
_CLUSTER_REACH = 0.25
_CLUSTER_MIN_GAP = 0.05
_CLUSTER_MIN_VALUES = 8


def _midpoint(a: float, b: float) -> float:
    """A point strictly between ``a < b`` (``a`` when they are adjacent floats or not finite)."""
    mid = a + (b - a) / 2.0
    return mid if a < mid < b else a


def _cluster_gap(ref: np.ndarray, sample: np.ndarray, value: float, prob: float) -> float | None:
    """The midpoint of the gap between clusters nearest (in rank) to the quantile, or None when there is none."""
    if not math.isfinite(value) or value == 0.0:
        return None
    reach = _CLUSTER_REACH * abs(value)
    i = max(0, int(np.searchsorted(sample, value - reach, "left")) - 1)  # one neighbour beyond each end
    j = min(sample.size, int(np.searchsorted(sample, value + reach, "right")) + 1)
    near = sample[i:j]
    new = np.empty(near.size, dtype=bool)
    new[:1] = True
    np.not_equal(near[1:], near[:-1], out=new[1:])
    distinct = near[new]
    if distinct.size == near.size or distinct.size < _CLUSTER_MIN_VALUES:  # no ties, or too few values
        return None
    gaps = np.diff(distinct)
    wide = np.flatnonzero(gaps >= _CLUSTER_MIN_GAP * np.abs(distinct[:-1] + gaps / 2.0))
    if wide.size == 0:
        return None
    share_below = np.searchsorted(sample, distinct[wide], "right") / sample.size
    k = int(wide[np.argmin(np.abs(share_below - prob))])
    lo, hi = float(distinct[k]), float(distinct[k + 1])
    between = ref[(ref > lo) & (ref < hi)]  # the sample is strided: values it skipped may sit in the gap
    if between.size:
        points = np.unique(np.concatenate([[lo], between, [hi]]))
        k = int(np.argmax(np.diff(points)))
        lo, hi = float(points[k]), float(points[k + 1])
    return _midpoint(lo, hi)


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges, each in a gap between distinct reference values (±∞ outer edges are implicit).

    The edge for a quantile ``v`` is the midpoint between ``v`` and the next larger
    reference value, or the midpoint of a gap between clusters near ``v`` (see
    ``_cluster_gap``), so no reference value, and no cluster of tied lattice values,
    sits on an edge; the top reference value stays an edge (values above the
    reference range get the top bin). Edges that coincide are merged.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.size == 0:
        raise ValueError("cannot build bins from an empty reference")
    probs = np.arange(1, bins, dtype=np.float64) / bins
    sample = _sorted_sample(ref)
    values, succ = _quantiles(ref, probs, sample, successors=True)
    keep = ~np.isnan(values)
    edges: list[float] = []
    for prob, value, nxt in zip(probs[keep], values[keep], succ[keep], strict=True):
        gap = _cluster_gap(ref, sample, float(value), float(prob))
        if gap is not None:
            edges.append(gap)
        elif math.isfinite(nxt):
            edges.append(_midpoint(float(value), float(nxt)))
        else:  # the reference maximum (or only ±inf above it)
            edges.append(float(value))
    out = np.unique(np.asarray(edges, dtype=np.float64))
    ref_min = float(ref.min())
    if out.size and values[keep][0] == ref_min:  # a point mass at the minimum: values below it get a bin
        below = np.nextafter(ref_min, -np.inf)
        if below != ref_min and below < out[0]:
            out = np.concatenate([[below], out])
    return out


def bin_counts(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts in ``(−∞, e0], (e0, e1], …, (e_last, +∞)`` plus the number of NaNs.

    One vectorised ``<=`` count per edge: NaN compares false everywhere, so it is
    excluded from every bin and returned separately.
    """
    x = np.asarray(values, dtype=np.float64)
    missing = int(np.count_nonzero(np.isnan(x)))
    valid = x.size - missing
    at_or_below = np.fromiter((np.count_nonzero(x <= e) for e in edges), dtype=np.int64, count=edges.size)
    cumulative = np.concatenate([[0], at_or_below, [valid]])
    return np.diff(cumulative), missing


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float) -> float:
    """Population stability index; zero shares become ``epsilon`` and each side is renormalised."""
    p = _shares(reference_counts)
    q = _shares(current_counts)
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    p = p / p.sum()
    q = q / q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen–Shannon distance, base 2, in [0, 1] (``0·log 0 = 0``)."""
    p = _shares(reference_counts)
    q = _shares(current_counts)
    m = 0.5 * (p + q)
    divergence = 0.5 * _kl2(p, m) + 0.5 * _kl2(q, m)
    return float(math.sqrt(min(1.0, max(0.0, divergence))))


def _shares(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    if total <= 0:
        raise ValueError("a window with no values has no distribution")
    return c / total


def _kl2(a: np.ndarray, b: np.ndarray) -> float:
    mask = a > 0
    return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))


# -- per-feature comparison ------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float | None
    js: float | None
    status: Status
    bins: int
    reference_rows: int
    current_rows: int
    reference_missing: int
    current_missing: int
    critical: bool = False
    note: str | None = None
    signal: str = ""  # the signal the feature belongs to (see "Signals"); "" = the feature itself

    @property
    def drifted(self) -> bool:
        return self.status == "alert"

    @property
    def signal_name(self) -> str:
        return self.signal or self.feature


def signal_of(feature: str, groups: Mapping[str, Sequence[str]]) -> str:
    """The signal ``feature`` belongs to: the first group with a matching pattern, else the feature itself."""
    for name, patterns in groups.items():
        if any(fnmatch.fnmatchcase(feature, pattern) for pattern in patterns):
            return name
    return feature


_SEVERITY: dict[Status, int] = {"ok": 0, "warn": 1, "alert": 2}


def level(value: float, warn: float, alert: float) -> Status:
    """One measure against its own warn/alert pair."""
    if value >= alert:
        return "alert"
    if value >= warn:
        return "warn"
    return "ok"


def feature_status(psi_value: float, js_value: float, cfg: DriftConfig) -> Status:
    """The worse of the PSI status and the JS status (thresholds on one scale, see the module docstring)."""
    by_psi = level(psi_value, cfg.psi_warn, cfg.psi_alert)
    by_js = level(js_value, cfg.js_warn, cfg.js_alert)
    return by_psi if _SEVERITY[by_psi] >= _SEVERITY[by_js] else by_js


def compare_numeric(name: str, reference: np.ndarray, current: np.ndarray, cfg: DriftConfig) -> FeatureDrift:
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    ref_nan = np.isnan(ref)
    ref_missing = int(np.count_nonzero(ref_nan))
    ref_valid = ref[~ref_nan] if ref_missing else ref
    base = {
        "feature": name,
        "kind": "numeric",
        "reference_rows": int(ref.size),
        "current_rows": int(cur.size),
        "reference_missing": ref_missing,
        "critical": name in cfg.critical_features,
    }
    if ref_valid.size < cfg.min_rows:
        cur_missing = int(np.count_nonzero(np.isnan(cur)))
        return FeatureDrift(
            psi=None,
            js=None,
            status="insufficient_data",
            bins=0,
            current_missing=cur_missing,
            note=f"reference has {ref_valid.size} non-missing value(s), min_rows is {cfg.min_rows}",
            **base,  # type: ignore[arg-type]
        )
    edges = quantile_edges(ref_valid, cfg.bins)
    ref_counts, _ = bin_counts(ref_valid, edges)
    cur_counts, cur_missing = bin_counts(cur, edges)
    return _finish(base, ref_counts, cur_counts, ref_missing, cur_missing, cfg)


def compare_categorical(name: str, reference: pd.Series, current: pd.Series, cfg: DriftConfig) -> FeatureDrift:
    ref = pd.Series(reference).astype("object")
    cur = pd.Series(current).astype("object")
    ref_missing = int(ref.isna().sum())
    cur_missing = int(cur.isna().sum())
    base = {
        "feature": name,
        "kind": "categorical",
        "reference_rows": len(ref),
        "current_rows": len(cur),
        "reference_missing": ref_missing,
        "critical": name in cfg.critical_features,
    }
    if len(ref) - ref_missing < cfg.min_rows:
        return FeatureDrift(
            psi=None,
            js=None,
            status="insufficient_data",
            bins=0,
            current_missing=cur_missing,
            note=f"reference has {len(ref) - ref_missing} non-missing value(s), min_rows is {cfg.min_rows}",
            **base,  # type: ignore[arg-type]
        )
    ref_vc = ref.dropna().astype(str).value_counts()
    cur_vc = cur.dropna().astype(str).value_counts()
    categories = sorted(set(ref_vc.index) | set(cur_vc.index))
    ref_counts = ref_vc.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    cur_counts = cur_vc.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    return _finish(base, ref_counts, cur_counts, ref_missing, cur_missing, cfg)


def _finish(
    base: dict[str, Any],
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    ref_missing: int,
    cur_missing: int,
    cfg: DriftConfig,
) -> FeatureDrift:
    if cfg.nan_policy == "bin" and (ref_missing or cur_missing):
        ref_counts = np.append(ref_counts, ref_missing)
        cur_counts = np.append(cur_counts, cur_missing)
    cur_total = int(cur_counts.sum())
    if cur_total < cfg.min_rows:
        return FeatureDrift(
            psi=None,
            js=None,
            status="insufficient_data",
            bins=int(ref_counts.size),
            current_missing=cur_missing,
            note=f"current window has {cur_total} usable value(s), min_rows is {cfg.min_rows}",
            **base,
        )
    psi_value = psi(ref_counts, cur_counts, cfg.epsilon)
    js_value = js_distance(ref_counts, cur_counts)
    return FeatureDrift(
        psi=psi_value,
        js=js_value,
        status=feature_status(psi_value, js_value, cfg),
        bins=int(ref_counts.size),
        current_missing=cur_missing,
        **base,
    )


# -- windows ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftWindow:
    """Rows of a Delta table: a time range ``[start, end)`` and/or a table version (time travel)."""

    label: str
    table: str = "gold_trade_features"  # table key (cfg.table)
    start: datetime | None = None
    end: datetime | None = None
    version: int | None = None
    time_column: str = "bar_start"

    def describe(self) -> str:
        parts = [self.label, self.table]
        if self.version is not None:
            parts.append(f"v{self.version}")
        if self.start is not None or self.end is not None:
            start = self.start.isoformat() if self.start else "-inf"
            end = self.end.isoformat() if self.end else "+inf"
            parts.append(f"[{start}, {end})")
        return " ".join(parts)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_window(platform: Platform, window: DriftWindow, columns: Sequence[str] | None = None) -> pa.Table:
    """Read one window (only ``columns`` + the time column) from Delta, filtered in Arrow."""
    fqn = platform.config.table(window.table)
    version = window.version
    wanted = None
    if columns is not None:
        wanted = list(dict.fromkeys([*columns, window.time_column]))
    table = platform.store.read_arrow(fqn, version=version, columns=wanted)
    start, end = _utc(window.start), _utc(window.end)
    if start is not None or end is not None:
        if window.time_column not in table.column_names:
            raise ValueError(f"{fqn} has no time column {window.time_column!r} to select window {window.label}")
        ts = table.column(window.time_column)
        if not pa.types.is_timestamp(ts.type):
            raise ValueError(f"{fqn}.{window.time_column} is {ts.type}, not a timestamp")
        unit = ts.type.unit
        mask = None
        if start is not None:
            mask = pc.greater_equal(ts, pa.scalar(start, type=pa.timestamp(unit, tz="UTC")))
        if end is not None:
            upper = pc.less(ts, pa.scalar(end, type=pa.timestamp(unit, tz="UTC")))
            mask = upper if mask is None else pc.and_(mask, upper)
        table = table.filter(mask)
    return table


# -- the run --------------------------------------------------------------------------------------
@dataclass
class DriftReport:
    run_id: str
    computed_at: datetime
    features: list[FeatureDrift]
    overall: Overall
    drift_detected: bool
    drifted_features: list[str]  # feature columns in alert
    drifted_share: float  # drifted signals / signals with a status
    critical_drifted: list[str]
    reason: str
    config: DriftConfig
    signals: list[str] = field(default_factory=list)  # signals with a status
    drifted_signals: list[str] = field(default_factory=list)
    reference: DriftWindow | None = None
    current: DriftWindow | None = None
    reference_version: int | None = None
    current_version: int | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == name:
                return f
        raise KeyError(name)

    @property
    def max_psi(self) -> float | None:
        values = [f.psi for f in self.features if f.psi is not None]
        return max(values) if values else None

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "features": len(self.features),
            "drifted": len(self.drifted_features),
            "signals": len(self.signals),
            "drifted_signals": len(self.drifted_signals),
            "drifted_share": round(self.drifted_share, 4),
            "max_psi": round(self.max_psi, 4) if self.max_psi is not None else None,
            "decision": self.overall,
        }

    def to_frame(self, env: str | None = None, table_fqn: str | None = None) -> pa.Table:
        """Rows for ``drift_monitoring`` (one per feature; the run's decision repeated on each)."""
        cfg = self.config
        ref, cur = self.reference, self.current
        rows = []
        for f in self.features:
            rows.append(
                {
                    "run_id": self.run_id,
                    "computed_at": self.computed_at,
                    "env": env,
                    "table_name": table_fqn,
                    "reference_window": ref.label if ref else None,
                    "reference_start": _utc(ref.start) if ref else None,
                    "reference_end": _utc(ref.end) if ref else None,
                    "reference_version": self.reference_version,
                    "current_window": cur.label if cur else None,
                    "current_start": _utc(cur.start) if cur else None,
                    "current_end": _utc(cur.end) if cur else None,
                    "current_version": self.current_version,
                    "feature": f.feature,
                    "signal": f.signal_name,
                    "kind": f.kind,
                    "bins": f.bins,
                    "psi": f.psi,
                    "js": f.js,
                    "status": f.status,
                    "critical": f.critical,
                    "reference_rows": f.reference_rows,
                    "current_rows": f.current_rows,
                    "reference_missing": f.reference_missing,
                    "current_missing": f.current_missing,
                    "note": f.note,
                    "psi_warn": cfg.psi_warn,
                    "psi_alert": cfg.psi_alert,
                    "js_warn": cfg.js_warn,
                    "js_alert": cfg.js_alert,
                    "drifted_share_alert": cfg.drifted_share_alert,
                    "min_drifted_features": cfg.min_drifted_features,
                    "decision_rule": cfg.decision_rule,
                    "epsilon": cfg.epsilon,
                    "nan_policy": cfg.nan_policy,
                    "overall_status": self.overall,
                    "drifted_features": len(self.drifted_features),
                    "signals": len(self.signals),
                    "drifted_signals": len(self.drifted_signals),
                    "drifted_share": self.drifted_share,
                    "reason": self.reason,
                }
            )
        return pa.Table.from_pylist(rows, schema=spec("drift_monitoring").schema)


FrameLike: TypeAlias = pd.DataFrame | pa.Table | Mapping[str, Any]


def _column(data: FrameLike, name: str) -> Any:
    if isinstance(data, pa.Table):
        return data.column(name)
    return data[name]


def _columns_of(data: FrameLike) -> list[str]:
    if isinstance(data, pa.Table):
        return list(data.column_names)
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    return [str(c) for c in data]


def _is_categorical(values: Any) -> bool:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        t = values.type
        return bool(
            pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t) or pa.types.is_dictionary(t)
        )
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        dtype = np.asarray(values).dtype
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _is_temporal(values: Any) -> bool:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return bool(pa.types.is_temporal(values.type))
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return False
    return bool(pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype))


def _as_float(values: Any) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        arr = values.cast(pa.float64()) if not pa.types.is_floating(values.type) else values
        out = arr.to_numpy(zero_copy_only=False)
        return np.asarray(out, dtype=np.float64)
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values.to_pandas())
    return pd.Series(values)


class DriftDetector:
    """Compare two windows feature by feature; optionally read them from Delta and record the run."""

    def __init__(self, config: DriftConfig) -> None:
        self.cfg = config

    # -- pure ------------------------------------------------------------------------------
    def select_features(self, reference: FrameLike, current: FrameLike) -> list[str]:
        """``drift.features`` if set, else every column both windows share except keys/times/labels."""
        ref_cols = _columns_of(reference)
        cur_cols = set(_columns_of(current))
        if self.cfg.features:
            missing = [f for f in self.cfg.features if f not in ref_cols or f not in cur_cols]
            if missing:
                raise ValueError(f"drift.features {missing} are missing from the reference or current window")
            return list(self.cfg.features)
        chosen = [
            c
            for c in ref_cols
            if c in cur_cols
            and c not in NON_FEATURE_COLUMNS
            and not c.startswith("_")
            and not _is_temporal(_column(reference, c))
        ]
        if not chosen:
            raise ValueError("no feature columns in common between the reference and current windows")
        return chosen

    def compare(
        self,
        reference: FrameLike,
        current: FrameLike,
        features: Sequence[str] | None = None,
        *,
        run_id: str | None = None,
    ) -> DriftReport:
        """PSI/JS for every feature plus the overall decision (no I/O)."""
        started = time.perf_counter()
        names = list(features) if features is not None else self.select_features(reference, current)
        unknown_critical = sorted(set(self.cfg.critical_features) - set(names))
        if unknown_critical:
            raise ValueError(f"critical features {unknown_critical} are not among the monitored features {names}")
        for name in names:
            for label, frame in (("reference", reference), ("current", current)):
                if name not in _columns_of(frame):
                    raise ValueError(f"feature {name!r} is missing from the {label} window")

        def one(name: str) -> FeatureDrift:
            ref_values = _column(reference, name)
            cur_values = _column(current, name)
            if name in self.cfg.categorical_features or _is_categorical(ref_values) or _is_categorical(cur_values):
                return compare_categorical(name, _as_series(ref_values), _as_series(cur_values), self.cfg)
            if _is_temporal(ref_values):
                raise ValueError(f"feature {name!r} is a timestamp, not a model feature")
            return compare_numeric(name, _as_float(ref_values), _as_float(cur_values), self.cfg)

        if self.cfg.threads > 1 and len(names) > 1:
            with ThreadPoolExecutor(max_workers=min(self.cfg.threads, len(names))) as pool:
                results = list(pool.map(one, names))
        else:
            results = [one(n) for n in names]
        results = [replace(r, signal=signal_of(r.feature, self.cfg.signal_groups)) for r in results]
        report = self.decide(results, run_id=run_id)
        report.seconds = time.perf_counter() - started
        return report

    def decide(self, results: list[FeatureDrift], *, run_id: str | None = None) -> DriftReport:
        """The overall decision over the signals (see the module docstring)."""
        cfg = self.cfg
        evaluated = [r for r in results if r.status != "insufficient_data"]
        drifted = [r.feature for r in evaluated if r.drifted]
        critical = [r.feature for r in evaluated if r.drifted and r.critical]
        signals = list(dict.fromkeys(r.signal_name for r in evaluated))
        drifted_signals = list(dict.fromkeys(r.signal_name for r in evaluated if r.drifted))
        share = len(drifted_signals) / len(signals) if signals else 0.0
        share_hit = (
            bool(signals) and share >= cfg.drifted_share_alert and len(drifted_signals) >= cfg.min_drifted_features
        )
        critical_hit = bool(critical)
        rule = cfg.decision_rule
        if rule == "share":
            detected = share_hit
        elif rule == "critical":
            detected = critical_hit
        elif rule == "share_and_critical":
            detected = share_hit and critical_hit
        else:
            detected = share_hit or critical_hit
        if not evaluated:
            overall: Overall = "insufficient_data"
            reason = "no feature had enough data to compare"
        else:
            overall = "drift" if detected else "no_drift"
            reason = (
                f"{len(drifted_signals)}/{len(signals)} signals drifted (share {share:.2f}, "
                f"needs >= {cfg.drifted_share_alert} and >= {cfg.min_drifted_features} signals; "
                f"{len(drifted)}/{len(evaluated)} features)"
            )
            if cfg.critical_features:
                reason += f"; critical drifted: {', '.join(critical) or 'none'}"
            reason += f"; rule {rule} -> {overall}"
        return DriftReport(
            run_id=run_id or scoped_id("drift.run"),  # run-scoped: a resumed run records it once
            computed_at=datetime.now(UTC),
            features=results,
            overall=overall,
            drift_detected=detected,
            drifted_features=drifted,
            drifted_share=share,
            critical_drifted=critical,
            reason=reason,
            config=cfg,
            signals=signals,
            drifted_signals=drifted_signals,
        )

    # -- Delta ------------------------------------------------------------------------------
    def run(
        self,
        platform: Platform,
        reference: DriftWindow,
        current: DriftWindow,
        *,
        features: Sequence[str] | None = None,
        record: bool = True,
    ) -> DriftReport:
        """Read both windows from Delta, compare, and append the run to ``drift_monitoring``."""
        store = platform.store
        ref_version = (
            reference.version
            if reference.version is not None
            else store.version(platform.config.table(reference.table))
        )
        cur_version = (
            current.version if current.version is not None else store.version(platform.config.table(current.table))
        )
        # pin the versions read so the recorded run can be reproduced by time travel
        reference = replace(reference, version=ref_version)
        current = replace(current, version=cur_version)
        wanted = list(features) if features is not None else (list(self.cfg.features) or None)
        ref_table = load_window(platform, reference, wanted)
        cur_table = load_window(platform, current, wanted)
        for label, table, window in (("reference", ref_table, reference), ("current", cur_table, current)):
            if table.num_rows == 0:
                raise ValueError(f"the {label} window {window.describe()} has no rows")
        if wanted is None:
            model_inputs = default_feature_columns(platform.config.features)
            if model_inputs:
                common = set(ref_table.column_names) & set(cur_table.column_names)
                wanted = [c for c in model_inputs if c in common] or None
        drop = {reference.time_column}
        ref_frame = ref_table.drop_columns([c for c in drop if c in ref_table.column_names])
        cur_frame = cur_table.drop_columns([c for c in drop if c in cur_table.column_names])
        report = self.compare(ref_frame, cur_frame, wanted)
        report.reference, report.current = reference, current
        report.reference_version, report.current_version = ref_version, cur_version
        report.extra.update({"reference_rows": ref_table.num_rows, "current_rows": cur_table.num_rows})
        if record:
            rows = report.to_frame(env=platform.config.env, table_fqn=platform.config.table(reference.table))
            keys = spec("drift_monitoring").merge_keys
            store.merge(platform.config.table("drift_monitoring"), rows, keys, update=False)
        log.info("drift run %s: %s", report.run_id, report.reason)
        return report


def default_feature_columns(features_cfg: FeaturesConfig | None = None) -> list[str] | None:
    """The model's input columns under ``features_cfg`` (the features package's ``feature_columns``)."""
    return list(feature_columns(features_cfg or FeaturesConfig()))
