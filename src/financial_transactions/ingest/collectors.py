"""WebSocket collectors: Finnhub (equities) and the Binance trade stream (crypto).

One receive loop serves both protocols (websocket-client, blocking socket with
a short timeout so the loop can flush by age, notice a stop request and detect
a dead connection). Per frame:

1. the frame gets its receiving-side coordinates (run, connection, sequence);
2. the protocol parser turns it into landing records, a keep-alive, a vendor
   error, or quarantine items; nothing a server sends can raise out of it;
3. records go to the :class:`LandingWriter` (flushed by size or age, atomic
   files), rejects to the :class:`QuarantineWriter`.

Disconnects are followed by a reconnect with exponential backoff and full
jitter (reset once a connection has delivered data) and a re-subscription.
SIGTERM/SIGINT (when the collector owns the main thread) only set a flag: the
loop notices within one socket timeout, closes the connection and flushes, so a
stopped collector leaves only complete files.
"""

from __future__ import annotations

import abc
import logging
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import websocket

from financial_transactions.config.collectors import BackoffConfig
from financial_transactions.ingest.landing import LandingWriter, QuarantineWriter
from financial_transactions.ingest.records import (
    BINANCE,
    FINNHUB,
    FrameContext,
    Parsed,
    parse_binance,
    parse_finnhub,
)
from financial_transactions.ingest.redaction import CollectorError, install_log_redaction, redact_text

log = logging.getLogger(__name__)

#: How often the receive loop wakes up without traffic (flush by age, stop flag, stale check).
POLL_SECONDS = 0.25


def new_run_id() -> str:
    """A collector run id: UTC start time + random suffix (two runs never share one)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def backoff_delay(cfg: BackoffConfig, attempt: int, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(max, initial * multiplier**attempt))."""
    cap = min(cfg.max_seconds, cfg.initial_seconds * cfg.multiplier ** min(attempt, 60))
    return rng.uniform(0.0, cap)


