"""Vectorised backtests of SMA-cross, MACD and follow-the-model strategies on gold bars.

Mechanics (one numpy pass per symbol and strategy, no per-bar Python loop):

* **signal at t** uses only bars ``<= t`` (TA-Lib SMA/MACD, or the stored prediction of
  bar t); **the position held during bar t is the signal of bar t-1** (it acts on the
  NEXT bar): ``pos[t] = signal[t-1]``, ``pos[0] = 0``. A bar's return is close-to-close,
  ``r[t] = close[t]/close[t-1] − 1``, so the trade is filled at the close the signal saw
  and earns only later moves. Changing prices from bar k on cannot change ``pos[:k+1]``.
* **costs**: every unit of turnover ``|pos[t] − pos[t−1]|`` pays
  ``(commission_bps + slippage_bps) / 10⁴`` in bar t: ``net[t] = pos[t]·r[t] − turnover[t]·cost``.
* **modes**: ``long_flat`` holds +1/0, ``long_short`` holds +1/−1 (0 during warm-up).
* **equity** ``E[t] = Π_{i≤t}(1 + net[i])`` starts at 1.0 on the first bar; metrics use the
  ``n−1`` periodic returns after it (see :mod:`.performance` for the conventions).
* **annualisation** from the bars that actually exist. Returns stay per bar (aggregating
  to the day would leave a two-day replay with two returns and no statistics), and
  ``N = days · bars_per_day`` with ``days`` = ``backtest.periods_per_year_equity`` (252) or
  ``backtest.periods_per_year_crypto`` (365) and ``bars_per_day`` = the symbol's bars over the
  trading dates they fall on (New York calendar dates, :func:`trading_dates`),
  rounded, at most the nominal ``ceil(session / interval)`` (``session``: 1440 min for crypto;
  for equities ``backtest.equity_session``, ``extended`` 04:00–20:00 New York = 960 min or
  ``regular`` 390 min). Bars exist only where trades happened (about 802 a day, not 960,
  on the default replay), so a nominal N would overstate every annualised figure by about
  √(960/802) ≈ 1.09. A day the data covers only in part counts as a whole day, which
  understates N; the decision statistics (``psr``, ``dsr``, ``deflated_edge``) are per bar
  and do not depend on N at all. Daily bars give 1 bar a day (N = 252 / 365).
* **benchmark**: every backtested symbol also gets a ``buy_and_hold`` row over exactly the same
  bars and costs: signal +1 on every bar, so (as for any strategy) the position starts flat on the
  first bar, goes long from the second and pays one unit of entry turnover; no exit cost (no
  strategy pays one at the end either). Every row carries ``benchmark_return``, that benchmark's
  total return, so ``total_return − benchmark_return`` is the strategy's excess over holding the
  symbol. The benchmark is not one of the ``N_trials`` (nothing was selected from it).
* **CAGR only when the period supports it**: ``years`` = the trading dates the bars cover
  (:func:`trading_dates`) / trading days per year (252 equities, 365 crypto). Below
  ``backtest.cagr_min_years`` (1.0) ``cagr`` and ``calmar`` are null and the total return over
  the period is the figure to read: compounding six days of minute bars to a year turns a −1%
  week into about −40% a year (and a bad week into −99.9%), which is noise, not a growth rate.
* **statistics** (:mod:`.performance`): the Sharpe's standard error and t-statistic, the
  probabilistic Sharpe ratio and the deflated Sharpe ratio with ``N_trials`` = the number of
  (strategy, symbol) backtests of the run (every one is a chance to look lucky), and the
  ``deflated_edge`` the decision matrix scores. A strategy is *profitable* when its
  ``deflated_edge`` reaches the decision's "Profitable" band (0.95 by default): a no-edge
  strategy gets there in well under 5% of runs (``tests/decision/test_backtest_statistics.py``),
  where a raw annualised Sharpe of 1-minute bars is noise with a standard deviation near 8.

Strategies: ``buy_and_hold`` (the benchmark, above), ``sma_cross`` (+1 when SMA(fast) > SMA(slow),
−1 when below), ``macd``
(+1 when the MACD line is above its signal line, −1 below; 12/26/9 from the features
config) and ``model`` ("follow the model": long while the champion sees no anomaly in the
last ``model_cooldown_bars`` bars; after a flagged bar it stands aside (long_flat) or
fades the flagged bar's move (long_short); a bar without a usable prediction is flat,
the model cannot vouch for it).

**The model strategy trades on out-of-sample predictions only.** It follows one model:
the registry's current champion (a replay of the past: the model of the snapshot's newest
scoring run; see :func:`~financial_transactions.decision.predictions.champion_predictions`).
A prediction of bar t is usable only if ``t > train_cutoff + split.embargo_minutes``, the
cutoff being the newest bar that model was trained on (recorded on every prediction row),
the embargo the same gap the train/test split leaves for forward-looking labels. Bars the
model was trained on therefore never get a model position; the ``exposure`` metric shows
how much of the replay was traded.

Time travel: :meth:`Backtester.run` reads ``synthesized_predictions`` as of a Delta
version or timestamp and the gold bars as of that same instant, so re-running an as-of
backtest later gives identical results, whatever was appended since. Such a replay is
written with ``run_kind = as_of`` so it is never mistaken for the latest view
(:func:`current_runs`).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.config.decision import BacktestConfig, StrategyName
from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.decision import performance
from financial_transactions.decision.predictions import champion_predictions, registry_champion
from financial_transactions.decision.symbols import traded_symbols
from financial_transactions.lakehouse.catalog import BACKTEST_COUNTS
from financial_transactions.lakehouse.errors import TableNotFound
from financial_transactions.market.calendar import (
    AFTER_CLOSE,
    NEW_YORK,
    PRE_OPEN,
    REGULAR_CLOSE,
    REGULAR_OPEN,
)
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

#: Equity curves longer than this are thinned (evenly, keeping first and last point) for the dashboard.
EQUITY_POINTS_MAX = 5000
#: The benchmark every symbol is backtested against: long from the first bar's close to the last.
BENCHMARK = "buy_and_hold"


# -- signals ----------------------------------------------------------------------------
def _talib() -> Any:
    import talib

    return talib


def _sign(values: np.ndarray) -> np.ndarray:
    """+1 / −1 / 0, with NaN (indicator warm-up) -> 0."""
    return np.nan_to_num(np.sign(values), nan=0.0)


def sma_cross_signal(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """+1 where SMA(fast) > SMA(slow), −1 where below, 0 when equal or warming up (TA-Lib SMA)."""
    talib = _talib()
    c = np.ascontiguousarray(close, dtype=np.float64)
    return _sign(talib.SMA(c, timeperiod=fast) - talib.SMA(c, timeperiod=slow))


def macd_signal(close: np.ndarray, fast: int, slow: int, signal: int) -> np.ndarray:
    """+1 where the MACD line is above its signal line (histogram > 0), −1 below (TA-Lib MACD)."""
    _, _, hist = _talib().MACD(
        np.ascontiguousarray(close, dtype=np.float64), fastperiod=fast, slowperiod=slow, signalperiod=signal
    )
    return _sign(hist)


def bar_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close simple returns; the first bar has none (0)."""
    c = np.asarray(close, dtype=np.float64)
    out = np.zeros_like(c)
    out[1:] = c[1:] / c[:-1] - 1.0
    return out


