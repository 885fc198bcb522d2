"""A seeded synthetic market with labelled anomalies: the replay's default source.

What makes it realistic enough to train and test on:

* **Correlated GBM with volatility clustering.** One latent log-price per symbol
  on a 1-minute grid; shocks are correlated (equities with each other, crypto
  with each other, a little across) and scaled by a unit-mean GARCH(1,1)
  multiplier, so calm and turbulent stretches alternate.
* **Sessions.** Equities trade pre-market, regular and after-hours in
  America/New_York on NYSE trading days (DST-correct via the market calendar);
  the latent price keeps moving, at low variance, while the market is closed,
  so opens gap. Crypto trades 24/7 over the same calendar span.
* **Intraday activity.** Trade arrivals are Poisson with a U-shaped regular
  session profile (ending at the real close, 13:00 on NYSE early-close days),
  thin extended hours, and more trades when volatility is high.
* **Microstructure.** Prices sit on a tick grid with bid/ask bounce; sizes mix
  odd lots, round lots and blocks; a share of prints repeat as runs of
  identical prints (same ms, price and size), as in real tape: run lengths are
  geometric (mostly 2-4 copies) with an occasional long tail (a sweep filled as
  dozens of equal lots). Those are normal.
* **News.** Unlabelled news-like bursts (``news_rate`` of active symbol-minutes
  start one, 1-4 minutes long, decaying): several times the trades at larger
  sizes, higher variance and a lasting price jump. They are normal market
  behaviour, so a busy or volatile minute is not by itself an anomaly.
* **Labelled anomalies** (``anomaly_rate`` is the share of active symbol-minutes
  that get one, types balanced), each visible in 1-minute bar features. A share
  ``anomaly_subtlety`` of them is sized like normal behaviour and the rest is
  blatant, so no single feature separates anomalies from normal minutes:

  ==============  ===========================================  ===========================
  type            blatant                                      subtle
  ==============  ===========================================  ===========================
  price_spike     1-2 fat-finger prints 15-40 sigma away        3-8 sigma away
  volume_burst    8-20x the minute's trades at 10-40x size     2-5x the trades at 2-5x size
                  within 5-15 s                                within 10-40 s
  wash_trade      20-50 identical prints in 3-6 same-ms        3-8 identical prints over 2-4
                  clusters (legs)                              legs 1-15 s apart
  stale_price     3-8 minutes at one frozen price, padded to   1-2 minutes, the minute's own
                  at least 8 prints a minute                   prints only
  ==============  ===========================================  ===========================

  (sigma: the symbol's unconditional 1-minute volatility.)

Window 2 (the regime shift) is the next block of trading days with volatility,
drift and trade sizes changed by ``replay.regime_shift``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from financial_transactions.lakehouse.paths import window_days, window_name
from financial_transactions.market.calendar import (
    AFTER_HOURS,
    CLOSED,
    NEW_YORK,
    PRE_MARKET,
    REGULAR,
    REGULAR_OPEN,
    classify_sessions,
    is_trading_day,
    regular_close_minute,
)
from financial_transactions.replay.market import ANOMALY_TYPES, CRYPTO, EQUITY, MarketData

if TYPE_CHECKING:
    from financial_transactions.config.collectors import ReplayConfig

MINUTES_PER_YEAR = {EQUITY: 252 * 390, CRYPTO: 365 * 1440}
GARCH_ALPHA, GARCH_BETA = 0.06, 0.92
CORR_EQUITY, CORR_CRYPTO, CORR_CROSS = 0.55, 0.75, 0.15
ANOMALY_SPACING_MINUTES = 15
WARMUP_MINUTES = 30
#: identical-print runs: 1 + geometric(RUN_BODY_P) copies, or with RUN_TAIL_SHARE a long run of
#: RUN_TAIL_MIN - 1 + geometric(RUN_TAIL_P) copies (capped at RUN_MAX)
RUN_BODY_P, RUN_TAIL_SHARE, RUN_TAIL_MIN, RUN_TAIL_P, RUN_MAX = 0.5, 0.03, 6, 1 / 8, 80
#: news bursts: minutes, peak trade-rate / variance / trade-size multipliers, lasting jump in sigmas
NEWS_MINUTES = (1, 4)
NEWS_RATE_X, NEWS_VAR_X, NEWS_SIZE_X, NEWS_JUMP_SIGMA = (2.0, 6.0), (3.0, 12.0), (1.2, 3.0), (2.0, 6.0)
NEWS_DECAY_MINUTES = 1.5
#: subtle wash trades: the gap between consecutive legs (ms), like a party re-entering its own order
WASH_SUBTLE_GAP_MS = (1_000, 15_000)


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    asset_class: str
    price: float
    annual_vol: float
    tick: float
    qty_step: float  # 1 share for equities
    activity: float  # relative trade rate
    half_spread: float  # fraction of price


_KNOWN: dict[str, tuple[float, float, float]] = {  # price, annual vol, activity
    "AAPL": (230.0, 0.28, 1.2),
    "MSFT": (410.0, 0.25, 1.0),
    "NVDA": (120.0, 0.50, 1.4),
    "AMZN": (200.0, 0.33, 1.0),
    "JPM": (240.0, 0.22, 0.6),
    "GOOGL": (170.0, 0.30, 1.0),
    "TSLA": (250.0, 0.60, 1.3),
    "BTCUSDT": (85_000.0, 0.55, 1.4),
    "ETHUSDT": (2_200.0, 0.70, 1.0),
    "SOLUSDT": (140.0, 0.90, 0.6),
}


def symbol_spec(symbol: str, asset_class: str) -> SymbolSpec:
    """Parameters for a symbol: known tickers get plausible levels, others a stable hash-seeded draw."""
    if symbol in _KNOWN:
        price, vol, activity = _KNOWN[symbol]
    else:
        r = np.random.default_rng(zlib.crc32(symbol.encode()))
        price = float(np.round(r.uniform(20, 500) if asset_class == EQUITY else r.uniform(0.5, 5000), 2))
        vol = float(r.uniform(0.2, 0.5) if asset_class == EQUITY else r.uniform(0.5, 1.0))
        activity = float(r.uniform(0.6, 1.4))
    if asset_class == EQUITY:
        return SymbolSpec(symbol, EQUITY, price, vol, 0.01, 1.0, activity, 0.0001)
    qty_step = 10.0 ** (np.floor(np.log10(50.0 / price)) - 1)  # ~$0.5-5 of notional per step
    return SymbolSpec(symbol, CRYPTO, price, vol, 0.01, float(qty_step), activity, 0.00005)


def _ny_midnight_ms(day: date) -> int:
    return int(pd.Timestamp(day).tz_localize(NEW_YORK).tz_convert("UTC").value // 1_000_000)


def _correlation(specs: list[SymbolSpec]) -> np.ndarray:
    n = len(specs)
    corr = np.empty((n, n))
    for i, a in enumerate(specs):
        for j, b in enumerate(specs):
            if i == j:
                corr[i, j] = 1.0
            elif a.asset_class == b.asset_class:
                corr[i, j] = CORR_EQUITY if a.asset_class == EQUITY else CORR_CRYPTO
            else:
                corr[i, j] = CORR_CROSS
    return corr


def _equity_weight(session: np.ndarray, minute_of_day: np.ndarray, close_minute: np.ndarray) -> np.ndarray:
    """Relative trade intensity by New York minute: U-shaped regular session, thin extended hours.

    ``close_minute`` is each minute's regular close (13:00 on NYSE early-close days), so
    the closing rush and the after-hours decay follow the real close.
    """
    w = np.zeros(len(session))
    reg = session == REGULAR
    x = minute_of_day[reg] - REGULAR_OPEN
    last = close_minute[reg] - REGULAR_OPEN - 1
    w[reg] = 1.0 + 2.0 * np.exp(-x / 30.0) + 1.5 * np.exp(-(last - x) / 30.0)
    pre = session == PRE_MARKET
    w[pre] = 0.05 + 0.25 * np.exp(-(REGULAR_OPEN - minute_of_day[pre]) / 45.0)
    post = session == AFTER_HOURS
    w[post] = 0.04 + 0.3 * np.exp(-(minute_of_day[post] - close_minute[post]) / 40.0)
    return w


@dataclass(frozen=True)
class _News:
    """Per (minute, symbol) multipliers of the unlabelled news bursts (1 outside them) and the jumps."""

    rate_x: np.ndarray  # trade arrivals
    var_x: np.ndarray  # latent variance
    size_x: np.ndarray  # trade sizes
    jump_sigma: np.ndarray  # lasting log-price jump in the burst's first minute, in unconditional sigmas


def _news_bursts(rng: np.random.Generator, open_for: np.ndarray, rate: float) -> _News:
    """News-like bursts: each open (minute, symbol) starts one with probability ``rate``.

    A burst lasts 1-4 minutes; its trade-rate, variance and size multipliers peak in the
    first minute and decay (``NEWS_DECAY_MINUTES``); the price jumps 2-6 sigma and stays
    (a re-pricing, unlike a fat-finger print). Overlapping bursts keep the larger multiplier.
    """
    m, s = open_for.shape
    rate_x, var_x, size_x = np.ones((m, s)), np.ones((m, s)), np.ones((m, s))
    jump = np.zeros((m, s))
    starts = (rng.random((m, s)) < rate) & open_for
    for t, j in zip(*np.nonzero(starts), strict=True):
        length = int(rng.integers(NEWS_MINUTES[0], NEWS_MINUTES[1] + 1))
        stop = min(int(t) + length, m)
        decay = np.exp(-np.arange(stop - t) / NEWS_DECAY_MINUTES)
        for arr, (lo, hi) in ((rate_x, NEWS_RATE_X), (var_x, NEWS_VAR_X), (size_x, NEWS_SIZE_X)):
            arr[t:stop, j] = np.maximum(arr[t:stop, j], 1.0 + (float(rng.uniform(lo, hi)) - 1.0) * decay)
        jump[t, j] += float(rng.uniform(*NEWS_JUMP_SIGMA)) * (1 if rng.random() < 0.5 else -1)
    return _News(rate_x, var_x, size_x, jump)


class _Grid:
    """The 1-minute grid of a window with the latent paths and the arrival intensities."""

    def __init__(self, cfg: ReplayConfig, specs: list[SymbolSpec], window: int, start_prices: np.ndarray) -> None:
        self.days = window_days(cfg, window)
        self.t0 = _ny_midnight_ms(self.days[0])
        t_end = _ny_midnight_ms(self.days[-1] + timedelta(days=1))
        self.m = (t_end - self.t0) // 60_000
        self.minute_ts = self.t0 + np.arange(self.m, dtype=np.int64) * 60_000
        ts = pd.Series(pd.to_datetime(self.minute_ts, unit="ms", utc=True))
        self.session = classify_sessions(ts, EQUITY).to_numpy()
        ny = ts.dt.tz_convert(NEW_YORK)
        self.minute_of_day = (ny.dt.hour * 60 + ny.dt.minute).to_numpy()
        day_index, ny_days = pd.factorize(ny.dt.date)
        close_minute = np.array([regular_close_minute(d) for d in ny_days], dtype=np.int64)[day_index]
        shift = cfg.regime_shift if window > 1 else None
        rng = np.random.default_rng([cfg.seed, window, 1])
        s = len(specs)

        # variance profile: equities move slowly while closed; crypto always trades
        var_profile = np.ones((self.m, s))
        eq_prof = np.select(
            [self.session == REGULAR, np.isin(self.session, [PRE_MARKET, AFTER_HOURS])], [1.0, 0.4], 0.03
        )
        for j, sp in enumerate(specs):
            if sp.asset_class == EQUITY:
                var_profile[:, j] = eq_prof
        vol_mult = shift.volatility_multiplier if shift else 1.0
        base_var = np.array([(sp.annual_vol * vol_mult) ** 2 / MINUTES_PER_YEAR[sp.asset_class] for sp in specs])
        drift = np.array([(shift.annual_drift if shift else 0.0) / MINUTES_PER_YEAR[sp.asset_class] for sp in specs])
        chol = np.linalg.cholesky(_correlation(specs))
        z = rng.standard_normal((self.m, s)) @ chol.T
        g = np.empty((self.m, s))
        level = np.ones(s)
        omega = 1.0 - GARCH_ALPHA - GARCH_BETA
        for t in range(self.m):
            g[t] = level
            level = omega + GARCH_ALPHA * level * z[t] ** 2 + GARCH_BETA * level
        self.garch = g
        trading = self.session != CLOSED
        open_for = np.column_stack([trading if sp.asset_class == EQUITY else np.ones(self.m, bool) for sp in specs])
        news = _news_bursts(rng, open_for, cfg.news_rate)
        self.news = news
        self.minute_var = base_var * var_profile * g * news.var_x
        ret = (
            np.where(var_profile > 0.5, drift, drift * var_profile)
            + np.sqrt(self.minute_var) * z
            + news.jump_sigma * np.sqrt(base_var)
        )
        self.logp = np.vstack([np.log(start_prices), np.log(start_prices) + np.cumsum(ret, axis=0)])

        # arrival intensity per minute and symbol
        weight = _equity_weight(self.session, self.minute_of_day, close_minute) * trading
        self.lam = np.zeros((self.m, s))
        activity_boost = np.sqrt(g) / np.sqrt(g).mean(axis=0)
        repeat_factor = 1.0 / (1.0 + cfg.identical_print_rate * mean_run_extra_prints())  # runs add prints
        for j, sp in enumerate(specs):
            if sp.asset_class == EQUITY:
                per_day = np.bincount(day_index, weights=weight, minlength=int(day_index.max()) + 1)
                norm = np.where(per_day[day_index] > 0, weight / np.maximum(per_day[day_index], 1e-12), 0.0)
                self.lam[:, j] = cfg.equity_trades_per_day * sp.activity * norm
            else:
                hour_wave = 1.0 + 0.35 * np.cos((self.minute_of_day - 14 * 60) / 1440.0 * 2 * np.pi)
                self.lam[:, j] = cfg.crypto_trades_per_day * sp.activity * hour_wave / 1440.0
            self.lam[:, j] *= activity_boost[:, j] * repeat_factor * news.rate_x[:, j]

    def latent_price(self, j: int, minute: np.ndarray, frac: np.ndarray) -> np.ndarray:
        lo, hi = self.logp[minute, j], self.logp[minute + 1, j]
        return np.exp(lo + frac * (hi - lo))


def _run_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Copies in each of ``n`` identical-print runs: geometric (mostly 2-4), sometimes a long tail run."""
    body = 1 + rng.geometric(RUN_BODY_P, n)
    tail = RUN_TAIL_MIN - 1 + rng.geometric(RUN_TAIL_P, n)
    return np.minimum(np.where(rng.random(n) < RUN_TAIL_SHARE, tail, body), RUN_MAX)


