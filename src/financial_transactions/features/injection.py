"""Labelled anomalies injected into a *copy* of real trades: ground truth for real market data.

Real feeds (Finnhub, Alpha Vantage, exchange feeds, a user's file) carry no anomaly
labels, and the rule label (:mod:`.labels`) is only a proxy. So the training and
evaluation path injects the anomaly types the platform detects into a copy of silver's
trades, rebuilds that copy's bars with the gold code (:func:`.feature_engineering.build_gold_features`)
and labels them ``injected``: the tournament, the gate, the performance monitor and the
retraining trigger then measure a model against known anomalies on real microstructure.
The copy lives in memory only: injected trades never enter ``silver_trades`` or
``gold_trade_features``, so the backtest and the decision matrix (which read real gold)
never see one.

What is injected, per symbol (``labels.injection``): ``rate`` of the symbol's eligible
bars get one anomaly, types balanced over ``types``; ``subtlety`` of them are sized like
normal trading, the rest are blatant (sigma: the symbol's robust std of bar log returns):

==============  ==============================================  ===============================
type            blatant                                         subtle
==============  ==============================================  ===============================
price_spike     1-2 fat-finger prints 15-40 sigma away           3-8 sigma away
volume_burst    8-20x the bar's trades, sizes from the top       2-5x the bar's trades, sizes
                decile of the symbol's sizes                     from its upper half
wash_trade      20-50 prints of one (price, size) over 3-6       3-8 prints of one (price, size)
                legs at distinct times (2+ copies a leg)         over 2-4 legs at distinct times
stale_price     3-8 bars of prints frozen at the last price,     1-2 bars, the bars' own prints
                padded to at least 8 prints a bar                only
==============  ==============================================  ===============================

A bar is eligible when it is not the symbol's first bar and no analyst verdict or
replay ground truth labels it (those outrank injection, so the sources never disagree
about a bar's trades).

**No artefacts.** A model must learn the anomaly, not the injector's fingerprints, so
every attribute of an injected trade is drawn from what the symbol's real trades show:

* prices are snapped to the symbol's price grid (its tick: the greatest common divisor
  of its prices at their decimal precision), so decimals look like real ones;
  burst and wash prices are prices the bar really traded at;
* sizes are sampled from the symbol's own sizes (bursts from its upper part), never
  scaled into values it never printed;
* times are a real bar start plus a within-bar offset sampled from the symbol's real
  trades, so time precision and sub-second digits are the real ones;
* a wash trade is the platform's wash trade (:mod:`financial_transactions.replay.synthetic`):
  the same (price, size) at *distinct* timestamps of the bar, each leg time a real offset;
  one same-time group of identical prints is how a real order fills resting orders, so it
  would label a normal print run anomalous. (Silver has no trade side, so the legs'
  alternating sides are not represented.)
* ids take the format of a real trade id of the same bar (its last digit run redrawn
  with the same number of digits, unique); an ``exchange_trade_id`` follows.

``tests/features/test_injection_artefacts.py`` checks it with the single-feature
separability check the models benchmark uses (:func:`.labels.best_single_feature_f1`).

Same trades, configuration and seed give the same injections (each symbol has its own
seeded stream, so adding a symbol does not move another's injections).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.config.ml import InjectionConfig, LabelsConfig
from financial_transactions.features.bars import ts_to_ns
from financial_transactions.features.feature_engineering import (
    GOLD_KEYS,
    SILVER_INPUT_COLUMNS,
    build_gold_features,
)
from financial_transactions.features.labels import (
    GROUND_TRUTH,
    INJECTED,
    LABEL_COLUMN,
    LABEL_SOURCE_COLUMN,
    covered_bars,
)

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform

EVENT_COLUMNS = ["window", "source", "symbol", "ts", "price", "volume", "anomaly_type", "trade_id"]
COVERAGE_COLUMNS = ["window", "symbol", "start", "end"]
#: ``window`` of injected events and coverage (ground truth uses the replay window's name).
INJECTION_WINDOW = "_injected"
_IQR_TO_STD = 1.349
_MAX_DECIMALS = 8
_DIGIT_RUNS = re.compile(r"\d+")
_BLATANT_SPIKE_MIN = 0.008  # a fat finger is at least 0.8% away whatever the volatility


@dataclass
class Injection:
    """The copy with injected anomalies, and what was injected where."""

    trades: pd.DataFrame  # the copy: every real trade (stale runs re-priced) plus the injected ones
    events: pd.DataFrame  # one row per injected or altered trade (EVENT_COLUMNS, ts UTC)
    coverage: pd.DataFrame  # per symbol injected into: first and last trade (COVERAGE_COLUMNS, UTC)
    anomalies: dict[str, int] = field(default_factory=dict)  # injected anomalies (events, not trades) per type
    eligible_bars: int = 0
    subtle: int = 0

    @property
    def injected_trades(self) -> int:
        return len(self.events)

    def summary(self) -> dict[str, Any]:
        return {
            "injected_anomalies": sum(self.anomalies.values()),
            "injected_trades": self.injected_trades,
            "injected_subtle": self.subtle,
            "injected_eligible_bars": self.eligible_bars,
            **{f"injected_{k}": v for k, v in sorted(self.anomalies.items())},
        }


@dataclass
class InjectedGold:
    """Gold rebuilt from the injected copy, with the labels' inputs (events and coverage)."""

    gold: pd.DataFrame
    injection: Injection


