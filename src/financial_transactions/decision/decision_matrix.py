"""The weighted decision matrix: one row per symbol, criteria scored 1-5, a ranked recommendation.

**Criteria** (raw value -> 1-5 score through the bands in ``decision.criteria``), each derived
from data the platform already has:

* ``trend`` – ``(sign(SMA_fast − SMA_slow) + sign(MACD histogram)) / 2`` on the symbol's latest
  gold bar, in {−1, −0.5, 0, 0.5, 1} (SMA windows = min/max of ``features.sma_windows``);
* ``volatility`` – percentile (0-1) of the latest ATR% (gold ``natr``, Wilder ATR / close) within
  the symbol's own last ``lookback_bars``: a regime, not a cross-asset comparison;
* ``momentum`` – the latest RSI (gold ``rsi``, Wilder), 0-100;

The indicators are read from gold_trade_features, never recomputed here.
* ``backtest`` – Sharpe of ``backtest.strategy`` for the symbol in the latest *current* backtest run
  (``run_kind = current``: a ``--as-of-*`` replay of the past never counts as the latest);
* ``model_confidence`` – the current champion's anomaly rate: share of the symbol's latest
  ``model_window_bars`` predictions *of the registry champion* that are flagged (after a
  rollback, the rolled-back-to version's own rows; without a registry champion, the model
  of the newest scoring run). It describes the market now, so in-sample bars count too;
* ``drift`` – median PSI over the features of the latest drift run (per symbol when the table
  has a ``symbol`` column): a median, so one noisy feature does not condemn every symbol;
* ``sentiment`` – optional, the latest score in [−1, 1] per symbol from ``decision.sentiment_table``.

**Final score** ``Σ wᵢ·sᵢ / Σ wᵢ`` over the scored criteria, with ``wᵢ`` the configured weights
normalised over the enabled criteria. It is rounded to 9 decimals before the thresholds are
applied, so 3.0 computed as 2.9999999999999996 is still 3.0.

**Recommendation** (``decision.thresholds``, defaults 4/3/2):
``score > strong_buy`` -> Strong Buy; ``buy <= score <= strong_buy`` -> Buy;
``hold <= score < buy`` -> Hold; ``score < hold`` -> Sell. So exactly 4.0 is Buy,
exactly 3.0 is Buy and exactly 2.0 is Hold.

**Missing criterion** (raw value absent or non-finite) is never scored as 0:

* ``missing_policy: renormalize`` – the final score uses the criteria present (weights
  re-normalised to sum to 1 over them), the row is flagged ``missing:<names>`` and its
  ``coverage`` (share of configured weight present) is below 1;
* ``missing_policy: insufficient`` – any missing criterion makes the row "Insufficient data";
* in both, fewer than ``min_criteria`` scored criteria is "Insufficient data" (no score, no rank).

**Rank** 1 = best final score; equal scores share a rank (competition ranking 1, 2, 2, 4) and
are listed by symbol; "Insufficient data" rows are unranked and listed last.

The ``decision_matrix`` table holds, per criterion, ``<name>_raw``, ``<name>_score``,
``<name>_weight`` (the weight actually used, null when missing) and ``<name>_label``.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config.decision import DecisionConfig, RecommendationThresholds
from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.decision.backtester import current_runs
from financial_transactions.decision.predictions import champion_predictions, registry_champion
from financial_transactions.decision.symbols import traded_symbols
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

STRONG_BUY = "Strong Buy"
BUY = "Buy"
HOLD = "Hold"
SELL = "Sell"
INSUFFICIENT = "Insufficient data"
RECOMMENDATIONS = (STRONG_BUY, BUY, HOLD, SELL, INSUFFICIENT)
SCORE_DECIMALS = 9


def recommend(score: float, thresholds: RecommendationThresholds) -> str:
    """Map a final score to a recommendation; see the module docstring for the boundary rules."""
    if not math.isfinite(score):
        return INSUFFICIENT
    s = round(score, SCORE_DECIMALS)
    if s > thresholds.strong_buy:
        return STRONG_BUY
    if s >= thresholds.buy:
        return BUY
    if s >= thresholds.hold:
        return HOLD
    return SELL


def _present(value: Any) -> bool:
    if value is None or value is pd.NA:
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def score_matrix(raw: pd.DataFrame, cfg: DecisionConfig) -> pd.DataFrame:
    """Score, weigh, rank and explain ``raw`` (one row per symbol, one column per criterion).

    ``raw`` needs ``symbol`` and may carry ``asset_class``; an enabled criterion whose
    column is absent counts as missing for every row.
    """
    weights = cfg.normalized_weights()
    names = list(weights)
    rows: list[dict[str, Any]] = []
    for rec in raw.to_dict("records"):
        row: dict[str, Any] = {"symbol": rec["symbol"], "asset_class": rec.get("asset_class")}
        present: dict[str, tuple[int, str]] = {}
        for name in names:
            value = rec.get(name)
            crit = cfg.criteria[name]  # type: ignore[index]
            if value is not None and _present(value):
                band = crit.band_for(float(value))
                present[name] = (band.score, band.label)
                row[f"{name}_raw"] = float(value)
                row[f"{name}_score"] = band.score
                row[f"{name}_label"] = band.label
            else:
                row[f"{name}_raw"] = None
                row[f"{name}_score"] = None
                row[f"{name}_label"] = "missing"
            row[f"{name}_weight"] = None
        missing = [n for n in names if n not in present]
        weight_present = sum(weights[n] for n in present)
        row["coverage"] = round(weight_present, SCORE_DECIMALS)
        row["criteria_scored"] = len(present)
        insufficient = (
            len(present) < cfg.min_criteria
            or weight_present <= 0
            or (cfg.missing_policy == "insufficient" and bool(missing))
        )
        flags = [f"missing:{','.join(missing)}"] if missing else []
        if insufficient:
            row["final_score"] = None
            row["recommendation"] = INSUFFICIENT
            need = "all criteria" if cfg.missing_policy == "insufficient" else f"{cfg.min_criteria}"
            row["explanation"] = (
                f"{INSUFFICIENT}: {len(present)} of {len(names)} criteria scored (needs {need}); "
                f"missing {', '.join(missing)}"
            )
            flags.append("insufficient")
        else:
            used = {n: weights[n] / weight_present for n in present}
            final = round(sum(used[n] * present[n][0] for n in present), SCORE_DECIMALS)
            for n, w in used.items():
                row[f"{n}_weight"] = round(w, SCORE_DECIMALS)
            row["final_score"] = final
            row["recommendation"] = recommend(final, cfg.thresholds)
            row["explanation"] = _explain(row["recommendation"], final, present, used, missing)
            if missing:
                flags.append("renormalized")
        row["flags"] = ";".join(flags)
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    for name in names:
        out[f"{name}_score"] = pd.array(out[f"{name}_score"].tolist(), dtype="Int64")
        for suffix in ("_raw", "_weight"):
            out[f"{name}{suffix}"] = pd.to_numeric(out[f"{name}{suffix}"], errors="coerce").astype("float64")
    out["final_score"] = pd.to_numeric(out["final_score"], errors="coerce").astype("float64")
    scores = out["final_score"]
    out["rank"] = scores.rank(method="min", ascending=False).astype("Int64")
    out = out.assign(_s=scores.fillna(-np.inf)).sort_values(["_s", "symbol"], ascending=[False, True], kind="stable")
    return out.drop(columns="_s").reset_index(drop=True)


def _explain(
    recommendation: str,
    final: float,
    present: Mapping[str, tuple[int, str]],
    used: Mapping[str, float],
    missing: list[str],
) -> str:
    """One line: the two biggest contributions, the weakest criterion, and what was missing."""
    contrib = sorted(present, key=lambda n: (-used[n] * present[n][0], n))
    lead = ", ".join(f"{n} {present[n][1] or present[n][0]} ({present[n][0]}×{used[n]:.2f})" for n in contrib[:2])
    text = f"{recommendation} {final:.2f}: led by {lead}"
    weakest = min(present, key=lambda n: (present[n][0], -used[n], n))
    if weakest not in contrib[:2]:
        text += f"; weakest {weakest} {present[weakest][1] or present[weakest][0]} ({present[weakest][0]})"
    if missing:
        text += f"; missing {', '.join(missing)} (weights re-normalised)"
    return text


# -- raw criteria from platform data ---------------------------------------------------------------
def market_columns(features: FeaturesConfig) -> list[str]:
    """The gold indicator columns the market criteria read (named by the features config)."""
    fast, slow = min(features.sma_windows), max(features.sma_windows)
    smas = [f"sma_{fast}", f"sma_{slow}"] if fast != slow else []
    return [*smas, "macd_hist", "rsi", "natr"]


def market_criteria(bars: pd.DataFrame, features: FeaturesConfig, min_bars: int) -> dict[str, float]:
    """trend, volatility and momentum from one symbol's time-ordered gold rows.

    The indicators are gold's own columns (the feature code computes them once, TA-Lib
    conventions): ``sma_<fast>``/``sma_<slow>``, ``macd_hist``, ``rsi`` and ``natr``
    (ATR as a percentage of close). Fewer than ``min_bars`` rows, or a warm-up NaN on
    the latest bar, leaves the criterion missing.
    """
    out = {"trend": math.nan, "volatility": math.nan, "momentum": math.nan}
    if len(bars) < min_bars:
        return out
    last = bars.iloc[-1]
    cols = market_columns(features)
    gaps = [float(last[cols[0]]) - float(last[cols[1]])] if cols[0].startswith("sma_") else []
    gaps.append(float(last["macd_hist"]))
    if all(math.isfinite(v) for v in gaps):
        out["trend"] = float(np.mean(np.sign(gaps)))
    out["momentum"] = float(last["rsi"]) if _present(last["rsi"]) else math.nan
    natr = pd.to_numeric(bars["natr"], errors="coerce").to_numpy(dtype=np.float64)
    history = natr[np.isfinite(natr)]
    if history.size >= 2 and math.isfinite(natr[-1]):
        out["volatility"] = float(np.mean(history <= natr[-1]))
    return out


def _pick(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


_TIME_COLUMNS = ("created_at", "computed_at", "evaluated_at", "run_ts", "timestamp")


def _latest_run(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the newest run (by its time column, else the last run id written)."""
    run_col = _pick(df, "run_id", "drift_run_id")
    if run_col is None or df.empty:
        return df
    time_col = _pick(df, *_TIME_COLUMNS)
    if time_col is not None:
        times = pd.to_datetime(df[time_col], utc=True, errors="coerce")
        if times.notna().any():
            return df[df[run_col] == df.loc[times.idxmax(), run_col]]
    return df[df[run_col] == df[run_col].iloc[-1]]