def mean_run_extra_prints() -> float:
    """Expected extra prints a run adds (copies - 1), ignoring the RUN_MAX cap (it trims < 0.1%)."""
    body, tail = 1 / RUN_BODY_P, RUN_TAIL_MIN - 2 + 1 / RUN_TAIL_P
    return (1 - RUN_TAIL_SHARE) * body + RUN_TAIL_SHARE * tail


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(np.round(values / step) * step, 10)


def _sizes(rng: np.random.Generator, sp: SymbolSpec, price: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    n = len(price)
    if sp.asset_class == EQUITY:
        kind = rng.random(n)
        odd = rng.integers(1, 100, n).astype(float)
        lots = 100.0 * np.minimum(rng.geometric(0.45, n), 20)
        block = 100.0 * np.round(rng.lognormal(np.log(20), 0.6, n))
        size = np.where(kind < 0.45, odd, np.where(kind < 0.93, lots, block))
        return np.maximum(np.round(size * scale), 1.0)
    notional = rng.lognormal(np.log(400.0), 1.2, n) * scale
    return np.maximum(_round_to(notional / price, sp.qty_step), sp.qty_step)


@dataclass
class _Trades:
    minute: np.ndarray
    ts: np.ndarray
    price: np.ndarray
    volume: np.ndarray
    cond: np.ndarray
    anomaly: np.ndarray
    buyer_maker: np.ndarray

    @staticmethod
    def concat(parts: list[_Trades]) -> _Trades:
        return _Trades(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Trades.__dataclass_fields__))

    def take(self, idx: np.ndarray) -> _Trades:
        return _Trades(*(getattr(self, f)[idx] for f in _Trades.__dataclass_fields__))


