"""The replay's market: trades in columns, bars derived from them, the ground-truth file.

Both the synthetic market and a user's CSV become a :class:`MarketData`; the
replay servers only ever read this (Finnhub serves the equities and futures, the
Binance stream the crypto pairs, Alpha Vantage the equity bars).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from financial_transactions.ingest.landing import write_atomic
from financial_transactions.ingest.records import BINANCE, FINNHUB
from financial_transactions.lakehouse.paths import (
    ASSET_CLASSES_FILE,
    COVERAGE_FILE,
    asset_class_files,
    ground_truth_file,
)
from financial_transactions.market.calendar import REGULAR, classify_sessions, session_date

log = logging.getLogger(__name__)

EQUITY, CRYPTO, FUTURE = "equity", "crypto", "future"
#: The asset classes a user's file may declare (futures trade on the exchange feed, CME Globex sessions).
ASSET_CLASSES = (EQUITY, CRYPTO, FUTURE)
#: anomaly code -> label (0 = a normal trade)
ANOMALY_TYPES = ("", "price_spike", "volume_burst", "wash_trade", "stale_price")
#: condition-set code -> the ``c`` list the Finnhub replay sends
#: (replay codes: "1" regular sale, "12" extended-hours print, "37" odd lot).
CONDITION_SETS: tuple[tuple[str, ...], ...] = ((), ("1",), ("12",), ("1", "37"), ("12", "37"))


def source_for(asset_class: str) -> str:
    return BINANCE if asset_class == CRYPTO else FINNHUB


@dataclass
class MarketData:
    """Trades sorted by time (ties keep generation order, so identical-print runs stay adjacent)."""

    window: str
    symbols: list[str]
    asset_classes: list[str]
    sym: np.ndarray  # int16 index into symbols
    ts: np.ndarray  # int64 epoch ms
    price: np.ndarray  # float64
    volume: np.ndarray  # float64
    cond: np.ndarray  # int8 index into CONDITION_SETS
    anomaly: np.ndarray  # int8 index into ANOMALY_TYPES
    exchange_id: np.ndarray  # int64, per-symbol increasing (Binance "t")
    buyer_maker: np.ndarray  # bool
    trading_days: list[date] = field(default_factory=list)
    daily_history: dict[str, pd.DataFrame] = field(default_factory=dict)  # date-indexed OHLCV before the window
    description: str = ""
    # ``anomaly`` is ground truth (the generator's injections, a CSV's anomaly_type column); else it is all 0
    # and means "unknown", so no coverage is written and the trainer labels these bars by its rule
    has_ground_truth: bool = True

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("sym", "price", "volume", "cond", "anomaly", "exchange_id", "buyer_maker"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"market column {name!r} has {len(getattr(self, name))} rows, expected {n}")
        if n and np.any(np.diff(self.ts) < 0):
            raise ValueError("market trades must be sorted by time")

    def __len__(self) -> int:
        return len(self.ts)

    def symbols_of(self, asset_class: str) -> list[str]:
        return [s for s, a in zip(self.symbols, self.asset_classes, strict=True) if a == asset_class]

    def indices_for(self, asset_class: str) -> np.ndarray:
        """Positions (in time order) of the trades of one asset class."""
        codes = [i for i, a in enumerate(self.asset_classes) if a == asset_class]
        return np.flatnonzero(np.isin(self.sym, codes))

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "symbol": pd.Categorical.from_codes(self.sym.tolist(), categories=pd.Index(self.symbols)),
                "ts": self.ts,
                "price": self.price,
                "volume": self.volume,
                "anomaly": self.anomaly,
            }
        )

    def silver_frame(self) -> pd.DataFrame:
        """The trades as silver-shaped rows (what ``build_gold_features`` takes), skipping the collectors
        and the pipeline: for the model benchmark and tests that need gold fast. Ids follow trade order."""
        asset = np.asarray(self.asset_classes, dtype=object)[self.sym]
        return pd.DataFrame(
            {
                "trade_id": [f"replay-{i:09d}" for i in range(len(self))],
                "source": np.where(asset == CRYPTO, BINANCE, FINNHUB),
                "asset_class": asset,
                "symbol": np.asarray(self.symbols, dtype=object)[self.sym],
                "price": self.price,
                "volume": self.volume,
                "ts": pd.to_datetime(self.ts, unit="ms", utc=True),
            }
        )

    def counts(self) -> dict[str, int]:
        out = {"trades": len(self)}
        for ac in ASSET_CLASSES:
            if ac != FUTURE or FUTURE in self.asset_classes:
                out[f"{ac}_trades"] = len(self.indices_for(ac))
        for code, name in enumerate(ANOMALY_TYPES):
            if code:
                out[name] = int(np.count_nonzero(self.anomaly == code))
        return out

    # -- ground truth ----------------------------------------------------------
    def ground_truth_lines(self) -> list[dict[str, Any]]:
        idx = np.flatnonzero(self.anomaly > 0)
        return [
            {
                "source": source_for(self.asset_classes[self.sym[i]]),
                "symbol": self.symbols[self.sym[i]],
                "ts": int(self.ts[i]),
                "price": float(self.price[i]),
                "volume": float(self.volume[i]),
                "anomaly_type": ANOMALY_TYPES[self.anomaly[i]],
            }
            for i in idx
        ]

    def coverage(self) -> dict[str, Any]:
        """What the ground truth covers: per symbol, its first and last trade (epoch ms) in this window."""
        entries = []
        for code, symbol in enumerate(self.symbols):
            ts = self.ts[self.sym == code]
            if len(ts):
                asset = self.asset_classes[code]
                entries.append(
                    {
                        "symbol": symbol,
                        "asset_class": asset,
                        "source": source_for(asset),
                        "start_ms": int(ts[0]),
                        "end_ms": int(ts[-1]),
                        "trades": len(ts),
                        "anomalous_trades": int(np.count_nonzero(self.anomaly[self.sym == code])),
                    }
                )
        return {"window": self.window, "symbols": entries}

    def write_ground_truth(self, landing: Path) -> Path:
        """``<landing>/_ground_truth/<window>/anomalies.ndjson`` (atomic), one line per anomalous trade,
        ``asset_classes.json`` (each symbol's class, see :func:`recorded_asset_classes`) and, when the
        market's labels are ground truth, ``coverage.json`` beside it (:meth:`coverage`)."""
        path = ground_truth_file(landing, self.window)
        classes = dict(zip(self.symbols, self.asset_classes, strict=True))
        write_atomic(path.parent / ASSET_CLASSES_FILE, orjson.dumps(classes, option=orjson.OPT_SORT_KEYS))
        data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in self.ground_truth_lines())
        coverage = path.parent / COVERAGE_FILE
        if self.has_ground_truth:
            write_atomic(coverage, orjson.dumps(self.coverage(), option=orjson.OPT_INDENT_2))
        else:
            coverage.unlink(missing_ok=True)
        write_atomic(path, data)
        return path

    # -- bars (what the Alpha Vantage replay serves) ------------------------------
    def minute_bars(self, symbol: str) -> pd.DataFrame:
        """1-minute OHLCV of ``symbol`` indexed by bar start (UTC), minutes without trades omitted."""
        return self._minute_bars.get(symbol, _EMPTY_BARS)

    @cached_property
    def _minute_bars(self) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        frame = self.frame
        minute = frame["ts"] // 60_000 * 60_000
        grouped = frame.assign(minute=minute).groupby(["symbol", "minute"], observed=True, sort=True)
        bars = grouped.agg(
            open=("price", "first"),
            high=("price", "max"),
            low=("price", "min"),
            close=("price", "last"),
            volume=("volume", "sum"),
        )
        for symbol in self.symbols:
            if symbol in bars.index.get_level_values(0):
                b = pd.DataFrame(bars.xs(symbol, level="symbol"))
                b.index = pd.to_datetime(b.index, unit="ms", utc=True)
                out[symbol] = b
        return out

    def daily_bars(self, symbol: str) -> pd.DataFrame:
        """Daily OHLCV (index: New York date) = synthetic history + the window's regular sessions."""
        history = self.daily_history.get(symbol, _EMPTY_BARS)
        code = self.symbols.index(symbol) if symbol in self.symbols else -1
        mask = self.sym == code
        if not mask.any():
            return history
        ts = pd.Series(pd.to_datetime(self.ts[mask], unit="ms", utc=True))
        asset = self.asset_classes[code]
        keep = (classify_sessions(ts, asset) == REGULAR).to_numpy() if asset == "equity" else np.ones(len(ts), bool)
        if not keep.any():
            return history
        frame = pd.DataFrame(
            {
                "day": session_date(ts[keep].reset_index(drop=True)),
                "price": self.price[mask][keep],
                "volume": self.volume[mask][keep],
            }
        )
        window = frame.groupby("day", sort=True).agg(
            open=("price", "first"),
            high=("price", "max"),
            low=("price", "min"),
            close=("price", "last"),
            volume=("volume", "sum"),
        )
        return pd.concat([history, window]) if len(history) else window


def recorded_asset_classes(landing: Path | str) -> dict[str, str]:
    """``symbol -> asset class`` the replay windows played under ``landing`` (a later window wins).

    No vendor message carries an asset class: a user's file declares it (``--asset-class`` or its
    ``asset_class`` column) and the replay records it per window, for silver to classify by
    (``SymbolsConfig.asset_class``'s ``declared``). A record that is not such a mapping is an error
    naming the file.
    """
    out: dict[str, str] = {}
    for path in asset_class_files(landing):
        try:
            record = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc}); remove it or replay the window again") from exc
        if not isinstance(record, dict):
            raise ValueError(f"{path}: expected {{symbol: asset_class}}, got {type(record).__name__}")
        for symbol, asset in record.items():
            if asset not in ASSET_CLASSES:
                raise ValueError(f"{path}: symbol {symbol!r}: asset class {asset!r} is not one of {ASSET_CLASSES}")
            out[str(symbol)] = str(asset)
    return out


_EMPTY_BARS = pd.DataFrame(columns=["open", "high", "low", "close", "volume"], dtype="float64")
