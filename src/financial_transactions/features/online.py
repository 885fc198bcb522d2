"""Online features: each trade updates its symbol's state in O(1) and yields its bar's gold feature row.

The batch feature code (:func:`~financial_transactions.features.feature_engineering.build_gold_features`)
rebuilds a symbol's bars and indicators from all its trades. This module keeps, per symbol, what
that computation would carry from one trade to the next:

* **the open bar** (:class:`OpenBar`): OHLCV, ``sum(p*v)``, a running mean/variance, the median
  (two heaps), the distinct prices, the identical-print groups ``(ts, price, volume)``, the
  ``(price, volume)`` pairs with their timestamps and volume (the cross-timestamp repeat
  columns), the repeat / trade-return / flat-run bookkeeping against the previous print;
* **the indicator recursions over closed bars**: TA-Lib's own stream handles
  (:class:`~financial_transactions.features.indicators.BarStream`: EMA, SMA, Wilder RSI and ATR,
  MACD and signal, Bollinger, the rolling std of log returns, the volume z-score baseline, the
  trailing means of trade size and trade count), bit-identical to the batch kernels, and the
  session VWAP anchor (cumulative ``sum(p*v)`` / ``sum(v)`` restarted at each
  ``(trade_date, session_type)`` of :mod:`financial_transactions.market.calendar`).

A trade in a later bar interval closes the open bar (its values enter the recursions) and opens
the next; the feature row of the open bar is read with ``peek`` on every stream, so the row after
each trade is the last row :func:`build_gold_features` gives on all the symbol's trades so far
(``tests/features/test_online.py`` proves it over random streams). Integer and count columns are
exact; float columns agree to a relative 1e-9 (sums in another order, Welford's variance against
the batch's two-pass one).

**Ordering.** Trades of a bar are ordered by ``(ts, trade_id)`` as in gold (ties without a
trade_id keep their arrival order). A trade that arrives out of order *within the open bar* is
inserted where it belongs and the open bar is replayed from its trades (O(trades of the bar),
rare). A trade of the bar closed last (common: it arrives a few ms after the next bar's first print)
redoes that close: each close keeps the recursions from just before it (a clone of every stream
handle, about 25 µs per bar close) and the bar with its trades, so the bar takes the trade, its row is read,
it closes again and the open bar is replayed from the carry its first print now follows; a trade of
a bar between the two (which had no trade yet) closes a new bar there the same way. Either way the
state is what the trades in order would have given. A trade older than that, or of a seeded gold bar
(its trades are not held), is reported late by :meth:`SymbolState.apply` and changes nothing; the
caller decides (the API scores late trades on their own).

**Concurrency.** Each :class:`SymbolState` has its own lock; :meth:`OnlineFeatures.ingest`
takes the locks of the symbols it touches in name order (no deadlock), or, called with
``blocking=False`` (the event loop), returns ``None`` instead of waiting.

**Seeding** (:meth:`OnlineFeatures.seed`): the closed bars come from gold (the stream handles are
opened on each symbol's whole gold history, which is the batch kernel's own pass), and the
trades from the last bar with a price change onwards are replayed from silver, so the open bar
and the previous print (repeats, trade returns, the flat run) are exact too.
"""

from __future__ import annotations

import bisect
import heapq
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import SESSION_GRID_NS, interval_ns
from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.features import indicators as ind
from financial_transactions.features.feature_engineering import MAX_VOLUME_RATIO, feature_columns
from financial_transactions.market.calendar import AFTER_HOURS, PRE_MARKET, REGULAR, classify_sessions, session_date

#: Symbols held at most (each holds a few kB of state); trades of further symbols are reported as not held.
MAX_SYMBOLS = 10_000
_NAN = math.nan
_log = np.log  # numpy's log, not math.log: they differ in the last bit for ~5% of values, and gold uses numpy's
_expm1 = np.expm1


class OnlineTrade(NamedTuple):
    """One validated trade as the online state takes it."""

    symbol: str
    ts_ns: int
    price: float
    volume: float
    trade_id: str | None = None
    source: str | None = None
    asset_class: str = "equity"


@lru_cache(maxsize=16_384)
def bar_labels(grid_cell: int, asset_class: str) -> tuple[date, str]:
    """(trade_date, session_type) of a bar, from the market calendar.

    Constant over a 30-minute cell of UTC (every session boundary and New York midnight lie on
    one, see :mod:`.bars`), so one calendar call per cell and asset class serves every bar in it.
    """
    ts = pd.Series(pd.to_datetime([grid_cell * SESSION_GRID_NS], unit="ns", utc=True))
    trade_date = session_date(ts, asset_class).iloc[0]
    session = classify_sessions(ts, pd.Series([asset_class])).iloc[0]
    return trade_date, str(session)


