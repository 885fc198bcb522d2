"""Alpha Vantage OHLCV collector: rate-limited, retried, isolated per symbol.

* **Client-side rate limiter.** Calls are spaced at least ``60 / calls_per_minute``
  seconds apart (no bursts), and a call goes out only a full minute after the
  *response* to the call ``calls_per_minute`` calls before it. The vendor sees a
  call between our send and our response, so whatever the network delays, no
  60-second window it measures ever holds more than ``calls_per_minute`` calls,
  retries included (every HTTP call goes through the limiter).
* **Retries** with full-jitter exponential backoff, bounded in delay and
  attempts, on HTTP 5xx, timeouts, connection errors, unparseable bodies and the
  vendor's rate-limit answers (HTTP 200 with a ``Note``/``Information`` field,
  which are never written as data).
* **Per-symbol isolation.** ``Error Message`` (unknown symbol, bad call), a 4xx or
  retries running out become that symbol's error; the other symbols continue.
* The API key goes in the query string, as the vendor requires, so every URL
  that reaches a log or an exception is redacted first.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from financial_transactions.config.collectors import BackoffConfig
from financial_transactions.ingest.collectors import backoff_delay, new_run_id
from financial_transactions.ingest.landing import LandingWriter, QuarantineWriter
from financial_transactions.ingest.records import ALPHAVANTAGE, Reject, landing_line, parse_alphavantage, raw_text
from financial_transactions.ingest.redaction import CollectorError, install_log_redaction, redact_text

log = logging.getLogger(__name__)

FUNCTION_INTERVAL = {"TIME_SERIES_DAILY": "daily"}


class RateLimiter:
    """At most ``max_calls`` calls in any ``window_seconds`` window, as the server measures it.

    Two rules: calls are spaced ``window_seconds / max_calls`` apart (even pacing,
    never a burst), and call ``k + max_calls`` starts no earlier than
    ``window_seconds`` after call ``k`` *completed* (:meth:`call` records that).
    The server sees each call between its start and its completion, so the second
    rule bounds the server's own window counts even when network delays bunch
    arrivals together; with :meth:`acquire` alone the start time stands in.
    Thread-safe; ``clock``/``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        max_calls: int,
        *,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be >= 1, got {max_calls}")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds}")
        self.window = window_seconds
        self.interval = window_seconds / max_calls
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")
        self._recent: collections.deque[list[float]] = collections.deque(maxlen=max_calls)  # [completion time]
        self._lock = threading.Lock()
        self.waited = 0.0

    def _reserve(self) -> tuple[float, list[float]]:
        with self._lock:
            now = self._clock()
            due = self._next
            if len(self._recent) == self._recent.maxlen:
                due = max(due, self._recent[0][0] + self.window)
            wait = max(0.0, due - now)
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
            self._next = max(now, self._next) + self.interval
            slot = [now]  # completion time: the start until the call reports back
            self._recent.append(slot)
            self.waited += wait
            return wait, slot

    def acquire(self) -> float:
        """Block until a call may go out; returns the seconds waited."""
        return self._reserve()[0]

    @contextlib.contextmanager
    def call(self) -> Iterator[float]:
        """``with limiter.call():`` around one request: waits for a slot, records when it completed."""
        wait, slot = self._reserve()
        try:
            yield wait
        finally:
            with self._lock:
                slot[0] = self._clock()


class InvalidApiKey(CollectorError):
    """The vendor refused the key: every further call would be refused too, so the run stops at the first."""


#: How Alpha Vantage words a refused key (in ``Error Message``, or ``Information`` for the demo key).
INVALID_KEY_MARKERS = ("apikey is invalid", "demo api key is for demo purposes only")


def _is_invalid_key(message: str | None) -> bool:
    text = (message or "").lower().replace("*", "")
    return any(marker in text for marker in INVALID_KEY_MARKERS)


@dataclass
class AlphaVantageCounters:
    calls: int = 0
    bars_landed: int = 0
    quarantined: int = 0
    rate_limited: int = 0
    retries: int = 0
    server_errors: int = 0
    timeouts: int = 0
    symbols_ok: int = 0
    symbols_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class SymbolResult:
    symbol: str
    bars: dict[str, int] = field(default_factory=dict)  # function -> bars landed
    errors: dict[str, str] = field(default_factory=dict)  # function -> redacted reason

    @property
    def ok(self) -> bool:
        return not self.errors


