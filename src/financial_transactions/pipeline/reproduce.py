"""Reproducing gold: rebuild an earlier gold version from the silver version that made it.

Every commit is a Delta version and ``pipeline_runs`` records which silver
version each run's gold was built from, so ``fin-mlops pipeline --as-of-version``
can read gold as of a version, rebuild it from that silver snapshot, and say
whether the two are identical (:func:`compare_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from financial_transactions.pipeline import gold_features
from financial_transactions.runtime import Platform


@dataclass
class GoldReproduction:
    gold_version: int
    silver_version: int | None
    rows: int
    symbols: int
    reproduced: bool | None  # None when no run recorded which silver version made this gold
    max_abs_diff: float | None = None
    detail: str = ""


def reproduce_gold(platform: Platform, version: int) -> GoldReproduction:
    """Read gold as of ``version`` and rebuild it from the silver version that produced it.

    ``pipeline_runs`` records, for each run, the gold and silver versions it left;
    rebuilding gold from that silver snapshot must give the same rows and values.
    """
    store = platform.store
    gold_fqn = platform.config.table("gold_trade_features")
    old = store.read(gold_fqn, version=version)
    keys = gold_features.GOLD_KEYS
    out = GoldReproduction(
        gold_version=version,
        silver_version=None,
        rows=len(old),
        symbols=int(old["symbol"].nunique()) if len(old) else 0,
        reproduced=None,
    )
    runs_fqn = platform.config.table("pipeline_runs")
    if not store.exists(runs_fqn):
        out.detail = "no pipeline_runs table: cannot tell which silver version produced this gold"
        return out
    runs = store.read(runs_fqn, columns=["gold_version", "silver_version", "finished_at"])
    match = runs[runs["gold_version"] == version].sort_values("finished_at")
    if match.empty:
        out.detail = f"no pipeline run left gold at version {version}"
        return out
    silver_version = int(match["silver_version"].iloc[-1])
    out.silver_version = silver_version
    silver = store.to_spark(platform.config.table("silver_trades"), platform.spark, version=silver_version)
    rebuilt = gold_features.gold_trade_features(silver, platform.config.features).toPandas()
    out.reproduced, out.max_abs_diff, out.detail = compare_frames(old, rebuilt, keys)
    return out


def compare_frames(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> tuple[bool, float, str]:
    """Same keys, same columns, numeric values equal within 1e-9 relative (NaN == NaN)."""
    import numpy as np

    if sorted(left.columns) != sorted(right.columns):
        return False, float("nan"), f"columns differ: {sorted(set(left.columns) ^ set(right.columns))}"
    if len(left) != len(right):
        return False, float("nan"), f"row counts differ: {len(left)} vs {len(right)}"
    a = _normalise(left, keys)
    b = _normalise(right[left.columns], keys)
    if not a[keys].equals(b[keys]):
        return False, float("nan"), "bar keys differ"
    worst = 0.0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")
            both_nan = np.isnan(xv) & np.isnan(yv)
            diff = np.where(both_nan, 0.0, np.abs(xv - yv))
            if np.isnan(diff).any():
                return False, float("nan"), f"column {column}: NaN in one side only"
            worst = max(worst, float(diff.max()) if len(diff) else 0.0)
            if not np.allclose(np.where(both_nan, 0, xv), np.where(both_nan, 0, yv), rtol=1e-9, atol=1e-12):
                return False, worst, f"column {column} differs"
        elif not x.astype("string").fillna("<NA>").equals(y.astype("string").fillna("<NA>")):
            return False, worst, f"column {column} differs"
    return True, worst, "identical"


def _normalise(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            series = pd.to_datetime(out[column], utc=True)
            out[column] = series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)