class _Carry:
    """What a print needs from the symbol's earlier prints: the previous print and the live flat run."""

    __slots__ = ("idx", "prev_price", "prev_volume", "run_start_idx", "run_start_ts")

    def __init__(self) -> None:
        self.idx = 0
        self.prev_price: float | None = None
        self.prev_volume = _NAN
        self.run_start_idx = 0
        self.run_start_ts = 0

    def snapshot(self) -> tuple[int, float | None, float, int, int]:
        return self.idx, self.prev_price, self.prev_volume, self.run_start_idx, self.run_start_ts

    def restore(self, snap: tuple[int, float | None, float, int, int]) -> None:
        self.idx, self.prev_price, self.prev_volume, self.run_start_idx, self.run_start_ts = snap


# a trade inside the open bar: (ts_ns, tie key, price, volume, source, asset_class)
_BarTrade = tuple[int, str, float, float, str | None, str]
# what a trade did: (start of its bar in epoch ns, that bar's row, None for the open bar's: read it when needed)
Applied = tuple[int, dict[str, Any] | None]


class OpenBar:
    """The forming bar of one symbol: everything :func:`~.bars.aggregate_bars` computes for it, kept up per print."""

    __slots__ = (
        "bar_id",
        "close",
        "cross_prints",
        "dup_prints",
        "groups",
        "hi_heap",
        "high",
        "lo_heap",
        "low",
        "m2",
        "max_abs_trade_return",
        "max_cross_prints",
        "max_cross_volume",
        "max_identical",
        "max_reprints",
        "max_trade_volume",
        "mean",
        "n",
        "open",
        "pairs",
        "prices",
        "pv",
        "repeats",
        "reprints",
        "run_max_ns",
        "run_max_trades",
        "start",
        "sum_p",
        "trades",
        "volume",
    )

    def __init__(self, bar_id: int, start: tuple[int, float | None, float, int, int]) -> None:
        self.bar_id = bar_id
        self.start = start  # the carry before the bar's first print (to replay the bar)
        self.trades: list[_BarTrade] = []
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.open = self.high = self.low = self.close = _NAN
        self.volume = self.pv = self.sum_p = self.mean = self.m2 = 0.0
        self.lo_heap: list[float] = []  # max-heap (negated) of the lower half of the prices
        self.hi_heap: list[float] = []  # min-heap of the upper half
        self.prices: set[float] = set()
        self.groups: dict[tuple[int, float, float], int] = {}
        self.dup_prints = 0
        self.max_identical = 0
        # (price, volume) -> [prints, last ts, new timestamps after the first, volume]
        self.pairs: dict[tuple[float, float], list[Any]] = {}
        self.cross_prints = self.max_cross_prints = self.max_reprints = self.reprints = 0
        self.max_cross_volume = 0.0
        self.repeats = 0
        self.max_abs_trade_return = 0.0
        self.max_trade_volume = _NAN
        self.run_max_trades = 0
        self.run_max_ns = 0

    def add(self, ts: int, p: float, v: float, carry: _Carry) -> None:
        """One print in (ts, trade_id) order, O(1) (the median O(log n))."""
        n = self.n = self.n + 1
        if n == 1:
            self.open = self.high = self.low = p
            self.max_trade_volume = v
        else:
            if p > self.high:
                self.high = p
            if p < self.low:
                self.low = p
            if v > self.max_trade_volume:
                self.max_trade_volume = v
        self.close = p
        self.volume += v
        self.pv += p * v
        self.sum_p += p
        delta = p - self.mean  # Welford: stable where sum(p^2) - n*mean^2 would cancel
        self.mean += delta / n
        self.m2 += delta * (p - self.mean)

        lo, hi = self.lo_heap, self.hi_heap
        if not lo or p <= -lo[0]:
            heapq.heappush(lo, -p)
            if len(lo) > len(hi) + 1:
                heapq.heappush(hi, -heapq.heappop(lo))
        else:
            heapq.heappush(hi, p)
            if len(hi) > len(lo):
                heapq.heappush(lo, -heapq.heappop(hi))
        self.prices.add(p)

        key = (ts, p, v)
        size = self.groups.get(key, 0) + 1
        self.groups[key] = size
        if size == 2:
            self.dup_prints += 2
        elif size > 2:
            self.dup_prints += 1
        if size > self.max_identical:
            self.max_identical = size

        pair = self.pairs.get((p, v))
        if pair is None:
            self.pairs[(p, v)] = [1, ts, 0, v]
        else:
            pair[0] += 1
            pair[3] += v
            new_ts = ts != pair[1]
            if new_ts:
                pair[1] = ts
                pair[2] += 1
                self.reprints += 1
                if pair[2] > self.max_reprints:
                    self.max_reprints = pair[2]
            if pair[2]:
                self.cross_prints += pair[0] if new_ts and pair[2] == 1 else 1  # a pair that just spread counts whole
                if pair[0] > self.max_cross_prints:
                    self.max_cross_prints = pair[0]
                if pair[3] > self.max_cross_volume:
                    self.max_cross_volume = pair[3]

        prev = carry.prev_price
        if prev is not None:
            if p == prev and v == carry.prev_volume:
                self.repeats += 1
            ret = abs(float(_log(p / prev)))
            if ret > self.max_abs_trade_return:
                self.max_abs_trade_return = ret
        if prev is None or p != prev:
            carry.run_start_idx = carry.idx
            carry.run_start_ts = ts
        run = carry.idx - carry.run_start_idx + 1
        if run > self.run_max_trades:
            self.run_max_trades = run
        if ts - carry.run_start_ts > self.run_max_ns:
            self.run_max_ns = ts - carry.run_start_ts
        carry.prev_price = p
        carry.prev_volume = v
        carry.idx += 1

    def insert(self, trade: _BarTrade, carry: _Carry) -> None:
        """Add a print in its (ts, trade_id) place: appended in O(1), or, out of order, the bar replayed."""
        trades = self.trades
        if not trades or (trade[0], trade[1]) >= (trades[-1][0], trades[-1][1]):
            trades.append(trade)
            self.add(trade[0], trade[2], trade[3], carry)
            return
        at = bisect.bisect_right(trades, (trade[0], trade[1]), key=lambda t: (t[0], t[1]))
        trades.insert(at, trade)
        self.replay(carry)

    def replay(self, carry: _Carry) -> None:
        """Rebuild the bar from its trades, starting from the carry it opened with (O(trades of the bar))."""
        carry.restore(self.start)
        self.reset()
        for t in self.trades:
            self.add(t[0], t[2], t[3], carry)

    @property
    def median(self) -> float:
        lower = -self.lo_heap[0]
        return (lower + lower) / 2.0 if len(self.lo_heap) > len(self.hi_heap) else (lower + self.hi_heap[0]) / 2.0

    def microstructure(self) -> dict[str, float | int]:
        """The bar's own columns (those of :class:`~.bars.Bars` the features pass through)."""
        n, volume = self.n, self.volume
        repeats = n - len(self.pairs)
        return {
            "trade_count": n,
            "dup_print_ratio": (self.dup_prints / n),
            "max_identical_prints": self.max_identical,
            "repeat_print_ratio": self.repeats / n,
            "cross_ts_repeat_ratio": self.cross_prints / n,
            "max_cross_ts_prints": self.max_cross_prints,
            "max_cross_ts_reprints": self.max_reprints,
            "cross_ts_repeat_share": self.reprints / repeats if repeats > 0 else 0.0,
            "max_cross_ts_volume_share": self.max_cross_volume / volume if volume > 0 else 0.0,
            "unique_price_ratio": len(self.prices) / n,
            "max_abs_trade_return": self.max_abs_trade_return,
            "flat_run_trades": self.run_max_trades,
            "flat_run_seconds": self.run_max_ns / 1e9,
        }

    @property
    def vwap(self) -> float:
        return self.pv / self.volume if self.volume > 0 else self.sum_p / self.n

    @property
    def price_std(self) -> float:
        return math.sqrt(self.m2 / self.n)