def _seed(cfg: InjectionConfig, salt: str, symbol: str) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, zlib.crc32(salt.encode()), zlib.crc32(symbol.encode())])


def _decimals(values: np.ndarray) -> np.ndarray:
    """Decimal places of each value (0 .. _MAX_DECIMALS), as its shortest round-trip form shows them."""
    out = np.full(len(values), _MAX_DECIMALS, dtype=np.int64)
    for d in range(_MAX_DECIMALS, -1, -1):
        exact = np.isclose(np.round(values, d), values, rtol=0, atol=10.0 ** -(_MAX_DECIMALS + 2))
        out[exact] = d
    return out


@dataclass(frozen=True)
class PriceGrid:
    """The symbol's tick: ``units`` of ``10**-decimals``."""

    decimals: int
    units: int

    @classmethod
    def of(cls, prices: np.ndarray) -> PriceGrid:
        decimals = int(_decimals(prices).max()) if len(prices) else 2
        scaled = np.round(prices * 10.0**decimals).astype(np.int64)
        units = int(np.gcd.reduce(scaled)) if len(scaled) else 1
        return cls(decimals, max(units, 1))

    @property
    def tick(self) -> float:
        return self.units / 10.0**self.decimals

    def snap(self, prices: np.ndarray) -> np.ndarray:
        """Nearest grid prices, at least one tick (a price is > 0)."""
        steps = np.maximum(np.round(np.asarray(prices, dtype=np.float64) / self.tick), 1.0)
        return np.round(steps * self.units / 10.0**self.decimals, self.decimals)


