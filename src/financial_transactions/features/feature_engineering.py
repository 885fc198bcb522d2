"""Gold features: one symbol's silver trades -> bars + microstructure + indicators.

``build_gold_features`` is pure pandas/numpy and is the *only* feature code: the gold
layer runs it per symbol through ``groupBy("symbol").applyInPandas(...,
GOLD_SCHEMA)`` (see :func:`gold_features_spark`) and the ML stage reads its output,
so the indicator math exists once (in :mod:`.indicators`).

Indicators run over the sequence of a symbol's *non-empty* bars (trade-driven
bars, see :mod:`.bars`), across session and day boundaries; only the VWAP is anchored,
to the trading session ``(trade_date, session_type)`` taken from silver (or the
market calendar). For equities that is one of pre-market, regular and after-hours of a
New York trading date. Crypto trades 24/7 in one ``continuous`` session, so its anchor
is the ``trade_date`` alone: its session VWAP restarts at **midnight New York time**
(``trade_date`` is the New York calendar date), not at UTC midnight, which keeps the
crypto and equity "day" the same. A future's ``trade_date`` is its Globex session's
(17:00 to 16:00 Chicago), so its VWAP runs the whole session. Every column at bar ``t``
depends only on trades at or before the end of bar ``t`` (``bar_end``), which is why
``bar_end`` is the point-in-time key of the feature tables (:data:`TIMESTAMP_KEY`).

Model inputs (:data:`FEATURE_COLUMNS`) are scale-free (ratios, returns, z-scores,
counts) so one model serves symbols priced at $2 and at $90,000; price levels
(OHLC, SMA, bands, VWAP) stay in gold for dashboards and decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.features import indicators as ind
from financial_transactions.features.bars import (
    Bars,
    TradeArrays,
    aggregate_bars,
    price_array,
    ts_to_ns,
    volume_array,
)
from financial_transactions.market.calendar import classify_sessions, session_date

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame

GOLD_KEYS = ["symbol", "bar_start"]
"""Primary key of a gold bar."""
TIMESTAMP_KEY = "bar_end"
"""When a bar's features are known (its last possible trade): the point-in-time key of feature lookups."""
REQUIRED_COLUMNS = ("symbol", "price", "volume", "ts")

_BASE_COLUMNS: list[tuple[str, str]] = [
    ("symbol", "STRING"),
    ("bar_start", "TIMESTAMP"),
    ("bar_end", "TIMESTAMP"),
    ("trade_date", "DATE"),
    ("session_type", "STRING"),
    ("asset_class", "STRING"),
    ("source", "STRING"),
    # bars
    ("open", "DOUBLE"),
    ("high", "DOUBLE"),
    ("low", "DOUBLE"),
    ("close", "DOUBLE"),
    ("volume", "DOUBLE"),
    ("vwap", "DOUBLE"),
    ("trade_count", "BIGINT"),
    ("returns", "DOUBLE"),
    ("log_return", "DOUBLE"),
    # microstructure
    ("dup_print_ratio", "DOUBLE"),
    ("max_identical_prints", "BIGINT"),
    ("repeat_print_ratio", "DOUBLE"),
    ("cross_ts_repeat_ratio", "DOUBLE"),
    ("max_cross_ts_prints", "BIGINT"),
    ("max_cross_ts_reprints", "BIGINT"),
    ("cross_ts_repeat_share", "DOUBLE"),
    ("max_cross_ts_volume_share", "DOUBLE"),
    ("unique_price_ratio", "DOUBLE"),
    ("max_abs_trade_return", "DOUBLE"),
    ("max_abs_median_dev", "DOUBLE"),
    ("price_std", "DOUBLE"),
    ("price_std_rel", "DOUBLE"),
    ("range_atr", "DOUBLE"),
    ("max_trade_volume_share", "DOUBLE"),
    ("max_volume_ratio", "DOUBLE"),
    ("volume_zscore", "DOUBLE"),
    ("flat_run_trades", "BIGINT"),
    ("flat_run_seconds", "DOUBLE"),
    ("zero_var_bar_run", "BIGINT"),
    ("trades_per_second", "DOUBLE"),
    ("trade_rate_ratio", "DOUBLE"),
    # indicators
    ("rsi", "DOUBLE"),
    ("macd", "DOUBLE"),
    ("macd_signal", "DOUBLE"),
    ("macd_hist", "DOUBLE"),
    ("macd_hist_rel", "DOUBLE"),
    ("bb_upper", "DOUBLE"),
    ("bb_middle", "DOUBLE"),
    ("bb_lower", "DOUBLE"),
    ("bb_percent_b", "DOUBLE"),
    ("bb_width", "DOUBLE"),
    ("atr", "DOUBLE"),
    ("natr", "DOUBLE"),
    ("session_vwap", "DOUBLE"),
    ("vwap_deviation", "DOUBLE"),
    ("volatility", "DOUBLE"),
    ("is_regular_session", "DOUBLE"),
    ("is_extended_session", "DOUBLE"),
    ("is_crypto", "DOUBLE"),
]

