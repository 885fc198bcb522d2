"""The offline market replay: vendor-protocol servers on 127.0.0.1 fed by one :class:`MarketData`.

* **Finnhub-compatible WebSocket** (``ws://host:port/?token=...``), the equities'
  and the futures' feed (a Finnhub subscription carries any instrument; futures
  get no Alpha Vantage bars): clients send
  ``{"type":"subscribe","symbol":...}`` / ``unsubscribe``; the feed answers
  ``{"type":"trade","data":[{"s","p","v","t","c"},...]}`` batches, sends
  ``{"type":"ping"}`` keep-alives and ``{"type":"error","msg":...}`` for bad
  client messages. A missing (or, when one is set, wrong) token is refused
  with HTTP 401 during the handshake.
* **Binance-compatible trade stream**: ``/ws/<sym>@trade`` (raw events),
  ``/stream?streams=a@trade/b@trade`` (``{"stream","data"}`` wrapped) and the
  ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` methods on ``/ws``.
* **Alpha Vantage-compatible REST** (:mod:`financial_transactions.replay.av_server`).

Each WebSocket feed plays its trades along one timeline: at ``speed`` 0 as fast
as the clients take them, otherwise ``speed`` times faster than event time.
Playback starts once every symbol has a subscriber (or ``start_grace_seconds``
after the first subscription). With ``hold_when_unsubscribed`` the timeline
pauses while a symbol it is about to send has no subscriber, so a collector that
reconnects misses nothing; without it, trades sent while nobody listens are
gone, as on the real feeds (Finnhub has no replay after a disconnect).

The feed counts what it actually sent: per connection and per trade
(``delivered[i]`` = how many connections received trade ``i``). A frame counts
once ``send`` returned; forced disconnects close the connection gracefully
*after* that, so everything counted as sent was delivered. That is what the
losslessness tests compare the landing zone against.

Fault switches (``replay.faults``): close the connection after every N data
frames (at the end of the batch that contains the N-th: one frame for
Finnhub, up to 64 single-trade frames for Binance), inject a malformed frame
after every N data frames (rotating kinds, each one quarantine item), and
delay every frame.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import logging
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from financial_transactions.replay.av_server import AlphaVantageReplay
from financial_transactions.replay.market import CONDITION_SETS, CRYPTO, EQUITY, FUTURE, MarketData

if TYPE_CHECKING:
    from financial_transactions.config.collectors import ReplayConfig, ReplayFaults
    from financial_transactions.replay.av_server import AlphaVantageReplay

log = logging.getLogger(__name__)

#: Malformed frames the fault switch rotates through; each yields exactly one quarantine item.
FINNHUB_MALFORMED: tuple[bytes, ...] = (
    b'{"type":"trade","data":[{"s":"AAPL","p":',  # truncated JSON
    b"this is not json",
    b'{"type":"trade","data":[{"s":"AAPL","p":-1.5,"v":100,"t":1741354200123,"c":["1"]}]}',  # negative price
    b'{"type":"trade","data":[{"p":187.1,"v":100,"t":1741354200123}]}',  # missing symbol
    b'{"type":"trade","data":[{"s":"AAPL","p":"187.1","v":100,"t":1741354200123}]}',  # price as a string
    b'{"type":"quote","data":[]}',  # unknown message type
    b'{"type":"trade","data":[{"s":"AAPL","p":0,"v":100,"t":1741354200123}]}',  # zero price
    b'{"type":"trade","data":{"s":"AAPL"}}',  # data is not an array
)
BINANCE_MALFORMED: tuple[bytes, ...] = (
    b'{"e":"trade","E":1741354200123,"s":"BTCUSDT","t":1,"p":"85000.1',  # truncated
    b"\x00\x01 garbage",
    b'{"e":"trade","E":1741354200123,"s":"BTCUSDT","t":1,"p":"-3.0","q":"0.1","T":1741354200123,"m":true}',
    b'{"e":"trade","E":1741354200123,"s":"BTCUSDT","t":1,"p":"abc","q":"0.1","T":1741354200123,"m":true}',
    b'{"e":"aggTrade","E":1741354200123,"s":"BTCUSDT"}',  # unknown event type
    b'{"e":"trade","E":1741354200123,"s":"BTCUSDT","t":1,"p":"85000.1","q":"0.1","m":false}',  # no trade time
)


#: Bytes queued on a connection before the feed waits for the client to catch up.
WRITE_HIGH_WATER = 1 << 20


def _text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame (RFC 6455 section 5.2): what a server sends."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


@dataclass
class FeedStats:
    connections: int = 0
    subscribe_messages: int = 0
    frames_sent: int = 0  # data frames incl. injected malformed ones (not pings / control replies)
    trades_sent: int = 0
    malformed_sent: int = 0
    pings_sent: int = 0
    drops: int = 0
    undelivered: int = 0  # trades played while nobody was subscribed to their symbol
    client_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    number: int
    symbols: set[str] = field(default_factory=set)
    combined: bool = False  # Binance combined-stream wrapper
    frames: int = 0
    trades: int = 0
    closing: bool = False


class StreamFeed(abc.ABC):
    """One WebSocket feed: subscriptions, the playback timeline, faults and accounting."""

    protocol = "base"

    def __init__(
        self,
        market: MarketData,
        asset_classes: tuple[str, ...],
        cfg: ReplayConfig,
        *,
        speed: float | None = None,
        token: str | None = None,
    ) -> None:
        self.market = market
        self.cfg = cfg
        self.faults: ReplayFaults = cfg.faults
        self.speed = cfg.speed if speed is None else speed
        self.token = token
        # the trades of every class this feed carries, in one timeline (time order, ties as generated)
        codes = [i for i, a in enumerate(market.asset_classes) if a in asset_classes]
        self.events = np.flatnonzero(np.isin(market.sym, codes))
        self.symbols = [market.symbols[i] for i in codes]
        self.stats = FeedStats()
        self.delivered = np.zeros(len(self.events), dtype=np.int32)
        self.conns: set[_Conn] = set()
        self._numbers = itertools.count(1)
        self._malformed = itertools.cycle(range(len(self._malformed_frames())))
        self.started = threading.Event()
        self.exhausted = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_event: asyncio.Event | None = None
        self._sub_changed: asyncio.Event | None = None
        self._grace_handle: asyncio.TimerHandle | None = None
        self._sym_json = [orjson.dumps(s) for s in market.symbols]
        self._cond_json = [orjson.dumps(list(c)) for c in CONDITION_SETS]

    # -- protocol hooks ----------------------------------------------------------------
    @abc.abstractmethod
    def _malformed_frames(self) -> tuple[bytes, ...]:
        """Frames that break this protocol, sent by the malformed-frame fault switch."""

    @abc.abstractmethod
    def _frames_for(self, conn: _Conn, idx: np.ndarray) -> tuple[list[bytes], list[np.ndarray]]:
        """Frames for the trades of ``idx`` that ``conn`` subscribed to, and the positions each carries."""

    # -- lifecycle -------------------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._start_event = asyncio.Event()
        self._sub_changed = asyncio.Event()
        if len(self.events) == 0:
            self.started.set()
            self.exhausted.set()

    def subscribers(self, symbol: str) -> int:
        return sum(1 for c in self.conns if symbol in c.symbols and not c.closing)

    def _subscriptions_changed(self) -> None:
        assert self._start_event is not None and self._sub_changed is not None and self._loop is not None
        self._sub_changed.set()
        if self._start_event.is_set():
            return
        if all(self.subscribers(s) for s in self.symbols):
            self._start_event.set()
        elif self._grace_handle is None and any(c.symbols for c in self.conns):
            self._grace_handle = self._loop.call_later(self.cfg.start_grace_seconds, self._start_event.set)

    async def playback(self) -> None:
        assert self._start_event is not None
        if len(self.events) == 0:
            return
        await self._start_event.wait()
        self.started.set()
        loop = asyncio.get_running_loop()
        ts = self.market.ts[self.events]
        n = len(self.events)
        batch = self._batch_size()
        wall0, ts0 = loop.time(), int(ts[0])
        pos = 0
        while pos < n:
            end = min(pos + batch, n)
            if self.speed > 0:
                due = wall0 + (int(ts[pos]) - ts0) / 1000.0 / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                now_ts = ts0 + (loop.time() - wall0) * 1000.0 * self.speed
                end = pos + max(1, int(np.searchsorted(ts[pos:end], now_ts, side="right")))
            chunk = np.arange(pos, end)
            if self.cfg.hold_when_unsubscribed:
                await self._hold(chunk)
            reached = np.zeros(len(chunk), dtype=bool)
            for conn in [c for c in self.conns if not c.closing]:
                frames, carried = self._frames_for(conn, chunk)
                if frames:
                    delivered = await self._deliver(conn, frames, carried)
                    if len(delivered):
                        self.delivered[delivered] += 1
                        reached[delivered - pos] = True
            self.stats.undelivered += int(np.count_nonzero(~reached))
            pos = end
            if self.speed == 0:
                await asyncio.sleep(0)
        self.exhausted.set()
        log.info("%s replay exhausted: %s", self.protocol, self.stats.as_dict())

    def _batch_size(self) -> int:
        return self.cfg.finnhub_batch_size

    async def _hold(self, chunk: np.ndarray) -> None:
        assert self._sub_changed is not None
        codes = np.unique(self.market.sym[self.events[chunk]])
        needed = [self.market.symbols[c] for c in codes]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.hold_timeout_seconds
        while not all(self.subscribers(s) for s in needed):
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "%s replay: no subscriber for %s after %.0fs; playing on",
                    self.protocol, needed, self.cfg.hold_timeout_seconds,
                )  # fmt: skip
                return
            self._sub_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sub_changed.wait(), timeout=remaining)

    async def _deliver(self, conn: _Conn, frames: list[bytes], carried: list[np.ndarray]) -> np.ndarray:
        """Write ``frames`` to ``conn`` (one socket write per chunk), applying the fault switches.

        Returns the positions of the trades delivered. Frames are framed here and
        written to the connection's transport in one piece; the close handshake
        and keep-alives still go through websockets on the same transport, so
        order is preserved and a forced disconnect comes after everything counted.
        """
        faults = self.faults
        malformed_every, drop_every = faults.malformed_every_n_messages, faults.drop_every_n_messages
        out: list[np.ndarray] = []
        buf: list[bytes] = []
        frames_before = conn.frames
        for frame, car in zip(frames, carried, strict=True):
            if not self._writable(conn):
                break
            buf.append(_text_frame(frame))
            conn.frames += 1
            conn.trades += len(car)
            self.stats.frames_sent += 1
            self.stats.trades_sent += len(car)
            out.append(car)
            if malformed_every and conn.frames % malformed_every == 0:
                buf.append(_text_frame(self._malformed_frames()[next(self._malformed)]))
                self.stats.frames_sent += 1
                self.stats.malformed_sent += 1
            if faults.delay_ms:
                await self._write(conn, buf)
                buf = []
                await asyncio.sleep(faults.delay_ms / 1000.0)
        if buf:
            await self._write(conn, buf)
        # a forced disconnect happens between batches, so a held timeline resumes exactly where it was
        if drop_every and conn.frames // drop_every > frames_before // drop_every and not conn.closing:
            conn.closing = True
            self.stats.drops += 1
            self._subscriptions_changed()
            with contextlib.suppress(ConnectionClosed):
                await conn.ws.close(1001, "replay fault: forced disconnect")
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    @staticmethod
    def _writable(conn: _Conn) -> bool:
        return not conn.closing and conn.ws.protocol.state is State.OPEN and not conn.ws.transport.is_closing()

    async def _write(self, conn: _Conn, buf: list[bytes]) -> None:
        if not self._writable(conn):
            conn.closing = True
            return
        transport = conn.ws.transport
        transport.write(b"".join(buf))
        # flow control: let a slow client drain before queueing more
        while transport.get_write_buffer_size() > WRITE_HIGH_WATER and not transport.is_closing():
            await asyncio.sleep(0.001)

    @abc.abstractmethod
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The upgrade check (path, credentials): a Response refuses the connection, None accepts it."""

    @abc.abstractmethod
    async def handler(self, ws: ServerConnection) -> None:
        """Serve one WebSocket connection: subscriptions in, trade frames and keep-alives out."""

    def _register(self, ws: ServerConnection) -> _Conn:
        conn = _Conn(ws, next(self._numbers))
        self.conns.add(conn)
        self.stats.connections += 1
        return conn

    def _unregister(self, conn: _Conn) -> None:
        conn.closing = True
        self.conns.discard(conn)
        self._subscriptions_changed()