class _IdMaker:
    """New ids in the format of the symbol's real ids, unique among ``used`` (every id of the copy).

    First the id's last digit run is redrawn within the range that run takes among real ids of
    the same shape (digit runs masked), zero-padded as the template is, from the template or
    another real id of the symbol. Collector ids are dense (every position of every message
    is taken), so then the run before it (the message) continues just past its real range,
    as the next messages of the feed would.
    """

    def __init__(self, ids: np.ndarray, used: set[str], rng: np.random.Generator) -> None:
        self.ids = ids
        self.used = used
        self.rng = rng
        self.ranges: dict[tuple[str, int], tuple[int, int]] = {}
        self.after: dict[tuple[str, int], int] = {}  # the last number drawn past a full range
        self.full: set[str] = set()
        for value in ids.tolist():
            runs = _DIGIT_RUNS.findall(value)
            shape = _shape(value)
            for back in (1, 2):
                if len(runs) >= back:
                    number = int(runs[-back])
                    lo, hi = self.ranges.get((shape, back), (number, number))
                    self.ranges[(shape, back)] = (min(lo, number), max(hi, number))

    def like(self, template: str) -> tuple[str, str | None]:
        """A new id shaped like ``template`` and its drawn digit run (for an exchange trade id)."""
        first = 32 if _shape(template) in self.full else 0
        for attempt in range(first, 160):
            if attempt == 32:
                self.full.add(_shape(template))  # its range is taken: later ids go straight past it
            tpl = template if attempt % 2 == 0 or not len(self.ids) else str(self.rng.choice(self.ids))
            runs = list(_DIGIT_RUNS.finditer(tpl))
            if not runs:
                candidate, run = f"{tpl}{attempt}", None
            else:
                back = 1 if attempt < 32 or len(runs) == 1 else 2
                match = runs[-back]
                digits = match.group()
                lo, hi = self.ranges.get((_shape(tpl), back), (0, 10 ** len(digits) - 1))
                if attempt >= 32:  # past the real range, in order, as the feed's next numbers
                    last = self.after.get((_shape(tpl), back))
                    lo = hi = (hi if last is None else last) + 1 + int(self.rng.integers(0, 3))
                    self.after[(_shape(tpl), back)] = lo
                number = str(int(self.rng.integers(lo, hi + 1)))
                run = number.zfill(len(digits)) if digits.startswith("0") and len(digits) > 1 else number
                candidate = f"{tpl[: match.start()]}{run}{tpl[match.end() :]}"
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate, run
        raise ValueError(f"cannot draw a new trade id like {template!r}: 160 draws all collided")


def _shape(value: str) -> str:
    return re.sub(r"\d+", "#", value)


