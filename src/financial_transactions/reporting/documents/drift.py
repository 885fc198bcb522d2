"""``drift.json``: PSI / JS per feature per drift run (the heatmap), each run's verdict, the champion's live metrics."""

from __future__ import annotations

from typing import Any

import pandas as pd

from financial_transactions.reporting.documents.common import (
    ExportContext,
    Section,
    guard,
    missing,
    raw_rows,
    sorted_by_time,
)
from financial_transactions.reporting.frames import iso, jsonable, num, records, to_utc
from financial_transactions.reporting.sources import Sources

KEY = "drift_monitoring"
#: ``monitoring.drift_detector`` writes each window as ``<prefix>_start``, ``_end``, ``_version`` and ``_window``.
WINDOW_FIELDS = ("start", "end", "version", "window")
#: The ``monitoring.drift_detector.DriftDetector`` columns the panel shows.
COLUMNS = (
    "run_id",
    "computed_at",
    "feature",
    "psi",
    "js",
    "status",
    "overall_status",
    "drifted_features",
    "signals",
    "drifted_signals",
    "drifted_share",
    "reason",
    *(f"{prefix}_{part}" for prefix in ("reference", "current") for part in WINDOW_FIELDS),
)
EMPTY_DRIFT: dict[str, Any] = {"runs": [], "features": [], "cells": []}


def build(ctx: ExportContext) -> dict[str, Any]:
    d = ctx.cfg.drift
    r = ctx.cfg.retraining
    return ctx.document(
        "drift",
        {
            "psi_js": guard("psi_js", EMPTY_DRIFT, lambda: drift_runs(ctx.sources)),
            "performance": guard("performance", [], lambda: performance(ctx.sources)),
        },
        thresholds={
            "psi_warn": d.psi_warn,
            "psi_alert": d.psi_alert,
            "js_warn": d.js_warn,
            "js_alert": d.js_alert,
            "drifted_share_alert": d.drifted_share_alert,
            "critical_features": list(d.critical_features),
        },
        # what makes a performance drop count (monitoring.retraining_trigger.assess_drop), for the band's legend
        performance_config={
            "metric": r.performance.metric,
            "min_positives": r.performance.min_positives,
            "confidence": r.performance.confidence,
            "performance_drop": r.performance_drop,
        },
    )


def drift_runs(src: Sources) -> Section:
    """Per run: windows, drifted count and share (the detector's own), verdict; per (run, feature): PSI, JS, status."""
    fqn = src.fqn(KEY)
    df = src.read(KEY, COLUMNS)
    if df is None:
        return missing(EMPTY_DRIFT, [fqn], f"{fqn} does not exist yet (run fin-mlops drift)")
    if df.empty:
        return Section("empty", EMPTY_DRIFT, [fqn], "no drift run yet")
    runs: list[dict[str, Any]] = []
    for run_id, grp in df.groupby("run_id", sort=False):
        first = grp.iloc[0]
        n_features = grp["feature"].nunique()
        # the detector's own count (its decision rule); a recount of alerting features if it stored none
        drifted = (
            int(first["drifted_features"])
            if num(first["drifted_features"]) is not None
            else int((grp["status"].astype(str) == "alert").sum())
        )
        share = first["drifted_share"] if num(first["drifted_share"]) is not None else drifted / max(1, n_features)
        runs.append(
            {
                "run_id": jsonable(run_id),
                "at": iso(to_utc(grp["computed_at"]).max()),
                "reference": window(first, "reference"),
                "current": window(first, "current"),
                "features": int(n_features),
                "drifted_features": drifted,
                "signals": num(first["signals"]),  # the share counts signals (near-duplicates grouped)
                "drifted_signals": num(first["drifted_signals"]),
                "drifted_share": num(share, 4),
                "overall": jsonable(first["overall_status"]),
                "reason": jsonable(first["reason"]),
            }
        )
    runs.sort(key=lambda r: r["at"] or "")
    cells = [
        {
            "run_id": jsonable(row["run_id"]),
            "feature": str(row["feature"]),
            "psi": num(row["psi"], 6),
            "js": num(row["js"], 6),
            "status": str(row["status"]),
        }
        for row in raw_rows(df)
    ]
    features = sorted({str(f) for f in df["feature"]})
    return Section("ok", {"runs": runs, "features": features, "cells": cells}, [fqn])


def window(row: pd.Series, prefix: str) -> dict[str, Any] | None:
    """One of the run's two windows (``reference`` or ``current``); ``None`` when the run stored none of it."""
    start, end, version, label = (row[f"{prefix}_{part}"] for part in WINDOW_FIELDS)
    if start is None and end is None and version is None and label is None:
        return None
    return {"start": iso(start), "end": iso(end), "version": jsonable(version), "label": jsonable(label)}


def performance(src: Sources) -> Section:
    """``model_monitoring`` (``monitoring.performance_monitor``) rows, oldest first, every column."""
    key = "model_monitoring"
    fqn = src.fqn(key)
    df = src.read(key, require=("monitored_at",))
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops drift)")
    if df.empty:
        return Section("empty", [], [fqn], "no labelled window scored yet")
    return Section("ok", records(sorted_by_time(df, "monitored_at", descending=False)), [fqn])