_BASE_FEATURES = [
    "returns",
    "log_return",
    "dup_print_ratio",
    "max_identical_prints",
    "repeat_print_ratio",
    "cross_ts_repeat_ratio",
    "max_cross_ts_prints",
    "max_cross_ts_reprints",
    "cross_ts_repeat_share",
    "max_cross_ts_volume_share",
    "unique_price_ratio",
    "max_abs_trade_return",
    "max_abs_median_dev",
    "price_std_rel",
    "range_atr",
    "max_trade_volume_share",
    "max_volume_ratio",
    "volume_zscore",
    "flat_run_trades",
    "flat_run_seconds",
    "zero_var_bar_run",
    "trades_per_second",
    "trade_rate_ratio",
    "rsi",
    "macd_hist_rel",
    "bb_percent_b",
    "bb_width",
    "natr",
    "vwap_deviation",
    "volatility",
    "is_regular_session",
    "is_extended_session",
    "is_crypto",
]

_DTYPES = {"DOUBLE": "float64", "BIGINT": "int64", "STRING": "object"}


def gold_columns(cfg: FeaturesConfig) -> list[tuple[str, str]]:
    """(name, Spark SQL type) of every gold column, in output order, for ``cfg``.

    The moving-average columns are named after their windows (``sma_10``, ``ema_12``),
    so the schema depends on ``features.sma_windows`` / ``ema_windows``.
    """
    cols = list(_BASE_COLUMNS)
    for w in _unique(cfg.sma_windows):
        cols += [(f"sma_{w}", "DOUBLE"), (f"sma_{w}_dev", "DOUBLE")]
    for w in _unique(cfg.ema_windows):
        cols += [(f"ema_{w}", "DOUBLE"), (f"ema_{w}_dev", "DOUBLE")]
    return cols


def gold_schema_ddl(cfg: FeaturesConfig) -> str:
    """The Spark DDL string of :func:`build_gold_features`' output for ``cfg``."""
    return ", ".join(f"`{name}` {kind}" for name, kind in gold_columns(cfg))


def feature_columns(cfg: FeaturesConfig) -> list[str]:
    """The model inputs for ``cfg`` (scale-free columns only)."""
    cols = list(_BASE_FEATURES)
    cols += [f"sma_{w}_dev" for w in _unique(cfg.sma_windows)]
    cols += [f"ema_{w}_dev" for w in _unique(cfg.ema_windows)]
    return cols


def _unique(windows: Sequence[int]) -> list[int]:
    return sorted(set(windows))


GOLD_SCHEMA: str = gold_schema_ddl(FeaturesConfig())
"""Spark DDL of the gold output under the default feature config (see :func:`gold_schema_ddl`)."""

FEATURE_COLUMNS: list[str] = feature_columns(FeaturesConfig())
"""Model inputs under the default feature config (see :func:`feature_columns`)."""


