"""A user's CSV or Parquet file as the replay market: trades, or OHLCV bars turned into trades.

Columns (case-insensitive; aliases in brackets):

* trades: ``symbol`` [ticker, s], ``ts`` [timestamp, time, datetime, date, t, transact_time,
  ts_event, sip_timestamp, participant_timestamp], ``price`` [p], ``volume`` [v, qty, quantity,
  size, amount]; optional ``asset_class`` (equity|crypto|future) and ``anomaly_type`` (a
  ground-truth label). The vendors' own trade exports read as they come: Binance trades and
  aggTrades (``time`` / ``transact_time``, ``qty`` / ``quantity``), Databento (``ts_event``,
  ``size``), Polygon flat files (``sip_timestamp``), Tardis (``timestamp``, ``amount``);
* bars: ``symbol``, ``ts`` (bar start), ``open``, ``high``, ``low``, ``close``, ``volume``.

``ts`` is epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
magnitude; float64 keeps a nanosecond stamp to 256 ns, well inside the millisecond kept)
or an ISO-8601 string (naive = UTC). A file whose first line is data (Binance's older
dumps have no header) is refused with the header it needs. A symbol is crypto when ``asset_class`` says
so or when it is one of the configured crypto pairs; otherwise an equity.
A single-instrument file (``DateTime,Price,Volume``) has no symbol column: its
``instrument`` argument (``--symbol``) names the instrument. ``asset_class`` (``--asset-class``)
sets the class of every symbol. A file of any age is accepted.

Daily bars (one bar per date, stamped at midnight) are trading days, not UTC
days: an equity's bar is played over its regular session (09:30-16:00 New York),
so its prints carry that date's session and trading date; crypto keeps UTC days.

Bars become five prints each, in a path a bar could have taken: open, then the
extreme nearer the open, the other extreme, and the close twice as a run of
identical prints (same ms, price and size), at 0, 1/4, 1/2 and 3/4 of the bar.
Identical prints already in a trades CSV are kept as they are. Bad rows are
errors naming the row: a replay source is input the user controls.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.lakehouse.paths import window_name
from financial_transactions.market.calendar import REGULAR, classify_sessions, session_date
from financial_transactions.replay.market import ANOMALY_TYPES, ASSET_CLASSES, CRYPTO, EQUITY, FUTURE, MarketData

ALIASES = {
    "symbol": ("symbol", "ticker", "s"),
    "ts": (
        "ts",
        "timestamp",
        "time",
        "datetime",
        "date",
        "t",
        "transact_time",
        "ts_event",
        "sip_timestamp",
        "participant_timestamp",
    ),
    "price": ("price", "p"),
    "volume": ("volume", "v", "qty", "quantity", "size", "amount"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "asset_class": ("asset_class",),
    "anomaly_type": ("anomaly_type",),
}


class CsvSourceError(ValueError):
    """The replay CSV cannot be used; the message names the file, row and problem."""


def _columns(frame: pd.DataFrame, path: Path) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    numeric = [c for c in frame.columns if _is_number(str(c))]
    if len(numeric) >= 2:  # names like "1773063000123" and "187.12": the header line is a trade
        raise CsvSourceError(
            f"{path}: the first line is data, not a header ({', '.join(map(str, frame.columns[:4]))}, ...); add a "
            "header naming the columns, e.g. for a Binance trades dump: "
            "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
        )
    found: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[name] = lower[alias]
                break
    for required in ("symbol", "ts", "volume"):
        if required not in found:
            raise CsvSourceError(f"{path}: no {required!r} column (accepted: {', '.join(ALIASES[required])})")
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _epoch_ms(values: pd.Series, path: Path, offset: int) -> np.ndarray:
    """Numbers by magnitude (s / ms / us / ns), anything else as an ISO-8601 time; a column may mix both."""
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    is_num = np.isfinite(numeric)
    scale = np.where(numeric > 1e17, 1e-6, np.where(numeric > 1e14, 1e-3, np.where(numeric > 1e11, 1.0, 1e3)))
    out = np.zeros(len(values), dtype=np.int64)
    out[is_num] = np.round(numeric[is_num] * scale[is_num]).astype(np.int64)
    if (~is_num).any():
        text = values[~is_num].astype(str)
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
        if parsed.isna().any():
            row = int(np.flatnonzero(~is_num)[int(np.argmax(parsed.isna().to_numpy()))])
            raise CsvSourceError(f"{path}: row {row + offset}: unparseable ts {values.iloc[row]!r}")
        out[~is_num] = (parsed.astype("int64") // 1_000_000).to_numpy()
    return out


def _positive(frame: pd.DataFrame, column: str, path: Path, offset: int, *, allow_zero: bool = False) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | ((values < 0) if allow_zero else (values <= 0))
    if bad.any():
        row = int(np.argmax(bad))
        need = "a number >= 0" if allow_zero else "a number > 0"
        raise CsvSourceError(f"{path}: row {row + offset}: {column} must be {need}, got {frame[column].iloc[row]!r}")
    return values


def read_user_file(path: Path) -> pd.DataFrame:
    """A CSV, or a Parquet file by its suffix (``.parquet``/``.pq``)."""
    if not path.is_file():
        raise CsvSourceError(f"{path}: replay file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.ParserError as exc:  # a ragged row: say which file and line, not pandas' tokeniser wording
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise CsvSourceError(f"{path}: not a readable CSV file: {exc}") from exc
        expected, line, saw = found.groups()
        raise CsvSourceError(
            f"{path}, line {line}: {saw} fields where the header has {expected}; fix or remove that row"
        ) from exc
    except (ValueError, OSError) as exc:
        raise CsvSourceError(f"{path}: not a readable CSV or Parquet file: {exc}") from exc


def load_csv_market(
    path: str | Path,
    *,
    crypto: list[str] | None = None,
    kind: str = "auto",
    window: int | str = 1,
    instrument: str | None = None,
    asset_class: str | None = None,
) -> MarketData:
    """Read a trades or bars file (CSV or Parquet) into a :class:`MarketData` (sorted by time, stable)."""
    path = Path(path)
    frame = read_user_file(path)
    if frame.empty:
        raise CsvSourceError(f"{path}: no rows")
    if isinstance(frame.index, pd.DatetimeIndex):  # a Parquet written from a time-indexed frame
        frame = frame.reset_index()
    lower = {str(c).strip().lower() for c in frame.columns}
    if instrument is not None:
        if lower & set(ALIASES["symbol"]):
            raise CsvSourceError(f"{path}: has a symbol column; --symbol is for single-instrument files without one")
        frame = frame.assign(symbol=instrument)
    cols = _columns(frame, path)
    offset = 2  # 1-based rows after the header line
    is_bars = all(c in cols for c in ("open", "high", "low", "close"))
    if kind == "auto":
        kind = "bars" if is_bars else "trades"
    if kind == "bars" and not is_bars:
        raise CsvSourceError(f"{path}: bars need open, high, low and close columns")
    if kind == "trades" and "price" not in cols:
        raise CsvSourceError(f"{path}: trades need a 'price' column (or pass bars with open/high/low/close)")
    symbols_raw = frame[cols["symbol"]]
    if symbols_raw.isna().any():
        raise CsvSourceError(f"{path}: row {int(np.argmax(symbols_raw.isna().to_numpy())) + offset}: missing symbol")
    symbol = symbols_raw.astype(str).str.strip().to_numpy()
    ts = _epoch_ms(frame[cols["ts"]], path, offset)
    volume = _positive(frame, cols["volume"], path, offset, allow_zero=True)
    crypto_set = set(crypto or [])
    if asset_class is not None:
        if asset_class not in ASSET_CLASSES:
            raise CsvSourceError(f"{path}: asset class must be one of {', '.join(ASSET_CLASSES)}, not {asset_class!r}")
        asset = np.full(len(frame), asset_class, dtype=object)
    elif "asset_class" in cols:
        asset = frame[cols["asset_class"]].astype(str).str.strip().str.lower().to_numpy()
        bad = ~np.isin(asset, list(ASSET_CLASSES))
        if bad.any():
            row = int(np.argmax(bad))
            raise CsvSourceError(
                f"{path}: row {row + offset}: asset_class must be one of {', '.join(ASSET_CLASSES)}, got {asset[row]!r}"
            )
    else:
        asset = np.where(np.isin(symbol, list(crypto_set)), CRYPTO, EQUITY)
    anomaly = np.zeros(len(frame), dtype=np.int8)
    if "anomaly_type" in cols:
        labels = frame[cols["anomaly_type"]].fillna("").astype(str).str.strip().to_numpy()
        codes = {name: i for i, name in enumerate(ANOMALY_TYPES)}
        for row, label in enumerate(labels):
            if label not in codes:
                raise CsvSourceError(f"{path}: row {row + offset}: unknown anomaly_type {label!r}")
            anomaly[row] = codes[label]

    if kind == "bars":
        o, h, lo, c = (_positive(frame, cols[k], path, offset) for k in ("open", "high", "low", "close"))
        bad = (lo > np.minimum(o, c)) | (h < np.maximum(o, c))
        if bad.any():
            raise CsvSourceError(f"{path}: row {int(np.argmax(bad)) + offset}: low/high do not bound open/close")
        symbol, ts, price, volume, asset, anomaly = _bars_to_trades(symbol, ts, o, h, lo, c, volume, asset, anomaly)
    else:
        price = _positive(frame, cols["price"], path, offset)

    names = sorted(set(symbol.tolist()), key=lambda s: (s in crypto_set or False, s))
    classes = {s: a for s, a in zip(symbol.tolist(), asset.tolist(), strict=True)}
    code = {s: i for i, s in enumerate(names)}
    sym = np.array([code[s] for s in symbol.tolist()], dtype=np.int16)
    order = np.argsort(ts, kind="stable")
    sym, ts, price, volume, anomaly = sym[order], ts[order], price[order], volume[order], anomaly[order]
    exchange_id = np.zeros(len(ts), dtype=np.int64)
    for i in range(len(names)):
        mask = sym == i
        exchange_id[mask] = 1 + np.arange(int(mask.sum()))
    ts_series = pd.Series(pd.to_datetime(ts, unit="ms", utc=True))
    asset_rows = pd.Series([classes[names[i]] for i in sym.tolist()])
    sessions = classify_sessions(ts_series, asset_rows).to_numpy()
    odd = volume < 100
    # NYSE sale conditions (regular / extended hours / odd lot) are an equity tape's; crypto and futures carry none
    no_conditions = np.isin(asset_rows.to_numpy(), [CRYPTO, FUTURE])
    cond = np.select(
        [no_conditions, (sessions == REGULAR) & ~odd, (sessions == REGULAR) & odd, ~odd],
        [0, 1, 3, 2],
        4,
    ).astype(np.int8)
    equity_days = session_date(ts_series[asset_rows.to_numpy() == EQUITY])
    return MarketData(
        window=window_name(window),
        symbols=names,
        asset_classes=[classes[s] for s in names],
        sym=sym,
        ts=ts.astype(np.int64),
        price=price.astype(np.float64),
        volume=volume.astype(np.float64),
        cond=cond,
        anomaly=anomaly,
        exchange_id=exchange_id,
        buyer_maker=np.zeros(len(ts), dtype=bool),
        trading_days=sorted(set(equity_days.tolist())),
        description=f"csv {path.name} ({kind}, {len(ts):,} trades)",
        has_ground_truth="anomaly_type" in cols,
    )


def _bars_to_trades(
    symbol: np.ndarray,
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    volume: np.ndarray,
    asset: np.ndarray,
    anomaly: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Five prints per bar (see the module docstring); the bar length is each symbol's smallest step."""
    step = np.full(len(ts), 60_000, dtype=np.int64)
    frame = pd.DataFrame({"symbol": symbol, "ts": ts})
    for _, idx in frame.groupby("symbol").groups.items():
        sts = np.sort(ts[np.asarray(idx)])
        diffs = np.diff(sts)
        diffs = diffs[diffs > 0]
        if len(diffs):
            step[np.asarray(idx)] = int(diffs.min())
    up = c >= o
    first_extreme = np.where(up, lo, h)
    second_extreme = np.where(up, h, lo)
    prices = np.stack([o, first_extreme, second_extreme, c, c], axis=1)
    daily = (step >= _MS_PER_DAY) & (ts % _MS_PER_DAY == 0) & (asset != CRYPTO)
    if daily.any():  # a trading day's bar, played over its session (see the module docstring)
        ts = ts.copy()
        step = step.copy()
        ts[daily] = _session_open_ms(ts[daily], asset[daily])
        step[daily] = np.where(asset[daily] == FUTURE, _FUTURE_DAY_MS, _EQUITY_DAY_MS)
    quarter = step // 4
    offsets = np.stack([np.zeros_like(step), quarter, 2 * quarter, 3 * quarter, 3 * quarter], axis=1)
    shares = np.array([0.25, 0.25, 0.25, 0.125, 0.125])
    vols = volume[:, None] * shares[None, :]
    n = len(ts) * 5
    return (
        np.repeat(symbol, 5),
        (ts[:, None] + offsets).reshape(n),
        prices.reshape(n),
        vols.reshape(n),
        np.repeat(asset, 5),
        np.repeat(anomaly, 5),
    )


