"""Dashboard metrics export: versioned JSON files built from the real tables.

``export_dashboard(platform)`` reads the platform's tables (never sample data),
builds one JSON document per dashboard area and writes them, plus ``data.js``
(the same documents as ``window.FIN_MLOPS_DATA`` so the page works from
``file://``, where browsers refuse ``fetch``) and a copy of the static page, to
``platform.paths.exports`` (a Unity Catalog volume on Databricks).

Every document carries ``schema_version``, ``generated_at``, ``env`` and the
champion ``model_version``. Each area is split into named sections whose
``status`` is ``ok`` (data), ``empty`` (table exists, nothing to show),
``missing`` (the table or file does not exist yet: the stage has not run) or
``error`` (reading failed; the message says why). A missing table therefore
yields an explicit empty section, never a crashed export.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from financial_transactions.decision.backtester import current_runs
from financial_transactions.reporting.frames import (
    as_list,
    epoch_seconds,
    iso,
    jsonable,
    maybe_json,
    num,
    pick,
    records,
    sig,
    to_utc,
)
from financial_transactions.reporting.sources import RegistryState, Sources, registry_state
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

#: Bump the major number when a field changes meaning or disappears, the minor one when fields are added.
SCHEMA_VERSION = "1.0"

#: Export documents, in the order the page shows them.
DOCUMENTS = (
    "manifest",
    "pipeline_health",
    "market",
    "leaderboard",
    "champion",
    "drift",
    "audit",
    "decision_matrix",
    "backtest",
    "feature_importance",
    "correlation",
)

#: Status thresholds of the overview (documented in docs/RUNBOOK.md).
QUARANTINE_WARN_SHARE = 0.01
QUARANTINE_ALERT_SHARE = 0.05
STALE_INGEST_HOURS = 24.0
PIPELINE_RUNS_SHOWN = 50
QUARANTINE_SAMPLES = 20
#: The ingest stage's per-window marker (``streaming/stage.py``) and the collector sources it counts.
INGEST_MARKER = "_SUCCESS.json"
COLLECTOR_SOURCES = ("finnhub", "binance", "alphavantage")
#: Equity curves are thinned evenly (first and last point kept) to this many points for the page.
EQUITY_POINTS = 400

#: Layers shown as "rows per layer", in data-flow order.
LAYER_KEYS = (
    "bronze_trades",
    "silver_trades",
    "silver_trades_quarantine",
    "silver_bars",
    "gold_trade_features",
    "trade_features",
    "train_set",
    "test_set",
    "synthesized_predictions",
)

METRIC_NAMES = (
    "pr_auc",
    "roc_auc",
    "precision_at_k",
    "recall_at_fpr",
    "f1",
    "precision",
    "recall",
    "threshold",
    "inference_rows_per_s",
    "train_seconds",
)

BACKTEST_METRICS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "n_trades",
    "exposure",
)


@dataclass
class Section:
    """One named block of a document; ``data`` always has its documented shape, even when empty."""

    status: str
    data: Any
    sources: list[str] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "sources": self.sources, "data": self.data}


def _missing(data: Any, sources: list[str], what: str) -> Section:
    return Section("missing", data, sources, what)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, Path]
    index_html: Path | None
    documents: dict[str, dict[str, Any]]

    @property
    def section_statuses(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, doc in self.documents.items():
            for name, section in doc.get("sections", {}).items():
                out[f"{kind}.{name}"] = section["status"]
        return out


# -- helpers -------------------------------------------------------------------


def _guard(name: str, empty: Any, sources: list[str], build: Callable[[], Section]) -> Section:
    """Run one section builder; any exception becomes an ``error`` section naming it."""
    try:
        return build()
    except Exception as exc:  # one broken table must not take the whole dashboard down
        log.error("dashboard section %s failed: %s\n%s", name, exc, traceback.format_exc())
        return Section("error", empty, sources, f"{type(exc).__name__}: {exc}")


def _latest_run(df: pd.DataFrame, run_col: str | None, time_col: str | None) -> Any:
    """The run id whose rows are newest (by time column, else last row order)."""
    if run_col is None:
        return None
    if time_col is not None:
        times = to_utc(df[time_col])
        return df.loc[times.idxmax(), run_col] if times.notna().any() else df[run_col].iloc[-1]
    return df[run_col].iloc[-1]


def _time_col(df: pd.DataFrame) -> str | None:
    return pick(
        df,
        "created_at",
        "decided_at",
        "computed_at",
        "evaluated_at",
        "triggered_at",
        "sent_at",
        "rolled_back_at",
        "monitored_at",
        "scored_at",
        "timestamp",
        "event_time",
        "run_ts",
        "ts",
        "at",
    )


def _sorted_by_time(df: pd.DataFrame, *, descending: bool = True) -> pd.DataFrame:
    col = _time_col(df)
    if col is None:
        return df.iloc[::-1] if descending else df
    order = to_utc(df[col])
    return df.assign(_order=order).sort_values("_order", ascending=not descending, kind="stable").drop(columns="_order")


def _version_key(value: Any) -> tuple[int, str]:
    text = str(value)
    return (int(text), text) if text.isdigit() else (-1, text)


# -- the exporter ----------------------------------------------------------------


class DashboardExporter:
    """Builds every document from one consistent set of reads."""

    def __init__(
        self,
        platform: Platform,
        *,
        max_bars_per_symbol: int = 2000,
        top_anomalies: int = 25,
        now: datetime | None = None,
        git_sha: str | None = None,
    ) -> None:
        if max_bars_per_symbol < 10:
            raise ValueError("max_bars_per_symbol must be at least 10")
        self.platform = platform
        self.cfg = platform.config
        self.src = Sources(platform)
        self.max_bars = max_bars_per_symbol
        self.top_n = top_anomalies
        self.now = (now or datetime.now(tz=UTC)).astimezone(UTC)
        self.git_sha = git_sha or _git_sha()
        self.registry: RegistryState = registry_state(platform)
        self._predictions: pd.DataFrame | None = None
        self._prediction_version: str | None = None

    # -- header ------------------------------------------------------------------
    def model_version(self) -> str | None:
        """The champion's registry version; else the version that scored the predictions."""
        if self.registry.champion:
            return self.registry.champion
        self._load_predictions()
        return self._prediction_version

    def header(self, kind: str) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": kind,
            "generated_at": iso(self.now),
            "env": self.cfg.env,
            "catalog": self.cfg.catalog,
            "schema": self.cfg.schema_name,
            "model_name": self.cfg.model_name,
            "model_version": self.model_version(),
            "config_hash": self.cfg.config_hash,
            "git_sha": self.git_sha,
            "engine": self.platform.engine,
        }

    def document(self, kind: str, sections: dict[str, Section], **extra: Any) -> dict[str, Any]:
        doc = self.header(kind)
        doc.update(extra)
        doc["sections"] = {name: s.to_json() for name, s in sections.items()}
        return doc

    # -- pipeline health -------------------------------------------------------------
    def pipeline_health(self) -> dict[str, Any]:
        return self.document(
            "pipeline_health",
            {
                "layers": _guard("layers", [], [], self._layers),
                "quarantine": _guard("quarantine", _EMPTY_QUARANTINE, [], self._quarantine),
                "collector_quarantine": _guard("collector_quarantine", [], [], self._collector_quarantine),
                "freshness": _guard("freshness", [], [], self._freshness),
                "collectors": _guard("collectors", [], [], self._collectors),
                "runs": _guard("runs", [], [], self._pipeline_runs),
            },
        )

    def _layers(self) -> Section:
        rows: list[dict[str, Any]] = []
        for key in LAYER_KEYS:
            info = self.src.info(key)
            rows.append(
                {
                    "key": key,
                    "table": info.fqn,
                    "exists": info.exists,
                    "rows": info.rows,
                    "version": info.version,
                    "last_commit": info.last_commit,
                    "last_operation": info.last_operation,
                }
            )
        present = [r for r in rows if r["exists"]]
        sources = [r["table"] for r in rows]
        if not present:
            return _missing(rows, sources, "no pipeline table exists yet (run fin-mlops run)")
        return Section("ok", rows, sources)

    def _quarantine(self) -> Section:
        key = "silver_trades_quarantine"
        fqn = self.src.fqn(key)
        df = self.src.read(
            key,
            ["failed_rules", "rule", "rules", "reason", "source", "symbol", "price", "volume", "ts", "_ingested_at"],
        )
        silver = self.src.info("silver_trades")
        if df is None:
            if silver.exists:  # the pipeline ran and quarantined nothing: the table is created on first use
                data = {**_EMPTY_QUARANTINE, "silver_rows": silver.rows, "share": 0.0}
                return Section("empty", data, [fqn, silver.fqn], "no row quarantined (no quarantine table yet)")
            return _missing(_EMPTY_QUARANTINE, [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
        rule_col = pick(df, "failed_rules", "rules", "rule", "reason")
        by_rule: dict[str, int] = {}
        if rule_col is not None:
            for value in df[rule_col]:
                for rule in as_list(value):
                    by_rule[rule] = by_rule.get(rule, 0) + 1
        by_source: dict[str, int] = {}
        if "source" in df.columns:
            by_source = {str(k): int(v) for k, v in df["source"].fillna("unknown").value_counts().items()}
        total = len(df)
        valid = silver.rows or 0
        latest = df
        order_col = pick(df, "_ingested_at", "ts")
        if order_col is not None:
            latest = df.assign(_o=to_utc(df[order_col])).sort_values("_o", ascending=False, kind="stable")
        samples = [
            {
                "source": jsonable(r.get("source")),
                "symbol": jsonable(r.get("symbol")),
                "price": num(r.get("price")),
                "volume": num(r.get("volume")),
                "ts": iso(r.get("ts")),
                "rules": as_list(r.get(rule_col)) if rule_col else [],
            }
            for r in raw_rows(latest.head(QUARANTINE_SAMPLES))
        ]
        share = total / (total + valid) if (total + valid) else None
        data = {
            "total": total,
            "silver_rows": valid,
            "share": num(share),
            "by_rule": [{"rule": r, "rows": n} for r, n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))],
            "by_source": [{"source": s, "rows": n} for s, n in sorted(by_source.items())],
            "latest": samples,
            "thresholds": {"warn_share": QUARANTINE_WARN_SHARE, "alert_share": QUARANTINE_ALERT_SHARE},
        }
        return Section("ok" if total else "empty", data, [fqn, silver.fqn], "" if total else "no row quarantined")

    def _collector_quarantine(self) -> Section:
        landing = Path(self.platform.paths.landing)
        files = sorted(p for p in (landing / "_quarantine").rglob("*.ndjson") if not p.name.startswith("."))
        where = str(landing / "_quarantine")
        if not files:
            if not landing.is_dir():
                return _missing([], [where], "no landing zone yet (run fin-mlops ingest)")
            return Section("empty", [], [where], "collectors quarantined nothing")
        counts: dict[tuple[str, str], int] = {}
        for row in self.src.ndjson(files):
            k = (str(row.get("source", "unknown")), str(row.get("reason", "unknown")))
            counts[k] = counts.get(k, 0) + 1
        data = [{"source": s, "reason": r, "rows": n} for (s, r), n in sorted(counts.items())]
        return Section("ok" if data else "empty", data, [where])

    def _freshness(self) -> Section:
        sources: list[str] = []
        rows: list[dict[str, Any]] = []
        for key in ("silver_trades", "silver_bars"):
            fqn = self.src.fqn(key)
            sources.append(fqn)
            df = self.src.read(key, ["source", "ts", "bar_start", "ingested_at"])
            if df is None or df.empty:
                continue
            ts_col = pick(df, "ts", "bar_start")
            ing_col = pick(df, "ingested_at")
            frame = pd.DataFrame({"source": df["source"].fillna("unknown") if "source" in df else key})
            frame["event"] = to_utc(df[ts_col]) if ts_col else pd.NaT
            frame["ingest"] = to_utc(df[ing_col]) if ing_col else pd.NaT
            for source, grp in frame.groupby("source", sort=True):
                latest_ingest = grp["ingest"].max()
                age_h = (
                    (pd.Timestamp(self.now) - latest_ingest).total_seconds() / 3600 if pd.notna(latest_ingest) else None
                )
                status = "missing" if age_h is None else ("ok" if age_h <= STALE_INGEST_HOURS else "warn")
                rows.append(
                    {
                        "source": str(source),
                        "table": fqn,
                        "rows": len(grp),
                        "first_event": iso(grp["event"].min()),
                        "latest_event": iso(grp["event"].max()),
                        "latest_ingest": iso(latest_ingest),
                        "ingest_age_hours": num(age_h, 3),
                        "status": status,
                    }
                )
        if not rows:
            return _missing([], sources, "no silver data yet (run fin-mlops pipeline)")
        return Section("ok", rows, sources)

    def _collectors(self) -> Section:
        """Collector counters the ingest stage left in each replay window's ``_SUCCESS.json`` marker.

        The marker's ``summary`` holds flat ``<source>_<counter>`` figures (trades, quarantined,
        reconnects, Alpha Vantage bars); they become one row per (window, source).
        """
        landing = Path(self.platform.paths.landing)
        where = str(landing / "_ground_truth" / "*" / INGEST_MARKER)
        files = sorted((landing / "_ground_truth").glob(f"*/{INGEST_MARKER}")) if landing.is_dir() else []
        rows: list[dict[str, Any]] = []
        for path in files:
            try:
                payload = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                log.warning("unreadable ingest marker %s", path)
                continue
            summary = payload.get("summary") if isinstance(payload, dict) else None
            if not isinstance(summary, dict):
                continue
            window = str(summary.get("window") or path.parent.name)
            per_source: dict[str, dict[str, Any]] = {}
            for key, value in summary.items():
                source, _, counter = str(key).partition("_")
                if source in COLLECTOR_SOURCES and counter:
                    per_source.setdefault(source, {})[counter] = jsonable(value)
            for source, counters in sorted(per_source.items()):
                rows.append(
                    {
                        "window": window,
                        "source": source,
                        **counters,
                        "seconds": num(summary.get("seconds")),
                        "reused": jsonable(summary.get("reused")),
                        "recorded_at": iso(datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)),
                    }
                )
        if not rows:
            return _missing([], [where], "the ingest stage left no collector counters (run fin-mlops run)")
        return Section("ok", rows, [str(f) for f in files])

    def _pipeline_runs(self) -> Section:
        """The medallion runner's audit rows (files, rows per layer, seconds), newest first."""
        fqn = self.src.fqn("pipeline_runs")
        runs = self.src.read("pipeline_runs")
        if runs is None:
            return _missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
        if runs.empty:
            return Section("empty", [], [fqn], "no pipeline run recorded")
        if "started_at" in runs.columns:
            runs = runs.assign(_o=to_utc(runs["started_at"])).sort_values("_o", ascending=False).drop(columns="_o")
        else:
            runs = _sorted_by_time(runs)
        rows = [{k: maybe_json(v) for k, v in rec.items()} for rec in records(runs.head(PIPELINE_RUNS_SHOWN))]
        return Section("ok", rows, [fqn])

    # -- market: bars + anomaly markers -------------------------------------------------
    def _load_predictions(self) -> pd.DataFrame | None:
        if self._predictions is not None or not self.src.exists("synthesized_predictions"):
            return self._predictions
        df = self.src.read("synthesized_predictions")
        if df is None or df.empty:
            return None
        ver_col = pick(df, "model_version", "version")
        chosen = None
        if ver_col is not None:
            versions = sorted({str(v) for v in df[ver_col].dropna()}, key=_version_key)
            champion = self.registry.champion
            chosen = champion if champion in versions else (versions[-1] if versions else None)
            if chosen is not None:
                df = df[df[ver_col].astype(str) == chosen]
        # a bar scored more than once (e.g. by a later run) keeps its newest prediction
        t_col = pick(df, "bar_start", "ts", "timestamp")
        if t_col is not None and "symbol" in df.columns:
            if "scored_at" in df.columns:
                df = df.assign(_o=to_utc(df["scored_at"])).sort_values("_o", kind="stable").drop(columns="_o")
            df = df.drop_duplicates(["symbol", t_col], keep="last")
        self._predictions = df
        self._prediction_version = chosen
        return df

    def _ground_truth(self) -> tuple[pd.DataFrame, list[str]]:
        landing = Path(self.platform.paths.landing)
        files = sorted((landing / "_ground_truth").glob("*/anomalies.ndjson"))
        rows = self.src.ndjson(files)
        frame = pd.DataFrame(rows, columns=["symbol", "ts", "anomaly_type", "source", "price", "volume"])
        if not frame.empty:
            frame["bar"] = to_utc(frame["ts"]).dt.floor(_bar_freq(self.cfg.features.bar_interval))
        return frame, [str(f) for f in files]

    def market(self) -> dict[str, Any]:
        empty: dict[str, Any] = {"symbols": []}
        market = _guard("bars", empty, [], self._bars)
        anomalies = _guard("top_anomalies", [], [], self._top_anomalies)
        return self.document(
            "market",
            {"bars": market, "top_anomalies": anomalies},
            bar_interval=self.cfg.features.bar_interval,
            prediction_model_version=self._prediction_version,
        )

    def _bars(self) -> Section:
        gold_fqn = self.src.fqn("gold_trade_features")
        bars_fqn = self.src.fqn("silver_bars")
        cols = ["symbol", "bar_start", "open", "high", "low", "close", "volume", "asset_class", "trade_count", "vwap"]
        gold = self.src.read("gold_trade_features", cols)
        silver_bars = self.src.read("silver_bars", [*cols, "interval", "source"])
        sources = [gold_fqn, bars_fqn]
        frames = []
        if gold is not None and not gold.empty:
            frames.append(gold.assign(_origin="gold"))
        if silver_bars is not None and not silver_bars.empty:
            interval = self.cfg.collectors.alphavantage.interval
            sb = silver_bars
            if "interval" in sb.columns:
                sb = sb[sb["interval"].astype(str) == interval]
            have = set(gold["symbol"].astype(str)) if gold is not None and not gold.empty else set()
            frames.append(sb[~sb["symbol"].astype(str).isin(have)].assign(_origin="silver_bars"))
        if not frames:
            return _missing({"symbols": []}, sources, "no bars yet (run fin-mlops pipeline)")
        bars = pd.concat(frames, ignore_index=True)
        bars = bars.dropna(subset=["bar_start", "open", "high", "low", "close"])
        bars["_t"] = epoch_seconds(bars["bar_start"])
        preds = self._load_predictions()
        truth, truth_files = self._ground_truth()
        sources += [self.src.fqn("synthesized_predictions"), *truth_files]
        flags_by_symbol = self._flags(preds)
        truth_by_symbol: dict[str, list[dict[str, Any]]] = {}
        if not truth.empty:
            truth["_t"] = epoch_seconds(truth["bar"])
            for (symbol, t), grp in truth.groupby(["symbol", "_t"], sort=True):  # type: ignore[misc]
                types = sorted({str(v) for v in grp["anomaly_type"].dropna()})
                truth_by_symbol.setdefault(str(symbol), []).append(
                    {"t": int(str(t)), "types": types, "trades": len(grp)}
                )
        symbols: list[dict[str, Any]] = []
        configured = list(self.cfg.symbols.all)
        present = sorted(
            set(bars["symbol"].astype(str)), key=lambda s: (configured.index(s) if s in configured else 999, s)
        )
        for symbol in present:
            grp = bars[bars["symbol"].astype(str) == symbol].sort_values("_t").drop_duplicates("_t", keep="last")
            total = len(grp)
            grp = grp.tail(self.max_bars)
            first_t = int(grp["_t"].iloc[0])
            asset = (
                str(grp["asset_class"].dropna().iloc[0])
                if "asset_class" in grp and grp["asset_class"].notna().any()
                else self.cfg.symbols.asset_class(symbol)
            )
            flags = [f for f in flags_by_symbol.get(symbol, []) if f["t"] >= first_t]
            truth_rows = [g for g in truth_by_symbol.get(symbol, []) if g["t"] >= first_t]
            symbols.append(
                {
                    "symbol": symbol,
                    "asset_class": asset,
                    "origin": str(grp["_origin"].iloc[0]),
                    "bars_total": total,
                    "truncated": total > len(grp),
                    "bars": {
                        "t": [int(v) for v in grp["_t"]],
                        "o": [sig(v) for v in grp["open"]],
                        "h": [sig(v) for v in grp["high"]],
                        "l": [sig(v) for v in grp["low"]],
                        "c": [sig(v) for v in grp["close"]],
                        "v": [sig(v) for v in grp["volume"]] if "volume" in grp else [],
                    },
                    "model_flags": flags,
                    "ground_truth": truth_rows,
                }
            )
        return Section("ok", {"symbols": symbols}, sources)

    def _flags(self, preds: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
        """Bars the model flagged (label 1, or score >= stored threshold) per symbol."""
        out: dict[str, list[dict[str, Any]]] = {}
        if preds is None or preds.empty:
            return out
        t_col = pick(preds, "bar_start", "ts", "timestamp")
        label_col = pick(preds, "label", "prediction", "is_anomaly", "predicted_label", "anomaly")
        score_col = pick(preds, "score", "anomaly_score", "probability")
        if t_col is None or "symbol" not in preds.columns:
            return out
        frame = preds
        if label_col is not None:
            frame = frame[frame[label_col].fillna(0).astype(float) >= 0.5]
        elif score_col is not None and "threshold" in frame.columns:
            frame = frame[frame[score_col] >= frame["threshold"]]
        else:
            return out
        frame = frame.assign(_t=epoch_seconds(frame[t_col]))
        for row in raw_rows(frame.sort_values("_t")):
            out.setdefault(str(row["symbol"]), []).append(
                {"t": int(row["_t"]), "score": num(row.get(score_col) if score_col else None, 6)}
            )
        return out

    def _top_anomalies(self) -> Section:
        preds = self._load_predictions()
        fqn = self.src.fqn("synthesized_predictions")
        if preds is None:
            return _missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops backtest)")
        t_col = pick(preds, "bar_start", "ts", "timestamp")
        score_col = pick(preds, "score", "anomaly_score", "probability")
        label_col = pick(preds, "label", "prediction", "is_anomaly", "predicted_label", "anomaly")
        if t_col is None or score_col is None:
            return Section("empty", [], [fqn], "predictions carry no score column")
        top = preds.assign(_score=preds[score_col].astype(float)).nlargest(self.top_n, "_score")
        truth, files = self._ground_truth()
        truth_keys: dict[tuple[str, pd.Timestamp], list[str]] = {}
        if not truth.empty:
            for (symbol, bar), grp in truth.groupby(["symbol", "bar"]):  # type: ignore[misc]
                truth_keys[(str(symbol), pd.Timestamp(str(bar)))] = sorted(
                    {str(v) for v in grp["anomaly_type"].dropna()}
                )
        freq = _bar_freq(self.cfg.features.bar_interval)
        rows: list[dict[str, Any]] = []
        for row in raw_rows(top):
            bar = to_utc(pd.Series([row[t_col]])).dt.floor(freq).iloc[0]
            types = truth_keys.get((str(row["symbol"]), bar))
            rows.append(
                {
                    "symbol": str(row["symbol"]),
                    "bar_start": iso(bar),
                    "t": int(bar.timestamp()),
                    "score": num(row["_score"], 6),
                    "flagged": bool(float(row[label_col]) >= 0.5) if label_col and pd.notna(row[label_col]) else None,
                    "model_version": self._prediction_version,
                    "ground_truth": (types is not None) if files else None,
                    "anomaly_types": types or [],
                }
            )
        return Section("ok" if rows else "empty", rows, [fqn, *files])

    # -- models --------------------------------------------------------------------------
    def leaderboard(self) -> dict[str, Any]:
        return self.document(
            "leaderboard",
            {"runs": _guard("runs", [], [], self._leaderboard)},
            primary_metric=self.cfg.models.primary_metric,
        )

    def _leaderboard(self) -> Section:
        fqn = self.src.fqn("tournament_results")
        df = self.src.read("tournament_results")
        if df is None:
            return _missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops train)")
        if df.empty:
            return Section("empty", [], [fqn], "no tournament has run")
        run_col = pick(df, "tournament_id", "run_id")
        model_col = pick(df, "model", "model_name", "model_type")
        time_col = _time_col(df)
        primary = self.cfg.models.primary_metric
        runs: list[dict[str, Any]] = []
        groups = df.groupby(run_col, sort=False) if run_col else [(None, df)]
        for run_id, grp in groups:
            models: list[dict[str, Any]] = []
            for rec in records(grp):
                metrics_blob = maybe_json(rec.get("metrics")) if "metrics" in rec else {}
                metrics = {
                    m: num(rec.get(m, (metrics_blob or {}).get(m) if isinstance(metrics_blob, dict) else None))
                    for m in METRIC_NAMES
                }
                status = str(rec.get("status") or ("failed" if rec.get("error") else "ok"))
                models.append(
                    {
                        "model": str(rec.get(model_col)) if model_col else None,
                        "status": status,
                        "error": rec.get("error"),
                        "rank": num(rec.get("rank")),
                        "is_winner": bool(rec.get("is_winner") or rec.get("winner") or False),
                        "mlflow_run_id": rec.get("mlflow_run_id"),
                        "metrics": {k: v for k, v in metrics.items() if v is not None},
                    }
                )
            ranked = [m for m in models if m["status"] == "ok" and m["metrics"].get(primary) is not None]
            ranked.sort(key=lambda m: -(m["metrics"][primary] or 0.0))
            if not any(m["is_winner"] for m in models) and ranked:
                ranked[0]["is_winner"] = True
            for pos, m in enumerate(ranked, 1):
                if m["rank"] is None:
                    m["rank"] = pos
            models.sort(key=lambda m: (m["rank"] is None, m["rank"] or 0, m["model"] or ""))
            when = iso(to_utc(grp[time_col]).max()) if time_col else None
            winner = next((m["model"] for m in models if m["is_winner"]), None)
            runs.append({"run_id": jsonable(run_id), "created_at": when, "winner": winner, "models": models})
        runs.sort(key=lambda r: r["created_at"] or "", reverse=True)
        return Section("ok", runs, [fqn])

    def champion(self) -> dict[str, Any]:
        registry = Section(
            self.registry.status,
            {"name": self.registry.name, "aliases": self.registry.aliases, "versions": self.registry.versions},
            [self.platform.mlflow.registry_uri if not self.platform.is_databricks else "databricks-uc"],
            self.registry.message,
        )
        return self.document(
            "champion",
            {
                "registry": registry,
                "decisions": _guard("decisions", [], [], self._decisions),
                "rollbacks": _guard("rollbacks", [], [], lambda: self._audit("rollback_audit", "fin-mlops rollback")),
            },
        )

    def _decisions(self) -> Section:
        fqn = self.src.fqn("champion_challenger_audit")
        df = self.src.read("champion_challenger_audit")
        if df is None:
            return _missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops train)")
        if df.empty:
            return Section("empty", [], [fqn], "no gate decision yet")
        rows: list[dict[str, Any]] = []
        time_col = _time_col(df)
        # a REJECT row may cancel an earlier PROMOTE whose alias move failed (``supersedes``)
        cancelled = {str(v) for v in df["supersedes"].dropna()} if "supersedes" in df.columns else set()
        for rec in records(_sorted_by_time(df, descending=False)):
            row = {k: maybe_json(v) for k, v in rec.items()}
            row["at"] = iso(rec.get(time_col)) if time_col else None
            row["decision"] = str(rec.get("decision") or rec.get("outcome") or "")
            row["reason"] = rec.get("reason") or rec.get("message")
            row["superseded"] = str(rec.get("decision_id")) in cancelled
            row["champion_score"] = num(first_num(rec, "champion_primary", "champion_metric"))
            row["challenger_score"] = num(first_num(rec, "challenger_primary", "challenger_metric"))
            rows.append(row)
        return Section("ok", rows, [fqn])

    def feature_importance(self) -> dict[str, Any]:
        return self.document("feature_importance", {"features": _guard("features", [], [], self._feature_importance)})

    def _feature_importance(self) -> Section:
        """The champion's importances: a tournament_results column, else the champion run's MLflow artifact."""
        fqn = self.src.fqn("tournament_results")
        champion = self.registry.champion
        df = self.src.read("tournament_results")
        if df is not None and not df.empty:
            col = pick(df, "feature_importance", "feature_importances", "importances")
            if col is not None:
                run_col = pick(df, "mlflow_run_id", "run_id")
                champ_run = next((v["run_id"] for v in self.registry.versions if v["version"] == champion), None)
                pool = df[df[run_col] == champ_run] if (run_col and champ_run is not None) else df.iloc[0:0]
                if pool.empty:
                    win_col = pick(df, "is_winner", "winner")
                    pool = df[df[win_col].fillna(False).astype(bool)] if win_col else df
                    pool = _sorted_by_time(pool).head(1)
                for value in pool[col]:
                    items = _importance_items(maybe_json(value))
                    if items:
                        return Section("ok", items, [fqn])
        if champion is None:
            return _missing([], [fqn], "no champion model yet (run fin-mlops train)")
        items, where = _importance_from_mlflow(self.platform, self.registry, champion)
        if items:
            return Section("ok", items, [where])
        return Section("empty", [], [fqn, where], f"champion v{champion} logged no feature importance")

    # -- monitoring --------------------------------------------------------------------------
    def drift(self) -> dict[str, Any]:
        d = self.cfg.drift
        return self.document(
            "drift",
            {
                "psi_js": _guard("psi_js", _EMPTY_DRIFT, [], self._drift),
                "performance": _guard("performance", [], [], self._performance),
            },
            thresholds={
                "psi_warn": d.psi_warn,
                "psi_alert": d.psi_alert,
                "js_warn": d.js_warn,
                "js_alert": d.js_alert,
                "drifted_share_alert": d.drifted_share_alert,
                "critical_features": list(d.critical_features),
            },
        )

    def _drift(self) -> Section:
        fqn = self.src.fqn("drift_monitoring")
        df = self.src.read("drift_monitoring")
        if df is None:
            return _missing(_EMPTY_DRIFT, [fqn], f"{fqn} does not exist yet (run fin-mlops drift)")
        if df.empty:
            return Section("empty", _EMPTY_DRIFT, [fqn], "no drift run yet")
        run_col = pick(df, "run_id", "drift_run_id")
        feat_col = pick(df, "feature", "feature_name", "column")
        psi_col = pick(df, "psi")
        js_col = pick(df, "js", "js_distance", "jensen_shannon")
        status_col = pick(df, "status", "drift_status")
        time_col = _time_col(df)
        if feat_col is None or psi_col is None:
            raise ValueError(f"{fqn} lacks a feature or psi column (columns: {', '.join(df.columns)})")
        if run_col is None:
            df = df.assign(_run="run")
            run_col = "_run"
        runs: list[dict[str, Any]] = []
        for run_id, grp in df.groupby(run_col, sort=False):
            first = grp.iloc[0]
            at = to_utc(grp[time_col]).max() if time_col else pd.NaT
            statuses = [str(s) for s in grp[status_col]] if status_col else []
            drifted = sum(s in ("alert", "drift", "drifted") for s in statuses)
            if "drifted_features" in grp.columns and num(first["drifted_features"]) is not None:
                drifted = int(first["drifted_features"])  # the detector's own count (its decision rule)
            overall = None
            for name in ("overall_status", "decision", "overall_drift"):
                if name in grp.columns:
                    overall = jsonable(first[name])
                    break
            runs.append(
                {
                    "run_id": jsonable(run_id),
                    "at": iso(at),
                    "reference": _window(first, "reference"),
                    "current": _window(first, "current"),
                    "features": int(grp[feat_col].nunique()),
                    "drifted_features": drifted,
                    "drifted_share": num(
                        first["drifted_share"]
                        if "drifted_share" in grp.columns and num(first["drifted_share"]) is not None
                        else drifted / max(1, grp[feat_col].nunique()),
                        4,
                    ),
                    "overall": overall,
                    "reason": jsonable(first["reason"]) if "reason" in grp.columns else None,
                }
            )
        runs.sort(key=lambda r: r["at"] or "")
        features = sorted({str(f) for f in df[feat_col]})
        cells: list[dict[str, Any]] = []
        for row in raw_rows(df):
            cells.append(
                {
                    "run_id": jsonable(row[run_col]),
                    "feature": str(row[feat_col]),
                    "psi": num(row[psi_col], 6),
                    "js": num(row[js_col], 6) if js_col else None,
                    "status": str(row[status_col]) if status_col else None,
                }
            )
        return Section("ok", {"runs": runs, "features": features, "cells": cells}, [fqn])

    def _performance(self) -> Section:
        fqn = self.src.fqn("model_monitoring")
        df = self.src.read("model_monitoring")
        if df is None:
            return _missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops drift)")
        if df.empty:
            return Section("empty", [], [fqn], "no labelled window scored yet")
        return Section("ok", records(_sorted_by_time(df, descending=False)), [fqn])

    def audit(self) -> dict[str, Any]:
        return self.document(
            "audit",
            {
                "retraining": _guard("retraining", [], [], lambda: self._audit("retraining_audit", "fin-mlops drift")),
                "alerts": _guard("alerts", [], [], lambda: self._audit("alerts_audit", "fin-mlops drift")),
                "rollbacks": _guard("rollbacks", [], [], lambda: self._audit("rollback_audit", "fin-mlops rollback")),
            },
        )

    def _audit(self, key: str, command: str) -> Section:
        fqn = self.src.fqn(key)
        df = self.src.read(key)
        if df is None:
            return _missing([], [fqn], f"{fqn} does not exist yet ({command} writes it)")
        if df.empty:
            return Section("empty", [], [fqn], "no event recorded")
        time_col = _time_col(df)
        rows: list[dict[str, Any]] = []
        for rec in records(_sorted_by_time(df)):
            row = {k: maybe_json(v) for k, v in rec.items()}
            row["at"] = iso(rec.get(time_col)) if time_col else None
            rows.append(row)
        return Section("ok", rows, [fqn])

    # -- decisions -----------------------------------------------------------------------------
    def decision_matrix(self) -> dict[str, Any]:
        t = self.cfg.decision.thresholds
        criteria = [
            {"name": name, "weight": c.weight, "enabled": c.enabled, "bands": [b.model_dump() for b in c.bands]}
            for name, c in self.cfg.decision.criteria.items()
        ]
        return self.document(
            "decision_matrix",
            {"matrix": _guard("matrix", _EMPTY_MATRIX, [], self._matrix)},
            thresholds={"strong_buy": t.strong_buy, "buy": t.buy, "hold": t.hold},
            criteria=criteria,
        )

    def _matrix(self) -> Section:
        fqn = self.src.fqn("decision_matrix")
        df = self.src.read("decision_matrix")
        if df is None:
            return _missing(_EMPTY_MATRIX, [fqn], f"{fqn} does not exist yet (run fin-mlops decide)")
        if df.empty:
            return Section("empty", _EMPTY_MATRIX, [fqn], "no decision run yet")
        run_col = pick(df, "run_id", "decision_run_id")
        time_col = _time_col(df)
        run_id = _latest_run(df, run_col, time_col)
        latest = df[df[run_col] == run_id] if run_col else df
        names: list[str] = [str(n) for n in self.cfg.decision.criteria]
        rows: list[dict[str, Any]] = []
        for rec in records(latest):
            crit = _criteria_of(rec, names)
            rows.append(
                {
                    "symbol": str(rec.get("symbol")),
                    "asset_class": rec.get("asset_class"),
                    "rank": num(rec.get("rank")),
                    "final_score": num(first_num(rec, "final_score", "score", "weighted_score"), 4),
                    "recommendation": rec.get("recommendation"),
                    "explanation": rec.get("explanation"),
                    "flags": rec.get("flags") if rec.get("flags") is not None else rec.get("flag"),
                    "criteria": crit,
                }
            )
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, -(r["final_score"] or 0)))
        data = {
            "run_id": jsonable(run_id),
            "at": iso(to_utc(latest[time_col]).max()) if time_col else None,
            "criteria": sorted(
                {c for r in rows for c in r["criteria"]},
                key=lambda c: (c not in names, names.index(c) if c in names else 0, c),
            ),
            "rows": rows,
        }
        return Section("ok", data, [fqn])

    def backtest(self) -> dict[str, Any]:
        b = self.cfg.backtest
        return self.document(
            "backtest",
            {"results": _guard("results", _EMPTY_BACKTEST, [], self._backtest)},
            settings={
                "strategy": b.strategy,
                "mode": b.mode,
                "commission_bps": b.commission_bps,
                "slippage_bps": b.slippage_bps,
            },
        )

    def _backtest(self) -> Section:
        fqn = self.src.fqn("backtest_results")
        df = self.src.read("backtest_results")
        if df is None:
            return _missing(_EMPTY_BACKTEST, [fqn], f"{fqn} does not exist yet (run fin-mlops backtest)")
        if df.empty:
            return Section("empty", _EMPTY_BACKTEST, [fqn], "no backtest yet")
        run_col = pick(df, "run_id", "backtest_run_id")
        time_col = _time_col(df)
        # the latest *current* run: an --as-of replay of the past is history, not today's view
        current = current_runs(df)
        run_id = _latest_run(current if len(current) else df, run_col, time_col)
        latest = df[df[run_col] == run_id] if run_col else df
        rows: list[dict[str, Any]] = []
        for rec in records(latest):
            blob = maybe_json(rec.get("metrics")) if "metrics" in rec else None
            metrics = {
                m: num(
                    rec.get(m) if rec.get(m) is not None else (blob or {}).get(m) if isinstance(blob, dict) else None, 6
                )
                for m in BACKTEST_METRICS
            }
            rows.append(
                {
                    "strategy": rec.get("strategy"),
                    "symbol": rec.get("symbol"),
                    "mode": rec.get("mode"),
                    "as_of_version": jsonable(rec.get("as_of_version", rec.get("predictions_version"))),
                    "metrics": metrics,
                    "equity": _equity(rec),
                }
            )
        data = {
            "run_id": jsonable(run_id),
            "at": iso(to_utc(latest[time_col]).max()) if time_col else None,
            "runs": int(df[run_col].nunique()) if run_col else 1,
            "as_of_replay": not len(current),
            "rows": rows,
        }
        return Section("ok", data, [fqn])

    # -- correlation -----------------------------------------------------------------------------
    def correlation(self) -> dict[str, Any]:
        return self.document("correlation", {"returns": _guard("returns", _EMPTY_CORR, [], self._correlation)})

    def _correlation(self) -> Section:
        fqn = self.src.fqn("gold_trade_features")
        df = self.src.read("gold_trade_features", ["symbol", "bar_start", "returns", "log_return", "close"])
        if df is None:
            return _missing(_EMPTY_CORR, [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
        if df.empty:
            return Section("empty", _EMPTY_CORR, [fqn], "no gold bars")
        df = df.sort_values(["symbol", "bar_start"])
        ret_col = pick(df, "returns", "log_return")
        if ret_col is None:
            df = df.assign(_ret=df.groupby("symbol")["close"].pct_change())
            ret_col = "_ret"
        wide = df.pivot_table(index="bar_start", columns="symbol", values=ret_col, aggfunc="last")
        configured = list(self.cfg.symbols.all)
        symbols = sorted(wide.columns.astype(str), key=lambda s: (configured.index(s) if s in configured else 999, s))
        wide.columns = wide.columns.astype(str)
        wide = wide[symbols]
        corr = wide.corr(method="pearson", min_periods=CORR_MIN_OBS)
        present = wide.notna().astype(float)
        n_obs = present.T.dot(present)
        data = {
            "symbols": symbols,
            "matrix": [[num(corr.loc[a, b], 4) for b in symbols] for a in symbols],
            "n_obs": [[int(n_obs.loc[a, b]) for b in symbols] for a in symbols],
            "method": (
                f"pearson on per-bar {'log returns' if ret_col == 'log_return' else 'returns'}, "
                f"pairwise, min {CORR_MIN_OBS} shared bars"
            ),
        }
        return Section("ok", data, [fqn])

    # -- overview ----------------------------------------------------------------------------------
    def manifest(self, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
        files: list[dict[str, Any]] = []
        for kind, doc in documents.items():
            files.append(
                {
                    "kind": kind,
                    "file": f"{kind}.json",
                    "sections": {n: s["status"] for n, s in doc["sections"].items()},
                }
            )
        return self.document(
            "manifest",
            {
                "workflows": _guard("workflows", [], [], lambda: self._workflows(documents)),
                "dataflow": _guard("dataflow", _EMPTY_FLOW, [], self._dataflow),
            },
            files=files,
            documents=list(DOCUMENTS),
            symbols=list(self.cfg.symbols.all),
        )

    def _workflows(self, docs: dict[str, dict[str, Any]]) -> Section:
        def sec(kind: str, name: str) -> dict[str, Any]:
            return dict(docs[kind]["sections"][name])

        def last(*keys: str) -> str | None:
            stamps = [self.src.info(k).last_commit for k in keys if self.src.info(k).exists]
            return max((s for s in stamps if s), default=None)

        out: list[dict[str, Any]] = []
        # ingestion
        fresh = sec("pipeline_health", "freshness")
        stale = [r["source"] for r in fresh["data"] if r.get("status") == "warn"]
        bronze = self.src.info("bronze_trades")
        out.append(
            _wf(
                "ingestion",
                "missing" if not bronze.exists else ("warn" if stale else "ok"),
                last("bronze_trades"),
                f"{bronze.rows or 0:,} bronze rows; stale sources: {', '.join(stale)}"
                if stale
                else f"{bronze.rows or 0:,} bronze rows from {len(fresh['data'])} source(s)",
            )
        )
        # pipeline
        q = sec("pipeline_health", "quarantine")["data"]
        share = q.get("share") or 0.0
        silver = self.src.info("silver_trades")
        status = (
            "missing"
            if not silver.exists
            else "alert"
            if share >= QUARANTINE_ALERT_SHARE
            else "warn"
            if share >= QUARANTINE_WARN_SHARE
            else "ok"
        )
        out.append(
            _wf(
                "pipeline",
                status,
                last("silver_trades", "gold_trade_features"),
                f"{silver.rows or 0:,} silver rows, {self.src.info('gold_trade_features').rows or 0:,} gold bars, "
                f"quarantine {share:.2%}",
            )
        )
        # training
        runs = sec("leaderboard", "runs")["data"]
        if runs:
            latest = runs[0]
            failed = [m["model"] for m in latest["models"] if m["status"] != "ok"]
            primary = self.cfg.models.primary_metric
            win = next((m for m in latest["models"] if m["is_winner"]), None)
            metric = win["metrics"].get(primary) if win else None
            detail = (
                f"winner {latest['winner']} {primary}={metric:.3f}" if metric is not None else "no successful model"
            )
            if failed:
                detail += f"; failed: {', '.join(str(f) for f in failed)}"
            out.append(_wf("training", "warn" if failed or win is None else "ok", last("tournament_results"), detail))
        else:
            out.append(_wf("training", "missing", None, "no tournament yet"))
        # gate
        decisions = sec("champion", "decisions")["data"]
        if decisions:
            d = decisions[-1]
            champ = self.registry.champion
            detail = f"last decision {d['decision']}: {d.get('reason') or ''}".strip()
            if champ:
                detail += f" (champion v{champ})"
            out.append(_wf("promotion gate", "ok" if champ else "warn", last("champion_challenger_audit"), detail))
        else:
            out.append(_wf("promotion gate", "missing", None, "no gate decision yet"))
        # drift
        drift = sec("drift", "psi_js")["data"]
        if drift["runs"]:
            r = drift["runs"][-1]
            alert_share = self.cfg.drift.drifted_share_alert
            overall = str(r.get("overall") or "").lower()
            drifted = (
                overall in ("drift", "drifted", "alert", "true", "retrain") or (r["drifted_share"] or 0) >= alert_share
            )
            out.append(
                _wf(
                    "drift monitoring",
                    "alert" if drifted else ("warn" if r["drifted_features"] else "ok"),
                    last("drift_monitoring", "model_monitoring"),
                    f"{r['drifted_features']}/{r['features']} features drifted in the latest run",
                )
            )
        else:
            out.append(_wf("drift monitoring", "missing", None, "no drift run yet"))
        # retraining + alerts
        retrain = sec("audit", "retraining")["data"]
        if retrain:
            e = retrain[0]
            out.append(
                _wf(
                    "retraining",
                    "ok",
                    last("retraining_audit"),
                    f"latest: {e.get('decision') or e.get('outcome') or e.get('status')}"
                    + (f" - {e['reason']}" if e.get("reason") else ""),
                )
            )
        else:
            out.append(_wf("retraining", "missing", None, "no retraining decision yet"))
        alerts = sec("audit", "alerts")["data"]
        if alerts:
            failed_alerts = [
                a
                for a in alerts
                if str(a.get("status") or a.get("delivery_status") or "").lower() in ("failed", "error")
                or a.get("delivered") is False
            ]
            out.append(
                _wf(
                    "alerting",
                    "warn" if failed_alerts else "ok",
                    last("alerts_audit"),
                    f"{len(alerts)} alert(s), {len(failed_alerts)} undelivered",
                )
            )
        else:
            out.append(_wf("alerting", "missing", None, "no alert raised"))
        # backtest + decision
        bt = sec("backtest", "results")["data"]
        out.append(
            _wf(
                "backtest",
                "ok" if bt["rows"] else "missing",
                last("backtest_results"),
                f"{len(bt['rows'])} strategy x symbol result(s) in run {bt['run_id']}"
                if bt["rows"]
                else "no backtest yet",
            )
        )
        dm = sec("decision_matrix", "matrix")["data"]
        if dm["rows"]:
            counts: dict[str, int] = {}
            for r in dm["rows"]:
                counts[str(r["recommendation"])] = counts.get(str(r["recommendation"]), 0) + 1
            detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            out.append(_wf("decision matrix", "ok", last("decision_matrix"), detail))
        else:
            out.append(_wf("decision matrix", "missing", None, "no decision run yet"))
        status = "ok" if any(w["status"] != "missing" for w in out) else "missing"
        return Section(status, out, [self.src.fqn(k) for k in ("bronze_trades", "silver_trades", "tournament_results")])

    def _dataflow(self) -> Section:
        nodes: list[dict[str, Any]] = []
        for key, label, kind in _FLOW_NODES:
            info = self.src.info(key) if kind == "table" else None
            nodes.append(
                {
                    "id": key,
                    "label": label,
                    "kind": kind,
                    "rows": info.rows if info else None,
                    "exists": info.exists if info else None,
                    "last_commit": info.last_commit if info else None,
                }
            )
        edges = [{"from": a, "to": b} for a, b in _FLOW_EDGES]
        status = "ok" if any(n["exists"] for n in nodes) else "missing"
        return Section(status, {"nodes": nodes, "edges": edges}, [])

    # -- all ---------------------------------------------------------------------------------------
    def build(self) -> dict[str, dict[str, Any]]:
        docs: dict[str, dict[str, Any]] = {}
        docs["pipeline_health"] = self.pipeline_health()
        docs["market"] = self.market()
        docs["leaderboard"] = self.leaderboard()
        docs["champion"] = self.champion()
        docs["drift"] = self.drift()
        docs["audit"] = self.audit()
        docs["decision_matrix"] = self.decision_matrix()
        docs["backtest"] = self.backtest()
        docs["feature_importance"] = self.feature_importance()
        docs["correlation"] = self.correlation()
        ordered = {"manifest": self.manifest(docs)}
        ordered.update(docs)
        return ordered


CORR_MIN_OBS = 30

_EMPTY_QUARANTINE: dict[str, Any] = {
    "total": 0,
    "silver_rows": 0,
    "share": None,
    "by_rule": [],
    "by_source": [],
    "latest": [],
    "thresholds": {"warn_share": QUARANTINE_WARN_SHARE, "alert_share": QUARANTINE_ALERT_SHARE},
}
_EMPTY_DRIFT: dict[str, Any] = {"runs": [], "features": [], "cells": []}
_EMPTY_MATRIX: dict[str, Any] = {"run_id": None, "at": None, "criteria": [], "rows": []}
_EMPTY_BACKTEST: dict[str, Any] = {"run_id": None, "at": None, "runs": 0, "rows": []}
_EMPTY_CORR: dict[str, Any] = {"symbols": [], "matrix": [], "n_obs": [], "method": ""}
_EMPTY_FLOW: dict[str, Any] = {"nodes": [], "edges": []}

#: The data-flow flowchart: (id, label, kind); tables get live row counts.
_FLOW_NODES = (
    ("collectors", "collectors", "process"),
    ("bronze_trades", "bronze_trades", "table"),
    ("silver_trades", "silver_trades", "table"),
    ("silver_trades_quarantine", "quarantine", "table"),
    ("gold_trade_features", "gold_trade_features", "table"),
    ("train_set", "train / test sets", "table"),
    ("tournament_results", "tournament", "table"),
    ("champion_challenger_audit", "gate + registry", "table"),
    ("drift_monitoring", "drift monitoring", "table"),
    ("retraining_audit", "retraining trigger", "table"),
    ("alerts_audit", "alerts", "table"),
    ("synthesized_predictions", "predictions", "table"),
    ("backtest_results", "backtest", "table"),
    ("decision_matrix", "decision matrix", "table"),
    ("dashboard", "dashboard", "process"),
)
_FLOW_EDGES = (
    ("collectors", "bronze_trades"),
    ("bronze_trades", "silver_trades"),
    ("bronze_trades", "silver_trades_quarantine"),
    ("silver_trades", "gold_trade_features"),
    ("gold_trade_features", "train_set"),
    ("train_set", "tournament_results"),
    ("tournament_results", "champion_challenger_audit"),
    ("gold_trade_features", "drift_monitoring"),
    ("drift_monitoring", "retraining_audit"),
    ("drift_monitoring", "alerts_audit"),
    ("retraining_audit", "tournament_results"),
    ("champion_challenger_audit", "synthesized_predictions"),
    ("synthesized_predictions", "backtest_results"),
    ("backtest_results", "decision_matrix"),
    ("decision_matrix", "dashboard"),
)


def raw_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of the original cell values (no JSON conversion)."""
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def _wf(name: str, status: str, last_run: str | None, detail: str) -> dict[str, Any]:
    return {"workflow": name, "status": status, "last_run": last_run, "detail": detail}


def first_num(rec: dict[str, Any], *names: str) -> Any:
    for n in names:
        if rec.get(n) is not None:
            return rec[n]
    return None


def _window(row: pd.Series, prefix: str) -> dict[str, Any] | None:
    start = next((row[c] for c in (f"{prefix}_start", f"{prefix}_from") if c in row.index), None)
    end = next((row[c] for c in (f"{prefix}_end", f"{prefix}_to") if c in row.index), None)
    version = next((row[c] for c in (f"{prefix}_version",) if c in row.index), None)
    label = next((row[c] for c in (f"{prefix}_window", prefix) if c in row.index), None)
    if start is None and end is None and version is None and label is None:
        return None
    return {"start": iso(start), "end": iso(end), "version": jsonable(version), "label": jsonable(label)}


def _criteria_of(rec: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """Per-criterion raw/score/weight from wide columns (``trend_score``) or a JSON ``criteria`` column."""
    out: dict[str, dict[str, Any]] = {}
    blob = maybe_json(rec.get("criteria")) if rec.get("criteria") is not None else None
    if isinstance(blob, dict):
        for name, value in blob.items():
            if isinstance(value, dict):
                out[str(name)] = {
                    "raw": num(value.get("raw", value.get("value"))),
                    "score": num(value.get("score")),
                    "weight": num(value.get("weight")),
                    "label": value.get("label"),
                }
    elif isinstance(blob, list):
        for value in blob:
            if isinstance(value, dict) and value.get("name") is not None:
                out[str(value["name"])] = {
                    "raw": num(value.get("raw", value.get("value"))),
                    "score": num(value.get("score")),
                    "weight": num(value.get("weight")),
                    "label": value.get("label"),
                }
    for name in names:
        if name in out:
            continue
        score = rec.get(f"{name}_score")
        raw = rec.get(f"{name}_raw", rec.get(f"{name}_value"))
        if score is None and raw is None and f"{name}_score" not in rec:
            continue
        out[name] = {
            "raw": num(raw),
            "score": num(score),
            "weight": num(rec.get(f"{name}_weight")),
            "label": rec.get(f"{name}_label"),
        }
    return out


def _equity(rec: dict[str, Any]) -> dict[str, list[Any]]:
    """An equity curve from a JSON/array column (values, or {t, v} pairs) as ``{t: [...], v: [...]}``."""
    raw = None
    for name in ("equity_curve", "equity", "curve"):
        if rec.get(name) is not None:
            raw = maybe_json(rec[name])
            break
    times = (
        maybe_json(rec.get("equity_ts") or rec.get("equity_times"))
        if (rec.get("equity_ts") or rec.get("equity_times"))
        else None
    )
    t: list[Any] = []
    v: list[Any] = []
    if isinstance(raw, dict):
        t = list(raw.get("t") or raw.get("ts") or raw.get("time") or [])
        v = list(raw.get("v") or raw.get("value") or raw.get("equity") or [])
    elif isinstance(raw, list):
        if raw and isinstance(raw[0], dict):
            t = [p.get("t", p.get("ts", p.get("time"))) for p in raw]
            v = [p.get("v", p.get("value", p.get("equity"))) for p in raw]
        elif raw and isinstance(raw[0], list | tuple):
            t = [p[0] for p in raw]
            v = [p[1] for p in raw]
        else:
            v = list(raw)
            t = list(times) if isinstance(times, list) else []
    n = len(v)
    if n > EQUITY_POINTS:  # thin before converting: curves can hold thousands of points
        keep = sorted({round(i * (n - 1) / (EQUITY_POINTS - 1)) for i in range(EQUITY_POINTS)})
        v = [v[i] for i in keep]
        if len(t) == n:
            t = [t[i] for i in keep]
    values = [num(x, 6) for x in v]
    stamps: list[Any] = []
    if t:
        utc = to_utc(pd.Series(t))
        stamps = [None if pd.isna(x) else x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in utc]
    return {"t": stamps, "v": values}


def _importance_items(value: Any) -> list[dict[str, Any]]:
    items: list[tuple[str, float]] = []
    if isinstance(value, dict):
        items = [(str(k), float(v)) for k, v in value.items() if num(v) is not None]
    elif isinstance(value, list):
        for entry in value:
            if (
                isinstance(entry, dict)
                and entry.get("feature") is not None
                and num(entry.get("importance")) is not None
            ):
                items.append((str(entry["feature"]), float(entry["importance"])))
    total = sum(abs(v) for _, v in items) or 1.0
    items.sort(key=lambda kv: -abs(kv[1]))
    return [{"feature": f, "importance": num(v, 6), "share": num(abs(v) / total, 6)} for f, v in items]


def _importance_from_mlflow(
    platform: Platform, registry: RegistryState, version: str
) -> tuple[list[dict[str, Any]], str]:
    """Read ``feature_importance.json`` logged with the champion's MLflow run."""
    run_id = next((v["run_id"] for v in registry.versions if v["version"] == version), None)
    where = f"mlflow run of {registry.name} v{version}"
    if not run_id:
        return [], where
    from mlflow.tracking import MlflowClient

    settings = platform.mlflow
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    queue = [""]
    while queue:
        folder = queue.pop()
        for art in client.list_artifacts(run_id, folder or None):
            if art.is_dir:
                if art.path.count("/") < 2:
                    queue.append(art.path)
                continue
            if "importance" in art.path.lower() and art.path.endswith(".json"):
                local = client.download_artifacts(run_id, art.path)
                items = _importance_items(json.loads(Path(local).read_text(encoding="utf-8")))
                return items, f"{where} ({art.path})"
    return [], where


def _bar_freq(interval: str) -> str:
    """``features.bar_interval`` ("1min", "30s", "1h") is already a pandas frequency."""
    return interval.strip()


def _git_sha() -> str | None:
    env = os.environ.get("FIN_MLOPS_GIT_SHA") or os.environ.get("GITHUB_SHA")
    if env:
        return env[:40]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# -- writing -----------------------------------------------------------------------------------------


def dashboard_source_dir() -> Path | None:
    """The static page's source (``dashboard/`` of the repository or bundle), if it can be found."""
    candidates = []
    if os.environ.get("FIN_MLOPS_DASHBOARD_DIR"):
        candidates.append(Path(os.environ["FIN_MLOPS_DASHBOARD_DIR"]))
    here = Path(__file__).resolve()
    candidates += [parent / "dashboard" for parent in here.parents[:5]]
    candidates.append(Path.cwd() / "dashboard")
    for cand in candidates:
        if (cand / "index.html").is_file() and (cand / "app.js").is_file():
            return cand
    return None


def write_json(path: Path, payload: Any) -> None:
    """Atomic write (tmp name + rename) so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def export_dashboard(
    platform: Platform,
    *,
    out_dir: Path | None = None,
    max_bars_per_symbol: int = 2000,
    top_anomalies: int = 25,
    now: datetime | None = None,
    copy_site: bool = True,
    site_dir: Path | None = None,
) -> ExportResult:
    """Build every document from the tables and write JSON + ``data.js`` (+ the page) to ``out_dir``."""
    target = Path(out_dir) if out_dir is not None else Path(platform.paths.exports)
    target.mkdir(parents=True, exist_ok=True)
    exporter = DashboardExporter(
        platform, max_bars_per_symbol=max_bars_per_symbol, top_anomalies=top_anomalies, now=now
    )
    documents = exporter.build()
    files: dict[str, Path] = {}
    for kind, doc in documents.items():
        path = target / f"{kind}.json"
        write_json(path, doc)
        files[kind] = path
    data_js = target / "data.js"
    tmp = data_js.with_name(".data.js.tmp")
    payload = json.dumps(documents, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    tmp.write_text(
        "// Generated by `fin-mlops dashboard` from the lakehouse tables; do not edit.\n"
        f"window.FIN_MLOPS_DATA = {payload};\n",
        encoding="utf-8",
    )
    tmp.replace(data_js)
    files["data.js"] = data_js
    index: Path | None = None
    source = (Path(site_dir) if site_dir is not None else dashboard_source_dir()) if copy_site else None
    if source is not None and not (source / "index.html").is_file():
        raise FileNotFoundError(f"no dashboard page at {source / 'index.html'}")
    if source is not None:
        for name in ("index.html", "app.js", "styles.css"):
            shutil.copyfile(source / name, target / name)
        vendor = source / "vendor"
        if vendor.is_dir():
            shutil.copytree(vendor, target / "vendor", dirs_exist_ok=True)
        index = target / "index.html"
    elif copy_site:
        log.warning("dashboard/ page not found; wrote data only (set FIN_MLOPS_DASHBOARD_DIR)")
    return ExportResult(target, files, index, documents)