def _conditions(sp: SymbolSpec, session: np.ndarray, volume: np.ndarray) -> np.ndarray:
    if sp.asset_class == CRYPTO:
        return np.zeros(len(volume), dtype=np.int8)
    regular = session == REGULAR
    odd = volume < 100
    return np.select([regular & ~odd, regular & odd, ~regular & ~odd], [1, 3, 2], 4).astype(np.int8)


def _normal_trades(
    grid: _Grid, j: int, sp: SymbolSpec, rng: np.random.Generator, cfg: ReplayConfig, size_scale: float
) -> _Trades:
    counts = rng.poisson(grid.lam[:, j])
    minute = np.repeat(np.arange(grid.m), counts)
    n = len(minute)
    offset = rng.integers(0, 60_000, n)
    frac = offset / 60_000.0
    bridge = np.sqrt(frac * (1 - frac) * grid.minute_var[minute, j]) * rng.standard_normal(n)
    side = rng.choice(np.array([-1.0, 1.0]), n)
    mid = grid.latent_price(j, minute, frac) * np.exp(bridge)
    price = np.maximum(_round_to(mid * (1 + side * sp.half_spread), sp.tick), sp.tick)
    volume = _sizes(rng, sp, price, size_scale * grid.news.size_x[minute, j])
    trades = _Trades(
        minute,
        grid.minute_ts[minute] + offset,
        price,
        volume,
        _conditions(sp, grid.session[minute], volume),
        np.zeros(n, dtype=np.int8),
        side < 0,
    )
    # runs of identical prints: normal market behaviour, not anomalies
    reps = np.where(rng.random(n) < cfg.identical_print_rate, _run_lengths(rng, n), 1)
    trades = trades.take(np.repeat(np.arange(n), reps))
    order = np.argsort(trades.ts, kind="stable")
    return trades.take(order)


