"""One symbol's trades -> time bars with OHLCV, VWAP and microstructure, in vectorised numpy.

Bars are *trade-driven*: a bar exists for every interval that has at least one trade
(no empty bars are invented), ``bar_start = floor(ts, interval)`` in epoch time (UTC),
and each bar takes the trading date and session of its first trade.

Bars never straddle a session or a trading date because the interval must divide
:data:`~financial_transactions.config.bar_interval.SESSION_GRID_NS` (30 minutes, enforced
on ``features.bar_interval`` by :mod:`financial_transactions.config.bar_interval`): every
US equity session boundary (04:00, 09:30, 16:00, 20:00 New York) and every New York
midnight (the crypto VWAP anchor, see :mod:`.feature_engineering`) lies on a whole half
hour of UTC, because New York's UTC offset is a whole number of hours, and epoch flooring
by a divisor of 30 minutes puts a bar edge on every half hour. ``1h`` or ``45min`` would
not: a 1-hour bar 09:00-10:00 New York holds pre-market and regular trades.

Trades must arrive sorted by ``ts`` with a deterministic tie order (the gold layer
sorts by ``(ts, trade_id)``): open and close are the first and last trade of the
bar in that order. Every per-bar value uses only the bar's own trades and, for the
trade-to-trade return and the flat-run length, the trades before it, never later
ones (no look-ahead).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TradeArrays:
    """The columns bars need, as numpy arrays, one symbol, sorted."""

    ts_ns: np.ndarray  # int64 epoch ns UTC
    price: np.ndarray  # float64 > 0
    volume: np.ndarray  # float64 >= 0


@dataclass(frozen=True)
class Bars:
    """Per-bar arrays (length = number of non-empty bars) plus each bar's first-trade index."""

    bar_start_ns: np.ndarray
    first_trade: np.ndarray  # index into the trades of each bar's first trade
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    pv: np.ndarray  # sum(price * volume), for exact anchored VWAPs
    vwap: np.ndarray
    trade_count: np.ndarray
    price_std: np.ndarray
    median_price: np.ndarray
    dup_print_ratio: np.ndarray
    max_identical_prints: np.ndarray
    repeat_print_ratio: np.ndarray
    cross_ts_repeat_ratio: np.ndarray
    max_cross_ts_prints: np.ndarray
    max_cross_ts_reprints: np.ndarray
    cross_ts_repeat_share: np.ndarray
    max_cross_ts_volume_share: np.ndarray
    unique_price_ratio: np.ndarray
    max_abs_trade_return: np.ndarray
    max_trade_volume: np.ndarray
    flat_run_trades: np.ndarray
    flat_run_seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.bar_start_ns)


_INT_FIELDS: dict[str, type] = {
    name: np.int64
    for name in (
        "bar_start_ns",
        "first_trade",
        "trade_count",
        "max_identical_prints",
        "max_cross_ts_prints",
        "max_cross_ts_reprints",
        "flat_run_trades",
    )
}