@dataclass
class DecisionResult:
    run_id: str
    created_at: datetime
    matrix: pd.DataFrame
    sources: dict[str, int | None]
    version: int | None = None


class DecisionMatrix:
    """Derives the criteria of every configured symbol from the lakehouse and scores them."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.cfg = platform.config
        self.store = platform.store

    def _read(self, key_or_fqn: str, columns: list[str] | None = None) -> tuple[pd.DataFrame | None, int | None]:
        fqn = key_or_fqn if key_or_fqn.count(".") == 2 else self.cfg.table(key_or_fqn)
        if not self.store.exists(fqn):
            return None, None
        version = self.store.version(fqn)
        return self.store.read(fqn, version=version, columns=columns), version

    def gather(self) -> tuple[pd.DataFrame, dict[str, int | None]]:
        """Raw criterion values per symbol (NaN = missing) and the table versions read."""
        d = self.cfg.decision
        sources: dict[str, int | None] = {}

        def put(symbol: Any, name: str, value: Any) -> None:
            if str(symbol) in values and name in d.criteria and _present(value):
                values[str(symbol)][name] = float(value)

        gold, sources["gold_trade_features"] = self._read(
            "gold_trade_features", ["symbol", "asset_class", "bar_start", *market_columns(self.cfg.features)]
        )
        classes = traded_symbols(gold, self.cfg)  # a user's file brings its own symbols
        symbols = list(classes)
        values: dict[str, dict[str, float]] = {s: dict.fromkeys(d.criteria, math.nan) for s in symbols}
        if gold is not None:
            gold = gold.sort_values(["symbol", "bar_start"], kind="stable")
            for symbol, bars in gold.groupby("symbol", sort=False):
                if str(symbol) in values:
                    market = market_criteria(bars.tail(d.lookback_bars), self.cfg.features, d.min_bars)
                    for key, value in market.items():
                        put(symbol, key, value)

        if "backtest" in d.criteria:
            bt, sources["backtest_results"] = self._read("backtest_results")
            if bt is not None and not bt.empty and "sharpe" in bt.columns:
                latest = _latest_run(current_runs(bt))  # an --as-of-* replay is history, never the latest view
                chosen = latest[latest["strategy"] == self.cfg.backtest.strategy]
                for rec in chosen.to_dict("records"):
                    put(rec["symbol"], "backtest", rec["sharpe"])

        if "model_confidence" in d.criteria:
            preds, sources["synthesized_predictions"] = self._read(
                "synthesized_predictions", ["symbol", "bar_start", "model_version", "label", "scored_at"]
            )
            if preds is not None and not preds.empty:
                champion_rows, _ = champion_predictions(preds, registry_champion(self.platform))
                recent = champion_rows.groupby("symbol").tail(d.model_window_bars)
                rate = recent.groupby("symbol")["label"].mean()
                for sym_rate, value in rate.items():
                    put(sym_rate, "model_confidence", value)

        if "drift" in d.criteria:
            drift, sources["drift_monitoring"] = self._read("drift_monitoring")
            if drift is not None and not drift.empty and "psi" in drift.columns:
                latest = _latest_run(drift)
                psi = pd.to_numeric(latest["psi"], errors="coerce")
                if "symbol" in latest.columns:
                    per_symbol = psi.groupby(latest["symbol"]).median()
                    for sym_drift, value in per_symbol.items():
                        put(sym_drift, "drift", value)
                elif psi.notna().any():
                    for sym in symbols:
                        put(sym, "drift", psi.median())

        if "sentiment" in d.criteria and d.sentiment_table:
            fqn = d.sentiment_table if d.sentiment_table.count(".") == 2 else f"{self.cfg.catalog}.{d.sentiment_table}"
            sent, sources[fqn] = self._read(fqn)
            if sent is not None and not sent.empty:
                score_col = _pick(sent, "score", "sentiment", "sentiment_score")
                if score_col is None or "symbol" not in sent.columns:
                    raise ValueError(f"{fqn} needs columns symbol and score (or sentiment)")
                time_col = _pick(sent, "as_of", "ts", "published_at", *_TIME_COLUMNS)
                if time_col is not None:
                    sent = sent.assign(_t=pd.to_datetime(sent[time_col], utc=True, errors="coerce")).sort_values("_t")
                last = sent.groupby("symbol")[score_col].last()
                for sym_sent, value in last.items():
                    put(sym_sent, "sentiment", value)
        raw = pd.DataFrame([{"symbol": s, "asset_class": classes[s], **values[s]} for s in symbols])
        return raw, sources

    def build(self) -> DecisionResult:
        raw, sources = self.gather()
        matrix = score_matrix(raw, self.cfg.decision)
        run_id = uuid.uuid4().hex[:16]
        created_at = datetime.now(UTC)
        matrix.insert(0, "created_at", created_at)
        matrix.insert(0, "run_id", run_id)
        matrix["missing_policy"] = self.cfg.decision.missing_policy
        matrix["backtest_strategy"] = self.cfg.backtest.strategy
        for key in ("gold_trade_features", "backtest_results", "synthesized_predictions", "drift_monitoring"):
            matrix[f"{key}_version"] = pd.array([sources.get(key)] * len(matrix), dtype="Int64")
        return DecisionResult(run_id, created_at, matrix, sources)

    def write(self, result: DecisionResult) -> int:
        result.version = self.store.append(self.cfg.table("decision_matrix"), result.matrix)
        return result.version