def _pick_minutes(rng: np.random.Generator, eligible: np.ndarray, count: int) -> list[int]:
    chosen: list[int] = []
    for m in rng.permutation(eligible):
        if len(chosen) >= count:
            break
        if all(abs(int(m) - c) >= ANOMALY_SPACING_MINUTES for c in chosen):
            chosen.append(int(m))
    return sorted(chosen)


def _inject_anomalies(
    grid: _Grid, j: int, sp: SymbolSpec, rng: np.random.Generator, cfg: ReplayConfig, normal: _Trades, size_scale: float
) -> _Trades:
    active = np.flatnonzero(np.bincount(normal.minute, minlength=grid.m) > 0)
    n_events = round(cfg.anomaly_rate * len(active))
    if n_events == 0:
        return normal
    busy = grid.lam[:, j] >= 3.0  # enough prints for a visible burst / frozen price
    in_range = (np.arange(grid.m) >= WARMUP_MINUTES) & (np.arange(grid.m) < grid.m - 10)
    eligible = np.flatnonzero(in_range & (grid.lam[:, j] >= 0.5))
    if sp.asset_class == EQUITY:
        eligible = eligible[grid.session[eligible] != CLOSED]
    minutes = _pick_minutes(rng, eligible, n_events)
    types = np.resize(rng.permutation(np.arange(1, len(ANOMALY_TYPES))), len(minutes))
    rng.shuffle(types)
    sigma = np.sqrt(sp.annual_vol**2 / MINUTES_PER_YEAR[sp.asset_class])
    parts = [normal]
    stale_mask = np.zeros(len(normal.ts), dtype=bool)
    stale_price = np.zeros(len(normal.ts))
    for m, kind in zip(minutes, types, strict=True):
        name = ANOMALY_TYPES[kind]
        if name in ("volume_burst", "stale_price") and not busy[m]:
            name = "price_spike" if rng.random() < 0.5 else "wash_trade"
        subtle = bool(rng.random() < cfg.anomaly_subtlety)
        code = np.int8(ANOMALY_TYPES.index(name))
        if name == "price_spike":
            k = int(rng.integers(1, 3))
            off = np.sort(rng.integers(0, 60_000, k))
            size = float(rng.uniform(3, 8)) * sigma if subtle else max(0.008, float(rng.uniform(15, 40)) * sigma)
            jump = size * (1 if rng.random() < 0.5 else -1)
            price = _round_to(grid.latent_price(j, np.full(k, m), off / 60_000.0) * (1 + jump), sp.tick)
            vol = _sizes(rng, sp, price, size_scale)
            parts.append(_event(grid, sp, m, off, price, vol, code))
        elif name == "volume_burst":
            base = max(int(np.count_nonzero(normal.minute == m)), 3)
            lo, hi, size_x = (2, 5, float(rng.uniform(2, 5))) if subtle else (8, 20, float(rng.uniform(10, 40)))
            k = max(6 if subtle else 30, int(base * rng.uniform(lo, hi)))
            spread = int(rng.integers(10_000, 40_000)) if subtle else int(rng.integers(5_000, 15_000))
            start = int(rng.integers(0, 60_000 - spread))
            off = np.sort(start + rng.integers(0, spread, k))
            side = rng.choice(np.array([-1.0, 1.0]), k)
            mid = grid.latent_price(j, np.full(k, m), off / 60_000.0)
            price = _round_to(mid * (1 + side * sp.half_spread), sp.tick)
            vol = _sizes(rng, sp, price, size_scale * size_x)
            parts.append(_event(grid, sp, m, off, price, vol, code))
        elif name == "wash_trade":
            # one party trading with itself: the same (price, size) printed back and forth at distinct
            # timestamps (legs); a leg can fill as several same-ms copies, like any order
            if subtle:  # 3-8 prints over 2-4 legs 1-15 s apart
                legs = int(rng.integers(2, 5))
                gaps = rng.integers(WASH_SUBTLE_GAP_MS[0], WASH_SUBTLE_GAP_MS[1] + 1, legs - 1)
                first = int(rng.integers(0, 60_000 - int(gaps.sum())))
                stamps = first + np.concatenate([[0], np.cumsum(gaps)])
                copies = 1 + np.bincount(
                    rng.integers(0, legs, int(rng.integers(max(3, legs), 9)) - legs), minlength=legs
                )
            else:  # 20-50 identical prints spread over 3-6 legs (same-ms clusters of at least 2)
                stamps = np.unique(rng.integers(0, 60_000, int(rng.integers(3, 7))))
                copies = 2 + np.bincount(
                    rng.integers(0, len(stamps), int(rng.integers(20, 51)) - 2 * len(stamps)), minlength=len(stamps)
                )
            off = np.repeat(stamps, copies)
            k = len(off)
            price_one = _round_to(grid.latent_price(j, np.array([m]), np.array([0.5])), sp.tick)
            vol_one = _sizes(rng, sp, price_one, size_scale)
            wash = _event(grid, sp, m, off, np.repeat(price_one, k), np.repeat(vol_one, k), code)
            wash.buyer_maker = np.repeat(np.arange(len(stamps)) % 2 == 1, copies)  # the legs alternate sides
            parts.append(wash)
        else:  # stale_price: every print of a few minutes at one frozen price
            length = int(rng.integers(1, 3)) if subtle else int(rng.integers(3, 9))
            before = np.flatnonzero(normal.minute < m)
            frozen = (
                float(normal.price[before[-1]])
                if len(before)
                else float(_round_to(grid.latent_price(j, np.array([m]), np.array([0.0])), sp.tick)[0])
            )
            run = (normal.minute >= m) & (normal.minute < m + length)
            stale_mask |= run
            stale_price[run] = frozen
            for mm in range(m, min(m + length, grid.m)):
                have = int(np.count_nonzero(normal.minute == mm))
                if have < 8 and not subtle:  # blatant runs are padded so the frozen price is plain to see
                    off = np.sort(rng.integers(0, 60_000, 8 - have))
                    price = np.full(len(off), frozen)
                    parts.append(_event(grid, sp, mm, off, price, _sizes(rng, sp, price, size_scale), code))
    normal.price = np.where(stale_mask, stale_price, normal.price)
    normal.anomaly = np.where(stale_mask, np.int8(ANOMALY_TYPES.index("stale_price")), normal.anomaly).astype(np.int8)
    merged = _Trades.concat(parts)
    return merged.take(np.argsort(merged.ts, kind="stable"))