def _segment_ids(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def aggregate_bars(trades: TradeArrays, bar_ns: int) -> Bars:
    """Bars and microstructure for one symbol's sorted trades (see the module doc).

    * ``dup_print_ratio``: share of the bar's prints identical in (ts, price, volume)
      to at least one other print; ``max_identical_prints`` the largest such group
      (1 when none). Identical prints are normal in real tapes; their *share* and
      group size are what separate wash-like bursts from ordinary ones.
    * ``repeat_print_ratio``: share of prints with the same price *and* volume as the
      symbol's previous print (any time gap; the first print of the series counts as no repeat).
    * ``cross_ts_repeat_ratio``: share of the bar's prints whose (price, volume) pair also
      prints at a *different* timestamp in the same bar; ``max_cross_ts_prints`` the prints of
      the largest such pair (0 when none). A normal identical-print run shares one timestamp
      and a chance match of a round lot at the same tick is a pair or two; a wash trade
      re-prints one (price, size) in several clusters, so both figures jump.
    * ``max_cross_ts_reprints``: the most *new* timestamps any one (price, volume) pair of the
      bar prints at after its first (distinct timestamps - 1; 0 when no pair spreads). Three
      same-ms copies count 0, three prints at three timestamps count 2: it counts the back and
      forth of a wash trade, not the fills of one order.
    * ``cross_ts_repeat_share``: of the bar's repeated prints (a print whose (price, volume)
      pair already printed earlier in the bar), the share at a new timestamp of that pair
      (0 when nothing repeats). Identical-print runs (one order filling several resting
      orders in one ms) give 0, a wash trade's legs give a high share.
    * ``max_cross_ts_volume_share``: the volume of the largest (by volume) pair printed at two
      or more timestamps, as a share of the bar's volume (0 when none, or no volume).
    * ``max_abs_trade_return``: max ``|ln(p_i / p_{i-1})|`` against the symbol's
      previous trade (so a spike on a bar's first print counts); 0 for the first trade.
    * ``flat_run_trades`` / ``flat_run_seconds``: the longest run of consecutive
      unchanged prices that is live within the bar, counted from where the run began
      (possibly in an earlier bar): stale quotes show up as long, long-lived runs.
    * ``price_std``: population std (ddof=0) of the bar's trade prices.
    * ``vwap``: ``sum(p*v) / sum(v)``; the mean price when the bar has no volume.
    """
    ts, p, v = trades.ts_ns, trades.price, trades.volume
    n = len(ts)
    if n == 0:
        return Bars(**{f.name: np.empty(0, dtype=_INT_FIELDS.get(f.name, np.float64)) for f in fields(Bars)})
    bar_id = ts // bar_ns  # floor division: also right before 1970
    new_bar = np.empty(n, dtype=bool)
    new_bar[0] = True
    np.not_equal(bar_id[1:], bar_id[:-1], out=new_bar[1:])
    starts = np.flatnonzero(new_bar)
    counts = np.diff(np.append(starts, n))
    seg = _segment_ids(counts)
    nf = counts.astype(np.float64)

    open_ = p[starts]
    close = p[np.append(starts[1:], n) - 1]
    high = np.maximum.reduceat(p, starts)
    low = np.minimum.reduceat(p, starts)
    volume = np.add.reduceat(v, starts)
    pv = np.add.reduceat(p * v, starts)
    mean_price = np.add.reduceat(p, starts) / nf
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, pv / np.where(volume > 0, volume, 1.0), mean_price)
    dev = p - mean_price[seg]
    price_std = np.sqrt(np.add.reduceat(dev * dev, starts) / nf)

    # one stable sort by (bar, price, volume): bars stay contiguous (seg is the primary key and
    # already sorted) and the ts order survives inside each (price, volume) pair
    by_pair = np.lexsort((v, p, seg))
    sp, sv, st = p[by_pair], v[by_pair], ts[by_pair]
    median = (sp[starts + (counts - 1) // 2] + sp[starts + counts // 2]) / 2.0
    distinct = new_bar.copy()
    distinct[1:] |= sp[1:] != sp[:-1]
    unique_price_ratio = np.add.reduceat(distinct.astype(np.float64), starts) / nf

    # (price, volume) pairs printed at two or more timestamps of the bar
    pair_start = distinct.copy()
    pair_start[1:] |= sv[1:] != sv[:-1]
    new_ts = np.zeros(n, dtype=np.int64)
    new_ts[1:] = ~pair_start[1:] & (st[1:] != st[:-1])
    pstarts = np.flatnonzero(pair_start)
    pair_prints = np.diff(np.append(pstarts, n))
    pair_reprints = np.add.reduceat(new_ts, pstarts)  # distinct timestamps of the pair - 1
    spread = pair_reprints > 0  # the pair has a second timestamp
    cross_prints = np.repeat(np.where(spread, pair_prints, 0), pair_prints)
    cross_ts_repeat_ratio = np.add.reduceat((cross_prints > 0).astype(np.float64), starts) / nf
    max_cross_ts_prints = np.maximum.reduceat(cross_prints, starts)
    max_cross_ts_reprints = np.maximum.reduceat(np.repeat(pair_reprints, pair_prints), starts)
    reprints = np.add.reduceat(new_ts, starts).astype(np.float64)
    repeats = counts - np.add.reduceat(pair_start.astype(np.int64), starts)  # prints - pairs
    cross_ts_repeat_share = np.where(repeats > 0, reprints / np.maximum(repeats, 1), 0.0)
    cross_volume = np.repeat(np.where(spread, np.add.reduceat(sv, pstarts), 0.0), pair_prints)
    max_cross_volume = np.maximum.reduceat(cross_volume, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        max_cross_ts_volume_share = np.where(volume > 0, max_cross_volume / np.where(volume > 0, volume, 1.0), 0.0)

    # identical prints: group equal (ts, price, volume). Only prints sharing a timestamp
    # can be identical, so only those (a small share of a tape) are sorted.
    size = np.ones(n, dtype=np.int64)
    same_ts = ts[1:] == ts[:-1]
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same_ts
    tied[:-1] |= same_ts
    if tied.any():
        ti = np.flatnonzero(tied)
        order = ti[np.lexsort((v[ti], p[ti], ts[ti]))]
        ts_o, p_o, v_o = ts[order], p[order], v[order]
        group_start = np.empty(len(order), dtype=bool)
        group_start[0] = True
        group_start[1:] = (ts_o[1:] != ts_o[:-1]) | (p_o[1:] != p_o[:-1]) | (v_o[1:] != v_o[:-1])
        gstarts = np.flatnonzero(group_start)
        gsize = np.diff(np.append(gstarts, len(order)))
        size[order] = np.repeat(gsize, gsize)
    dup_print_ratio = np.add.reduceat((size > 1).astype(np.float64), starts) / nf
    max_identical_prints = np.maximum.reduceat(size, starts)

    repeat = np.zeros(n, dtype=np.float64)
    repeat[1:] = (p[1:] == p[:-1]) & (v[1:] == v[:-1])
    repeat_print_ratio = np.add.reduceat(repeat, starts) / nf

    trade_ret = np.zeros(n, dtype=np.float64)
    trade_ret[1:] = np.abs(np.log(p[1:] / p[:-1]))
    max_abs_trade_return = np.maximum.reduceat(trade_ret, starts)

    idx = np.arange(n)
    changed = np.empty(n, dtype=bool)
    changed[0] = True
    np.not_equal(p[1:], p[:-1], out=changed[1:])
    run_start = np.maximum.accumulate(np.where(changed, idx, 0))
    flat_run_trades = np.maximum.reduceat(idx - run_start + 1, starts)
    flat_run_seconds = np.maximum.reduceat(ts - ts[run_start], starts) / 1e9

    return Bars(
        bar_start_ns=bar_id[starts] * bar_ns,
        first_trade=starts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        pv=pv,
        vwap=vwap,
        trade_count=counts.astype(np.int64),
        price_std=price_std,
        median_price=median,
        dup_print_ratio=dup_print_ratio,
        max_identical_prints=max_identical_prints.astype(np.int64),
        repeat_print_ratio=repeat_print_ratio,
        cross_ts_repeat_ratio=cross_ts_repeat_ratio,
        max_cross_ts_prints=max_cross_ts_prints.astype(np.int64),
        max_cross_ts_reprints=max_cross_ts_reprints.astype(np.int64),
        cross_ts_repeat_share=cross_ts_repeat_share,
        max_cross_ts_volume_share=max_cross_ts_volume_share,
        unique_price_ratio=unique_price_ratio,
        max_abs_trade_return=max_abs_trade_return,
        max_trade_volume=np.maximum.reduceat(v, starts),
        flat_run_trades=flat_run_trades.astype(np.int64),
        flat_run_seconds=flat_run_seconds,
    )


def trade_arrays(trades: pd.DataFrame) -> TradeArrays:
    """Validated numpy columns from a trades frame (``ts`` datetime or epoch ms, UTC)."""
    return TradeArrays(
        ts_ns=ts_to_ns(trades["ts"]), price=price_array(trades["price"]), volume=volume_array(trades["volume"])
    )


def ts_to_ns(ts: pd.Series) -> np.ndarray:
    """Epoch ns (UTC) from a datetime column (naive = UTC, as Spark hands it with a UTC
    session time zone) or from integer epoch milliseconds (the landing format)."""
    if pd.api.types.is_integer_dtype(ts.dtype):
        return ts.to_numpy(dtype=np.int64) * 1_000_000
    if not pd.api.types.is_datetime64_any_dtype(ts.dtype):
        ts = pd.to_datetime(ts, utc=True)
    values = ts.array
    if not isinstance(values, pd.arrays.DatetimeArray):  # e.g. an Arrow-backed column
        values = pd.Series(ts.to_numpy(dtype="datetime64[ns]")).array
        assert isinstance(values, pd.arrays.DatetimeArray)
    # the underlying int64 is UTC epoch in the column's unit, for naive and tz-aware alike
    i8 = np.asarray(values.view("i8"), dtype=np.int64)
    if (i8 == np.iinfo(np.int64).min).any():
        raise ValueError(f"ts has {int(ts.isna().sum())} null value(s)")
    scale = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[values.unit]
    return i8 * scale if scale != 1 else i8.copy()


def price_array(price: pd.Series) -> np.ndarray:
    p = price.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(p) & (p > 0))
    if bad.any():
        raise ValueError(
            f"price must be finite and > 0; {int(bad.sum())} row(s) are not (silver should quarantine them)"
        )
    return p


def volume_array(volume: pd.Series) -> np.ndarray:
    v = volume.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(v) & (v >= 0))
    if bad.any():
        raise ValueError(f"volume must be finite and >= 0; {int(bad.sum())} row(s) are not")
    return v