def empty_gold_frame(cfg: FeaturesConfig) -> pd.DataFrame:
    """A zero-row frame with the gold columns and dtypes (what an empty group returns)."""
    data: dict[str, pd.Series] = {}
    for name, kind in gold_columns(cfg):
        if kind == "TIMESTAMP":
            data[name] = pd.Series([], dtype="datetime64[us, UTC]")
        else:
            data[name] = pd.Series([], dtype=_DTYPES.get(kind, "object"))
    return pd.DataFrame(data)


def build_gold_features(trades_pdf: pd.DataFrame, features_cfg: FeaturesConfig) -> pd.DataFrame:
    """Silver trades (one symbol, or several: each is processed alone) -> gold rows.

    Required columns: symbol, price (> 0), volume (>= 0), ts (UTC datetime, or epoch
    ms). Used when present: trade_id (tie order of equal ``ts``), trade_date and
    session_type (the VWAP anchor; computed with :mod:`financial_transactions.market.calendar`
    when absent), asset_class (default: crypto for sources binance, else equity) and source.
    Output: one row per (symbol, bar_start), sorted, with exactly :func:`gold_columns`.
    Invalid rows raise ``ValueError``: silver has already quarantined bad prints, so
    one reaching here is a bug upstream, not something to drop silently.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in trades_pdf.columns]
    if missing:
        raise ValueError(f"trades lack required column(s) {missing}")
    if trades_pdf.empty:
        return empty_gold_frame(features_cfg)
    symbol = trades_pdf["symbol"].to_numpy(dtype=object)
    first = symbol[0]
    if first is None or first != first:  # None or NaN
        raise ValueError("trades have a null symbol")
    # one comparison pass (the applyInPandas case: a single symbol) instead of unique()
    if not bool((symbol == first).all()):
        if trades_pdf["symbol"].isna().any():
            raise ValueError("trades have a null symbol")
        parts = [_build_one(group, features_cfg) for _, group in trades_pdf.groupby("symbol", sort=True)]
        return pd.concat(parts, ignore_index=True)
    return _build_one(trades_pdf, features_cfg)


def _sorted(trades: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Order by (ts, trade_id), returning the frame and its epoch-ns ``ts``; no copy when already ordered."""
    ts_ns = ts_to_ns(trades["ts"])
    step = np.diff(ts_ns)
    if not (step < 0).any():
        tie = np.flatnonzero(step == 0)
        if tie.size == 0 or "trade_id" not in trades.columns:
            return trades, ts_ns
        ids = trades["trade_id"].to_numpy(dtype=object)
        if bool(np.all(ids[tie + 1] >= ids[tie])):
            return trades, ts_ns
    rank = np.zeros(len(ts_ns), dtype=np.int64)
    if "trade_id" in trades.columns:
        # only prints sharing a millisecond need the id order: rank just those (cheap)
        by_ts = np.sort(ts_ns, kind="stable")
        shared = np.unique(by_ts[1:][by_ts[1:] == by_ts[:-1]])
        tied = np.isin(ts_ns, shared)
        if tied.any():
            ids = trades["trade_id"].to_numpy(dtype=object)[tied]
            rank[tied] = pd.factorize(ids, sort=True)[0]
    order = np.lexsort((rank, ts_ns))
    return trades.iloc[order], ts_ns[order]