def _event(
    grid: _Grid, sp: SymbolSpec, minute: int, offsets: np.ndarray, price: np.ndarray, vol: np.ndarray, code: np.int8
) -> _Trades:
    k = len(offsets)
    minutes = np.full(k, minute)
    return _Trades(
        minutes,
        grid.minute_ts[minute] + offsets.astype(np.int64),
        np.maximum(price.astype(float), sp.tick),
        vol.astype(float),
        _conditions(sp, grid.session[minutes], vol),
        np.full(k, code, dtype=np.int8),
        np.zeros(k, dtype=bool),
    )


def _daily_history(
    spec: SymbolSpec, first_day: date, days: int, end_price: float, rng: np.random.Generator, cfg: ReplayConfig
) -> pd.DataFrame:
    """``days`` daily bars before ``first_day`` ending near ``end_price`` (what Alpha Vantage DAILY serves)."""
    if days == 0 or spec.asset_class != EQUITY:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"], dtype="float64")
    dates: list[date] = []
    d = first_day - timedelta(days=1)
    while len(dates) < days:
        if is_trading_day(d):
            dates.append(d)
        d -= timedelta(days=1)
    dates.reverse()
    sigma = spec.annual_vol / np.sqrt(252)
    r = rng.normal(0, sigma, days)
    log_close = np.log(end_price) - np.concatenate([np.cumsum(r[::-1])[::-1][1:], [0.0]])
    close = np.exp(log_close)
    prev = np.concatenate([[close[0] * np.exp(-r[0])], close[:-1]])
    open_ = prev * np.exp(rng.normal(0, sigma * 0.3, days))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, sigma * 0.5, days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, sigma * 0.5, days)))
    volume = np.round(rng.lognormal(np.log(cfg.equity_trades_per_day * spec.activity * 150), 0.3, days))
    frame = pd.DataFrame(
        {
            "open": _round_to(open_, 0.01),
            "high": _round_to(high, 0.01),
            "low": _round_to(low, 0.01),
            "close": _round_to(close, 0.01),
            "volume": volume,
        },
        index=pd.Index(dates, name="day"),
    )
    return frame