def model_signal(labels: np.ndarray, close: np.ndarray, cooldown: int, mode: str) -> np.ndarray:
    """Follow the model: +1 while no flagged bar in the last ``cooldown`` bars (this one included).

    After a flagged bar: 0 in long_flat; in long_short −sign(return of the flagged bar)
    (fade the anomalous move). Bars without a prediction (NaN label) are 0.
    """
    lab = np.asarray(labels, dtype=np.float64)
    flagged = lab == 1
    known = ~np.isnan(lab)
    recent = pd.Series(np.where(flagged, 1.0, np.nan)).ffill(limit=cooldown - 1).notna().to_numpy()
    if mode == "long_short":
        fade = -np.sign(bar_returns(close))
        stance = pd.Series(np.where(flagged, fade, np.nan)).ffill(limit=cooldown - 1).to_numpy()
        stressed = np.nan_to_num(stance, nan=0.0)
    else:
        stressed = np.zeros(lab.shape)
    return np.where(~known, 0.0, np.where(recent, stressed, 1.0))


def positions_from_signal(signal: np.ndarray, mode: str) -> np.ndarray:
    """Position held in each bar: the previous bar's signal (no look-ahead); long_flat drops shorts."""
    sig = np.asarray(signal, dtype=np.float64)
    if mode == "long_flat":
        sig = np.maximum(sig, 0.0)
    elif mode != "long_short":
        raise ValueError(f"unknown mode {mode!r}; use long_flat or long_short")
    pos = np.zeros_like(sig)
    pos[1:] = sig[:-1]
    return pos