class _Streams:
    """The indicator recursions of one symbol over its closed bars (see :func:`~.feature_engineering.bar_features`)."""

    def __init__(self, cfg: FeaturesConfig) -> None:
        self.sma = {w: ind.BarStream("SMA", timeperiod=w) for w in sorted(set(cfg.sma_windows))}
        self.ema = {w: ind.BarStream("EMA", timeperiod=w) for w in sorted(set(cfg.ema_windows))}
        self.rsi = ind.BarStream("RSI", timeperiod=cfg.rsi_period)
        self.macd = ind.BarStream(
            "MACD", outputs=3, fastperiod=cfg.macd.fast, slowperiod=cfg.macd.slow, signalperiod=cfg.macd.signal
        )
        self.bb = ind.BarStream(
            "BBANDS", outputs=3, **ind.bollinger_params(cfg.bollinger.period, cfg.bollinger.num_std)
        )
        self.atr = ind.BarStream("ATR", inputs=3, timeperiod=cfg.atr_period)
        self.vol = ind.BarStream("STDDEV", timeperiod=cfg.volatility_window, nbdev=1.0)  # over log returns
        zw = cfg.volume_zscore_window
        self.v_mean = ind.BarStream("SMA", timeperiod=zw)
        self.v_std = ind.BarStream("STDDEV", timeperiod=zw, nbdev=1.0)
        self.v_max = ind.BarStream("MAX", timeperiod=zw)
        self.v_min = ind.BarStream("MIN", timeperiod=zw)
        self.mtv_mean = ind.BarStream("SMA", timeperiod=zw)  # mean trade size
        tw = cfg.trade_rate_window
        self.tc_mean = ind.BarStream("SMA", timeperiod=tw) if tw > 1 else None  # window 1: the previous bar

    def by_close(self) -> list[ind.BarStream]:
        return [*self.sma.values(), *self.ema.values(), self.rsi, self.macd, self.bb]

    def copy(self) -> _Streams:
        """Independent streams at the same bar (a clone of every TA-Lib handle; spelled out, it is per bar close)."""
        twin = _Streams.__new__(_Streams)
        twin.sma = {w: stream.copy() for w, stream in self.sma.items()}
        twin.ema = {w: stream.copy() for w, stream in self.ema.items()}
        twin.rsi, twin.macd, twin.bb, twin.atr = self.rsi.copy(), self.macd.copy(), self.bb.copy(), self.atr.copy()
        twin.vol, twin.v_mean, twin.v_std = self.vol.copy(), self.v_mean.copy(), self.v_std.copy()
        twin.v_max, twin.v_min, twin.mtv_mean = self.v_max.copy(), self.v_min.copy(), self.mtv_mean.copy()
        twin.tc_mean = self.tc_mean.copy() if self.tc_mean is not None else None
        return twin