def build_synthetic_market(cfg: ReplayConfig, equities: list[str], crypto: list[str], *, window: int = 1) -> MarketData:
    """The seeded market of replay window ``window`` (1 = base regime, 2+ = regime-shifted)."""
    if window < 1:
        raise ValueError(f"replay window must be >= 1, got {window}")
    specs = [symbol_spec(s, EQUITY) for s in equities] + [symbol_spec(s, CRYPTO) for s in crypto]
    if not specs:
        raise ValueError("the synthetic market needs at least one equity or crypto symbol")
    start = np.array([sp.price for sp in specs])
    for w in range(1, window):  # later windows continue where the previous one ended
        start = np.exp(_Grid(cfg, specs, w, start).logp[-1])
    grid = _Grid(cfg, specs, window, start)
    size_scale = cfg.regime_shift.volume_multiplier if window > 1 else 1.0
    per_symbol: list[_Trades] = []
    histories: dict[str, pd.DataFrame] = {}
    for j, sp in enumerate(specs):
        rng = np.random.default_rng([cfg.seed, window, 2, j])
        trades = _normal_trades(grid, j, sp, rng, cfg, size_scale)
        trades = _inject_anomalies(grid, j, sp, rng, cfg, trades, size_scale)
        per_symbol.append(trades)
        if window == 1:
            histories[sp.symbol] = _daily_history(sp, grid.days[0], cfg.history_days, sp.price, rng, cfg)
    sym = np.concatenate([np.full(len(t.ts), j, dtype=np.int16) for j, t in enumerate(per_symbol)])
    exchange_id = np.concatenate([1_000_000_000 * (window) + np.arange(len(t.ts), dtype=np.int64) for t in per_symbol])
    allt = _Trades.concat(per_symbol)
    order = np.argsort(allt.ts, kind="stable")
    allt = allt.take(order)
    return MarketData(
        window=window_name(window),
        symbols=[sp.symbol for sp in specs],
        asset_classes=[sp.asset_class for sp in specs],
        sym=sym[order],
        ts=allt.ts.astype(np.int64),
        price=allt.price.astype(np.float64),
        volume=allt.volume.astype(np.float64),
        cond=allt.cond.astype(np.int8),
        anomaly=allt.anomaly.astype(np.int8),
        exchange_id=exchange_id[order],
        buyer_maker=allt.buyer_maker.astype(bool),
        trading_days=grid.days,
        daily_history=histories,
        description=(
            f"synthetic seed={cfg.seed} {window_name(window)} {grid.days[0]}..{grid.days[-1]}"
            + (" (regime shift)" if window > 1 else "")
        ),
    )