def _column_at(trades: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    return trades[name].to_numpy(dtype=object)[rows]


def _as_dates(values: np.ndarray) -> np.ndarray:
    """datetime.date objects from dates (kept as they are), datetimes or ISO strings."""
    if len(values) and all(type(v) is date for v in values):
        return values
    return np.asarray(pd.to_datetime(pd.Series(values)).dt.date.to_numpy(dtype=object))


def _session_columns(
    trades: pd.DataFrame, ts_ns: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """trade_date (datetime.date objects), session_type and asset_class of each bar's first trade."""
    if "asset_class" in trades.columns:
        asset = _column_at(trades, "asset_class", first)
    elif "source" in trades.columns:
        asset = np.where(_column_at(trades, "source", first) == "binance", "crypto", "equity").astype(object)
    else:
        asset = np.full(len(first), "equity", dtype=object)
    if "trade_date" in trades.columns and "session_type" in trades.columns:
        trade_date = _as_dates(_column_at(trades, "trade_date", first))
        session = _column_at(trades, "session_type", first)
    else:
        ts = pd.Series(pd.to_datetime(ts_ns[first], unit="ns", utc=True))
        trade_date = session_date(ts, pd.Series(asset)).to_numpy(dtype=object)
        session = classify_sessions(ts, pd.Series(asset)).to_numpy(dtype=object)
    return trade_date, session, asset


@dataclass(frozen=True)
class BarInputs:
    """One symbol's bars plus the per-bar labels the indicator step needs (step 1 of the gold build)."""

    symbol: str
    bars: Bars
    bar_ns: int
    trade_date: np.ndarray  # datetime.date of each bar's first trade
    session: np.ndarray  # session_type of each bar's first trade
    asset: np.ndarray  # asset_class
    source: np.ndarray


def aggregate_symbol(trades_pdf: pd.DataFrame, cfg: FeaturesConfig) -> BarInputs:
    """Step 1 of the gold build for one symbol's trades: sort, bars and microstructure, session labels."""
    trades, ts_ns = _sorted(trades_pdf)
    bar_ns = interval_ns(cfg.bar_interval)
    arrays = TradeArrays(ts_ns=ts_ns, price=price_array(trades["price"]), volume=volume_array(trades["volume"]))
    bars = aggregate_bars(arrays, bar_ns)
    trade_date, session, asset = _session_columns(trades, ts_ns, bars.first_trade)
    source = (
        _column_at(trades, "source", bars.first_trade)
        if "source" in trades.columns
        else np.full(len(bars), None, dtype=object)
    )
    return BarInputs(str(trades["symbol"].iloc[0]), bars, bar_ns, trade_date, session, asset, source)


def gold_frame(inputs: BarInputs, cfg: FeaturesConfig) -> pd.DataFrame:
    """Step 2: the indicator step (:func:`bar_features`) on the bars, assembled into gold rows."""
    bars, bar_ns = inputs.bars, inputs.bar_ns
    columns = bar_features(bars, bar_ns, inputs.trade_date, inputs.session, inputs.asset, cfg)
    n = len(bars)
    out: dict[str, Any] = {
        "symbol": np.full(n, inputs.symbol, dtype=object),
        "bar_start": pd.to_datetime(bars.bar_start_ns, unit="ns", utc=True).as_unit("us"),
        "bar_end": pd.to_datetime(bars.bar_start_ns + bar_ns, unit="ns", utc=True).as_unit("us"),
        "trade_date": inputs.trade_date,
        "session_type": inputs.session,
        "asset_class": inputs.asset,
        "source": inputs.source,
        **columns,
    }
    frame = pd.DataFrame(out)
    return frame[[name for name, _ in gold_columns(cfg)]]


def _build_one(trades_pdf: pd.DataFrame, cfg: FeaturesConfig) -> pd.DataFrame:
    return gold_frame(aggregate_symbol(trades_pdf, cfg), cfg)


MAX_VOLUME_RATIO = 1000.0
"""Cap of ``max_volume_ratio``: one print 1000x the usual trade size is already extreme."""


def _ratio(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """``num / den`` where ``den > 0``, else ``fill`` (no warnings, no inf)."""
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), fill)


def bar_features(
    bars: Bars,
    bar_ns: int,
    trade_date: np.ndarray,
    session: np.ndarray,
    asset: np.ndarray,
    cfg: FeaturesConfig,
) -> dict[str, np.ndarray]:
    """The indicator step: every numeric gold column from one symbol's bar arrays (causal, see :mod:`.indicators`).

    Trend (SMA/EMA and their deviations), momentum (RSI, MACD), bands (Bollinger, %B,
    width), range (ATR, NATR, range/ATR), the session VWAP and the deviation from it,
    returns, volatility, the volume z-score, trade-rate and trade-size ratios, and the
    scale-free forms of the bars' microstructure.
    """
    close, high, low = bars.close, bars.high, bars.low
    n = len(bars)
    log_ret = ind.log_returns(close)
    returns = np.expm1(log_ret)
    atr = ind.atr(high, low, close, cfg.atr_period)
    prev_atr = np.concatenate(([np.nan], atr[:-1]))
    bar_range = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        range_atr = np.where(
            prev_atr > 0,
            bar_range / np.where(prev_atr > 0, prev_atr, 1.0),
            np.where(bar_range > 0, ind.ZSCORE_CAP, 0.0),
        )
        range_atr = np.clip(range_atr, 0.0, ind.ZSCORE_CAP)
        range_atr[np.isnan(prev_atr)] = np.nan
        mean_trade_volume = bars.volume / bars.trade_count
    base_trade_volume = ind.trailing_mean(mean_trade_volume, cfg.volume_zscore_window)
    max_volume_ratio = np.clip(_ratio(bars.max_trade_volume, base_trade_volume, np.nan), 0.0, MAX_VOLUME_RATIO)
    max_trade_volume_share = _ratio(bars.max_trade_volume, bars.volume, 0.0)
    max_abs_median_dev = np.maximum(np.abs(high / bars.median_price - 1.0), np.abs(low / bars.median_price - 1.0))

    flat_bar = high == low
    idx = np.arange(n)
    last_moving = np.maximum.accumulate(np.where(~flat_bar, idx, -1))
    zero_var_bar_run = np.where(flat_bar, idx - last_moving, 0).astype(np.int64)

    anchor = np.ones(n, dtype=bool)
    if n > 1:
        anchor[1:] = (trade_date[1:] != trade_date[:-1]) | (session[1:] != session[:-1])
    session_vwap = ind.anchored_vwap(close, bars.volume, bars.pv, anchor)

    m = ind.macd(close, cfg.macd.fast, cfg.macd.slow, cfg.macd.signal)
    bb = ind.bollinger(close, cfg.bollinger.period, cfg.bollinger.num_std)
    seconds = bar_ns / 1e9
    out: dict[str, np.ndarray] = {
        "open": bars.open,
        "high": high,
        "low": low,
        "close": close,
        "volume": bars.volume,
        "vwap": bars.vwap,
        "trade_count": bars.trade_count,
        "returns": returns,
        "log_return": log_ret,
        "dup_print_ratio": bars.dup_print_ratio,
        "max_identical_prints": bars.max_identical_prints,
        "repeat_print_ratio": bars.repeat_print_ratio,
        "cross_ts_repeat_ratio": bars.cross_ts_repeat_ratio,
        "max_cross_ts_prints": bars.max_cross_ts_prints,
        "max_cross_ts_reprints": bars.max_cross_ts_reprints,
        "cross_ts_repeat_share": bars.cross_ts_repeat_share,
        "max_cross_ts_volume_share": bars.max_cross_ts_volume_share,
        "unique_price_ratio": bars.unique_price_ratio,
        "max_abs_trade_return": bars.max_abs_trade_return,
        "max_abs_median_dev": max_abs_median_dev,
        "price_std": bars.price_std,
        "price_std_rel": bars.price_std / bars.vwap,
        "range_atr": range_atr,
        "max_trade_volume_share": max_trade_volume_share,
        "max_volume_ratio": max_volume_ratio,
        "volume_zscore": ind.volume_zscore(bars.volume, cfg.volume_zscore_window),
        "flat_run_trades": bars.flat_run_trades,
        "flat_run_seconds": bars.flat_run_seconds,
        "zero_var_bar_run": zero_var_bar_run,
        "trades_per_second": bars.trade_count / seconds,
        "trade_rate_ratio": ind.trade_rate_ratio(bars.trade_count.astype(np.float64), cfg.trade_rate_window),
        "rsi": ind.rsi(close, cfg.rsi_period),
        "macd": m.line,
        "macd_signal": m.signal,
        "macd_hist": m.histogram,
        "macd_hist_rel": m.histogram / close,
        "bb_upper": bb.upper,
        "bb_middle": bb.middle,
        "bb_lower": bb.lower,
        "bb_percent_b": bb.percent_b,
        "bb_width": bb.width,
        "atr": atr,
        "natr": atr / close,
        "session_vwap": session_vwap,
        "vwap_deviation": close / session_vwap - 1.0,
        "volatility": ind.rolling_volatility(log_ret, cfg.volatility_window),
        "is_regular_session": (session == "regular").astype(np.float64),
        "is_extended_session": np.isin(session, ["pre_market", "after_hours"]).astype(np.float64),
        "is_crypto": (asset == "crypto").astype(np.float64),
    }
    for w in _unique(cfg.sma_windows):
        s = ind.sma(close, w)
        out[f"sma_{w}"] = s
        out[f"sma_{w}_dev"] = close / s - 1.0
    for w in _unique(cfg.ema_windows):
        e = ind.ema(close, w)
        out[f"ema_{w}"] = e
        out[f"ema_{w}_dev"] = close / e - 1.0
    return out


def build_gold_features_udf(features_cfg: FeaturesConfig) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The per-symbol function for ``applyInPandas`` (a picklable closure over ``features_cfg``)."""

    def per_symbol(trades: pd.DataFrame) -> pd.DataFrame:
        return build_gold_features(trades, features_cfg)

    return per_symbol


#: Silver columns the feature code reads (projecting them keeps the Arrow transfer small).
SILVER_INPUT_COLUMNS = ["trade_id", "source", "asset_class", "symbol", "price", "volume", "ts",
                        "trade_date", "session_type"]  # fmt: skip


def gold_features_spark(silver_sdf: SparkDataFrame, features_cfg: FeaturesConfig) -> SparkDataFrame:
    """Silver trades (Spark) -> gold (Spark): ``groupBy("symbol").applyInPandas`` over
    :func:`build_gold_features` with the schema for ``features_cfg``. The session time
    zone must be UTC (the platform's sessions set it) for naive timestamps to mean UTC."""
    present = [c for c in SILVER_INPUT_COLUMNS if c in silver_sdf.columns]
    return (
        silver_sdf.select(*present)
        .groupBy("symbol")
        .applyInPandas(build_gold_features_udf(features_cfg), schema=gold_schema_ddl(features_cfg))
    )


class FeatureEngineer:
    """Config-driven wrapper: the same functions, bound to one ``FeaturesConfig``."""

    def __init__(self, features_cfg: FeaturesConfig) -> None:
        self.config = features_cfg
        self.bar_ns = interval_ns(features_cfg.bar_interval)

    @property
    def feature_columns(self) -> list[str]:
        return feature_columns(self.config)

    @property
    def gold_columns(self) -> list[str]:
        return [name for name, _ in gold_columns(self.config)]

    @property
    def schema_ddl(self) -> str:
        return gold_schema_ddl(self.config)

    def transform(self, trades: pd.DataFrame) -> pd.DataFrame:
        """Trades of any number of symbols -> gold rows (pandas)."""
        return build_gold_features(trades, self.config)

    def aggregate(self, trades: pd.DataFrame) -> BarInputs:
        """One symbol's trades -> bars and per-bar session labels (the first step of :meth:`transform`)."""
        return aggregate_symbol(trades, self.config)

    def indicators(self, inputs: BarInputs) -> dict[str, np.ndarray]:
        """The indicator step on bars (the second step of :meth:`transform`): every numeric gold column."""
        return bar_features(inputs.bars, inputs.bar_ns, inputs.trade_date, inputs.session, inputs.asset, self.config)

    def transform_spark(self, silver_sdf: SparkDataFrame) -> SparkDataFrame:
        return gold_features_spark(silver_sdf, self.config)