class AlphaVantageCollector:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        symbols: list[str],
        landing: Path,
        functions: list[str] | None = None,
        interval: str = "1min",
        outputsize: str = "compact",
        calls_per_minute: int = 5,
        rate_window_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
        retry: BackoffConfig | None = None,
        run_id: str | None = None,
        fsync: bool = True,
        session: requests.Session | None = None,
        seed: int | None = None,
    ) -> None:
        if not api_key:
            raise CollectorError("alphavantage: no API key (set ALPHAVANTAGE_API_KEY or the Databricks secret)")
        if not symbols:
            raise ValueError("alphavantage: no symbols to collect")
        self.url = base_url.rstrip("/") + "/query"
        self._key = api_key
        self.symbols = list(symbols)
        self.functions = list(functions or ["TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"])
        self.interval = interval
        self.outputsize = outputsize
        self.timeout = timeout_seconds
        self.retry = retry or BackoffConfig(initial_seconds=1.0, max_seconds=60.0, max_attempts=5)
        # ``rate_window_seconds`` is the vendor's minute; the replay can shorten its window (tests)
        self.limiter = RateLimiter(calls_per_minute, window_seconds=rate_window_seconds)
        self.run_id = run_id or new_run_id()
        self.writer = LandingWriter(landing, ALPHAVANTAGE, self.run_id, max_records=1_000_000, fsync=fsync)
        self.quarantine = QuarantineWriter(landing, ALPHAVANTAGE, self.run_id, fsync=fsync)
        self.session = session or requests.Session()
        self.counters = AlphaVantageCounters()
        self.results: dict[str, SymbolResult] = {}
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        install_log_redaction([api_key])

    def stop(self) -> None:
        self._stop.set()

    def run(self, progress: Callable[[str, str], None] | None = None) -> dict[str, SymbolResult]:
        """Fetch every (symbol, function); land bars per symbol as soon as it is done."""
        try:
            for symbol in self.symbols:
                result = self.results.setdefault(symbol, SymbolResult(symbol))
                for function in self.functions:
                    if self._stop.is_set():
                        return self.results
                    if progress is not None:
                        progress(symbol, function)
                    try:
                        result.bars[function] = self._fetch(symbol, function)
                    except InvalidApiKey as exc:
                        result.errors[function] = str(exc)
                        self.counters.symbols_failed += 1
                        raise
                    except CollectorError as exc:
                        result.errors[function] = str(exc)
                        log.warning("alphavantage %s %s: %s", symbol, function, exc)
                self.writer.flush()
                self.quarantine.flush()
                if result.ok:
                    self.counters.symbols_ok += 1
                else:
                    self.counters.symbols_failed += 1
        finally:
            self.writer.close()
            self.quarantine.flush()
            self.counters.bars_landed = self.writer.stats.records
        return self.results

    def _params(self, symbol: str, function: str) -> dict[str, str]:
        params = {"function": function, "symbol": symbol, "outputsize": self.outputsize, "datatype": "json"}
        if function == "TIME_SERIES_INTRADAY":
            params["interval"] = self.interval
        params["apikey"] = self._key
        return params

    def _fetch(self, symbol: str, function: str) -> int:
        """Bars landed for one call, after retries; raises CollectorError (redacted) for this symbol only."""
        interval = FUNCTION_INTERVAL.get(function, self.interval)
        last = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            if self._stop.is_set():
                raise CollectorError("stopped")
            if attempt > 1:
                self.counters.retries += 1
                self._stop.wait(backoff_delay(self.retry, attempt - 2, self._rng))
            self.counters.calls += 1
            try:
                with self.limiter.call():
                    resp = self.session.get(self.url, params=self._params(symbol, function), timeout=self.timeout)
            except requests.Timeout:
                self.counters.timeouts += 1
                last = f"timed out after {self.timeout:g}s"
                continue
            except requests.RequestException as exc:
                last = redact_text(
                    f"{type(exc).__name__}: {exc}",
                )
                continue
            received = time.time_ns() // 1_000_000
            if resp.status_code >= 500:
                self.counters.server_errors += 1
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code != 200:
                raise CollectorError(f"HTTP {resp.status_code} for {redact_text(resp.url or self.url)}")
            parsed = parse_alphavantage(
                resp.content, symbol=symbol, interval=interval, received_at=received, collector_run=self.run_id
            )
            if parsed.kind in ("rate_limited", "error") and _is_invalid_key(parsed.message):
                raise InvalidApiKey(
                    "alphavantage refused the API key (the parameter apikey is invalid); "
                    "set a valid ALPHAVANTAGE_API_KEY (or the Databricks secret)"
                )
            if parsed.kind == "rate_limited":
                self.counters.rate_limited += 1
                last = f"rate limited: {redact_text(parsed.message or '')[:160]}"
                log.info("alphavantage %s %s %s; backing off", symbol, function, last)
                continue
            if parsed.kind == "error":
                raise CollectorError(f"Error Message: {redact_text(parsed.message or '')[:300]}")
            if parsed.kind == "rejected":
                self._quarantine(parsed.rejects, received)
                last = parsed.rejects[0].reason if parsed.rejects else "unparseable body"
                continue
            self._quarantine(parsed.rejects, received)
            self.writer.add_many([landing_line(r) for r in parsed.records])
            return len(parsed.records)
        raise CollectorError(f"gave up after {self.retry.max_attempts} attempts: {last}")

    def _quarantine(self, rejects: list[Reject], received: int) -> None:
        if rejects:
            self.counters.quarantined += len(rejects)
            self.quarantine.add([Reject(r.reason, redact_text(raw_text(r.raw))) for r in rejects], received)


def summarize(results: dict[str, SymbolResult]) -> list[dict[str, Any]]:
    return [
        {
            "symbol": r.symbol,
            "bars": sum(r.bars.values()),
            "errors": "; ".join(f"{k}: {v}" for k, v in r.errors.items()),
        }
        for r in results.values()
    ]