@dataclass
class _Closed:
    """Per-symbol values of the closed bars that the next bar's row reads (refreshed once per bar close)."""

    n: int = 0
    last_bar_id: int | None = None  # bar_start // bar_ns of the last closed bar
    close: float = _NAN
    any_loss: bool = False
    flat_streak: int = 0  # closed bars since the last one with high != low (or since the first)
    cum_pv: float = 0.0
    cum_v: float = 0.0
    base_pv: float = 0.0
    base_v: float = 0.0
    anchor: tuple[date, str] | None = None
    atr: float = _NAN
    v_mean: float = _NAN
    v_std: float = _NAN
    v_flat: bool = False
    mtv_base: float = _NAN
    tc_base: float = _NAN
    last_tc: float = _NAN

    def copy(self) -> _Closed:
        twin = _Closed.__new__(_Closed)
        twin.__dict__.update(self.__dict__)  # every field is immutable
        return twin


class SymbolState:
    """One symbol's online state: the open bar, the carry of the previous print, the recursions."""

    def __init__(self, symbol: str, cfg: FeaturesConfig, bar_ns: int) -> None:
        self.symbol = symbol
        self.cfg = cfg
        self.bar_ns = bar_ns
        self.seconds = bar_ns / 1e9
        self.lock = threading.Lock()
        self.bar: OpenBar | None = None
        self.carry = _Carry()
        self.closed = _Closed()
        self.streams = _Streams(cfg)
        #: the last bar closed here, with the streams and closed values from just before its close
        self._redo: tuple[OpenBar, _Streams, _Closed] | None = None

    # -- trades --------------------------------------------------------------------------------
    def apply(self, ts_ns: int, price: float, volume: float, trade_id: str | None = None,
              source: str | None = None, asset_class: str = "equity") -> Applied | None:  # fmt: skip
        """Add one trade: (start of its bar in epoch ns, its row), or None when it is late.

        The row is None for the open bar (read it with :meth:`row`); a trade into an earlier bar that
        rejoins (:meth:`_rejoin`) gives that bar's row, as of all its trades. Late: older than the last
        bar closed here (or, seeded without trades, than the last gold bar).
        """
        bar_id = ts_ns // self.bar_ns
        bar = self.bar
        if bar is None and self.closed.last_bar_id is not None and bar_id <= self.closed.last_bar_id:
            return None  # seeded bars without their trades are closed
        if bar is None or bar_id > bar.bar_id:
            if bar is not None:
                self._close(bar)
            bar = self.bar = OpenBar(bar_id, self.carry.snapshot())
        elif bar_id < bar.bar_id:
            return self._rejoin(bar, bar_id, (ts_ns, trade_id or "", price, volume, source, asset_class))
        bar.insert((ts_ns, trade_id or "", price, volume, source, asset_class), self.carry)
        return bar_id * self.bar_ns, None

    def _rejoin(self, open_bar: OpenBar, bar_id: int, trade: _BarTrade) -> tuple[int, dict[str, Any]] | None:
        """A trade from before the open bar, into the bar closed last or a new bar after it: redo the close.

        The recursions go back to just before that bar's close (the copies :meth:`_close` kept; for a
        new bar in the gap, the state as it is), the bar takes the trade in its (ts, trade_id) place,
        its row is read, it closes again, and the open bar is replayed from its new carry: the state is
        the one the trades in order would have given. O(trades of the two bars); None (late) for older.
        """
        redo, last = self._redo, self.closed.last_bar_id
        if redo is not None and bar_id == redo[0].bar_id:
            bar, self.streams, self.closed = redo  # the copies become the state: _close copies them again
        elif last is None or bar_id > last:
            bar = OpenBar(bar_id, open_bar.start)  # no trade of this bar yet: the state is the one before its close
        else:
            return None
        self.carry.restore(open_bar.start)  # the carry at the end of that bar (where an appended print starts)
        bar.insert(trade, self.carry)
        row = self.row(bar)
        self._close(bar)
        open_bar.start = self.carry.snapshot()
        open_bar.replay(self.carry)
        return bar_id * self.bar_ns, row

    def labels(self, bar: OpenBar) -> tuple[date, str, str, str | None]:
        """trade_date, session_type, asset_class and source of the bar (those of its first print)."""
        first = bar.trades[0]
        trade_date, session = bar_labels((bar.bar_id * self.bar_ns) // SESSION_GRID_NS, first[5])
        return trade_date, session, first[5], first[4]

    def _close(self, bar: OpenBar) -> None:
        """The open bar is complete: its values enter every recursion (kept from before, to redo it)."""
        c, s = self.closed, self.streams
        self._redo = (bar, s.copy(), c.copy())
        close, high, low, volume = bar.close, bar.high, bar.low, bar.volume
        tc = float(bar.n)
        for stream in s.by_close():
            stream.update(close)
        s.atr.update(high, low, close)
        if c.n:
            s.vol.update(float(_log(close / c.close)))
            c.any_loss = c.any_loss or close < c.close
        s.v_mean.update(volume)
        s.v_std.update(volume)
        s.v_max.update(volume)
        s.v_min.update(volume)
        s.mtv_mean.update(volume / tc)
        if s.tc_mean is not None:
            s.tc_mean.update(tc)
        trade_date, session, _, _ = self.labels(bar)
        self.closed.last_bar_id = bar.bar_id
        self._after_close(close, high == low, bar.pv, volume, (trade_date, session), tc)

    def _after_close(
        self, close: float, flat: bool, pv: float, volume: float, anchor: tuple[date, str], tc: float
    ) -> None:
        c = self.closed
        if c.n == 0 or anchor != c.anchor:
            c.base_pv, c.base_v = c.cum_pv, c.cum_v
        c.cum_pv += pv
        c.cum_v += volume
        c.anchor = anchor
        c.flat_streak = c.flat_streak + 1 if flat else 0
        c.n += 1
        c.close = close
        c.last_tc = tc
        self._refresh()

    def _refresh(self) -> None:
        c, s = self.closed, self.streams
        c.atr = s.atr.value
        c.v_mean = s.v_mean.value
        c.v_std = s.v_std.value
        c.v_flat = s.v_max.value == s.v_min.value
        c.mtv_base = s.mtv_mean.value
        c.tc_base = s.tc_mean.value if s.tc_mean is not None else c.last_tc

    # -- the feature row -------------------------------------------------------------------------
    def row(self, bar: OpenBar | None = None) -> dict[str, Any]:
        """The feature row of the open bar (what gold's last row for this symbol would hold now), or of ``bar``
        as the next bar after the closed ones."""
        bar = self.bar if bar is None else bar
        if bar is None:
            raise LookupError(f"{self.symbol} has no open bar yet")
        c, s, cfg = self.closed, self.streams, self.cfg
        close, high, low, volume = bar.close, bar.high, bar.low, bar.volume
        n = bar.n
        trade_date, session, asset, _ = self.labels(bar)
        log_ret = float(_log(close / c.close)) if c.n else _NAN
        atr = s.atr.peek(high, low, close)
        prev_atr = c.atr
        bar_range = high - low
        if math.isnan(prev_atr):
            range_atr = _NAN
        elif prev_atr > 0:
            range_atr = min(max(bar_range / prev_atr, 0.0), ind.ZSCORE_CAP)
        else:
            range_atr = ind.ZSCORE_CAP if bar_range > 0 else 0.0
        max_tv = bar.max_trade_volume
        base_tv = c.mtv_base
        max_volume_ratio = min(max(max_tv / base_tv, 0.0), MAX_VOLUME_RATIO) if base_tv > 0 else _NAN
        median = bar.median
        vwap = bar.vwap

        anchor = (trade_date, session)
        base_pv, base_v = (c.cum_pv, c.cum_v) if c.n == 0 or anchor != c.anchor else (c.base_pv, c.base_v)
        seg_v = (c.cum_v + volume) - base_v
        session_vwap = ((c.cum_pv + bar.pv) - base_pv) / seg_v if seg_v > 0 else close

        any_loss = c.any_loss or (c.n > 0 and close < c.close)
        _, _, hist = s.macd.peek(close)
        upper, middle, lower = s.bb.peek(close)
        percent_b, width = ind.bollinger_at(close, upper, middle, lower)
        vol = ind.volatility_at(s.vol.peek(log_ret), cfg.volatility_window) if c.n else _NAN
        out: dict[str, Any] = {
            "returns": float(_expm1(log_ret)),
            "log_return": log_ret,
            **bar.microstructure(),
            "max_abs_median_dev": max(abs(high / median - 1.0), abs(low / median - 1.0)),
            "price_std_rel": bar.price_std / vwap,
            "range_atr": range_atr,
            "max_trade_volume_share": max_tv / volume if volume > 0 else 0.0,
            "max_volume_ratio": max_volume_ratio,
            "volume_zscore": ind.volume_zscore_at(volume, c.v_mean, c.v_std, c.v_flat),
            "zero_var_bar_run": c.flat_streak + 1 if high == low else 0,
            "trades_per_second": n / self.seconds,
            "trade_rate_ratio": ind.trade_rate_ratio_at(float(n), c.tc_base),
            "rsi": ind.rsi_at(s.rsi.peek(close), any_loss),
            "macd_hist_rel": hist / close,
            "bb_percent_b": percent_b,
            "bb_width": width,
            "natr": atr / close,
            "vwap_deviation": close / session_vwap - 1.0,
            "volatility": vol,
            "is_regular_session": 1.0 if session == REGULAR else 0.0,
            "is_extended_session": 1.0 if session in (PRE_MARKET, AFTER_HOURS) else 0.0,
            "is_crypto": 1.0 if asset == "crypto" else 0.0,
        }
        for w, stream in s.sma.items():
            out[f"sma_{w}_dev"] = close / stream.peek(close) - 1.0
        for w, stream in s.ema.items():
            out[f"ema_{w}_dev"] = close / stream.peek(close) - 1.0
        return out

    # -- seeding ------------------------------------------------------------------------------------
    def seed_closed(self, gold: pd.DataFrame) -> None:
        """Take ``gold``'s bars (one symbol, sorted by bar_start, the symbol's history from its first bar) as closed."""
        if gold.empty:
            return
        s, c = self.streams, self.closed
        self._redo = None  # bars from gold come without their trades: none of them can be redone
        close = gold["close"].to_numpy(dtype=np.float64)
        high = gold["high"].to_numpy(dtype=np.float64)
        low = gold["low"].to_numpy(dtype=np.float64)
        volume = gold["volume"].to_numpy(dtype=np.float64)
        tc = gold["trade_count"].to_numpy(dtype=np.float64)
        for stream in s.by_close():
            stream.seed(close)
        s.atr.seed(high, low, close)
        if len(close) > 1:
            s.vol.seed(ind.log_returns(close)[1:])
        for stream in (s.v_mean, s.v_std, s.v_max, s.v_min):
            stream.seed(volume)
        s.mtv_mean.seed(volume / tc)
        if s.tc_mean is not None:
            s.tc_mean.seed(tc)
        pv = gold["vwap"].to_numpy(dtype=np.float64) * volume  # gold keeps the VWAP, not sum(p*v): exact to rounding
        dates = pd.to_datetime(gold["trade_date"]).dt.date.to_numpy(dtype=object)
        sessions = gold["session_type"].to_numpy(dtype=object)
        anchor = np.ones(len(close), dtype=bool)
        anchor[1:] = (dates[1:] != dates[:-1]) | (sessions[1:] != sessions[:-1])
        first = int(np.flatnonzero(anchor)[-1])
        cum_pv, cum_v = np.cumsum(pv), np.cumsum(volume)
        c.base_pv = float(cum_pv[first - 1]) if first else 0.0
        c.base_v = float(cum_v[first - 1]) if first else 0.0
        c.cum_pv, c.cum_v = float(cum_pv[-1]), float(cum_v[-1])
        c.anchor = (dates[-1], str(sessions[-1]))
        c.any_loss = bool((np.diff(close) < 0).any())
        c.flat_streak = int(gold["zero_var_bar_run"].iloc[-1])
        c.n = len(close)
        c.close = float(close[-1])
        c.last_tc = float(tc[-1])
        c.last_bar_id = int(pd.Timestamp(gold["bar_start"].iloc[-1]).value) // self.bar_ns
        self._refresh()
        self.carry.prev_price = c.close  # the previous print's volume is unknown: no repeat with it
        self.carry.idx = self.carry.run_start_idx = 0
        self.carry.run_start_ts = (c.last_bar_id + 1) * self.bar_ns


@dataclass
class Ingested:
    """What :meth:`OnlineFeatures.ingest` did with a batch of trades."""

    #: (symbol, bar_start ns, feature row) per bar the trades touched, the row as of its last trade
    rows: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    #: indices (into the batch) of trades older than their symbol's last closed bar (or of a bar seeded from
    #: gold, whose trades are not held), or of symbols beyond MAX_SYMBOLS
    late: list[int] = field(default_factory=list)
    #: indices of trades stamped after ``not_after_ns`` (a client clock ahead): they changed nothing
    ahead: list[int] = field(default_factory=list)


class OnlineFeatures:
    """The per-symbol states of a service; thread-safe (see the module doc)."""

    def __init__(self, cfg: FeaturesConfig, *, max_symbols: int = MAX_SYMBOLS) -> None:
        self.cfg = cfg
        self.bar_ns = interval_ns(cfg.bar_interval)
        self.columns = feature_columns(cfg)
        self.max_symbols = max_symbols
        self._states: dict[str, SymbolState] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._states)

    def state(self, symbol: str) -> SymbolState | None:
        """The symbol's state, created on first use (None once :attr:`max_symbols` are held)."""
        state = self._states.get(symbol)
        if state is None:
            with self._lock:
                state = self._states.get(symbol)
                if state is None:
                    if len(self._states) >= self.max_symbols:
                        return None
                    state = self._states[symbol] = SymbolState(symbol, self.cfg, self.bar_ns)
        return state

    def ingest(
        self, trades: Sequence[OnlineTrade], *, blocking: bool = True, not_after_ns: int | None = None
    ) -> Ingested | None:
        """Apply ``trades`` (any symbols, any order: each symbol's are taken in (ts, trade_id) order).

        Returns the row of every bar they touched, the late ones, and those stamped after
        ``not_after_ns`` (left out: a trade from the future would open a bar no real trade could
        reach again); ``blocking=False`` returns None, having changed nothing, when another
        thread holds one of the symbols.
        """
        out = Ingested()
        by_symbol: dict[str, list[int]] = {}
        if len(trades) == 1 and (not_after_ns is None or trades[0].ts_ns <= not_after_ns):
            by_symbol[trades[0].symbol] = [0]  # the streaming client's request: no grouping to do
        else:
            for i, t in enumerate(trades):
                if not_after_ns is not None and t.ts_ns > not_after_ns:
                    out.ahead.append(i)
                else:
                    by_symbol.setdefault(t.symbol, []).append(i)
        states: list[tuple[SymbolState, list[int]]] = []
        for symbol in sorted(by_symbol):
            state = self.state(symbol)
            if state is None:
                out.late.extend(by_symbol[symbol])
            else:
                states.append((state, by_symbol[symbol]))
        taken: list[threading.Lock] = []
        try:
            for state, _ in states:
                if not state.lock.acquire(blocking=blocking):
                    return None
                taken.append(state.lock)
            bar_ns = self.bar_ns
            for state, idx in states:
                if len(idx) > 1:
                    idx.sort(key=lambda i: (trades[i].ts_ns, trades[i].trade_id or ""))
                for j, i in enumerate(idx):
                    t = trades[i]
                    got = state.apply(t.ts_ns, t.price, t.volume, t.trade_id, t.source, t.asset_class)
                    if got is None:
                        out.late.append(i)
                        continue
                    start, row = got
                    if j + 1 == len(idx) or trades[idx[j + 1]].ts_ns // bar_ns != start // bar_ns:
                        # the batch's last trade in this bar; a rejoined bar's row is as of all its trades
                        out.rows.append((state.symbol, start, state.row() if row is None else row))
        finally:
            for lock in taken:
                lock.release()
        out.late.sort()
        return out

    def seed(self, gold: pd.DataFrame, trades: pd.DataFrame | None = None) -> dict[str, int]:
        """Start from gold bars (all of each symbol's) and the silver trades of their last bars.

        For each symbol, the bars up to the last one with a price change (high != low) before the
        last bar are taken as closed from gold; ``trades`` (silver columns: symbol, ts, price,
        volume, optional trade_id, source, asset_class) from that bar on are replayed, which
        rebuilds the open bar and the previous print exactly. Without them, every gold bar is
        closed and the next trade starts a new bar and a new flat run. Returns bars seeded per symbol.
        """
        seeded: dict[str, int] = {}
        if gold.empty:
            return seeded
        gold = _ordered(gold)
        by_symbol = dict(tuple(trades.groupby("symbol", sort=False))) if trades is not None and len(trades) else {}
        for symbol, bars in gold.groupby("symbol", sort=True):
            state = self.state(str(symbol))
            if state is None:
                break
            bars = bars.reset_index(drop=True)
            k = _tail_bar(bars)
            start_k = pd.Timestamp(bars["bar_start"].iloc[k]).value
            tail = _tail_trades(by_symbol.get(symbol), start_k)
            if tail is not None and tail[0].ts_ns // self.bar_ns != start_k // self.bar_ns:
                tail = None  # silver lacks that bar's trades: replaying from a later one would skip bars
            with state.lock:
                if tail is None:
                    state.seed_closed(bars)
                else:
                    state.seed_closed(bars.iloc[:k])
                    for t in tail:
                        state.apply(t.ts_ns, t.price, t.volume, t.trade_id, t.source, t.asset_class)
            seeded[str(symbol)] = len(bars)
        return seeded


