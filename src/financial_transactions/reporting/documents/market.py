"""``market.json``: OHLCV bars per symbol with the model's flags and the replay's ground truth, and the top anomalies.

Bars come from ``gold_trade_features``; symbols gold does not have (Alpha Vantage bars) come from
``silver_bars`` at the configured interval. Ground truth is the replay's
``<landing>/_ground_truth/<window>/anomalies.ndjson``, floored to the bar interval.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.reporting.documents.common import (
    ExportContext,
    Section,
    guard,
    missing,
    raw_rows,
    symbol_order,
)
from financial_transactions.reporting.documents.predictions import KEY as PREDICTIONS
from financial_transactions.reporting.documents.predictions import Predictions
from financial_transactions.reporting.frames import epoch_seconds, iso, num, sig, to_utc
from financial_transactions.reporting.sources import Sources

#: The bar columns gold and silver_bars share.
BAR_COLUMNS = ("symbol", "bar_start", "open", "high", "low", "close", "volume", "asset_class")
#: The fields of a ground-truth line (``replay.market``) the panel uses.
TRUTH_FIELDS = ["symbol", "ts", "anomaly_type"]


def build(ctx: ExportContext, *, max_bars_per_symbol: int, top_anomalies: int) -> dict[str, Any]:
    src, cfg = ctx.sources, ctx.cfg
    bars = guard("bars", {"symbols": []}, lambda: market_bars(src, cfg, ctx.predictions(), max_bars_per_symbol))
    top = guard("top_anomalies", [], lambda: top_scored(src, cfg, ctx.predictions(), top_anomalies))
    return ctx.document(
        "market",
        {"bars": bars, "top_anomalies": top},
        bar_interval=cfg.features.bar_interval,
        prediction_model_version=ctx.prediction_version,
    )


def bar_freq(interval: str) -> str:
    """``features.bar_interval`` ("1min", "30s", "1h") is already a pandas frequency."""
    return interval.strip()


def ground_truth(src: Sources, cfg: ProjectConfig) -> tuple[pd.DataFrame, list[str]]:
    """Every injected anomalous trade with the bar it falls in; and the files read."""
    files = src.ground_truth_files()
    frame = pd.DataFrame(src.ndjson(files), columns=TRUTH_FIELDS)
    if not frame.empty:
        frame["bar"] = to_utc(frame["ts"]).dt.floor(bar_freq(cfg.features.bar_interval))
    return frame, [str(f) for f in files]


def market_bars(src: Sources, cfg: ProjectConfig, preds: Predictions, max_bars: int) -> Section:
    gold = src.read("gold_trade_features", BAR_COLUMNS)
    silver_bars = src.read("silver_bars", (*BAR_COLUMNS, "interval"))
    sources = [src.fqn("gold_trade_features"), src.fqn("silver_bars")]
    frames = []
    if gold is not None and not gold.empty:
        frames.append(gold.assign(_origin="gold"))
    if silver_bars is not None and not silver_bars.empty:
        sb = silver_bars[silver_bars["interval"].astype(str) == cfg.collectors.alphavantage.interval]
        have = set(gold["symbol"].astype(str)) if gold is not None and not gold.empty else set()
        frames.append(sb[~sb["symbol"].astype(str).isin(have)].assign(_origin="silver_bars"))
    if not frames:
        return missing({"symbols": []}, sources, "no bars yet (run fin-mlops pipeline)")
    bars = pd.concat(frames, ignore_index=True)
    bars = bars.dropna(subset=["bar_start", "open", "high", "low", "close"])
    bars["_t"] = epoch_seconds(bars["bar_start"])
    truth, truth_files = ground_truth(src, cfg)
    sources += [src.fqn(PREDICTIONS), *truth_files]
    flags_by_symbol = model_flags(preds.frame)
    truth_by_symbol: dict[str, list[dict[str, Any]]] = {}
    if not truth.empty:
        truth["_t"] = epoch_seconds(truth["bar"])
        for (symbol, t), grp in truth.groupby(["symbol", "_t"], sort=True):  # type: ignore[misc]
            types = sorted({str(v) for v in grp["anomaly_type"].dropna()})
            truth_by_symbol.setdefault(str(symbol), []).append({"t": int(str(t)), "types": types, "trades": len(grp)})
    symbols: list[dict[str, Any]] = []
    for symbol in symbol_order(set(bars["symbol"].astype(str)), list(cfg.symbols.all)):
        grp = bars[bars["symbol"].astype(str) == symbol].sort_values("_t").drop_duplicates("_t", keep="last")
        total = len(grp)
        grp = grp.tail(max_bars)
        first_t = int(grp["_t"].iloc[0])
        asset = (
            str(grp["asset_class"].dropna().iloc[0])
            if grp["asset_class"].notna().any()
            else cfg.symbols.asset_class(symbol)
        )
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
                    "v": [sig(v) for v in grp["volume"]],
                },
                "model_flags": [f for f in flags_by_symbol.get(symbol, []) if f["t"] >= first_t],
                "ground_truth": [g for g in truth_by_symbol.get(symbol, []) if g["t"] >= first_t],
            }
        )
    return Section("ok", {"symbols": symbols}, sources)


def model_flags(preds: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
    """Bars the model flagged (stored label 1: the score reached the model's threshold), per symbol."""
    out: dict[str, list[dict[str, Any]]] = {}
    if preds is None or preds.empty:
        return out
    frame = preds[preds["label"].fillna(0).astype(float) >= 0.5]
    frame = frame.assign(_t=epoch_seconds(frame["bar_start"]))
    for row in raw_rows(frame.sort_values("_t")):
        out.setdefault(str(row["symbol"]), []).append({"t": int(row["_t"]), "score": num(row["score"], 6)})
    return out


def top_scored(src: Sources, cfg: ProjectConfig, preds: Predictions, top_n: int) -> Section:
    """The ``top_n`` highest-scored bars, each marked with whether the replay injected an anomaly there."""
    fqn = src.fqn(PREDICTIONS)
    if preds.frame is None:
        return missing([], [fqn], f"{fqn} does not exist yet (run fin-mlops backtest)")
    frame = preds.frame
    top = frame.assign(_score=frame["score"].astype(float)).nlargest(top_n, "_score")
    truth, files = ground_truth(src, cfg)
    truth_keys: dict[tuple[str, pd.Timestamp], list[str]] = {}
    if not truth.empty:
        for (symbol, bar), grp in truth.groupby(["symbol", "bar"]):  # type: ignore[misc]
            truth_keys[(str(symbol), pd.Timestamp(str(bar)))] = sorted({str(v) for v in grp["anomaly_type"].dropna()})
    freq = bar_freq(cfg.features.bar_interval)
    rows: list[dict[str, Any]] = []
    for row in raw_rows(top):
        bar = to_utc(pd.Series([row["bar_start"]])).dt.floor(freq).iloc[0]
        types = truth_keys.get((str(row["symbol"]), bar))
        rows.append(
            {
                "symbol": str(row["symbol"]),
                "bar_start": iso(bar),
                "t": int(bar.timestamp()),
                "score": num(row["_score"], 6),
                "flagged": bool(float(row["label"]) >= 0.5) if pd.notna(row["label"]) else None,
                "model_version": preds.version,
                "ground_truth": (types is not None) if files else None,
                "anomaly_types": types or [],
            }
        )
    return Section("ok" if rows else "empty", rows, [fqn, *files])
