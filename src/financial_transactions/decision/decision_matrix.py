"""The weighted decision matrix: one row per symbol, criteria scored 1-5, a ranked recommendation.

**Criteria** (raw value -> 1-5 score through the bands in ``decision.criteria``), each derived
from data the platform already has, per symbol and from that symbol's rows only. The
indicators are read from gold_trade_features, never recomputed here.

*Direction* (which way to go; :data:`~financial_transactions.config.decision.DIRECTION_CRITERIA`):

* ``trend`` – ``(sign(SMA_fast − SMA_slow) + sign(MACD histogram)) / 2`` on the symbol's latest
  gold bar, in {−1, −0.5, 0, 0.5, 1} (SMA windows = min/max of ``features.sma_windows``);
* ``momentum`` – the latest RSI (gold ``rsi``, Wilder), 0-100;
* ``backtest`` – the ``deflated_edge`` of ``backtest.strategy`` for the symbol in the latest
  *current* backtest run (``run_kind = current``: a ``--as-of-*`` replay of the past never counts
  as the latest): the deflated Sharpe ratio of its profits minus that of its losses, in [−1, 1]
  (:mod:`.performance`), so a raw Sharpe that luck among strategies × symbols explains scores
  "Inconclusive", never "Profitable" or "Losing";
* ``sentiment`` – optional, the latest score in [−1, 1] per symbol from ``decision.sentiment_table``.

*Risk and quality* (:data:`~financial_transactions.config.decision.RISK_CRITERIA`; 5 = no concern):

* ``volatility`` – the regime criterion: where the symbol's volatility now sits in its own trailing
  history (:func:`volatility_percentile`, ``decision.regime``): the mean ATR% (gold ``natr``, Wilder
  ATR / close) of its last ``window_bars`` bars ranked among the same means of the up to
  ``history_windows`` complete windows before them, a percentile in [0, 1] (share of history windows
  at or below now). Never an absolute band or a cross-asset comparison: a symbol that is always
  wild is "Calm" on a quiet day of its own, and a shift that tripled volatility ranks near 1
  ("Turbulent") until the new regime fills the history. With fewer than ``min_history_windows``
  history windows the criterion is missing (too new to judge). The other criteria are already
  relative to the symbol: trend and momentum are scale-free (signs, Wilder RSI), drift compares
  its own windows and model confidence is its own anomaly rate;
* ``model_confidence`` – the current champion's anomaly rate: share of the symbol's latest
  ``model_window_bars`` predictions *of the registry champion* that are flagged (after a
  rollback, the rolled-back-to version's own rows; without a registry champion, the model
  of the newest scoring run). It describes the market now, so in-sample bars count too;
* ``drift`` – the symbol's own drifted share of signals: :class:`DriftDetector` on that
  symbol's gold rows, with the windows of the latest drift run (``drift_monitoring``'s
  reference and current ranges; without a run, the latest ``drift.current_hours`` against the
  ``drift.reference_hours`` before them), counted per signal (near-duplicate features are one
  signal, see :mod:`~financial_transactions.monitoring.drift_detector`).

**Final score.** Weights ``wᵢ`` are the configured weights normalised over the criteria
present. The *direction score* is the weighted mean of the direction criteria's scores
(weights renormalised among them); each risk criterion then subtracts ``wᵢ·(5 − sᵢ)``:

    final = max(1, direction − Σ_risk wᵢ·(5 − sᵢ))

so risk and quality can lower a recommendation, never raise it: a calm, clean, stable
symbol keeps its direction score. **Veto:** a direction criterion in its lowest band (score 1:
a Bearish trend, a Losing backtest) caps the final score at the middle of the Hold band,
``(hold + buy) / 2``: such a symbol is never Buy, whatever else scores well. Scores are
rounded to 9 decimals before the thresholds apply, so 3.0 computed as 2.9999999999999996
is still 3.0.

**Recommendation** (``decision.thresholds``, defaults 4/3/2):
``score > strong_buy`` -> Strong Buy; ``buy <= score <= strong_buy`` -> Buy;
``hold <= score < buy`` -> Hold; ``score < hold`` -> Sell. So exactly 4.0 is Buy,
exactly 3.0 is Buy and exactly 2.0 is Hold.

**Missing criterion** (raw value absent or non-finite) is never scored as 0:

* ``missing_policy: renormalize`` – the final score uses the criteria present (weights
  re-normalised to sum to 1 over them), the row is flagged ``missing:<names>`` and its
  ``coverage`` (share of configured weight present) is below 1;
* ``missing_policy: insufficient`` – any missing criterion makes the row "Insufficient data";
* in both, fewer than ``min_criteria`` scored criteria, or no direction criterion at all,
  is "Insufficient data" (no score, no rank): risk alone says nothing about direction.

**Rank** 1 = best final score; equal scores share a rank (competition ranking 1, 2, 2, 4) and
are listed by symbol; "Insufficient data" rows are unranked and listed last.

The ``decision_matrix`` table holds, per criterion, ``<name>_raw``, ``<name>_score``,
``<name>_weight`` (the normalised weight actually used, null when missing) and
``<name>_label``; per row ``direction_score``, ``risk_penalty``, ``final_score`` and an
``explanation``: one sentence saying where the direction came from, what lowered it and
what capped it.
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

from financial_transactions.config.decision import (
    DIRECTION_CRITERIA,
    RISK_CRITERIA,
    DecisionConfig,
    RecommendationThresholds,
    RegimeConfig,
)
from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.config.monitoring import DriftConfig
from financial_transactions.decision.backtester import current_runs
from financial_transactions.decision.predictions import champion_predictions, registry_champion
from financial_transactions.decision.symbols import traded_symbols
from financial_transactions.monitoring.drift_detector import DriftDetector, default_feature_columns
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
        direction_names = [n for n in present if n in DIRECTION_CRITERIA]
        row["coverage"] = round(weight_present, SCORE_DECIMALS)
        row["criteria_scored"] = len(present)
        row["direction_score"] = None
        row["risk_penalty"] = None
        insufficient = (
            len(present) < cfg.min_criteria
            or weight_present <= 0
            or not direction_names
            or (cfg.missing_policy == "insufficient" and bool(missing))
        )
        flags = [f"missing:{','.join(missing)}"] if missing else []
        if insufficient:
            row["final_score"] = None
            row["recommendation"] = INSUFFICIENT
            need = "all criteria" if cfg.missing_policy == "insufficient" else f"{cfg.min_criteria}"
            if present and not direction_names:
                need += " and a direction criterion"
            row["explanation"] = (
                f"{INSUFFICIENT}: {len(present)} of {len(names)} criteria scored (needs {need}); "
                f"missing {', '.join(missing)}."
            )
            flags.append("insufficient")
        else:
            used = {n: weights[n] / weight_present for n in present}
            for n, w in used.items():
                row[f"{n}_weight"] = round(w, SCORE_DECIMALS)
            outcome = combine({n: sc for n, (sc, _) in present.items()}, used, cfg.thresholds)
            row["direction_score"] = outcome.direction
            row["risk_penalty"] = outcome.penalty
            row["final_score"] = outcome.final
            row["recommendation"] = recommend(outcome.final, cfg.thresholds)
            row["explanation"] = _explain(row["recommendation"], outcome, present, used, missing)
            if outcome.vetoed_by:
                flags.append(f"capped:{','.join(outcome.vetoed_by)}")
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
    for col in ("direction_score", "risk_penalty", "final_score"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    scores = out["final_score"]
    out["rank"] = scores.rank(method="min", ascending=False).astype("Int64")
    out = out.assign(_s=scores.fillna(-np.inf)).sort_values(["_s", "symbol"], ascending=[False, True], kind="stable")
    return out.drop(columns="_s").reset_index(drop=True)


#: The score of a risk criterion with no concern: it subtracts nothing.
NO_CONCERN = 5


@dataclass(frozen=True)
class Outcome:
    """How one row's final score came about (see the module docstring)."""

    direction: float
    penalty: float
    final: float
    vetoed_by: tuple[str, ...] = ()  # direction criteria in their lowest band that capped the score