class BufferedWebSocket(websocket.WebSocket):
    """websocket-client reading the socket in 64 KiB chunks.

    The stock client issues one ``recv`` per frame header and one per payload;
    a feed of small frames then costs several syscalls (and GIL hand-offs) per
    frame. Frame parsing is unchanged: only where the bytes come from differs.
    The opening handshake reads the socket directly, so nothing is over-read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            self._rbuf = super()._recv(1 << 16)
            self._rpos = 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start : self._rpos]


@dataclass
class CollectorCounters:
    received: int = 0  # valid trade records parsed
    landed: int = 0  # records in complete landing files
    quarantined: int = 0
    frames: int = 0  # data frames (trades or rejected), not pings/control
    pings: int = 0
    vendor_errors: int = 0
    connections: int = 0
    reconnects: int = 0
    files: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class StreamCollector(abc.ABC):
    """The shared receive loop; subclasses say how to connect/subscribe and which parser to use."""

    source = ""
    collector = ""

    def __init__(
        self,
        *,
        url: str,
        symbols: list[str],
        landing: Path,
        run_id: str | None = None,
        flush_max_records: int = 5000,
        flush_interval_seconds: float = 5.0,
        backoff: BackoffConfig | None = None,
        connect_timeout_seconds: float = 10.0,
        stale_after_seconds: float = 60.0,
        fsync: bool = True,
        secret_values: tuple[str | None, ...] = (),
        seed: int | None = None,
    ) -> None:
        if not symbols:
            raise ValueError(f"{self.collector}: no symbols to collect")
        self.base_url = url
        self.symbols = list(symbols)
        self.run_id = run_id or new_run_id()
        self.backoff = backoff or BackoffConfig()
        self.connect_timeout = connect_timeout_seconds
        self.stale_after = stale_after_seconds
        self.flush_interval = flush_interval_seconds
        self.writer = LandingWriter(
            landing, self.source, self.run_id, max_records=flush_max_records,
            max_age_seconds=flush_interval_seconds, fsync=fsync,
        )  # fmt: skip
        self.quarantine = QuarantineWriter(landing, self.source, self.run_id, fsync=fsync)
        self.counters = CollectorCounters()
        self.secret_values = secret_values
        self._stop = threading.Event()
        self._rng = random.Random(seed)
        self._ws: websocket.WebSocket | None = None
        self.last_error: str | None = None
        install_log_redaction(secret_values)

    # -- protocol hooks --------------------------------------------------------------------
    @abc.abstractmethod
    def connect_url(self) -> str:
        """The URL to open, credentials included (they are redacted wherever a URL is logged)."""

    def subscribe(self, ws: websocket.WebSocket) -> None:  # noqa: B027 - optional: Binance subscribes by URL
        """Send whatever subscription messages the protocol needs (called on every connection)."""

    @abc.abstractmethod
    def parse(self, raw: bytes, ctx: FrameContext) -> Parsed:
        """One received frame -> landing records, quarantined rejects, or a control message."""

    # -- control -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish (thread- and signal-safe: only sets a flag)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(
        self,
        duration: float | None = None,
        *,
        stop_when: Callable[[], bool] | None = None,
        handle_signals: bool = False,
    ) -> CollectorCounters:
        """Collect until ``duration`` seconds pass, ``stop_when()`` is true, :meth:`stop` or a signal."""
        previous: dict[signal.Signals, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: self._stop.set())
        deadline = None if duration is None else time.monotonic() + duration
        try:
            self._loop(deadline, stop_when)
        finally:
            self._finish()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.counters

    def _done(self, deadline: float | None, stop_when: Callable[[], bool] | None) -> bool:
        if self._stop.is_set():
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return True
        return stop_when is not None and stop_when()

    def _loop(self, deadline: float | None, stop_when: Callable[[], bool] | None) -> None:
        failures = 0
        while not self._done(deadline, stop_when):
            try:
                ws = self._connect()
            except CollectorError:
                raise
            except Exception as exc:
                failures += 1
                self.last_error = redact_text(f"connect failed: {type(exc).__name__}: {exc}")
                log.warning(
                    "%s %s (attempt %d/%d)", self.collector, self.last_error, failures, self.backoff.max_attempts
                )
                if failures >= self.backoff.max_attempts:
                    raise CollectorError(
                        f"{self.collector}: giving up after {failures} attempts; {self.last_error}"
                    ) from None
                self._sleep(backoff_delay(self.backoff, failures - 1, self._rng), deadline)
                continue
            self.counters.connections += 1
            if self.counters.connections > 1:
                self.counters.reconnects += 1
            frames_before = self.counters.frames
            peer_closed = True
            try:
                self.subscribe(ws)
                peer_closed = self._receive(ws, self.counters.connections, deadline, stop_when)
            finally:
                self._close(ws, peer_closed=peer_closed)
            if self._done(deadline, stop_when):
                break
            failures = 0 if self.counters.frames > frames_before else failures + 1
            if failures >= self.backoff.max_attempts:
                raise CollectorError(
                    f"{self.collector}: {failures} connections in a row delivered nothing; {self.last_error}"
                )
            delay = backoff_delay(self.backoff, failures, self._rng)
            log.info("%s disconnected (%s); reconnecting in %.2fs", self.collector, self.last_error, delay)
            self._sleep(delay, deadline)

    def _sleep(self, seconds: float, deadline: float | None) -> None:
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - time.monotonic()))
        self._stop.wait(seconds)

    def _connect(self) -> websocket.WebSocket:
        url = self.connect_url()
        try:
            ws = websocket.create_connection(
                url,
                timeout=self.connect_timeout,
                class_=BufferedWebSocket,
                skip_utf8_validation=True,
                enable_multithread=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code in (401, 403):
                raise CollectorError(
                    f"{self.collector}: the server refused the credentials "
                    f"(HTTP {exc.status_code}) at {redact_text(url)}"
                ) from None
            raise
        ws.settimeout(min(POLL_SECONDS, self.flush_interval))
        self._ws = ws
        log.info("%s connected to %s", self.collector, redact_text(url))
        return ws

    def _close(self, ws: websocket.WebSocket, *, peer_closed: bool) -> None:
        """Close handshake when we end the session; when the server did, the reply already went out."""
        self._ws = None
        if peer_closed:
            ws.shutdown()
            return
        try:
            ws.close(timeout=1)
        except Exception:  # the peer may already be gone; nothing to save
            ws.shutdown()

    def _receive(
        self, ws: websocket.WebSocket, connection: int, deadline: float | None, stop_when: Callable[[], bool] | None
    ) -> bool:
        """Receive until the connection ends (returns True: the peer closed or failed) or we stop (False)."""
        counters, writer, quarantine = self.counters, self.writer, self.quarantine
        parse, source, collector, run = self.parse, self.source, self.collector, self.run_id
        opcode_close = websocket.ABNF.OPCODE_CLOSE
        msg_seq = 0
        last_frame = last_flush = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_flush >= self.flush_interval:
                self._flush_due()
                last_flush = now
            if self._done(deadline, stop_when):
                return False
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                if time.monotonic() - last_frame > self.stale_after:
                    self.last_error = f"no frame for {self.stale_after:g}s"
                    return True
                continue
            except (websocket.WebSocketException, OSError) as exc:
                self.last_error = redact_text(f"{type(exc).__name__}: {exc}")
                return True
            if opcode == opcode_close:
                self.last_error = "closed by server"
                return True
            last_frame = time.monotonic()
            msg_seq += 1
            ctx = FrameContext(source, collector, run, connection, msg_seq, time.time_ns() // 1_000_000)
            parsed = parse(data, ctx)
            kind = parsed.kind
            if kind == "trade":
                counters.frames += 1
                counters.received += parsed.count
                if parsed.chunks:
                    writer.add_chunks(parsed.chunks)
                if parsed.records:
                    writer.add_many(parsed.records)
                if parsed.rejects:
                    counters.quarantined += len(parsed.rejects)
                    quarantine.add(parsed.rejects, ctx.received_at)
            elif kind == "ping":
                counters.pings += 1
            elif kind == "rejected":
                counters.frames += 1
                counters.quarantined += len(parsed.rejects)
                quarantine.add(parsed.rejects, ctx.received_at)
            elif kind == "error":
                counters.vendor_errors += 1
                log.warning("%s vendor error: %s", collector, redact_text(parsed.message or ""))
            counters.landed = writer.stats.records

    def _flush_due(self) -> None:
        self.writer.flush_if_due()
        self.quarantine.flush()
        self.counters.landed = self.writer.stats.records
        self.counters.files = self.writer.stats.files

    def _finish(self) -> None:
        self.writer.close()
        self.quarantine.flush()
        self.counters.landed = self.writer.stats.records
        self.counters.files = self.writer.stats.files
        log.info("%s run %s finished: %s", self.collector, self.run_id, self.counters.as_dict())


def _with_query(url: str, key: str, value: str) -> str:
    sep = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    base = url if urlsplit(url).path or urlsplit(url).query else url.rstrip("/") + "/"
    return f"{base}{sep}{key}={quote(value, safe='')}"


class FinnhubCollector(StreamCollector):
    """Finnhub trades: ``?token=`` auth, one subscribe message per symbol, batched trade frames."""

    source = FINNHUB
    collector = "finnhub"

    def __init__(self, *, token: str, **kw: Any) -> None:
        if not token:
            raise CollectorError("finnhub: no API key (set FINNHUB_API_KEY or the Databricks secret)")
        self._token = token
        kw["secret_values"] = (*kw.get("secret_values", ()), token)
        super().__init__(**kw)

    def connect_url(self) -> str:
        return _with_query(self.base_url, "token", self._token)

    def subscribe(self, ws: websocket.WebSocket) -> None:
        for symbol in self.symbols:
            ws.send(orjson.dumps({"type": "subscribe", "symbol": symbol}).decode())

    def parse(self, raw: bytes, ctx: FrameContext) -> Parsed:
        return parse_finnhub(raw, ctx)


class CryptoCollector(StreamCollector):
    """Binance trade stream, combined-stream URL: the subscription is the URL, renewed on reconnect."""

    source = BINANCE
    collector = "binance"

    def connect_url(self) -> str:
        streams = "/".join(f"{s.lower()}@trade" for s in self.symbols)
        return f"{self.base_url.rstrip('/')}/stream?streams={streams}"

    def parse(self, raw: bytes, ctx: FrameContext) -> Parsed:
        return parse_binance(raw, ctx)