class FinnhubFeed(StreamFeed):
    protocol = "finnhub"

    #: what the feed carries: equities and futures (CME Globex instruments trade on it too)
    ASSET_CLASSES = (EQUITY, FUTURE)

    def __init__(self, market: MarketData, cfg: ReplayConfig, **kw: Any) -> None:
        super().__init__(market, self.ASSET_CLASSES, cfg, **kw)

    def _malformed_frames(self) -> tuple[bytes, ...]:
        return FINNHUB_MALFORMED

    def _frames_for(self, conn: _Conn, idx: np.ndarray) -> tuple[list[bytes], list[np.ndarray]]:
        if conn.symbols.issuperset(self.symbols):
            keep = idx
        else:
            wanted = [i for i, s in enumerate(self.market.symbols) if s in conn.symbols]
            keep = idx[np.isin(self.market.sym[self.events[idx]], wanted)]
        if len(keep) == 0:
            return [], []
        return [b'{"data":[' + b",".join(self._fragments(self.events[keep])) + b'],"type":"trade"}'], [keep]

    def _fragments(self, rows: np.ndarray) -> list[bytes]:
        """``{"c","p","s","t","v"}`` per trade; volumes print as integers when whole, like the vendor's."""
        m = self.market
        conds, syms = self._cond_json, self._sym_json
        volume = m.volume[rows]
        whole = (volume == np.floor(volume)) & (np.abs(volume) < 1e15)
        vol_txt = [str(int(v)) if w else repr(v) for v, w in zip(volume.tolist(), whole.tolist(), strict=True)]
        return [
            b'{"c":%b,"p":%b,"s":%b,"t":%d,"v":%b}' % (conds[c], repr(p).encode(), syms[s], t, v.encode())
            for c, p, s, t, v in zip(
                m.cond[rows].tolist(),
                m.price[rows].tolist(),
                m.sym[rows].tolist(),
                m.ts[rows].tolist(),
                vol_txt,
                strict=True,
            )
        ]

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        token = (query.get("token") or [""])[0]
        if self.cfg.require_token and not token:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Missing API key: pass ?token=\n")
        if self.token is not None and token != self.token:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid API key\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        conn = self._register(ws)
        pinger = asyncio.create_task(self._pinger(conn))
        try:
            async for message in ws:
                reply = self._on_client_message(conn, message)
                if reply is not None:
                    await ws.send(reply, text=True)
        except ConnectionClosed:
            pass
        finally:
            pinger.cancel()
            self._unregister(conn)

    def _on_client_message(self, conn: _Conn, message: str | bytes) -> bytes | None:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            self.stats.client_errors += 1
            return orjson.dumps({"type": "error", "msg": "Invalid message: expected subscribe/unsubscribe"})
        symbol = msg.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            self.stats.client_errors += 1
            return orjson.dumps({"type": "error", "msg": "Invalid symbol"})
        self.stats.subscribe_messages += 1
        if msg["type"] == "subscribe":
            conn.symbols.add(symbol)
        else:
            conn.symbols.discard(symbol)
        self._subscriptions_changed()
        return None

    async def _pinger(self, conn: _Conn) -> None:
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            while not conn.closing:
                await asyncio.sleep(self.cfg.ping_interval_seconds)
                if not conn.closing:
                    await conn.ws.send(b'{"type":"ping"}', text=True)
                    self.stats.pings_sent += 1