def _ordered(gold: pd.DataFrame) -> pd.DataFrame:
    return gold.sort_values(["symbol", "bar_start"], kind="stable").drop_duplicates(
        ["symbol", "bar_start"], keep="last"
    )


def _tail_bar(bars: pd.DataFrame) -> int:
    """Index of the bar a seed replays from: the last one with a price change (high != low) before the last."""
    moving = np.flatnonzero(bars["high"].to_numpy()[:-1] != bars["low"].to_numpy()[:-1])
    return int(moving[-1]) if len(moving) else 0


def seed_since(gold: pd.DataFrame) -> pd.Timestamp | None:
    """The earliest trade :meth:`OnlineFeatures.seed` replays from silver for these gold bars (None: no bars).

    A seed needs silver only from here on, so a service over months of trades reads minutes of them.
    """
    if gold.empty:
        return None
    ordered = _ordered(gold)
    starts = [
        pd.Timestamp(bars["bar_start"].iloc[_tail_bar(bars.reset_index(drop=True))])
        for _, bars in ordered.groupby("symbol", sort=False)
    ]
    return min(starts)


def _tail_trades(trades: pd.DataFrame | None, since_ns: int | None = None) -> list[OnlineTrade] | None:
    """One symbol's trades from ``since_ns`` on (all without it), in gold's order; None when there are none."""
    if trades is None or trades.empty:
        return None
    from financial_transactions.features.bars import ts_to_ns

    ts = ts_to_ns(trades["ts"])
    part = trades
    if since_ns is not None:
        keep = ts >= since_ns
        if not keep.any():
            return None
        part, ts = trades[keep], ts[keep]
    ids = part["trade_id"].to_numpy(dtype=object) if "trade_id" in part.columns else np.full(len(part), None)
    source = part["source"].to_numpy(dtype=object) if "source" in part.columns else np.full(len(part), None)
    if "asset_class" in part.columns:
        asset = part["asset_class"].to_numpy(dtype=object)
    else:
        asset = np.where(source == "binance", "crypto", "equity").astype(object)
    out = [
        OnlineTrade(str(part["symbol"].iloc[0]), int(t), float(p), float(v), i, s, a)
        for t, p, v, i, s, a in zip(
            ts.tolist(),
            part["price"].to_numpy(dtype=np.float64).tolist(),
            part["volume"].to_numpy(dtype=np.float64).tolist(),
            ids,
            source,
            asset,
            strict=True,
        )
    ]
    out.sort(key=lambda t: (t.ts_ns, t.trade_id or ""))
    return out


def trades_of(frame: pd.DataFrame) -> list[OnlineTrade]:
    """Silver-like trades (symbol, ts, price, volume; trade_id, source, asset_class if present), in gold's order."""
    out: list[OnlineTrade] = []
    for _, part in frame.groupby("symbol", sort=True):
        out.extend(_tail_trades(part) or [])
    return out