def combine(scores: Mapping[str, int], used: Mapping[str, float], thresholds: RecommendationThresholds) -> Outcome:
    """Direction score, risk penalty and the final score of one row's criterion scores.

    ``used`` are the normalised weights of the criteria present. The final score never
    exceeds the direction score, and a direction criterion scored 1 caps it at the
    middle of the Hold band.
    """
    direction_names = [n for n in scores if n in DIRECTION_CRITERIA]
    if not direction_names:
        raise ValueError("a recommendation needs at least one direction criterion")
    dir_weight = sum(used[n] for n in direction_names)
    direction = sum(used[n] * scores[n] for n in direction_names) / dir_weight
    penalty = sum(used[n] * (NO_CONCERN - scores[n]) for n in scores if n in RISK_CRITERIA)
    final = max(1.0, direction - penalty)
    vetoed_by = tuple(n for n in direction_names if scores[n] <= 1)
    cap = (thresholds.hold + thresholds.buy) / 2.0
    if vetoed_by and final > cap:
        final = cap
    else:
        vetoed_by = ()
    return Outcome(
        round(direction, SCORE_DECIMALS), round(penalty, SCORE_DECIMALS), round(final, SCORE_DECIMALS), vetoed_by
    )


def _explain(
    recommendation: str,
    outcome: Outcome,
    present: Mapping[str, tuple[int, str]],
    used: Mapping[str, float],
    missing: list[str],
) -> str:
    """One sentence: where the direction came from, what risk took off, what capped it, what was missing."""

    def named(n: str) -> str:
        return f"{n} {present[n][1] or present[n][0]}"

    directions = sorted((n for n in present if n in DIRECTION_CRITERIA), key=lambda n: (-used[n], n))
    text = (
        f"{recommendation} at {outcome.final:.2f}: direction {outcome.direction:.2f} from "
        f"{', '.join(named(n) for n in directions)}"
    )
    risks = sorted(
        (n for n in present if n in RISK_CRITERIA and present[n][0] < NO_CONCERN),
        key=lambda n: (-used[n] * (NO_CONCERN - present[n][0]), n),
    )
    if risks:
        text += f", lowered {outcome.penalty:.2f} by {', '.join(named(n) for n in risks)}"
    elif any(n in RISK_CRITERIA for n in present):
        text += ", no risk concern"
    if outcome.vetoed_by:
        text += f", capped at Hold by {', '.join(named(n) for n in outcome.vetoed_by)}"
    if missing:
        text += f"; {', '.join(missing)} missing (weights re-normalised)"
    return text + "."


