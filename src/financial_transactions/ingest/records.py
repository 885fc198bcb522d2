"""Vendor frames -> landing records, or quarantine reasons. Pure functions, no I/O.

Every frame a collector receives goes through one of the parsers here and comes
out as exactly one of: landing records, a keep-alive, a vendor error/control
message, or quarantine items (raw payload + reason). No exception escapes a
parser: that is what the hypothesis tests check.

Trade ids come from the receiving side (source, collector run, connection,
message sequence, position in the message), never from the content: identical
prints (same symbol, millisecond, price and volume) are distinct trades and are
common in real tick data. An id is stable once written, so reprocessing the
same landing file never creates a second row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import chain, groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import orjson

#: Quarantined raw payloads are capped so one pathological frame cannot fill a disk.
MAX_RAW_CHARS = 65_536
#: Absolute epoch-millisecond bounds of an event time: 1970-01-01 .. 2100-01-01. History of any age
#: is accepted; what guards against clock errors is the bound relative to the frame's receive time.
MIN_TS_MS = 0
MAX_TS_MS = 4_102_444_800_000
#: An event time may lead the receive time (the feed's clock as this collector saw it) by at most a day.
MAX_FUTURE_MS = 86_400_000
MAX_SYMBOL_LEN = 64
_MS_PER_DAY = 86_400_000

FINNHUB, BINANCE, ALPHAVANTAGE = "finnhub", "binance", "alphavantage"
SOURCES = (FINNHUB, BINANCE, ALPHAVANTAGE)


@dataclass(slots=True)
class Reject:
    """One quarantined unit: why, and the raw text it came from."""

    reason: str
    raw: str


#: One landing record ready to write: (symbol, event time in epoch ms, NDJSON line with newline).
LandingLine = tuple[str, int, bytes]


def landing_line(record: dict[str, Any]) -> LandingLine:
    return record["symbol"], record["ts"], orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


@dataclass(slots=True)
class Parsed:
    """What one frame turned into.

    ``kind`` is ``trade`` (records, maybe with some rejects), ``ping``,
    ``error`` (a vendor error message in ``message``), ``control`` (an
    acknowledgement such as a subscription result) or ``rejected`` (the whole
    frame is quarantined). ``records`` are serialized landing lines.
    """

    kind: str
    records: list[LandingLine] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    message: str | None = None
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Landing records in this frame (lines and chunks)."""
        return len(self.records) + sum(c.count for c in self.chunks)

    def landing_lines(self) -> list[tuple[str, bytes]]:
        """Every (symbol, line) of the frame, chunks split back into lines (for inspection and tests)."""
        out = [(symbol, line) for symbol, _, line in self.records]
        for c in self.chunks:
            out.extend((c.symbol, line + b"\n") for line in c.data.splitlines())
        return out


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive landing lines of one symbol on one UTC day, already joined (the hot path's output)."""

    symbol: str
    ts: int  # an event time of the chunk: picks the date partition
    data: bytes
    count: int


@dataclass(frozen=True, slots=True)
class FrameContext:
    """Receiving-side coordinates of one frame: everything a trade id is made of."""

    source: str
    collector: str
    collector_run: str
    connection: int
    msg_seq: int
    received_at: int  # epoch ms
    #: a live feed's bound into the past of ``received_at`` (None: any age, e.g. a replayed history)
    max_age_ms: int | None = None

    @property
    def ts_bounds(self) -> tuple[int, int]:
        """Accepted event times: at most ``MAX_FUTURE_MS`` after the receive time, ``max_age_ms`` before it."""
        low = MIN_TS_MS if self.max_age_ms is None else max(MIN_TS_MS, self.received_at - self.max_age_ms)
        return low, min(MAX_TS_MS, self.received_at + MAX_FUTURE_MS)

    @property
    def id_prefix(self) -> str:
        return f"{self.source}-{self.collector_run}-c{self.connection}-m{self.msg_seq}-p"


def _time_reason(field: str, value: Any, ctx: FrameContext) -> str:
    """Why an event time was rejected, relative to the frame's receive time (the feed's clock)."""
    if type(value) is int and ctx.max_age_ms is not None and MIN_TS_MS <= value < ctx.ts_bounds[0]:
        return f"{field} is more than {ctx.max_age_ms // 1000:,} s before the receive time (the live feed's age bound)"
    return f"missing or out-of-range {field} (more than a day after the receive time, or before 1970)"


def trade_id(source: str, collector_run: str, connection: int, msg_seq: int, position: int) -> str:
    """The landing trade id; see the module docstring for why it ignores content."""
    return f"{source}-{collector_run}-c{connection}-m{msg_seq}-p{position}"


def bar_id(symbol: str, interval: str, bar_ts_ms: int) -> str:
    """Alpha Vantage bars are unique by (symbol, interval, start), so content is the right key."""
    return f"{ALPHAVANTAGE}-{symbol}-{interval}-{bar_ts_ms}"


def raw_text(raw: bytes | str | Any) -> str:
    """Printable, size-capped text of a payload for the quarantine file."""
    if isinstance(raw, bytes | bytearray | memoryview):
        text = bytes(raw).decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw
    else:
        try:
            text = orjson.dumps(raw, default=str).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(raw)
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS]