@dataclass
class _Symbol:
    """One symbol's real trades in (ts, trade_id) order, with what the injector samples from."""

    frame: pd.DataFrame
    ts_ns: np.ndarray
    price: np.ndarray
    volume: np.ndarray
    bar: np.ndarray  # bar index of each trade
    bar_start_ns: np.ndarray  # per bar
    first: np.ndarray  # first trade of each bar
    count: np.ndarray  # trades per bar
    offsets: np.ndarray  # within-bar offsets of the real trades (ns)
    distinct_offsets: int  # how many different offsets they take
    grid: PriceGrid
    sigma: float

    @classmethod
    def of(cls, frame: pd.DataFrame, bar_ns: int) -> _Symbol:
        ts_ns = ts_to_ns(frame["ts"])
        ids = frame["trade_id"].astype(str).to_numpy() if "trade_id" in frame.columns else np.zeros(len(frame))
        order = np.lexsort((ids, ts_ns))
        frame = frame.iloc[order].reset_index(drop=True)
        ts_ns = ts_ns[order]
        price = frame["price"].to_numpy(dtype=np.float64)
        start = (ts_ns // bar_ns) * bar_ns
        bar_start_ns, first, bar = np.unique(start, return_index=True, return_inverse=True)
        count = np.bincount(bar, minlength=len(bar_start_ns))
        last = np.append(first[1:], len(ts_ns)) - 1
        returns = np.diff(np.log(price[last]))
        sigma = 0.0
        if len(returns) >= 4:
            q75, q25 = np.percentile(returns, [75, 25])
            sigma = float((q75 - q25) / _IQR_TO_STD)
        if not sigma > 0:
            sigma = float(np.std(returns)) if len(returns) > 1 else 0.0
        return cls(
            frame=frame,
            ts_ns=ts_ns,
            price=price,
            volume=frame["volume"].to_numpy(dtype=np.float64),
            bar=bar,
            bar_start_ns=bar_start_ns,
            first=first,
            count=count,
            offsets=ts_ns - start,
            distinct_offsets=len(np.unique(ts_ns - start)),
            grid=PriceGrid.of(price),
            sigma=sigma if sigma > 0 else 1e-4,
        )


@dataclass
class _Plan:
    """The injected rows of one symbol, as columns, and the real rows re-priced."""

    template: list[int] = field(default_factory=list)  # a real trade of the bar, per injected row
    ts_ns: list[int] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    altered: dict[int, tuple[float, str]] = field(default_factory=dict)  # real row -> (new price, kind)

    def add(self, template: int, ts_ns: np.ndarray, price: np.ndarray, volume: np.ndarray, kind: str) -> None:
        k = len(ts_ns)
        self.template.extend([template] * k)
        self.ts_ns.extend(int(t) for t in ts_ns)
        self.price.extend(float(p) for p in np.broadcast_to(price, k))
        self.volume.extend(float(v) for v in np.broadcast_to(volume, k))
        self.kind.extend([kind] * k)


def _times(sym: _Symbol, b: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` times in bar ``b``: the bar start plus real within-bar offsets (sorted)."""
    return np.sort(sym.bar_start_ns[b] + rng.choice(sym.offsets, k))


def _distinct_times(sym: _Symbol, b: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct times in bar ``b`` (sorted): real within-bar offsets drawn as :func:`_times` draws them
    (so as often as the real prints sit there), a repeat drawn again. ``k`` <= ``sym.distinct_offsets``."""
    picked: list[int] = []
    while len(picked) < k:
        offset = int(sym.offsets[rng.integers(len(sym.offsets))])
        if offset not in picked:
            picked.append(offset)
    return np.sort(sym.bar_start_ns[b] + np.asarray(picked, dtype=np.int64))


def _inject_symbol(
    frame: pd.DataFrame,
    cfg: InjectionConfig,
    bar_ns: int,
    excluded_starts: np.ndarray,
    rng: np.random.Generator,
    used_ids: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], int, int]:
    """One symbol: the copy, its events, anomalies per type, eligible bars, subtle anomalies."""
    sym = _Symbol.of(frame, bar_ns)
    n_bars = len(sym.bar_start_ns)
    eligible = np.ones(n_bars, dtype=bool)
    eligible[:1] = False  # a spike or a frozen price needs an earlier price
    eligible &= ~np.isin(sym.bar_start_ns, excluded_starts)
    candidates = np.flatnonzero(eligible)
    n_events = round(cfg.rate * len(candidates))
    anomalies: dict[str, int] = {}
    if n_events == 0:
        return sym.frame, pd.DataFrame(columns=EVENT_COLUMNS), anomalies, len(candidates), 0
    bars = np.sort(rng.choice(candidates, n_events, replace=False))
    kinds = np.resize(rng.permutation(np.asarray(cfg.types, dtype=object)), n_events)
    rng.shuffle(kinds)
    used = ~eligible
    used[bars] = True  # chosen bars are reserved: a stale run stops before one, so every chosen bar gets its anomaly
    plan = _Plan()
    subtle_count = 0
    sizes = np.sort(sym.volume)
    upper_half, top_decile = sizes[len(sizes) // 2 :], sizes[(len(sizes) * 9) // 10 :]
    for b, kind in zip(bars.tolist(), kinds.tolist(), strict=True):
        subtle = bool(rng.random() < cfg.subtlety)
        first = int(sym.first[b])
        rows = np.arange(first, first + int(sym.count[b]))
        if kind == "price_spike":
            k = int(rng.integers(1, 3))
            ts = _times(sym, b, k, rng)
            before = np.searchsorted(sym.ts_ns, ts, side="left") - 1
            ref = sym.price[np.maximum(before, 0)]
            size = (
                rng.uniform(3, 8, k) * sym.sigma
                if subtle
                else np.maximum(_BLATANT_SPIKE_MIN, rng.uniform(15, 40, k) * sym.sigma)
            )
            sign = np.where(rng.random(k) < 0.5, -1.0, 1.0)
            price = sym.grid.snap(ref * np.exp(sign * size))
            same = price == ref
            price[same] = sym.grid.snap(ref[same] + sign[same] * sym.grid.tick)
            plan.add(first, ts, price, rng.choice(sym.volume, k), kind)
        elif kind == "volume_burst":
            base = max(int(sym.count[b]), 3)
            lo, hi, floor, pool = (2, 5, 6, upper_half) if subtle else (8, 20, 30, top_decile)
            k = max(floor, int(base * rng.uniform(lo, hi)))
            plan.add(first, _times(sym, b, k, rng), rng.choice(sym.price[rows], k), rng.choice(pool, k), kind)
        elif kind == "wash_trade":
            # one party trading with itself: one (price, size) printed back and forth at distinct timestamps
            # (legs), as replay/synthetic.py generates them; a leg may fill as several same-time copies, like any
            # order. A single same-time group would be a normal identical-print run, not a wash trade.
            if sym.distinct_offsets < 2:
                continue  # every real print of the symbol sits at one offset: no distinct leg times to draw
            if subtle:  # 3-8 prints over 2-4 legs
                legs = min(int(rng.integers(2, 5)), sym.distinct_offsets)
                total = int(rng.integers(max(3, legs), 9))
                copies = 1 + np.bincount(rng.integers(0, legs, total - legs), minlength=legs)
            else:  # 20-50 prints over 3-6 legs of at least 2
                legs = min(int(rng.integers(3, 7)), sym.distinct_offsets)
                total = int(rng.integers(20, 51))
                copies = 2 + np.bincount(rng.integers(0, legs, total - 2 * legs), minlength=legs)
            price_one = float(rng.choice(sym.price[rows]))
            size_one = float(rng.choice(sym.volume))
            at = _distinct_times(sym, b, legs, rng)
            plan.add(first, np.repeat(at, copies), np.array([price_one]), np.array([size_one]), kind)
        else:  # stale_price: the run's real prints frozen at the last price before it
            length = int(rng.integers(1, 3)) if subtle else int(rng.integers(3, 9))
            frozen = float(sym.price[first - 1])
            for bb in range(b, min(b + length, n_bars)):
                if bb != b and used[bb]:
                    break  # another anomaly's bar, an excluded bar or another run
                used[bb] = True
                start = int(sym.first[bb])
                have = int(sym.count[bb])
                for r in range(start, start + have):
                    plan.altered[r] = (frozen, kind)
                if not subtle and have < 8:
                    plan.add(
                        start,
                        _times(sym, bb, 8 - have, rng),
                        np.array([frozen]),
                        rng.choice(sym.volume, 8 - have),
                        kind,
                    )
        anomalies[kind] = anomalies.get(kind, 0) + 1
        subtle_count += int(subtle)
    return (*_apply(sym, plan, rng, used_ids), anomalies, len(candidates), subtle_count)


def _apply(sym: _Symbol, plan: _Plan, rng: np.random.Generator, used: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The copy (real rows, stale ones re-priced, plus the injected rows) and the event rows."""
    copy = sym.frame.copy()
    altered = np.fromiter(plan.altered.keys(), dtype=np.int64, count=len(plan.altered))
    if len(altered):
        copy.loc[altered, "price"] = [plan.altered[int(r)][0] for r in altered]
    injected = copy.iloc[np.asarray(plan.template, dtype=np.int64)].copy()
    if len(injected):
        maker = _IdMaker(copy["trade_id"].astype(str).to_numpy(), used, rng) if "trade_id" in copy.columns else None
        if maker is not None:
            drawn = [maker.like(str(t)) for t in injected["trade_id"]]
            injected["trade_id"] = [d[0] for d in drawn]
            if "exchange_trade_id" in injected.columns:
                has = injected["exchange_trade_id"].notna().to_numpy()
                injected["exchange_trade_id"] = [d[1] if h else None for d, h in zip(drawn, has, strict=True)]
        injected["ts"] = pd.to_datetime(np.asarray(plan.ts_ns, dtype=np.int64), unit="ns", utc=True).as_unit(
            _unit(copy["ts"])
        )
        injected["price"] = np.asarray(plan.price, dtype=np.float64)
        injected["volume"] = np.asarray(plan.volume, dtype=np.float64)
    out = pd.concat([copy, injected], ignore_index=True) if len(injected) else copy
    n_real = len(copy)
    kinds = np.full(len(out), "", dtype=object)
    if len(altered):
        kinds[altered] = [plan.altered[int(r)][1] for r in altered]
    kinds[n_real:] = plan.kind
    marked = np.flatnonzero(kinds != "")
    events = pd.DataFrame(
        {
            "window": INJECTION_WINDOW,
            "source": out["source"].to_numpy()[marked] if "source" in out.columns else None,
            "symbol": out["symbol"].astype(str).to_numpy()[marked],
            "ts": pd.to_datetime(out["ts"].to_numpy()[marked], utc=True),
            "price": out["price"].to_numpy()[marked],
            "volume": out["volume"].to_numpy()[marked],
            "anomaly_type": kinds[marked],
            "trade_id": out["trade_id"].astype(str).to_numpy()[marked] if "trade_id" in out.columns else None,
        },
        columns=EVENT_COLUMNS,
    )
    ts_ns = ts_to_ns(out["ts"])
    ids = out["trade_id"].astype(str).to_numpy() if "trade_id" in out.columns else np.zeros(len(out))
    order = np.lexsort((ids, ts_ns))
    return out.iloc[order].reset_index(drop=True), events


def _unit(ts: pd.Series) -> Literal["s", "ms", "us", "ns"]:
    """The time unit of ``ts`` (the injected times keep the real column's precision)."""
    unit = str(getattr(ts.dtype, "unit", "ns"))
    return unit if unit in ("s", "ms", "us") else "ns"  # type: ignore[return-value]


def inject(
    trades: pd.DataFrame,
    cfg: InjectionConfig,
    bar_interval: str,
    *,
    excluded: pd.DataFrame | None = None,
    salt: str = "train",
) -> Injection:
    """Inject ``cfg``'s anomalies into a copy of ``trades`` (silver rows, any symbols); ``trades`` is not changed.

    ``excluded`` holds ``(symbol, bar_start)`` bars no injection may touch (those analyst
    feedback or ground truth labels). ``salt`` separates independent uses of one seed
    (training, the performance monitor), so they never inject the same bars.
    """
    missing = [c for c in ("symbol", "ts", "price", "volume") if c not in trades.columns]
    if missing:
        raise ValueError(f"trades to inject into lack column(s) {missing}")
    bar_ns = interval_ns(bar_interval)
    excluded_ns: dict[str, np.ndarray] = {}
    if excluded is not None and not excluded.empty:
        starts = ts_to_ns(excluded["bar_start"])
        for symbol, idx in excluded.groupby(excluded["symbol"].astype(str), sort=False).indices.items():
            excluded_ns[str(symbol)] = starts[idx]
    copies, events, coverage = [], [], []
    used_ids = set(trades["trade_id"].astype(str)) if "trade_id" in trades.columns else set()
    anomalies: dict[str, int] = {}
    eligible = subtle = 0
    for symbol, group in trades.groupby(trades["symbol"].astype(str), sort=True):
        rng = _seed(cfg, salt, str(symbol))
        copy, ev, kinds, n_eligible, n_subtle = _inject_symbol(
            group, cfg, bar_ns, excluded_ns.get(str(symbol), np.empty(0, np.int64)), rng, used_ids
        )
        copies.append(copy)
        eligible += n_eligible
        subtle += n_subtle
        for kind, n in kinds.items():
            anomalies[kind] = anomalies.get(kind, 0) + n
        if not ev.empty:
            events.append(ev)
            ts = pd.to_datetime(copy["ts"], utc=True)
            coverage.append(
                {"window": INJECTION_WINDOW, "symbol": str(symbol), "start": ts.iloc[0], "end": ts.iloc[-1]}
            )
    return Injection(
        trades=pd.concat(copies, ignore_index=True) if copies else trades.iloc[:0].copy(),
        events=pd.concat(events, ignore_index=True) if events else pd.DataFrame(columns=EVENT_COLUMNS),
        coverage=pd.DataFrame.from_records(coverage, columns=COVERAGE_COLUMNS),
        anomalies=dict(sorted(anomalies.items())),
        eligible_bars=eligible,
        subtle=subtle,
    )


def excluded_bars(
    gold: pd.DataFrame,
    coverage: pd.DataFrame | None,
    truth: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    bar_interval: str,
) -> pd.DataFrame:
    """The ``(symbol, bar_start)`` bars of ``gold`` a higher source labels: ground truth (covered or
    listed) and feedback."""
    keys = gold[GOLD_KEYS].copy()
    keys["bar_start"] = pd.to_datetime(keys["bar_start"], utc=True)
    taken = covered_bars(keys, coverage, bar_interval)
    frames = [keys.loc[taken]]
    bar_ns = interval_ns(bar_interval)
    if truth is not None and not truth.empty:
        starts = (ts_to_ns(truth["ts"]) // bar_ns) * bar_ns
        frames.append(
            pd.DataFrame({"symbol": truth["symbol"].astype(str), "bar_start": pd.to_datetime(starts, utc=True)})
        )
    if feedback is not None and not feedback.empty:
        frames.append(
            pd.DataFrame(
                {"symbol": feedback["symbol"].astype(str), "bar_start": pd.to_datetime(feedback["bar_start"], utc=True)}
            )
        )
    return pd.concat(frames, ignore_index=True).drop_duplicates()


def injection_active(labels: LabelsConfig) -> bool:
    """Whether ``labels`` asks for injected labels (enabled, and a source that uses them)."""
    return labels.injection.enabled and labels.source in ("auto", INJECTED)


def injected_gold(
    platform: Platform,
    gold: pd.DataFrame,
    truth: pd.DataFrame | None,
    coverage: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    *,
    salt: str,
) -> InjectedGold | None:
    """Gold for ``gold``'s bars rebuilt from an injected copy of silver (None: injection off or no eligible bar).

    Reads ``silver_trades`` for the symbols with eligible bars (bars in ``gold`` that neither
    ground truth nor feedback labels), injects only into bars of ``gold``'s time range,
    rebuilds those symbols' gold from the whole copy (indicators see the same history as
    real gold) and returns the rows at ``gold``'s keys plus the other symbols' real rows.
    Nothing is written.
    """
    cfg = platform.config
    if not injection_active(cfg.labels) or gold.empty:
        return None
    bar_interval = cfg.features.bar_interval
    excluded = excluded_bars(gold, coverage, truth, feedback, bar_interval)
    keys = gold[GOLD_KEYS].copy()
    keys["bar_start"] = pd.to_datetime(keys["bar_start"], utc=True)
    free = keys.merge(excluded.assign(_x=True), on=GOLD_KEYS, how="left")["_x"].isna().to_numpy()
    symbols = sorted(set(keys.loc[free, "symbol"].astype(str)))
    fqn = cfg.table("silver_trades")
    if not symbols or not platform.store.exists(fqn):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    table = platform.store.read_arrow(fqn, columns=[*SILVER_INPUT_COLUMNS, "exchange_trade_id"])
    table = table.filter(pc.is_in(table.column("symbol"), value_set=pa.array(symbols)))
    silver = table.to_pandas()
    if silver.empty:
        return None
    # bars outside gold's time range (history before a monitored window) are not injection targets
    start, end = keys["bar_start"].min(), keys["bar_start"].max()
    bar_ns = interval_ns(bar_interval)
    starts = pd.to_datetime((ts_to_ns(silver["ts"]) // bar_ns) * bar_ns, utc=True)
    outside = silver.loc[(starts < start) | (starts > end), ["symbol"]].assign(
        bar_start=starts[(starts < start) | (starts > end)]
    )
    injection = inject(silver, cfg.labels.injection, bar_interval, excluded=pd.concat([excluded, outside]), salt=salt)
    if injection.events.empty:
        return None
    injected_symbols = sorted(set(injection.events["symbol"].astype(str)))
    rebuilt = build_gold_features(
        injection.trades[injection.trades["symbol"].astype(str).isin(injected_symbols)], cfg.features
    )
    rebuilt["bar_start"] = pd.to_datetime(rebuilt["bar_start"], utc=True)
    wanted = keys[keys["symbol"].astype(str).isin(injected_symbols)]
    rebuilt = rebuilt.merge(wanted, on=GOLD_KEYS, how="inner")
    others = gold[~gold["symbol"].astype(str).isin(injected_symbols)]
    out = (
        pd.concat([others, rebuilt[list(gold.columns)]], ignore_index=True)
        if len(others)
        else rebuilt[list(gold.columns)]
    )
    return InjectedGold(out.reset_index(drop=True), injection)


def recall_by_type(frame: pd.DataFrame, flagged: np.ndarray) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per label source with anomaly types (injected, ground truth), per type: bars, flagged, recall.

    ``frame`` is a labelled slice (``label``, ``label_source``, ``anomaly_types``) and
    ``flagged`` the model's 0/1 decision per row. A bar holding two types counts for both.
    """
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    flagged = np.asarray(flagged, dtype=bool)
    positive = frame[LABEL_COLUMN].to_numpy() == 1
    types = frame["anomaly_types"].fillna("").astype(str)
    for source in (INJECTED, GROUND_TRUTH):
        rows = positive & (frame[LABEL_SOURCE_COLUMN].to_numpy() == source)
        if not rows.any():
            continue
        per: dict[str, dict[str, float | int]] = {}
        kinds = sorted({k for v in types[rows] for k in v.split(",") if k})
        for kind in kinds:
            mask = rows & types.str.split(",").apply(lambda v, k=kind: k in v).to_numpy()
            bars, hit = int(mask.sum()), int(flagged[mask].sum())
            per[kind] = {"bars": bars, "flagged": hit, "recall": round(hit / bars, 4)}
        out[source] = per
    return out


#: The raw trade attributes an injection artefact would show in (see :func:`trade_attributes`).
ARTEFACT_ATTRIBUTES = (
    "price_decimals",
    "price_last_digit",
    "size_decimals",
    "size_last_digit",
    "ts_millisecond",
    "ts_sub_millisecond",
    "ts_second",
    "id_length",
    "id_digits",
)


def trade_attributes(trades: pd.DataFrame) -> pd.DataFrame:
    """The raw, label-free attributes of each trade that an injector's fingerprints would change:
    price and size decimals and last digits, timestamp sub-second digits and precision, id format.

    Fed to :func:`.labels.best_single_feature_f1` (injected vs real rows) they measure how far
    a single attribute tells an injected trade from a real one.
    """
    price = trades["price"].to_numpy(dtype=np.float64)
    size = trades["volume"].to_numpy(dtype=np.float64)
    ts_ns = ts_to_ns(trades["ts"])
    ids = trades["trade_id"].astype(str) if "trade_id" in trades.columns else pd.Series([""] * len(trades))
    price_dec, size_dec = _decimals(price), _decimals(size)
    return pd.DataFrame(
        {
            "price_decimals": price_dec,
            "price_last_digit": np.round(price * 10.0**price_dec) % 10,
            "size_decimals": size_dec,
            "size_last_digit": np.round(size * 10.0**size_dec) % 10,
            "ts_millisecond": (ts_ns // 1_000_000) % 1000,
            "ts_sub_millisecond": ts_ns % 1_000_000,
            "ts_second": (ts_ns // 1_000_000_000) % 60,
            "id_length": ids.str.len().to_numpy(),
            "id_digits": ids.str.count(r"\d").to_numpy(),
        },
        index=trades.index,
    )