@dataclass(frozen=True)
class Simulation:
    positions: np.ndarray
    gross: np.ndarray
    costs: np.ndarray
    net: np.ndarray
    equity: np.ndarray


def simulate(close: np.ndarray, signal: np.ndarray, mode: str, cost_rate: float) -> Simulation:
    """Positions, per-bar gross/net returns and compounded equity (1.0 on the first bar)."""
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 1 or c.shape != np.asarray(signal).shape:
        raise ValueError("close and signal must be 1-D arrays of the same length")
    if c.size and (not np.isfinite(c).all() or (c <= 0).any()):
        raise ValueError("close prices must be finite and positive")
    pos = positions_from_signal(signal, mode)
    gross = pos * bar_returns(c)
    turnover = np.abs(np.diff(np.concatenate([[0.0], pos])))
    costs = turnover * cost_rate
    net = gross - costs
    return Simulation(pos, gross, costs, net, performance.equity_curve(net))


# -- annualisation ------------------------------------------------------------------------
def session_minutes(asset_class: str, equity_session: str = "extended") -> int:
    """Minutes of one trading day the bars cover: crypto 1440; equities 960 (extended) or 390 (regular)."""
    if asset_class == "crypto":
        return 24 * 60
    if equity_session == "regular":
        return REGULAR_CLOSE - REGULAR_OPEN
    if equity_session == "extended":
        return AFTER_CLOSE - PRE_OPEN
    raise ValueError(f"unknown equity_session {equity_session!r}; use extended or regular")


