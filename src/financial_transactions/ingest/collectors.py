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

Always-on collection: ``run(duration=None, persistent=True)`` runs until stopped and
never gives up on the network (the backoff stays capped at ``backoff.max_seconds``);
only a refused credential or a lost lease ends it. Every run records its connection
events (:class:`~financial_transactions.ingest.health.CollectionLog`), from which
``collector_gaps`` measures the seconds each feed was down.

Every stream feed is collected under a :class:`FeedLease`, so exactly one collector
per feed is connected. For a feed without a venue trade id (Finnhub) two collectors
would land every live trade twice under different ids, and identical prints make
those copies indistinguishable; for Binance silver would keep one row per venue
trade ``t``, but every trade would still be received, landed and ingested twice and
two runs would measure one feed's gaps twice. A second collector refuses to start
with a one-line message; it takes over once the holder's lease expires (or at once
when the holder's process is gone from this host).
"""

from __future__ import annotations

import abc
import logging
import os
import random
import secrets
import signal
import socket
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
from financial_transactions.ingest.health import CollectionLog
from financial_transactions.ingest.landing import LandingWriter, QuarantineWriter, write_atomic
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


#: Where feed leases live: ``<landing>/_leases/<feed>.json`` (``_``: never bronze input).
LEASE_DIR = "_leases"
#: A lease not renewed for this long is expired: another collector may take the feed over.
LEASE_TTL_SECONDS = 30.0
LEASE_LOST = "the feed lease was taken over by another collector"


class FeedLeaseHeld(CollectorError):
    """Another live collector holds the feed's lease."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class FeedLease:
    """An exclusive, expiring claim on one feed: a JSON file with owner, heartbeat and expiry.

    Acquired with ``O_CREAT | O_EXCL`` (one winner), renewed by rewriting it atomically,
    released by deleting it. An expired lease, or one whose process is gone on this host
    (a collector killed with SIGKILL), is broken by an atomic rename, so exactly one
    contender takes it over.
    """

    def __init__(
        self,
        landing: Path,
        feed: str,
        run_id: str,
        *,
        ttl_seconds: float = LEASE_TTL_SECONDS,
        why: str = "it has no trade id",
    ) -> None:
        self.path = Path(landing) / LEASE_DIR / f"{feed}.json"
        self.feed = feed
        self.ttl = ttl_seconds
        self.why = why
        self.owner = {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(), "token": secrets.token_hex(8)}
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    def _doc(self) -> bytes:
        now = time.time()
        return orjson.dumps({**self.owner, "heartbeat": now, "expires_at": now + self.ttl})

    def holder(self) -> dict[str, Any] | None:
        """The current lease document (None: no lease; ``{}``: unreadable, e.g. being written)."""
        try:
            doc = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _breakable(self, doc: dict[str, Any]) -> bool:
        if not doc:  # unreadable: judge by the file's age
            try:
                return time.time() - self.path.stat().st_mtime > self.ttl
            except FileNotFoundError:
                return True
        if float(doc.get("expires_at", 0)) < time.time():
            return True
        pid = doc.get("pid")
        return doc.get("host") == self.owner["host"] and isinstance(pid, int) and not _pid_alive(pid)

    def acquire(self) -> None:
        """Take the lease, or raise :class:`FeedLeaseHeld` naming the live holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                doc = self.holder()
                if doc is None:
                    continue  # released meanwhile
                if not self._breakable(doc):
                    raise FeedLeaseHeld(self._held_message(doc)) from None
                self._break(doc)
                continue
            try:
                os.write(fd, self._doc())
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        raise FeedLeaseHeld(f"{self.feed}: could not take the feed lease {self.path} (contended); try again")

    def _break(self, seen: dict[str, Any]) -> None:
        """Set a dead holder's lease aside; put it back if a live one replaced it meanwhile."""
        aside = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            taken = orjson.loads(aside.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            taken = {}
        if seen and taken.get("token") != seen.get("token"):
            try:
                os.link(aside, self.path)  # a fresh holder's lease: restore it (fails if one exists again)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)
        log.warning("%s: took over the expired feed lease of %s", self.feed, _describe(seen))

    def _held_message(self, doc: dict[str, Any]) -> str:
        return (
            f"{self.feed}: another collector is already receiving this feed ({_describe(doc)}); a second one would "
            f"land every trade twice ({self.why}). Stop it, or wait until its lease {self.path} "
            f"expires ({self.ttl:g}s after its last heartbeat)"
        )

    def renew(self) -> bool:
        """Rewrite the lease with a new heartbeat; False when it is no longer ours."""
        doc = self.holder()
        if doc is None or doc.get("token") != self.owner["token"]:
            return False
        write_atomic(self.path, self._doc(), fsync=False)
        return True

    def start_heartbeat(self, on_lost: Callable[[], None]) -> None:
        """Renew every third of the TTL on a daemon thread; call ``on_lost`` if the lease was taken."""

        def beat() -> None:
            while not self._stop.wait(self.ttl / 3):
                if not self.renew():
                    on_lost()
                    return

        self._beat = threading.Thread(target=beat, name=f"{self.feed}-lease", daemon=True)
        self._beat.start()

    def release(self) -> None:
        """Stop the heartbeat and delete the lease if it is still ours."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        doc = self.holder()
        if doc is not None and doc.get("token") == self.owner["token"]:
            self.path.unlink(missing_ok=True)


def _describe(doc: dict[str, Any]) -> str:
    if not doc:
        return "an unreadable lease"
    age = time.time() - float(doc.get("heartbeat", 0))
    return f"run {doc.get('run_id')}, pid {doc.get('pid')} on {doc.get('host')}, heartbeat {age:.0f}s ago"


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
    #: One collector at a time per feed (:class:`FeedLease`); the reason goes into the refusal.
    leased = True
    lease_reason = ""

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
        max_age_seconds: float | None = None,
        lease_ttl_seconds: float = LEASE_TTL_SECONDS,
        heartbeat_seconds: float = 10.0,
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
        self.landing = Path(landing)
        self.writer = LandingWriter(
            landing, self.source, self.run_id, max_records=flush_max_records,
            max_age_seconds=flush_interval_seconds, fsync=fsync,
        )  # fmt: skip
        self.quarantine = QuarantineWriter(landing, self.source, self.run_id, fsync=fsync)
        self.counters = CollectorCounters()
        self.lease_ttl = lease_ttl_seconds
        self._persistent = False
        self.heartbeat_seconds = heartbeat_seconds
        self.events = CollectionLog(landing, self.source, self.run_id, fsync=fsync)
        self.secret_values = secret_values
        self._stop = threading.Event()
        self._rng = random.Random(seed)
        #: a live feed's bound on how old an event time may be at receipt (None: any age, a replayed history)
        self.max_age_ms = None if max_age_seconds is None else int(max_age_seconds * 1000)
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
        persistent: bool = False,
    ) -> CollectorCounters:
        """Collect until ``duration`` seconds pass, ``stop_when()`` is true, :meth:`stop` or a signal.

        ``persistent`` (the always-on mode, with ``duration=None``): network failures never end the
        run, however many in a row; the reconnect delay stays within ``backoff.max_seconds``.
        """
        previous: dict[signal.Signals, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: self._stop.set())
        deadline = None if duration is None else time.monotonic() + duration
        self._persistent = persistent
        lease = (
            FeedLease(self.landing, self.source, self.run_id, ttl_seconds=self.lease_ttl, why=self.lease_reason)
            if self.leased
            else None
        )
        acquired = False
        clean = False
        try:
            if lease is not None:
                lease.acquire()
                lease.start_heartbeat(self._lease_lost)
            acquired = True
            self.events.event(
                "start", persistent=persistent, symbols=len(self.symbols), heartbeat_seconds=self.heartbeat_seconds
            )
            self._loop(deadline, stop_when)
            clean = self.last_error != LEASE_LOST
        finally:
            self._finish()
            if acquired:
                self.events.event(
                    "stop", clean=clean, landed=self.counters.landed, reason=None if clean else self.last_error
                )
            if lease is not None:
                lease.release()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.counters

    def _lease_lost(self) -> None:
        self.last_error = LEASE_LOST
        log.error("%s run %s: %s; stopping", self.collector, self.run_id, self.last_error)
        self._stop.set()

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
                if failures >= self.backoff.max_attempts and not self._persistent:
                    raise CollectorError(
                        f"{self.collector}: giving up after {failures} attempts; {self.last_error}"
                    ) from None
                self._sleep(backoff_delay(self.backoff, failures - 1, self._rng), deadline)
                continue
            self.counters.connections += 1
            if self.counters.connections > 1:
                self.counters.reconnects += 1
            self.events.event("connect", connection=self.counters.connections)
            frames_before = self.counters.frames
            peer_closed = True
            try:
                self.subscribe(ws)
                peer_closed = self._receive(ws, self.counters.connections, deadline, stop_when)
            finally:
                self._close(ws, peer_closed=peer_closed)
            if peer_closed:
                self.events.event(
                    "disconnect",
                    connection=self.counters.connections,
                    reason=self.last_error,
                    landed=self.writer.stats.records,
                )
            if self._done(deadline, stop_when):
                break
            failures = 0 if self.counters.frames > frames_before else failures + 1
            if failures >= self.backoff.max_attempts and not self._persistent:
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
        last_frame = last_flush = last_beat = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_flush >= self.flush_interval:
                self._flush_due()
                last_flush = now
            if now - last_beat >= self.heartbeat_seconds:
                self.events.event("heartbeat", connection=connection, landed=writer.stats.records)
                last_beat = now
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
            ctx = FrameContext(
                source, collector, run, connection, msg_seq, time.time_ns() // 1_000_000, self.max_age_ms
            )
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
    lease_reason = "finnhub has no trade id"  # two collectors would land each trade twice, indistinguishably

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
    lease_reason = "silver keeps one row per venue trade id, but landing, bronze and the gap figures would not"

    def connect_url(self) -> str:
        streams = "/".join(f"{s.lower()}@trade" for s in self.symbols)
        return f"{self.base_url.rstrip('/')}/stream?streams={streams}"

    def parse(self, raw: bytes, ctx: FrameContext) -> Parsed:
        return parse_binance(raw, ctx)