# -- raw criteria from platform data ---------------------------------------------------------------
def market_columns(features: FeaturesConfig) -> list[str]:
    """The gold indicator columns the market criteria read (named by the features config)."""
    fast, slow = min(features.sma_windows), max(features.sma_windows)
    smas = [f"sma_{fast}", f"sma_{slow}"] if fast != slow else []
    return [*smas, "macd_hist", "rsi", "natr"]


def volatility_percentile(natr: np.ndarray, regime: RegimeConfig) -> float:
    """Share of the trailing history windows whose mean ATR% is at or below the current window's.

    ``natr`` is one symbol's time-ordered ATR% (warm-up NaNs are dropped). The current window is
    the last ``window_bars`` values, the history the up to ``history_windows`` complete windows of
    ``window_bars`` values right before it (older values beyond a whole window are left out).
    NaN when the history holds fewer than ``min_history_windows`` windows.
    """
    values = np.asarray(natr, dtype=np.float64)
    values = values[np.isfinite(values)]
    w = regime.window_bars
    n_hist = min(regime.history_windows, (values.size - w) // w) if values.size > w else 0
    if n_hist < regime.min_history_windows:
        return math.nan
    now = float(values[-w:].mean())
    history = values[values.size - w * (n_hist + 1) : values.size - w].reshape(n_hist, w).mean(axis=1)
    return float(np.mean(history <= now))


def market_criteria(
    bars: pd.DataFrame, features: FeaturesConfig, min_bars: int, regime: RegimeConfig | None = None
) -> dict[str, float]:
    """trend, volatility and momentum from one symbol's time-ordered gold rows.

    The indicators are gold's own columns (the feature code computes them once, TA-Lib
    conventions): ``sma_<fast>``/``sma_<slow>``, ``macd_hist``, ``rsi`` and ``natr``
    (ATR as a percentage of close). Fewer than ``min_bars`` rows, or a warm-up NaN on
    the latest bar, leaves the criterion missing; volatility needs the history ``regime``
    asks for (:func:`volatility_percentile`; default :class:`RegimeConfig`).
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
    if natr.size and math.isfinite(natr[-1]):
        out["volatility"] = volatility_percentile(natr, regime or RegimeConfig())
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


#: The ``backtest_results`` column the backtest criterion scores (see :mod:`.performance`).
BACKTEST_STATISTIC = "deflated_edge"

Window = tuple[pd.Timestamp, pd.Timestamp]


def drift_windows(runs: pd.DataFrame | None, bar_start: pd.Series, cfg: DriftConfig) -> tuple[Window, Window]:
    """(reference, current) time ranges ``[start, end)``: the latest drift run's, else the recent default.

    The recent default is anchored on the newest bar: the latest ``drift.current_hours``
    against the ``drift.reference_hours`` before them (as ``fin-mlops drift --recent``).
    """
    cols = ("reference_start", "reference_end", "current_start", "current_end")
    if runs is not None and not runs.empty and all(c in runs.columns for c in cols):
        last = _latest_run(runs).iloc[0]
        bounds = [pd.Timestamp(last[c]) if not pd.isna(last[c]) else None for c in cols]
        if all(b is not None for b in bounds):
            rs, re_, cs, ce = (_utc(b) for b in bounds if b is not None)
            return (rs, re_), (cs, ce)
    end = _utc(pd.Timestamp(pd.to_datetime(bar_start, utc=True).max())) + pd.Timedelta(microseconds=1)
    split = end - pd.Timedelta(hours=cfg.current_hours)
    return (split - pd.Timedelta(hours=cfg.reference_hours), split), (split, end)


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def symbol_drift(
    gold: pd.DataFrame, features: list[str], windows: tuple[Window, Window], cfg: DriftConfig
) -> dict[str, float]:
    """Each symbol's drifted share of signals between the two windows of its own gold rows.

    A symbol whose windows are too thin for every signal (``drift.min_rows``) gets no value.
    """
    (rs, re_), (cs, ce) = windows
    detector = DriftDetector(cfg.model_copy(update={"threads": 1}))
    present = [f for f in features if f in gold.columns]
    times = pd.to_datetime(gold["bar_start"], utc=True)
    out: dict[str, float] = {}
    if not present:
        return out
    for symbol, rows in gold.groupby("symbol", sort=True):
        t = times.loc[rows.index]
        reference = rows.loc[(t >= rs) & (t < re_), present]
        current = rows.loc[(t >= cs) & (t < ce), present]
        if reference.empty or current.empty:
            continue
        report = detector.compare(reference, current, present)
        if report.overall != "insufficient_data":
            out[str(symbol)] = report.drifted_share
    return out


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

        drift_features = self._drift_features() if "drift" in d.criteria else []
        head = ["symbol", "asset_class", "bar_start"]
        wanted = list(dict.fromkeys([*head, *market_columns(self.cfg.features), *drift_features]))
        gold, sources["gold_trade_features"] = self._read("gold_trade_features", wanted)
        classes = traded_symbols(gold, self.cfg)  # a user's file brings its own symbols
        symbols = list(classes)
        values: dict[str, dict[str, float]] = {s: dict.fromkeys(d.criteria, math.nan) for s in symbols}
        if gold is not None:
            gold = gold.sort_values(["symbol", "bar_start"], kind="stable")
            for symbol, bars in gold.groupby("symbol", sort=False):
                if str(symbol) in values:
                    recent = bars.tail(max(d.lookback_bars, d.regime.bars_needed))
                    market = market_criteria(recent, self.cfg.features, d.min_bars, d.regime)
                    for key, value in market.items():
                        put(symbol, key, value)

        if "backtest" in d.criteria:
            bt, sources["backtest_results"] = self._read("backtest_results")
            if bt is not None and not bt.empty and BACKTEST_STATISTIC in bt.columns:
                latest = _latest_run(current_runs(bt))  # an --as-of-* replay is history, never the latest view
                chosen = latest[latest["strategy"] == self.cfg.backtest.strategy]
                for rec in chosen.to_dict("records"):
                    put(rec["symbol"], "backtest", rec[BACKTEST_STATISTIC])

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

        if "drift" in d.criteria and gold is not None and not gold.empty:
            runs, sources["drift_monitoring"] = self._read("drift_monitoring")
            windows = drift_windows(runs, gold["bar_start"], self.cfg.drift)
            for sym_drift, value in symbol_drift(gold, drift_features, windows, self.cfg.drift).items():
                put(sym_drift, "drift", value)

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

    def _drift_features(self) -> list[str]:
        """The features the drift criterion compares: ``drift.features``, else the model's inputs."""
        return list(self.cfg.drift.features) or default_feature_columns(self.cfg.features) or []

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