_MS_PER_DAY = 86_400_000
_EQUITY_DAY_MS = 390 * 60_000  # the regular session, 09:30-16:00 New York
_FUTURE_DAY_MS = 390 * 60_000  # the day session, 08:30-15:00 Chicago


def _session_open_ms(midnights: np.ndarray, asset: np.ndarray) -> np.ndarray:
    """Epoch ms of the regular open on each date: 09:30 New York (equity), 08:30 Chicago (future); DST-exact."""
    dates = pd.to_datetime(midnights, unit="ms").normalize()
    out = np.empty(len(midnights), dtype=np.int64)
    for zone, hours, minutes, mask in (
        ("America/New_York", 9, 30, asset != FUTURE),
        ("America/Chicago", 8, 30, asset == FUTURE),
    ):
        if mask.any():
            local = (dates[mask] + pd.Timedelta(hours=hours, minutes=minutes)).tz_localize(zone)
            out[mask] = local.tz_convert("UTC").asi8 // 1_000_000
    return out


def split_in_time(market: MarketData, fraction: float, window: int) -> MarketData:
    """Window 1 = the first ``fraction`` of the file's time span, window 2 = the rest (real data, no transform)."""
    if len(market) < 2:
        raise CsvSourceError(f"{market.description}: too few trades to split into two windows")
    cut = int(market.ts[0] + fraction * (market.ts[-1] - market.ts[0]))
    keep = market.ts < cut if window == 1 else market.ts >= cut
    if not keep.any():
        raise CsvSourceError(f"{market.description}: window {window} of a {fraction:.0%} split holds no trades")
    days = {d for d in market.trading_days if (pd.Timestamp(d).value // 1_000_000 < cut) == (window == 1)}
    return MarketData(
        window=window_name(window),
        symbols=market.symbols,
        asset_classes=market.asset_classes,
        sym=market.sym[keep],
        ts=market.ts[keep],
        price=market.price[keep],
        volume=market.volume[keep],
        cond=market.cond[keep],
        anomaly=market.anomaly[keep],
        exchange_id=market.exchange_id[keep],
        buyer_maker=market.buyer_maker[keep],
        trading_days=sorted(days),
        description=f"{market.description} (window {window} of a {fraction:.0%} time split)",
        has_ground_truth=market.has_ground_truth,
    )


def shift_regime(
    market: MarketData, *, volatility_multiplier: float, annual_drift: float, volume_multiplier: float
) -> MarketData:
    """A regime-shifted copy of a (CSV) market for replay window 2.

    Each symbol's log-price path is stretched around its first price by
    ``volatility_multiplier`` and tilted by ``annual_drift``; sizes scale by
    ``volume_multiplier``; timestamps move forward by whole weeks past the
    original span, so weekdays and times of day (and thus sessions) stay put.
    """
    week = 7 * 86_400_000
    span = int(market.ts[-1] - market.ts[0]) if len(market) else 0
    weeks = span // week + 1
    price = market.price.copy()
    year_ms = 365.25 * 86_400_000
    for i in range(len(market.symbols)):
        mask = market.sym == i
        if not mask.any():
            continue
        logp = np.log(market.price[mask])
        t = (market.ts[mask] - market.ts[mask][0]) / year_ms
        price[mask] = np.exp(logp[0] + volatility_multiplier * (logp - logp[0]) + annual_drift * t)
    return MarketData(
        window=window_name(2),
        symbols=market.symbols,
        asset_classes=market.asset_classes,
        sym=market.sym,
        ts=market.ts + weeks * week,
        price=np.round(price, 8),
        volume=market.volume * volume_multiplier,
        cond=market.cond,
        anomaly=market.anomaly,
        exchange_id=market.exchange_id + len(market),
        buyer_maker=market.buyer_maker,
        trading_days=[d + pd.Timedelta(weeks=weeks).to_pytimedelta() for d in market.trading_days],
        description=market.description + " (regime shift)",
        has_ground_truth=market.has_ground_truth,
    )