def _loads(raw: bytes | str) -> tuple[Any, str | None]:
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {str(exc)[:120]}"
    except (TypeError, ValueError) as exc:  # e.g. a lone surrogate in a str frame
        return None, f"not JSON: {type(exc).__name__}"


def _number(value: Any) -> float | None:
    """A finite JSON number (bool is not a number)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        f = float(value)
        return f if math.isfinite(f) else None
    return None


def _decimal_string(value: Any) -> float | None:
    """Binance sends prices and quantities as decimal strings."""
    if type(value) is not str or not value or len(value) > 40:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    if not math.isfinite(f) or value.strip() != value or "_" in value:
        return None
    return f


def _epoch_ms(value: Any, bounds: tuple[int, int] = (MIN_TS_MS, MAX_TS_MS)) -> int | None:
    if type(value) is not int or not (bounds[0] <= value <= bounds[1]):
        return None
    return value


def _symbol(value: Any) -> str | None:
    if type(value) is not str or not value or len(value) > MAX_SYMBOL_LEN or not value.isprintable():
        return None
    if value.strip() != value:
        return None
    return value


def _conditions(value: Any) -> list[str] | None:
    if value is None:
        return []
    if type(value) is not list or len(value) > 64:
        return None
    out: list[str] = []
    for item in value:
        if type(item) is str and len(item) <= 16:
            out.append(item)
        elif type(item) is int:
            out.append(str(item))
        else:
            return None
    return out


def _finnhub_trade(entry: Any, ctx: FrameContext, position: int) -> dict[str, Any] | str:
    """One element of a Finnhub ``data`` array -> a landing record, or the rejection reason."""
    if type(entry) is not dict:
        return "trade entry is not an object"
    symbol = _symbol(entry.get("s"))
    if symbol is None:
        return "missing or invalid symbol 's'"
    price = _number(entry.get("p"))
    if price is None:
        return "missing or non-numeric price 'p'"
    if price <= 0:
        return "non-positive price"
    volume = _number(entry.get("v"))
    if volume is None:
        return "missing or non-numeric volume 'v'"
    if volume < 0:
        return "negative volume"
    ts = _epoch_ms(entry.get("t"), ctx.ts_bounds)
    if ts is None:
        return _time_reason("timestamp 't'", entry.get("t"), ctx)
    conditions = _conditions(entry.get("c"))
    if conditions is None:
        return "ill-typed conditions 'c'"
    return {
        "trade_id": f"{ctx.id_prefix}{position}",
        "record_type": "trade",
        "source": ctx.source,
        "symbol": symbol,
        "price": price,
        "volume": volume,
        "ts": ts,
        "conditions": conditions,
        "exchange_trade_id": None,
        "is_buyer_maker": None,
        "ingested_at": ctx.received_at,
        "collector": ctx.collector,
        "collector_run": ctx.collector_run,
        "connection": ctx.connection,
        "msg_seq": ctx.msg_seq,
        "position": position,
    }


_INF = float("inf")
_MAX_EXACT_INT = 2**53
_SYMBOL_JSON: dict[str, bytes] = {}
_CONDITIONS_JSON: dict[tuple[str, ...], bytes] = {}
_CACHE_LIMIT = 10_000


def _frame_formats(ctx: FrameContext) -> tuple[bytes, bytes]:
    """%-templates of one frame's landing lines (integer / float volume); only per-trade fields stay open.

    Same keys, order and values as ``orjson.dumps`` of the record dict (the
    tests hold the paths equal); the constant parts are escaped once per frame.
    ``%r`` of a float is its shortest round-trip repr, a valid JSON number.
    """

    def lit(value: Any) -> bytes:
        return orjson.dumps(value).replace(b"%", b"%%")

    prefix = lit(ctx.id_prefix)[:-1]  # open string: the position follows
    head = (
        b'{"trade_id":'
        + prefix
        + b'%d","record_type":"trade","source":'
        + lit(ctx.source)
        + b',"symbol":%b,"price":%r,"volume":'
    )
    tail = (
        b',"ts":%d,"conditions":%b,"exchange_trade_id":null,"is_buyer_maker":null,"ingested_at":'
        + lit(ctx.received_at) + b',"collector":' + lit(ctx.collector) + b',"collector_run":' + lit(ctx.collector_run)
        + b',"connection":' + lit(ctx.connection) + b',"msg_seq":' + lit(ctx.msg_seq) + b',"position":%d}\n'
    )  # fmt: skip
    return head + b"%d.0" + tail, head + b"%r" + tail


def _finnhub_columns(
    data: list[Any], fmts: tuple[bytes, bytes], bounds: tuple[int, int]
) -> list[LandingLine] | list[Chunk] | None:
    """The whole frame at once when every entry has the common valid shape; None = use the per-entry path.

    Column extraction, type sets and min/max/sum run as C loops over the frame;
    the acceptance rules are exactly the per-entry hot path's.
    """
    if set(map(type, data)) != {dict}:
        return None
    ss = [e.get("s") for e in data]
    sj = list(map(_SYMBOL_JSON.get, ss))
    if None in sj:
        return None
    ps = [e.get("p") for e in data]
    if set(map(type, ps)) != {float}:
        return None
    total = sum(ps)
    if not (total == total and total < _INF and min(ps) > 0.0):
        return None
    ts = [e.get("t") for e in data]
    if set(map(type, ts)) != {int} or min(ts) < bounds[0] or max(ts) > bounds[1]:
        return None
    vs = [e.get("v") for e in data]
    vtypes = set(map(type, vs))
    if vtypes == {int}:
        if min(vs) < 0 or max(vs) > _MAX_EXACT_INT:
            return None
        fmt = fmts[0]
    elif vtypes == {float}:
        vtotal = sum(vs)
        if not (vtotal == vtotal and vtotal < _INF and min(vs) >= 0.0):
            return None
        fmt = fmts[1]
    else:
        return None
    cs = [e.get("c") for e in data]
    if not set(map(type, cs)) <= {list, type(None)}:
        return None
    conds = _CONDITIONS_JSON
    cj = [b"[]" if c is None else conds.get(tuple(c)) for c in cs]
    if None in cj:
        return None
    n = len(data)
    first, last = min(ts), max(ts)
    if first // _MS_PER_DAY != last // _MS_PER_DAY:  # straddles midnight: one line at a time
        lines = [
            fmt % (i, sym, p, v, t, c, i) for i, (sym, p, v, t, c) in enumerate(zip(sj, ps, vs, ts, cj, strict=True))
        ]
        return list(zip(ss, ts, lines, strict=True))
    # one %-operation per symbol: the line template repeated, the fields of that symbol's trades flattened
    chunks: list[Chunk] = []
    positions = range(n)
    for symbol, group in groupby(sorted(positions, key=ss.__getitem__), key=ss.__getitem__):
        idx = list(group)
        k = len(idx)
        if k == n:
            cols: Any = (positions, sj, ps, vs, ts, cj, positions)
        elif k == 1:
            i = idx[0]
            cols = ((i,), (sj[i],), (ps[i],), (vs[i],), (ts[i],), (cj[i],), (i,))
        else:
            pick = itemgetter(*idx)
            cols = (idx, pick(sj), pick(ps), pick(vs), pick(ts), pick(cj), idx)
        chunks.append(Chunk(symbol, first, (fmt * k) % tuple(chain.from_iterable(zip(*cols, strict=True))), k))
    return chunks


def _finnhub_batch(data: list[Any], ctx: FrameContext) -> Parsed:
    """The hot path: the whole frame as columns, else plain per-entry type checks with cached JSON fragments.

    Anything unusual (ints as prices, odd condition lists, any invalid field)
    goes through :func:`_finnhub_trade`, which gives the same line or the
    rejection reason.
    """
    fmts = _frame_formats(ctx)
    low, high = bounds = ctx.ts_bounds
    try:
        whole = _finnhub_columns(data, fmts, bounds)
    except TypeError:  # unhashable symbols/conditions, unorderable values: the per-entry path explains
        whole = None
    if whole is not None:
        if whole and type(whole[0]) is Chunk:
            return Parsed("trade", chunks=whole)  # type: ignore[arg-type]
        return Parsed("trade", whole)  # type: ignore[arg-type]
    symbols, conds = _SYMBOL_JSON, _CONDITIONS_JSON
    records: list[LandingLine] = []
    rejects: list[Reject] = []
    append = records.append
    for position, e in enumerate(data):
        try:
            if type(e) is dict:
                s: Any = e.get("s")
                p: Any = e.get("p")
                v: Any = e.get("v")
                t: Any = e.get("t")
                c: Any = e.get("c")
                sj = symbols.get(s) if type(s) is str else None
                if sj is not None and type(p) is float and 0.0 < p < _INF and type(t) is int and low <= t <= high:
                    tv = type(v)
                    fmt = fmts[0] if tv is int and 0 <= v <= _MAX_EXACT_INT else None
                    if fmt is None and tv is float and 0.0 <= v < _INF:
                        fmt = fmts[1]
                    cj = b"[]" if c is None else conds.get(tuple(c)) if type(c) is list else None
                    if fmt is not None and cj is not None:
                        append((s, t, fmt % (position, sj, p, v, t, cj, position)))
                        continue
        except TypeError:  # an unhashable symbol/condition: the slow path explains it
            pass
        out = _finnhub_trade(e, ctx, position)
        if type(out) is dict:
            _remember(out)
            append(landing_line(out))
        else:
            rejects.append(Reject(str(out), raw_text(e)))
    return Parsed("trade", records, rejects)


def _remember(record: dict[str, Any]) -> None:
    """Cache the JSON of a validated symbol / all-string condition list for the hot path."""
    if len(_SYMBOL_JSON) < _CACHE_LIMIT:
        _SYMBOL_JSON.setdefault(record["symbol"], orjson.dumps(record["symbol"]))
    cond = record["conditions"]
    if len(_CONDITIONS_JSON) < _CACHE_LIMIT and len(cond) <= 8:
        _CONDITIONS_JSON.setdefault(tuple(cond), orjson.dumps(cond))


def parse_finnhub(raw: bytes | str, ctx: FrameContext) -> Parsed:
    """A Finnhub WebSocket frame: ``trade`` batches, ``ping`` keep-alives, ``error`` messages."""
    try:
        return _parse_finnhub(raw, ctx)
    except Exception as exc:  # defensive: a parser bug must quarantine, never kill the collector
        return Parsed("rejected", rejects=[Reject(f"parser error: {type(exc).__name__}", raw_text(raw))])


def _parse_finnhub(raw: bytes | str, ctx: FrameContext) -> Parsed:
    msg, error = _loads(raw)
    if error is not None:
        return Parsed("rejected", rejects=[Reject(error, raw_text(raw))])
    if type(msg) is not dict:
        return Parsed("rejected", rejects=[Reject("frame is not a JSON object", raw_text(raw))])
    kind = msg.get("type")
    if kind == "trade":
        data = msg.get("data")
        if type(data) is not list:
            return Parsed("rejected", rejects=[Reject("trade frame without a 'data' array", raw_text(raw))])
        return _finnhub_batch(data, ctx)
    if kind == "ping":
        return Parsed("ping")
    if kind == "error":
        text = msg.get("msg")
        return Parsed("error", message=text if isinstance(text, str) else raw_text(msg))
    return Parsed("rejected", rejects=[Reject(f"unknown message type {raw_text(kind)[:40]!r}", raw_text(raw))])


def _binance_trade(event: Any, ctx: FrameContext) -> dict[str, Any] | str:
    if type(event) is not dict:
        return "trade event is not an object"
    if event.get("e") != "trade":
        return f"unknown event type {raw_text(event.get('e'))[:40]!r}"
    symbol = _symbol(event.get("s"))
    if symbol is None:
        return "missing or invalid symbol 's'"
    price = _decimal_string(event.get("p"))
    if price is None:
        return "missing or non-decimal price 'p'"
    if price <= 0:
        return "non-positive price"
    qty = _decimal_string(event.get("q"))
    if qty is None:
        return "missing or non-decimal quantity 'q'"
    if qty < 0:
        return "negative quantity"
    ts = _epoch_ms(event.get("T"), ctx.ts_bounds)
    if ts is None:
        return _time_reason("trade time 'T'", event.get("T"), ctx)
    exchange_id = event.get("t")
    if type(exchange_id) is not int:
        return "missing or non-integer trade id 't'"
    maker = event.get("m")
    if maker is not None and type(maker) is not bool:
        return "ill-typed buyer-maker flag 'm'"
    return {
        "trade_id": f"{ctx.id_prefix}0",
        "record_type": "trade",
        "source": ctx.source,
        "symbol": symbol,
        "price": price,
        "volume": qty,
        "ts": ts,
        "conditions": [],
        "exchange_trade_id": str(exchange_id),
        "is_buyer_maker": maker,
        "ingested_at": ctx.received_at,
        "collector": ctx.collector,
        "collector_run": ctx.collector_run,
        "connection": ctx.connection,
        "msg_seq": ctx.msg_seq,
        "position": 0,
    }


def parse_binance(raw: bytes | str, ctx: FrameContext) -> Parsed:
    """A Binance trade-stream frame: raw (``/ws/x@trade``) or combined (``{"stream","data"}``)."""
    try:
        return _parse_binance(raw, ctx)
    except Exception as exc:  # defensive, as in parse_finnhub
        return Parsed("rejected", rejects=[Reject(f"parser error: {type(exc).__name__}", raw_text(raw))])


def _parse_binance(raw: bytes | str, ctx: FrameContext) -> Parsed:
    msg, error = _loads(raw)
    if error is not None:
        return Parsed("rejected", rejects=[Reject(error, raw_text(raw))])
    if type(msg) is not dict:
        return Parsed("rejected", rejects=[Reject("frame is not a JSON object", raw_text(raw))])
    if "stream" in msg and "data" in msg:
        msg = msg["data"]
    elif "id" in msg and ("result" in msg or "error" in msg):
        err = msg.get("error")
        if err is not None:
            return Parsed("error", message=raw_text(err))
        return Parsed("control", message=raw_text(msg))
    out = _binance_trade(msg, ctx)
    if type(out) is dict:
        return Parsed("trade", [landing_line(out)])
    return Parsed("rejected", rejects=[Reject(str(out), raw_text(raw))])


# -- Alpha Vantage ------------------------------------------------------------------
AV_RATE_LIMIT_KEYS = ("Note", "Information")
AV_ERROR_KEY = "Error Message"
AV_INTERVAL_MINUTES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}


@dataclass(slots=True)
class AlphaVantageParsed:
    """``kind``: ``bars``, ``rate_limited`` (Note/Information), ``error`` (Error Message) or ``rejected``."""

    kind: str
    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    message: str | None = None


_EASTERN = ZoneInfo("America/New_York")


@lru_cache(maxsize=4096)
def eastern_label_to_epoch_ms(label: Any, *, daily: bool) -> int | None:
    """``YYYY-MM-DD HH:MM:SS`` (intraday) or ``YYYY-MM-DD`` (daily) in US/Eastern -> epoch ms UTC.

    Daily bars are stamped at the 09:30 regular open of their date.
    """
    if type(label) is not str:
        return None
    try:
        if daily:
            if len(label) != 10:
                return None
            d = datetime.strptime(label, "%Y-%m-%d")
            local = datetime(d.year, d.month, d.day, 9, 30, tzinfo=_EASTERN)
        else:
            if len(label) != 19:
                return None
            local = datetime.strptime(label, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_EASTERN)
    except ValueError:
        return None
    ms = int(local.timestamp()) * 1000
    return ms if MIN_TS_MS <= ms <= MAX_TS_MS else None


def _series_key(msg: dict[str, Any]) -> str | None:
    keys = [k for k in msg if isinstance(k, str) and k.startswith("Time Series")]
    return keys[0] if len(keys) == 1 else None


def _av_bar(
    label: Any, values: Any, symbol: str, interval: str, to_epoch_ms: Any, received_at: int, run: str
) -> dict[str, Any] | str:
    if type(values) is not dict:
        return "bar is not an object"
    fields = {}
    for name, key in (("open", "1. open"), ("high", "2. high"), ("low", "3. low"), ("close", "4. close")):
        value = _decimal_string(values.get(key))
        if value is None:
            return f"missing or non-decimal {key!r}"
        if value <= 0:
            return f"non-positive {name}"
        fields[name] = value
    volume = _decimal_string(values.get("5. volume"))
    if volume is None:
        return "missing or non-decimal '5. volume'"
    if volume < 0:
        return "negative volume"
    if not (
        fields["low"] <= min(fields["open"], fields["close"]) and fields["high"] >= max(fields["open"], fields["close"])
    ):
        return "inconsistent OHLC (low/high do not bound open/close)"
    ts = to_epoch_ms(label)
    if ts is None:
        return f"unparseable bar time {raw_text(label)[:40]!r}"
    if ts > received_at + MAX_FUTURE_MS:
        return f"bar time {raw_text(label)[:40]!r} is more than a day after the receive time"
    return {
        "trade_id": bar_id(symbol, interval, ts),
        "record_type": "bar",
        "source": ALPHAVANTAGE,
        "symbol": symbol,
        "price": fields["close"],
        "volume": volume,
        "ts": ts,
        "conditions": [],
        "exchange_trade_id": None,
        "is_buyer_maker": None,
        "ingested_at": received_at,
        "collector": ALPHAVANTAGE,
        "collector_run": run,
        "connection": None,
        "msg_seq": None,
        "position": None,
        "open": fields["open"],
        "high": fields["high"],
        "low": fields["low"],
        "close": fields["close"],
        "interval": interval,
    }


def parse_alphavantage(
    raw: bytes | str, *, symbol: str, interval: str, received_at: int, collector_run: str
) -> AlphaVantageParsed:
    """An Alpha Vantage TIME_SERIES_* JSON body.

    A rate-limited request is answered with HTTP 200 and a ``Note`` or
    ``Information`` field (not with 429); an unknown symbol gets ``Error Message``.
    Bar labels are US/Eastern wall-clock times (intraday) or dates (daily; the
    bar starts at the 09:30 regular open).
    """
    try:
        return _parse_alphavantage(raw, symbol, interval, received_at, collector_run)
    except Exception as exc:  # defensive, as in parse_finnhub
        return AlphaVantageParsed("rejected", rejects=[Reject(f"parser error: {type(exc).__name__}", raw_text(raw))])


def _parse_alphavantage(raw: bytes | str, symbol: str, interval: str, received_at: int, run: str) -> AlphaVantageParsed:
    msg, error = _loads(raw)
    if error is not None:
        return AlphaVantageParsed("rejected", rejects=[Reject(error, raw_text(raw))])
    if type(msg) is not dict:
        return AlphaVantageParsed("rejected", rejects=[Reject("body is not a JSON object", raw_text(raw))])
    for key in AV_RATE_LIMIT_KEYS:
        if key in msg and _series_key(msg) is None:
            return AlphaVantageParsed("rate_limited", message=raw_text(msg[key]))
    if AV_ERROR_KEY in msg:
        return AlphaVantageParsed("error", message=raw_text(msg[AV_ERROR_KEY]))
    series_key = _series_key(msg)
    if series_key is None:
        return AlphaVantageParsed("rejected", rejects=[Reject("no single 'Time Series' object", raw_text(raw))])
    series = msg[series_key]
    if type(series) is not dict:
        return AlphaVantageParsed("rejected", rejects=[Reject(f"{series_key!r} is not an object", raw_text(raw))])
    daily = interval == "daily"

    def to_ms(label: Any) -> int | None:
        return eastern_label_to_epoch_ms(label, daily=daily)

    records: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for label, values in series.items():
        out = _av_bar(label, values, symbol, interval, to_ms, received_at, run)
        if type(out) is dict:
            records.append(out)
        else:
            rejects.append(Reject(str(out), raw_text({label: values})))
    return AlphaVantageParsed("bars", records, rejects)