class BinanceFeed(StreamFeed):
    protocol = "binance"

    def __init__(self, market: MarketData, cfg: ReplayConfig, **kw: Any) -> None:
        super().__init__(market, (CRYPTO,), cfg, **kw)
        self._stream_of = {s: f"{s.lower()}@trade" for s in self.symbols}
        self._symbol_of = {v: k for k, v in self._stream_of.items()}

    def _malformed_frames(self) -> tuple[bytes, ...]:
        return BINANCE_MALFORMED

    def _event(self, i: int) -> bytes:
        m = self.market
        ts = int(m.ts[i])
        return b'{"e":"trade","E":%d,"s":%b,"t":%d,"p":"%.8f","q":"%.8f","T":%d,"m":%b,"M":true}' % (
            ts + 3,
            self._sym_json[m.sym[i]],
            int(m.exchange_id[i]),
            float(m.price[i]),
            float(m.volume[i]),
            ts,
            b"true" if m.buyer_maker[i] else b"false",
        )

    def _frames_for(self, conn: _Conn, idx: np.ndarray) -> tuple[list[bytes], list[np.ndarray]]:
        frames: list[bytes] = []
        positions: list[int] = []
        symbols, sym = self.market.symbols, self.market.sym
        for pos in idx.tolist():
            i = int(self.events[pos])
            symbol = symbols[sym[i]]
            if symbol not in conn.symbols:
                continue
            event = self._event(i)
            if conn.combined:
                event = b'{"stream":"%b","data":%b}' % (self._stream_of[symbol].encode(), event)
            frames.append(event)
            positions.append(pos)
        carried = np.array(positions, dtype=np.int64)
        return frames, [carried[k : k + 1] for k in range(len(positions))]

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws" or path.startswith("/ws/") or path == "/stream":
            return None
        return connection.respond(HTTPStatus.NOT_FOUND, "Unknown path: use /ws/<symbol>@trade or /stream?streams=\n")

    def _streams_to_symbols(self, streams: list[str]) -> set[str]:
        return {self._symbol_of[s] for s in streams if s in self._symbol_of}

    async def handler(self, ws: ServerConnection) -> None:
        conn = self._register(ws)
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        if parts.path.startswith("/ws/"):
            conn.symbols |= self._streams_to_symbols(parts.path[len("/ws/") :].split("/"))
        elif parts.path == "/stream":
            conn.combined = True
            streams = (parse_qs(parts.query).get("streams") or [""])[0]
            conn.symbols |= self._streams_to_symbols(streams.split("/"))
        if conn.symbols:
            self.stats.subscribe_messages += 1
            self._subscriptions_changed()
        try:
            async for message in ws:
                await ws.send(self._on_client_message(conn, message), text=True)
        except ConnectionClosed:
            pass
        finally:
            self._unregister(conn)

    def _on_client_message(self, conn: _Conn, message: str | bytes) -> bytes:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("method"), str):
            self.stats.client_errors += 1
            return orjson.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": None})
        rid = msg.get("id")
        method, params = msg["method"], msg.get("params") or []
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                self.stats.client_errors += 1
                return orjson.dumps({"error": {"code": 2, "msg": "Invalid params"}, "id": rid})
            symbols = self._streams_to_symbols(params)
            if method == "SUBSCRIBE":
                conn.symbols |= symbols
            else:
                conn.symbols -= symbols
            self.stats.subscribe_messages += 1
            self._subscriptions_changed()
            return orjson.dumps({"result": None, "id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return orjson.dumps({"result": sorted(self._stream_of[s] for s in conn.symbols), "id": rid})
        self.stats.client_errors += 1
        return orjson.dumps({"error": {"code": 1, "msg": f"Unknown method {method[:40]}"}, "id": rid})

    def _batch_size(self) -> int:
        return 64


@dataclass(frozen=True)
class ReplayUrls:
    finnhub: str
    binance: str
    alphavantage: str


class ReplayHub:
    """All replay servers on one background event loop (+ the HTTP server's threads).

    Ports 0 pick free ports; :attr:`urls` has the bound ones. Use as a context
    manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        market: MarketData,
        cfg: ReplayConfig,
        *,
        ports: tuple[int, int, int] | None = None,
        token: str | None = None,
        speed: float | None = None,
    ) -> None:
        self.market = market
        self.cfg = cfg
        self.host = cfg.host
        self.ports = ports or (cfg.finnhub_port, cfg.alphavantage_port, cfg.binance_port)
        self.finnhub = FinnhubFeed(market, cfg, speed=speed, token=token)
        self.binance = BinanceFeed(market, cfg, speed=speed, token=token)
        self.alphavantage: AlphaVantageReplay = AlphaVantageReplay(market, cfg, token=token)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.urls: ReplayUrls | None = None

    def start(self, timeout: float = 30.0) -> ReplayUrls:
        self._thread = threading.Thread(target=self._run, name="replay-hub", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("replay servers did not start in time")
        if self._error is not None:
            self.stop()
            raise RuntimeError(f"replay servers failed to start on {self.host}: {self._error}") from self._error
        try:
            av_port = self.alphavantage.start(self.host, self.ports[1])
        except OSError as exc:  # a busy Alpha Vantage port is the same expected error as a busy WebSocket port
            self.stop()
            raise RuntimeError(
                f"replay servers failed to start on {self.host}: "
                f"Alpha Vantage port {self.ports[1]}: {exc.strerror or exc}"
            ) from exc
        fh = self._servers[0].sockets[0].getsockname()[1]
        bn = self._servers[1].sockets[0].getsockname()[1]
        self.urls = ReplayUrls(f"ws://{self.host}:{fh}", f"ws://{self.host}:{bn}", f"http://{self.host}:{av_port}")
        return self.urls

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() instead of dying silently
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        common: dict[str, Any] = {"compression": None, "max_size": 2**20, "close_timeout": 2}
        fh, bn = self.finnhub, self.binance
        for feed in (fh, bn):
            feed.bind(asyncio.get_running_loop())
        self._servers.append(
            await serve(
                fh.handler, self.host, self.ports[0], process_request=fh._process_request, ping_interval=None, **common
            )
        )
        self._servers.append(
            await serve(
                bn.handler,
                self.host,
                self.ports[2],
                process_request=bn._process_request,
                ping_interval=self.cfg.ping_interval_seconds,
                ping_timeout=max(self.cfg.ping_interval_seconds, 20.0),
                **common,
            )
        )
        self._tasks = [asyncio.create_task(fh.playback()), asyncio.create_task(bn.playback())]
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        for task in self._tasks:
            task.cancel()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=3)

    def wait_exhausted(self, timeout: float | None = None) -> bool:
        """Block until both WebSocket feeds have played every trade."""
        ok = self.finnhub.exhausted.wait(timeout)
        return ok and self.binance.exhausted.wait(timeout)

    def stop(self) -> None:
        self.alphavantage.stop()
        if self._loop is not None and self._loop.is_running() and hasattr(self, "_stop"):
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ReplayHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            "finnhub": self.finnhub.stats.as_dict(),
            "binance": self.binance.stats.as_dict(),
            "alphavantage": self.alphavantage.stats.as_dict(),
        }
