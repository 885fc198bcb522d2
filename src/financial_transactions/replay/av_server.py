"""Alpha Vantage-compatible REST replay: ``GET /query?function=TIME_SERIES_*``.

Answers the vendor's JSON shape (``Meta Data`` + ``Time Series (...)``, newest
bar first, values as decimal strings, US/Eastern labels) from the replay
market's equity bars: ``TIME_SERIES_INTRADAY`` (1/5/15/30/60min from the
trades, extended hours included) and ``TIME_SERIES_DAILY`` (synthetic history
+ the window's regular sessions). ``outputsize=compact`` is the latest 100
points, ``full`` all of them.

Like the vendor, it answers a rate-limited call with HTTP 200 and a ``Note``
(or ``Information``) field, not 429, and an unknown symbol with
``Error Message``. It enforces ``replay.alphavantage_calls_per_minute`` over a
sliding window of ``replay.alphavantage_window_seconds`` (60 s, the vendor's
minute, unless a test shortens it) and logs the arrival time of every call,
which is how the tests measure the client-side limiter. Fault switches: every N-th call gets a
``Note``, an ``Information``, an HTTP 503, or is answered slowly.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd

from financial_transactions.market.calendar import NEW_YORK
from financial_transactions.replay.market import EQUITY, MarketData

if TYPE_CHECKING:
    from financial_transactions.config.collectors import ReplayConfig

INTERVALS = ("1min", "5min", "15min", "30min", "60min")
FUNCTIONS = ("TIME_SERIES_INTRADAY", "TIME_SERIES_DAILY")
COMPACT_POINTS = 100
NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is {cpm} calls per minute. "
    "Please consider a premium plan if you would like to target a higher API call frequency."
)
INFORMATION = (
    "Thank you for using Alpha Vantage! This is a premium endpoint or you have exceeded the rate limit "
    "of {cpm} requests per minute. Please subscribe to a premium plan to remove the limit."
)
MISSING_KEY = "the parameter apikey is invalid or missing. Please claim your free API key."


@dataclass
class CallRecord:
    at: float  # time.monotonic() on arrival
    function: str
    symbol: str
    outcome: str  # data | note | information | error | server_error | bad_request


@dataclass
class AlphaVantageStats:
    calls: list[CallRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        counts = collections.Counter(c.outcome for c in self.calls)
        return {
            "calls": len(self.calls),
            **{k: counts.get(k, 0) for k in ("data", "note", "information", "error", "server_error")},
        }

    def max_calls_in_window(self, seconds: float = 60.0, outcomes: tuple[str, ...] | None = None) -> int:
        """The most calls that arrived within any ``seconds``-long window (as measured by the server)."""
        times = sorted(c.at for c in self.calls if outcomes is None or c.outcome in outcomes)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= seconds:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def min_gap(self) -> float | None:
        times = sorted(c.at for c in self.calls)
        return min((b - a for a, b in itertools.pairwise(times)), default=None)


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _series(frame: pd.DataFrame, label_fmt: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    cols = [frame[c].astype(float).tolist() for c in ("open", "high", "low", "close", "volume")]
    for label, o, h, lo, c, v in zip(frame.index, *cols, strict=True):
        out[label.strftime(label_fmt)] = {
            "1. open": _fmt(o),
            "2. high": _fmt(h),
            "3. low": _fmt(lo),
            "4. close": _fmt(c),
            "5. volume": str(round(v)),
        }
    return out


class AlphaVantageReplay:
    def __init__(self, market: MarketData, cfg: ReplayConfig, *, token: str | None = None) -> None:
        self.market = market
        self.cfg = cfg
        self.token = token
        self.symbols = set(market.symbols_of(EQUITY))
        self.stats = AlphaVantageStats()
        self._lock = threading.Lock()
        self._served: collections.deque[float] = collections.deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cache: dict[tuple[str, str, str], bytes] = {}

    # -- responses -----------------------------------------------------------------
    def respond(self, query: dict[str, str]) -> tuple[int, bytes, float]:
        """(HTTP status, body, seconds to wait before answering) for one call."""
        function, symbol = query.get("function", ""), query.get("symbol", "")
        faults = self.cfg.faults
        cpm = self.cfg.alphavantage_calls_per_minute
        with self._lock:
            now = time.monotonic()
            n = len(self.stats.calls) + 1
            delay = faults.av_slow_seconds if faults.av_slow_every_n and n % faults.av_slow_every_n == 0 else 0.0
            while self._served and now - self._served[0] >= self.cfg.alphavantage_window_seconds:
                self._served.popleft()
            if faults.av_server_error_every_n and n % faults.av_server_error_every_n == 0:
                outcome, status, body = "server_error", 503, b"<html><body>503 Service Unavailable</body></html>"
            elif faults.av_note_every_n and n % faults.av_note_every_n == 0:
                outcome, status, body = "note", 200, orjson.dumps({"Note": NOTE.format(cpm=cpm)})
            elif faults.av_information_every_n and n % faults.av_information_every_n == 0:
                outcome, status, body = "information", 200, orjson.dumps({"Information": INFORMATION.format(cpm=cpm)})
            elif len(self._served) >= cpm:
                outcome, status, body = "note", 200, orjson.dumps({"Note": NOTE.format(cpm=cpm)})
            else:
                self._served.append(now)
                outcome, status, body = self._answer(query, function, symbol)
            self.stats.calls.append(CallRecord(now, function, symbol, outcome))
        return status, body, delay

    def _answer(self, query: dict[str, str], function: str, symbol: str) -> tuple[str, int, bytes]:
        key = query.get("apikey", "")
        if not key or (self.token is not None and key != self.token):
            return "error", 200, orjson.dumps({"Error Message": MISSING_KEY})
        if function not in FUNCTIONS:
            return "error", 200, orjson.dumps({"Error Message": f"This API function ({function[:60]}) does not exist."})
        invalid = orjson.dumps(
            {"Error Message": f"Invalid API call. Please retry or visit the documentation for {function}."}
        )
        if symbol not in self.symbols:
            return "error", 200, invalid
        if query.get("datatype", "json") != "json":
            return "error", 200, orjson.dumps({"Error Message": "The replay only serves datatype=json."})
        outputsize = query.get("outputsize", "compact")
        if outputsize not in ("compact", "full"):
            return "error", 200, invalid
        interval = query.get("interval", "")
        if function == "TIME_SERIES_INTRADAY" and interval not in INTERVALS:
            return "error", 200, invalid
        cache_key = (function, symbol, f"{interval}:{outputsize}")
        body = self._cache.get(cache_key)
        if body is None:
            body = self._cache[cache_key] = self._series_body(function, symbol, interval, outputsize)
        return "data", 200, body

    def _series_body(self, function: str, symbol: str, interval: str, outputsize: str) -> bytes:
        size_label = "Full size" if outputsize == "full" else "Compact"
        if function == "TIME_SERIES_DAILY":
            bars = self.market.daily_bars(symbol).copy()
            bars.index = pd.DatetimeIndex(pd.to_datetime(bars.index))
            bars = bars.iloc[::-1]
            if outputsize == "compact":
                bars = bars.iloc[:COMPACT_POINTS]
            last = bars.index[0].strftime("%Y-%m-%d") if len(bars) else ""
            doc: dict[str, Any] = {
                "Meta Data": {
                    "1. Information": "Daily Prices (open, high, low, close) and Volumes",
                    "2. Symbol": symbol,
                    "3. Last Refreshed": last,
                    "4. Output Size": size_label,
                    "5. Time Zone": "US/Eastern",
                },
                "Time Series (Daily)": _series(bars, "%Y-%m-%d"),
            }
            return orjson.dumps(doc)
        minutes = int(interval.removesuffix("min"))
        bars = self.market.minute_bars(symbol)
        if minutes > 1 and len(bars):
            bars = (
                bars.resample(f"{minutes}min", label="left", closed="left")
                .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
                .dropna(subset=["open"])
            )
        bars = bars.copy()
        bars.index = pd.DatetimeIndex(bars.index).tz_convert(NEW_YORK)
        bars = bars.iloc[::-1]
        if outputsize == "compact":
            bars = bars.iloc[:COMPACT_POINTS]
        last = bars.index[0].strftime("%Y-%m-%d %H:%M:%S") if len(bars) else ""
        doc = {
            "Meta Data": {
                "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
                "2. Symbol": symbol,
                "3. Last Refreshed": last,
                "4. Interval": interval,
                "5. Output Size": size_label,
                "6. Time Zone": "US/Eastern",
            },
            f"Time Series ({interval})": _series(bars, "%Y-%m-%d %H:%M:%S"),
        }
        return orjson.dumps(doc)

    # -- server ----------------------------------------------------------------------
    def start(self, host: str, port: int) -> int:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/query":
                    self._reply(404, b'{"Error Message": "Unknown path: use /query"}')
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, body, delay = replay.respond(query)
                if delay:
                    time.sleep(delay)
                self._reply(status, body)

            def _reply(self, status: int, body: bytes) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    is_json = body[:1] == b"{"
                    self.send_header("Content-Type", "application/json" if is_json else "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # request lines carry the apikey: never log them

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="replay-alphavantage", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