def bars_per_day(bar_interval: str, asset_class: str, equity_session: str = "extended") -> int:
    """``ceil(session / bar interval)``: the bar slots one trading day spans (a partial last slot is a bar)."""
    session_ns = session_minutes(asset_class, equity_session) * 60 * 1_000_000_000
    return -(-session_ns // interval_ns(bar_interval))


def trading_dates(bar_start: pd.Series) -> int:
    """Distinct New York calendar dates of the bars (the trading dates they belong to; crypto's "day" too)."""
    idx = pd.DatetimeIndex(bar_start)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx
    local = idx.tz_convert(NEW_YORK).tz_localize(None).to_numpy(dtype="datetime64[D]")
    return int(np.unique(local).size)


def periods_per_year(
    cfg: BacktestConfig, asset_class: str, bar_interval: str, bar_start: pd.Series | None = None
) -> tuple[int, int]:
    """(bars per trading day, periods per year) from the bars that exist (see the module doc).

    Without ``bar_start`` (or with no bars) the nominal session count is used, an upper bound.
    """
    nominal = bars_per_day(bar_interval, asset_class, cfg.equity_session)
    per_day = nominal
    if bar_start is not None and len(bar_start):
        per_day = max(1, min(nominal, round(len(bar_start) / trading_dates(bar_start))))
    days_per_year = cfg.periods_per_year_crypto if asset_class == "crypto" else cfg.periods_per_year_equity
    return per_day, days_per_year * per_day


# -- one symbol -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    symbol: str
    asset_class: str
    mode: str
    n_bars: int
    bars_per_day: int
    periods_per_year: int
    metrics: dict[str, Any]
    equity: np.ndarray
    times: pd.Series
    positions: np.ndarray
    model_versions: str | None = None
    inference: performance.SharpeInference | None = None
    trading_days: int = 0
    years: float = math.nan
    benchmark_return: float = math.nan  # the buy-and-hold total return over the same bars (set by the run)


def strategy_signal(
    strategy: str, bars: pd.DataFrame, cfg: BacktestConfig, features: FeaturesConfig, mode: str
) -> np.ndarray:
    close = bars["close"].to_numpy(dtype=np.float64)
    if strategy == BENCHMARK:
        return np.ones_like(close)
    if strategy == "sma_cross":
        return sma_cross_signal(close, cfg.fast_window, cfg.slow_window)
    if strategy == "macd":
        return macd_signal(close, features.macd.fast, features.macd.slow, features.macd.signal)
    if strategy == "model":
        if "label" not in bars.columns:
            raise ValueError("the model strategy needs a 'label' column of stored predictions")
        return model_signal(bars["label"].to_numpy(dtype=np.float64), close, cfg.model_cooldown_bars, mode)
    raise ValueError(f"unknown strategy {strategy!r}")


def backtest_bars(
    bars: pd.DataFrame,
    strategy: str,
    cfg: BacktestConfig,
    features: FeaturesConfig,
    *,
    symbol: str,
    asset_class: str,
    mode: str | None = None,
) -> StrategyResult:
    """Backtest one symbol's time-ordered bars (columns ``bar_start``, ``close`` [, ``label``])."""
    mode = mode or cfg.mode
    bars = bars.sort_values("bar_start", kind="stable").reset_index(drop=True)
    signal = strategy_signal(strategy, bars, cfg, features, mode)
    cost = (cfg.commission_bps + cfg.slippage_bps) / 1e4
    sim = simulate(bars["close"].to_numpy(dtype=np.float64), signal, mode, cost)
    per_day, periods = periods_per_year(cfg, asset_class, features.bar_interval, bars["bar_start"])
    inference = performance.sharpe_inference(sim.net[1:], periods, cfg.risk_free_rate)
    metrics = performance.summarize(sim.net[1:], sim.positions[1:], periods, cfg.risk_free_rate, inference=inference)
    days = trading_dates(bars["bar_start"]) if len(bars) else 0
    years = period_years(days, asset_class, cfg)
    if not years >= cfg.cagr_min_years:  # too short to annualise a growth rate (see the module doc)
        metrics["cagr"] = math.nan
        metrics["calmar"] = math.nan
    return StrategyResult(
        strategy=strategy,
        symbol=symbol,
        asset_class=asset_class,
        mode=mode,
        n_bars=len(bars),
        bars_per_day=per_day,
        periods_per_year=periods,
        metrics=metrics,
        equity=sim.equity,
        times=pd.to_datetime(bars["bar_start"], utc=True, cache=False),
        positions=sim.positions,
        model_versions=_model_versions(bars) if strategy == "model" else None,
        inference=inference,
        trading_days=days,
        years=years,
        benchmark_return=metrics["total_return"] if strategy == BENCHMARK else math.nan,
    )


def period_years(trading_days: int, asset_class: str, cfg: BacktestConfig) -> float:
    """The years a backtest covers: its trading dates / trading days per year (252 equities, 365 crypto)."""
    per_year = cfg.periods_per_year_crypto if asset_class == "crypto" else cfg.periods_per_year_equity
    return trading_days / per_year


def cagr_note(years: float, min_years: float) -> str | None:
    """Why a row has no CAGR (``None`` when it has one): the one line the report and the CLI print."""
    if years >= min_years:
        return None
    return (
        f"CAGR omitted: the bars cover {years:.3g} years, under backtest.cagr_min_years {min_years:g}; "
        "read the total return over the period"
    )


def deflate(results: list[StrategyResult]) -> None:
    """Deflate every result's Sharpe for the family: ``N_trials`` = the number of results (in place)."""
    for res in results:
        if res.inference is not None:
            res.metrics.update(performance.deflated(res.inference, len(results), res.periods_per_year))


def _model_versions(bars: pd.DataFrame) -> str | None:
    """The prediction model versions a model backtest followed, e.g. ``"2,3"``."""
    if "model_version" not in bars.columns:
        return None
    versions = {str(v) for v in bars["model_version"].dropna()}
    return ",".join(sorted(versions, key=lambda v: (len(v), v))) or None


def thin(n: int, limit: int = EQUITY_POINTS_MAX) -> np.ndarray:
    """Indices of at most ``limit`` evenly spaced points of ``n``, always keeping the first and last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


# -- inputs and provenance ----------------------------------------------------------------------
#: ``backtest_results.run_kind``: a run on the latest tables, or a replay of the past (--as-of-*).
CURRENT, AS_OF = "current", "as_of"


@dataclass(frozen=True)
class Inputs:
    gold: pd.DataFrame
    predictions: pd.DataFrame | None  # the champion's rows only (see predictions.champion_predictions)
    predictions_version: int | None
    gold_version: int
    as_of_timestamp: datetime | None
    champion: str | None = None  # the model version whose predictions count

    @property
    def run_kind(self) -> str:
        """``as_of`` for a time-travel replay (it has an instant), ``current`` for the latest tables."""
        return AS_OF if self.as_of_timestamp is not None else CURRENT


def current_runs(results: pd.DataFrame) -> pd.DataFrame:
    """The ``backtest_results`` rows of *current* runs: a replay of the past is history, not the latest view.

    Rows written before ``run_kind`` existed are current exactly when they have no ``as_of_timestamp``.
    """
    n = len(results)
    kind = results["run_kind"].to_numpy(dtype=object) if "run_kind" in results.columns else np.full(n, None)
    unmarked = pd.isna(kind)
    no_instant = results["as_of_timestamp"].isna().to_numpy() if "as_of_timestamp" in results.columns else True
    return results[(kind == CURRENT) | (unmarked & no_instant)]


def _parse_when(value: datetime | str) -> datetime:
    when = pd.Timestamp(value)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    return when.to_pydatetime()


def out_of_sample(predictions: pd.DataFrame, embargo: pd.Timedelta) -> pd.DataFrame:
    """The predictions of bars after their model's training cutoff plus ``embargo``.

    A row without a ``train_cutoff`` (unknown, or written before the column existed) is
    never out of sample: a prediction is not trusted without proof.
    """
    if predictions.empty or "train_cutoff" not in predictions.columns:
        return predictions.iloc[0:0]
    cutoff = pd.to_datetime(predictions["train_cutoff"], utc=True)
    bar = pd.to_datetime(predictions["bar_start"], utc=True)
    return predictions[cutoff.notna() & (bar > cutoff + embargo)]


def _cutoffs(predictions: pd.DataFrame) -> str:
    if "train_cutoff" not in predictions.columns:
        return "unknown"
    cutoffs = pd.to_datetime(predictions["train_cutoff"], utc=True).dropna()
    return cutoffs.max().isoformat() if not cutoffs.empty else "unknown"


@dataclass
class BacktestReport:
    run_id: str
    created_at: datetime
    results: list[StrategyResult]
    inputs: Inputs
    skipped: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None
    #: One ``buy_and_hold`` result per backtested symbol (not a trial: kept apart from ``results``).
    benchmarks: list[StrategyResult] = field(default_factory=list)

    def frame(self, cfg: BacktestConfig) -> pd.DataFrame:
        """The ``backtest_results`` rows (benchmarks included): provenance, settings, metrics, equity as JSON."""
        rows = []
        for res in [*self.results, *self.benchmarks]:
            keep = thin(len(res.equity))
            rows.append(
                {
                    "run_id": self.run_id,
                    "created_at": self.created_at,
                    "strategy": res.strategy,
                    "symbol": res.symbol,
                    "asset_class": res.asset_class,
                    "mode": res.mode,
                    "run_kind": self.inputs.run_kind,
                    "as_of_version": self.inputs.predictions_version,
                    "as_of_timestamp": self.inputs.as_of_timestamp,
                    "gold_version": self.inputs.gold_version,
                    "model_versions": res.model_versions,
                    "n_bars": res.n_bars,
                    "bars_per_day": res.bars_per_day,
                    "periods_per_year": res.periods_per_year,
                    "trading_days": res.trading_days,
                    "years": _metric(res.years),
                    "benchmark_return": _metric(res.benchmark_return),
                    "commission_bps": cfg.commission_bps,
                    "slippage_bps": cfg.slippage_bps,
                    "risk_free_rate": cfg.risk_free_rate,
                    **{m: _metric(res.metrics[m]) for m in performance.METRICS},
                    "equity_curve": json.dumps([round(float(v), 8) for v in res.equity[keep]]),
                    "equity_ts": json.dumps([t.isoformat() for t in res.times.iloc[keep]]),
                }
            )
        frame = pd.DataFrame(rows)
        if not frame.empty:
            for col in (*BACKTEST_COUNTS, "trading_days"):
                frame[col] = frame[col].astype("int64")
            # a metric the period cannot support (cagr, calmar under a year) is null in every row: still a double
            floats = [m for m in performance.METRICS if m not in BACKTEST_COUNTS]
            for col in ("years", "benchmark_return", *floats):
                frame[col] = frame[col].astype("float64")
            for col in ("as_of_version", "gold_version"):
                frame[col] = frame[col].astype("Int64")
        return frame


def _metric(value: Any) -> Any:
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value) if value is not None and math.isfinite(float(value)) else None


class Backtester:
    """Backtests every configured symbol and strategy from the lakehouse, optionally as of the past."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.cfg = platform.config
        self.store = platform.store

    # -- inputs ----------------------------------------------------------------
    def load_inputs(self, *, as_of_version: int | None = None, as_of_timestamp: datetime | str | None = None) -> Inputs:
        """Predictions at the requested version/timestamp and gold bars as of the same instant."""
        if as_of_version is not None and as_of_timestamp is not None:
            raise ValueError("give --as-of-version or --as-of-timestamp, not both")
        preds_fqn = self.cfg.table("synthesized_predictions")
        gold_fqn = self.cfg.table("gold_trade_features")
        if not self.store.exists(gold_fqn):
            raise TableNotFound(f"{gold_fqn} does not exist: run the pipeline first")
        when = _parse_when(as_of_timestamp) if as_of_timestamp is not None else None
        preds: pd.DataFrame | None = None
        preds_version: int | None = None
        if as_of_version is not None:
            if not self.store.exists(preds_fqn):
                raise TableNotFound(f"{preds_fqn} does not exist, so it has no version {as_of_version}")
            history = {h["version"]: h for h in self.store.history(preds_fqn)}
            if as_of_version not in history:
                raise ValueError(
                    f"{preds_fqn} has no version {as_of_version}; versions are {min(history)}..{max(history)}"
                )
            preds = self.store.read(preds_fqn, version=as_of_version)
            preds_version = as_of_version
            when = history[as_of_version]["timestamp"]
        elif when is not None:
            if self.store.exists(preds_fqn):
                preds_version = _version_at(self.store.history(preds_fqn), when)
                if preds_version is not None:  # else: no predictions existed yet at that instant
                    preds = self.store.read(preds_fqn, version=preds_version)
        elif self.store.exists(preds_fqn):
            preds_version = self.store.version(preds_fqn)
            preds = self.store.read(preds_fqn, version=preds_version)
        if when is not None:
            gold_version = _version_at(self.store.history(gold_fqn), when)
            if gold_version is None:
                raise TableNotFound(f"{gold_fqn} has no version as of {when.isoformat()}")
        else:
            gold_version = self.store.version(gold_fqn)
        gold_columns = ["symbol", "asset_class", "bar_start", "close"]
        gold = self.store.read(gold_fqn, version=gold_version, columns=gold_columns)
        champion = None
        if preds is not None:
            # now: the registry's champion; a replay: the model of the snapshot's newest scoring run
            current = registry_champion(self.platform) if when is None else None
            preds, champion = champion_predictions(preds, current)
        return Inputs(
            gold=gold,
            predictions=preds,
            predictions_version=preds_version,
            gold_version=gold_version,
            as_of_timestamp=when,
            champion=champion,
        )

    # -- run -------------------------------------------------------------------
    def run(
        self,
        *,
        as_of_version: int | None = None,
        as_of_timestamp: datetime | str | None = None,
        strategies: Sequence[StrategyName] | None = None,
        mode: str | None = None,
    ) -> BacktestReport:
        inputs = self.load_inputs(as_of_version=as_of_version, as_of_timestamp=as_of_timestamp)
        return self.run_on(inputs, strategies=strategies, mode=mode)

    def run_on(
        self, inputs: Inputs, *, strategies: Sequence[StrategyName] | None = None, mode: str | None = None
    ) -> BacktestReport:
        bt = self.cfg.backtest
        chosen = list(strategies or bt.strategies)
        report = BacktestReport(uuid.uuid4().hex[:16], datetime.now(UTC), [], inputs)
        gold = inputs.gold
        bad = ~np.isfinite(pd.to_numeric(gold["close"], errors="coerce")) | (gold["close"] <= 0)
        if bad.any():
            log.warning("backtest: ignoring %d gold bar(s) without a finite positive close", int(bad.sum()))
            gold = gold[~bad]
        preds = inputs.predictions
        embargo = pd.Timedelta(minutes=self.cfg.split.embargo_minutes)
        for symbol, asset_class in traded_symbols(gold, self.cfg).items():
            bars = gold[gold["symbol"] == symbol].sort_values("bar_start", kind="stable").reset_index(drop=True)
            bars = bars.drop(columns="asset_class", errors="ignore")
            if len(bars) < bt.min_bars:
                report.skipped.append(
                    {"symbol": symbol, "strategy": "*", "reason": f"{len(bars)} bars < min_bars {bt.min_bars}"}
                )
                continue
            bench = backtest_bars(
                bars, BENCHMARK, bt, self.cfg.features, symbol=symbol, asset_class=asset_class, mode="long_flat"
            )
            report.benchmarks.append(bench)
            first = len(report.results)
            for strategy in chosen:
                frame = bars
                if strategy == "model":
                    sym_preds = None if preds is None else preds[preds["symbol"] == symbol]
                    model = f"model v{inputs.champion}" if inputs.champion is not None else "the champion"
                    if sym_preds is None or sym_preds.empty:
                        report.skipped.append(
                            {"symbol": symbol, "strategy": strategy, "reason": f"no stored predictions of {model}"}
                        )
                        continue
                    oos = out_of_sample(sym_preds, embargo)
                    if oos.empty:
                        reason = (
                            f"no out-of-sample predictions: {model} was trained on bars up to {_cutoffs(sym_preds)}"
                            f" (+{self.cfg.split.embargo_minutes} min embargo)"
                        )
                        report.skipped.append({"symbol": symbol, "strategy": strategy, "reason": reason})
                        continue
                    frame = bars.merge(
                        oos[["bar_start", "label", "model_version"]], on="bar_start", how="left", validate="1:1"
                    )
                result = backtest_bars(
                    frame, strategy, bt, self.cfg.features, symbol=symbol, asset_class=asset_class, mode=mode
                )
                report.results.append(replace(result, benchmark_return=bench.benchmark_return))
            if len(report.results) == first:
                report.benchmarks.pop()  # no strategy ran on this symbol: nothing to compare
        deflate(report.results)
        return report

    def write(self, report: BacktestReport) -> int | None:
        """Append the report's rows to ``backtest_results``; returns the new table version."""
        frame = report.frame(self.cfg.backtest)
        if frame.empty:
            return None
        report.version = self.store.append(self.cfg.table("backtest_results"), frame)
        return report.version


def _version_at(history: list[dict[str, Any]], when: datetime) -> int | None:
    """The newest table version committed at or before ``when``."""
    eligible = [h["version"] for h in history if h["timestamp"] is not None and h["timestamp"] <= when]
    return max(eligible) if eligible else None
