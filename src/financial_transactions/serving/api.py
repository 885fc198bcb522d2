"""The scoring and decision API (FastAPI), served by ``fin-mlops serve``.

Endpoints: ``POST /v1/anomaly/score``, ``GET /v1/decision-matrix``, ``GET /health``
(liveness), ``GET /ready`` (503 until a champion is loaded), ``GET /metrics`` (Prometheus
text) and the OpenAPI docs at ``/docs``.

* **Input.** Pydantic models reject bad input with 422 naming the field, and bound every
  value (timestamps in 2000..2100, finite feature values within ±1e15, short strings; see
  :mod:`.schemas`), so nothing accepted can overflow in pandas, the model or the JSON
  encoder; a body larger than ``serving.max_body_bytes`` is refused with 413 before it is
  read, and a batch of more than ``serving.max_batch_rows`` rows with 413. Feature rows
  lacking a model column or carrying a non-number are 422. No bad input reaches the model,
  so none becomes a 500 (a hypothesis fuzz of the request models holds the line).
* **Auth** (:mod:`.security`). ``/v1/*`` needs header ``X-API-Key`` holding one of the
  configured keys (``serving.api_key`` / ``serving.api_keys``, several at once for rotation,
  compared in constant time); the app refuses to be built without a key unless
  ``insecure_no_auth`` says so explicitly. Each key has its own rate limit (429 with
  ``Retry-After``). Failed authentications are logged without the key. Health, readiness,
  metrics and docs stay open for probes and scrapers.
* **Contract.** ``/openapi.json`` documents every status each route answers with its body
  schema, the request body as ``oneOf`` trades / rows, and the served champion's feature
  columns as required row fields (rebuilt when the champion changes); Schemathesis checks
  it against a served champion (``tests/serving/test_contract.py``).
* **Throughput.** Small feature-row requests are *micro-batched*: while a model call runs,
  newly arrived requests queue, and the next call scores them all at once (no added wait
  when idle). Rows go to the champion's scorer as a matrix, never through a DataFrame.
* **Reload.** :class:`~financial_transactions.serving.champion.ChampionHolder` follows the
  ``champion`` alias every ``serving.reload_interval_seconds``; requests in flight finish
  on the model they started with.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import operator
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import orjson
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from financial_transactions.features.online import OnlineFeatures, OnlineTrade, seed_since
from financial_transactions.runtime import Platform
from financial_transactions.serving.champion import ChampionHolder, ChampionSource, LoadedModel, RegistryChampionSource
from financial_transactions.serving.metrics import Metrics, service_metrics
from financial_transactions.serving.schemas import (
    FEATURE_ABS_MAX,
    SYMBOL_RE,
    DecisionMatrixResponse,
    ErrorBody,
    FeedbackRecorded,
    FeedbackRequest,
    HealthBody,
    NotReadyBody,
    ReadyBody,
    Recommendation,
    ScoreRequest,
    ScoreResponse,
    Trade,
    ValidationErrorBody,
    epoch_ms,
    instant_iso,
    out_of_bounds,
    request_body_schemas,
    ticker_error,
)
from financial_transactions.serving.security import (
    ANONYMOUS,
    API_KEY_HEADER,
    ApiKeys,
    FailureLog,
    RateLimiter,
    exposure_error,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

#: Requests with at most this many feature rows share model calls through the micro-batcher.
BATCHABLE_ROWS = 64
#: Bodies from this size on try the fast decoding of feature rows first (:class:`RowsDecoder`).
FAST_ROWS_MIN_BYTES = 32_768
#: Requests with at most this many raw trades update the online state on the event loop (a few
#: microseconds per trade: a thread hop costs more); larger ones, or a symbol another thread holds,
#: go to a worker thread.
INLINE_TRADES = 64
#: Late trades up to this many get their bars from an online state of their own (~15 µs a trade, no fixed
#: cost); more go through the batch feature code (vectorised: ~5 ms fixed, then faster per trade). The
#: two give the same rows (the online-vs-batch property test); 10k late trades took 70 ms one way, 138 ms the other.
LATE_ONLINE_MAX = 500
#: Batches from this many rows on are predicted on every core (rows score independently: the same scores).
PARALLEL_ROWS = 2048
#: The media type of a feature-row batch sent as an Arrow IPC stream (:class:`ArrowRows`).
ARROW_STREAM = "application/vnd.apache.arrow.stream"
_META_COLUMNS = ("symbol", "bar_start")
_UNSET: Any = object()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BadRows(ValueError):
    """Feature rows the champion cannot score (missing or non-numeric columns): HTTP 422."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def check_rows(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Every row has every model column, each a number or null; errors name row and column."""
    needed = set(columns)
    for i, row in enumerate(rows):
        missing = needed.difference(row)
        if missing:
            first = sorted(missing)
            raise BadRows(f"rows[{i}] lacks model feature column(s) {first[:10]}", ("body", "rows", i, first[0]))
        for col in columns:
            value = row[col]
            if value is not None and not isinstance(value, int | float):
                raise BadRows(
                    f"rows[{i}].{col} must be a number or null, got {type(value).__name__}", ("body", "rows", i, col)
                )


@dataclass(frozen=True)
class FastRows:
    """A large feature-row request decoded straight into the model's matrix (see :class:`RowsDecoder`)."""

    matrix: np.ndarray  # float64, one row per request row, in the champion's column order (NaN = null)
    symbols: list[str | None]
    bar_starts: list[str | None]  # normalised to UTC ISO, as the full validation echoes them


class RowsDecoder:
    """The fast path of a ``rows`` request: msgspec decodes the body into typed structs of the champion's
    columns (numbers or null, ``symbol`` and ``bar_start`` optional, nothing else), then numpy checks the
    bounds over the whole matrix at once.

    It accepts only what the full validation (:class:`ScoreRequest` then :func:`check_rows`) accepts;
    anything it does not take (a bad value, an extra key, a trades request) answers None, and the full
    validation then runs and names the field and value at fault with its own message and ``loc``.
    """

    def __init__(self, columns: list[str]) -> None:
        import msgspec

        self.columns = list(columns)
        fields: list[Any] = [(c, float | int | None) for c in self.columns]
        fields += [(n, Any, None) for n in _META_COLUMNS]
        row = msgspec.defstruct("FeatureRowStruct", fields, forbid_unknown_fields=True, gc=False)
        body = msgspec.defstruct("RowsBody", [("rows", list[row])], forbid_unknown_fields=True)  # type: ignore[valid-type]
        self._decoder = msgspec.json.Decoder(body)
        self._error = msgspec.ValidationError, msgspec.DecodeError
        self._values = operator.attrgetter(*self.columns)  # the model columns of a row, in order, in C

    def decode(self, raw: bytes, max_rows: int) -> FastRows | None:
        try:
            decoded: Any = self._decoder.decode(raw)
            rows = decoded.rows
        except self._error:
            return None
        if not 0 < len(rows) <= max_rows:
            return None
        get = self._values
        matrix = np.array([get(r) for r in rows], dtype=np.float64).reshape(len(rows), len(self.columns))
        if (np.abs(matrix) > FEATURE_ABS_MAX).any():  # NaN (null) compares False; inf is out
            return None
        symbols = [r.symbol for r in rows]
        bar_starts = [r.bar_start for r in rows]
        try:
            bar_starts = _echoed(symbols, bar_starts)
        except ValueError:
            return None
        return FastRows(matrix, symbols, bar_starts)


def _invalid_rows(message: str, kind: str = "value_error") -> RequestValidationError:
    """The 422 the JSON path's request model raises for the same fault (located at ``body.rows``)."""
    prefix = "Value error, " if kind == "value_error" else ""
    return RequestValidationError([{"loc": ("body", "rows"), "msg": prefix + message, "type": kind}])


class ArrowRows:
    """Feature rows sent as an Arrow IPC stream (``application/vnd.apache.arrow.stream``), one column each.

    The columns are those of a JSON row: every model feature column (integers or floats, null allowed),
    and optionally ``symbol`` (text) and ``bar_start`` (epoch ms, an RFC 3339 string, or a timestamp
    with a zone); any other column is refused. The checks are the JSON path's, over whole columns at
    once, and a fault gets the JSON path's status and message for the first row at fault: more rows
    than ``serving.max_batch_rows`` 413, a missing or non-numeric feature column 422 (as
    :func:`check_rows`), a value that is not finite or beyond ±``FEATURE_ABS_MAX`` 422 (a null is
    missing, as JSON's null; a NaN value is refused, as the JSON path refuses one), a bad ``symbol``
    or ``bar_start`` 422.
    """

    def __init__(self, columns: list[str]) -> None:
        self.columns = list(columns)
        self._allowed = {*self.columns, *_META_COLUMNS}

    def decode(self, raw: bytes, max_rows: int) -> FastRows:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            table = pa.ipc.open_stream(raw).read_all()
        except (pa.ArrowException, ValueError, OSError) as exc:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": f"Invalid Arrow IPC stream: {exc}", "type": "arrow_invalid"}]
            ) from None
        n = table.num_rows
        if n > max_rows:
            raise HTTPException(413, f"batch of {n} rows exceeds serving.max_batch_rows={max_rows}")
        if n == 0:
            raise _invalid_rows("List should have at least 1 item after validation, not 0", "too_short")
        names = table.column_names
        for name in names:
            if name not in self._allowed or names.count(name) > 1:
                why = "appears twice" if name in self._allowed else "is not a feature column of the served champion"
                raise BadRows(
                    f"column {name!r} {why}: an Arrow body carries symbol, bar_start and the model's feature columns",
                    ("body", "rows", 0, name),
                )
        symbols: list[str | None] = [None] * n
        bar_starts: list[str | None] = [None] * n
        try:
            if "symbol" in names:
                symbols = self._symbols(table.column("symbol"))
            if "bar_start" in names:
                bar_starts = self._bar_starts(table.column("bar_start"))
        except ValueError as exc:
            raise _invalid_rows(str(exc)) from None
        missing = sorted(set(self.columns).difference(names))
        if missing:
            raise BadRows(f"rows[0] lacks model feature column(s) {missing[:10]}", ("body", "rows", 0, missing[0]))
        matrix = np.empty((n, len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.columns):
            column = table.column(name)
            kind = column.type
            if column.null_count == n:  # every value null: all missing, whatever the column's type
                matrix[:, j] = np.nan
                continue
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                i = _first(pc.is_valid(column))
                value = column[i].as_py()
                raise BadRows(
                    f"rows[{i}].{name} must be a number or null, got {type(value).__name__}", ("body", "rows", i, name)
                )
            if pa.types.is_integer(kind):  # compared as integers: a cast to float64 first could not be exact
                limit = int(FEATURE_ABS_MAX)
                beyond = pc.or_(pc.greater(column, limit), pc.less(column, -limit))
            else:
                beyond = pc.invert(pc.less_equal(pc.abs(column), FEATURE_ABS_MAX))  # NaN and ±inf fail the test
            if pc.any(pc.fill_null(beyond, False)).as_py():
                i = _first(pc.fill_null(beyond, False))
                raise _invalid_rows(str(out_of_bounds(i, name, column[i].as_py())))
            matrix[:, j] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)  # null -> NaN
        return FastRows(matrix, symbols, bar_starts)

    @staticmethod
    def _symbols(column: Any) -> list[str | None]:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = column.to_pylist()
        if column.null_count == len(column):
            return values  # type: ignore[no-any-return]
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            i = _first(pc.is_valid(column))
            raise ticker_error(i, values[i])
        for symbol in pc.unique(column).to_pylist():
            if symbol is not None and not SYMBOL_RE.fullmatch(symbol):
                raise ticker_error(values.index(symbol), symbol)
        return values  # type: ignore[no-any-return]

    @staticmethod
    def _bar_starts(column: Any) -> list[str | None]:
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = column.type
        if column.null_count == len(column):
            return [None] * len(column)
        if pa.types.is_timestamp(kind):
            if kind.tz is None:
                i = _first(pc.is_valid(column))
                raise ValueError(f"rows[{i}].bar_start needs a time zone (an Arrow timestamp with tz=, e.g. UTC)")
            values = [
                None if v is None else v.isoformat() for v in column.cast(pa.timestamp("us", kind.tz)).to_pylist()
            ]
        else:
            values = column.to_pylist()
        return _bar_isos(values, lambda i: f"rows[{i}].bar_start")


def _first(mask: Any) -> int:
    """The index of the first true value of a boolean Arrow column."""
    import pyarrow.compute as pc

    return int(pc.index(mask, True).as_py())


def _echoed(symbols: list[Any], bar_starts: list[Any]) -> list[str | None]:
    """Check the echoed columns as :meth:`ScoreRequest._echoed_columns` does, once per distinct value."""
    for symbol in set(symbols):
        if symbol is not None and (symbol.__class__ is not str or not SYMBOL_RE.fullmatch(symbol)):
            raise ValueError(symbol)
    return _bar_isos(bar_starts, lambda _: "bar_start")


def _bar_isos(values: list[Any], where: Callable[[int], str]) -> list[str | None]:
    """Each ``bar_start`` as gold's ISO form, parsed once per distinct value (``where(i)`` names a bad one)."""
    seen: dict[Any, str | None] = {None: None}
    out = []
    for i, value in enumerate(values):
        iso = seen.get(value, _UNSET) if value.__class__ is not bool else _UNSET
        if iso is _UNSET:
            iso = seen[value] = instant_iso(value, where(i))
        out.append(iso)
    return out


# -- micro-batching ---------------------------------------------------------------------------
Scored = tuple[LoadedModel, np.ndarray, np.ndarray]  # the model that scored, score and label per row


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    future: asyncio.Future[Scored]
    checked_by: LoadedModel | None  # the model whose columns the rows were already checked against


class MicroBatcher:
    """Coalesces concurrent small requests into one model call (opportunistic: no timer).

    The first request of an idle service is scored at once. While a call runs, newly
    arrived requests queue, and the next call scores them all, so the model's fixed
    per-call cost is paid once per batch, not once per request. Small calls run on the
    event loop itself (a thread hop costs more than they do); a call over
    ``inline_rows`` rows goes to a worker thread so the loop keeps accepting meanwhile.
    """

    def __init__(self, holder: ChampionHolder, metrics: Metrics, max_rows: int, inline_rows: int = 512) -> None:
        self.holder = holder
        self.metrics = metrics
        self.max_rows = max_rows
        self.inline_rows = inline_rows
        self._queue: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None

    async def score(self, rows: list[dict[str, Any]], checked_by: LoadedModel | None = None) -> Scored:
        loop = asyncio.get_running_loop()
        item = _Pending(rows, loop.create_future(), checked_by)
        self._queue.append(item)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await item.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # let the requests already read in this loop turn join the first batch
        while self._queue:
            batch: list[_Pending] = []
            total = 0
            while self._queue and (not batch or total + len(self._queue[0].rows) <= self.max_rows):
                item = self._queue.pop(0)
                batch.append(item)
                total += len(item.rows)
            try:
                if total <= self.inline_rows:
                    results = self._score_batch(batch)
                else:
                    results = await loop.run_in_executor(None, self._score_batch, batch)
            except Exception as exc:  # a failure of the model call itself: every caller gets it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, result in zip(batch, results, strict=True):
                if item.future.done():
                    continue
                if isinstance(result, Exception):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
            await asyncio.sleep(0)  # hand the loop back: responses go out, new requests queue

    def _score_batch(self, batch: list[_Pending]) -> list[Scored | Exception]:
        model = self.holder.current
        if model is None:
            return [RuntimeError("no champion loaded")] * len(batch)
        ok: list[int] = []
        results: list[Scored | Exception] = []
        for idx, item in enumerate(batch):
            try:  # the champion may have been reloaded since the request was checked
                if item.checked_by is not model:
                    check_rows(item.rows, model.input_columns)
                ok.append(idx)
                results.append(RuntimeError("pending"))
            except BadRows as exc:
                results.append(exc)
        if not ok:
            return results
        scores, labels = model.score_rows([row for idx in ok for row in batch[idx].rows])
        self.metrics.inc("score_batches_total")
        offset = 0
        for idx in ok:
            n = len(batch[idx].rows)
            results[idx] = (model, scores[offset : offset + n], labels[offset : offset + n])
            offset += n
        return results


# -- scoring -------------------------------------------------------------------------------------
def trades_frame(trades: list[Trade], crypto: set[str]) -> pd.DataFrame:
    """Validated trades -> the silver-like frame the feature code takes (UTC ``ts``)."""
    ts = [epoch_ms(t.ts) for t in trades]
    symbols = [t.symbol for t in trades]
    asset = [t.asset_class or ("crypto" if t.symbol in crypto else "equity") for t in trades]
    frame = pd.DataFrame(
        {
            "trade_id": [t.trade_id or f"req-{i:09d}" for i, t in enumerate(trades)],
            "source": [
                t.source or ("binance" if a == "crypto" else "finnhub") for t, a in zip(trades, asset, strict=True)
            ],
            "asset_class": asset,
            "symbol": symbols,
            "price": np.fromiter((t.price for t in trades), dtype=np.float64, count=len(trades)),
            "volume": np.fromiter((t.volume for t in trades), dtype=np.float64, count=len(trades)),
            "ts": pd.to_datetime(np.asarray(ts, dtype=np.int64), unit="ms", utc=True),
        }
    )
    return frame


def online_trades(trades: list[Trade], crypto: set[str]) -> list[OnlineTrade]:
    """Validated trades as the online state takes them (asset class and source defaulted as in :func:`trades_frame`)."""
    out = []
    for t in trades:
        asset = t.asset_class or ("crypto" if t.symbol in crypto else "equity")
        source = t.source or ("binance" if asset == "crypto" else "finnhub")
        out.append(OnlineTrade(t.symbol, epoch_ms(t.ts) * 1_000_000, t.price, t.volume, t.trade_id, source, asset))
    return out


def seed_online(platform: Platform, online: OnlineFeatures) -> str:
    """Seed the online state from gold (every bar of each symbol) and silver (the trades of the last bars).

    Returns one line for the log; a missing gold table is an empty start, not an error.
    """
    cfg, store = platform.config, platform.store
    gold_fqn, silver_fqn = cfg.table("gold_trade_features"), cfg.table("silver_trades")
    if not store.exists(gold_fqn):
        return f"online features start empty: {gold_fqn} does not exist yet"
    columns = ["symbol", "bar_start", "high", "low", "close", "volume", "vwap", "trade_count", "trade_date",
               "session_type", "zero_var_bar_run"]  # fmt: skip
    gold = store.read(gold_fqn, columns=columns)
    silver = None
    since = seed_since(gold)
    if store.exists(silver_fqn) and since is not None:
        wanted = ["symbol", "ts", "price", "volume", "trade_id", "source", "asset_class"]
        silver = store.read(silver_fqn, columns=wanted, since=("ts", since.to_pydatetime()))
    seeded = online.seed(gold, silver)
    tail = "and the last bars' trades from " + silver_fqn if silver is not None else f"({silver_fqn} absent: no tail)"
    return f"online features seeded for {len(seeded)} symbol(s) from {sum(seeded.values())} bars of {gold_fqn} {tail}"


def _results(
    model: LoadedModel, scores: np.ndarray, labels: np.ndarray, symbols: list[Any], bars: list[Any], kind: str
) -> dict[str, Any]:
    label_list = labels.tolist()
    items = [
        {"symbol": s, "bar_start": b, "score": sc, "label": lb}
        for s, b, sc, lb in zip(symbols, bars, scores.tolist(), label_list, strict=True)
    ]
    return {
        "model_name": model.name,
        "model_version": model.version,
        "kind": kind,
        "count": len(items),
        "anomalies": sum(label_list),
        "results": items,
    }


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return pd.Timestamp(value).isoformat()


def _bar_iso(start_ns: int) -> str:
    """A bar start (epoch ns) as gold's ISO form (``2026-03-09T14:30:00+00:00``)."""
    return datetime.fromtimestamp(start_ns // 1_000_000_000, tz=UTC).isoformat()


# -- middleware ------------------------------------------------------------------------------------
class BodyLimit:
    """413 for bodies over ``limit`` bytes: refused by Content-Length unread, else cut while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):  # bodies are read by POST routes only
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = JSONResponse(
                {"detail": f"request body of {int(length)} bytes exceeds the limit of {self.limit} bytes"},
                status_code=413,
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"request body exceeds the limit of {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Counts and times every HTTP request by its route template (bounded label cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.inc("http_requests_total", method=scope["method"], route=path, status=str(status))
            self.metrics.observe("http_request_duration_seconds", time.perf_counter() - start, route=path)


class RouteLane:
    """One hot POST route straight to its endpoint, past the router and FastAPI's per-request machinery.

    The routed path (exception middleware, router, request/dependency handling) cost as much CPU per
    request as scoring a raw trade. The lane sets what routing sets (``route``, ``endpoint``,
    ``path_params``), calls the endpoint (which takes the bare :class:`Request` and returns a
    :class:`Response`), and answers an exception through the app's own handlers exactly as the
    exception middleware would; an unhandled one propagates to the server-error middleware as before.
    Anything else (another path or method, a mount under a root path) takes the routed path.
    """

    def __init__(
        self, app: ASGIApp, fastapi: FastAPI, path: str, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.fastapi = fastapi
        self.path = path
        self.endpoint = endpoint
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        if self._route is None:
            self._route = next(r for r in self.fastapi.routes if getattr(r, "endpoint", None) is self.endpoint)
        scope["route"], scope["endpoint"], scope["path_params"] = self._route, self.endpoint, {}
        scope.setdefault("router", self.fastapi.router)
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if asyncio.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        """The handler Starlette's exception middleware would pick (by status, then by class; 500s left out)."""
        handlers = self.fastapi.exception_handlers
        if isinstance(exc, StarletteHTTPException) and exc.status_code != 500 and exc.status_code in handlers:
            return handlers[exc.status_code]
        for kind in type(exc).__mro__:
            if kind in handlers and kind is not Exception:
                return handlers[kind]
        return None


# -- the app -----------------------------------------------------------------------------------------
def create_app(
    platform: Platform,
    *,
    source: ChampionSource | None = None,
    watch: bool = True,
    api_keys: ApiKeys | Sequence[str] | None = _UNSET,
    insecure_no_auth: bool = False,
) -> FastAPI:
    """The service for ``platform``; ``source`` defaults to the registry champion.

    ``watch=False`` skips the background alias watcher (``app.state.holder.refresh()``
    then reloads on demand). ``api_keys`` overrides the configured keys (``serving.api_key``
    and ``serving.api_keys``); without any key the app is built only when
    ``insecure_no_auth`` is true (``fin-mlops serve`` allows that on loopback only), and a
    key together with ``insecure_no_auth`` is a contradiction: both raise ``ValueError``.
    """
    cfg = platform.config
    serving = cfg.serving
    metrics = service_metrics()
    metrics.set("model_loaded", 0)
    if api_keys is _UNSET:
        keys = ApiKeys.from_config(serving, platform.secret)
    elif isinstance(api_keys, ApiKeys):
        keys = api_keys
    else:
        keys = ApiKeys.of(list(api_keys or []), serving.api_key_min_chars)
    problem = exposure_error("127.0.0.1", keys, insecure_no_auth, serving)
    if problem is not None:
        raise ValueError(problem)
    limit = serving.rate_limit_per_second
    limiter = RateLimiter(limit, serving.rate_limit_burst) if limit is not None else None
    failures = FailureLog()
    crypto = set(cfg.symbols.crypto)
    holder_box: dict[str, ChampionHolder] = {}
    online = OnlineFeatures(cfg.features)
    online_columns = set(online.columns)
    decoders: dict[tuple[str, ...], RowsDecoder] = {}
    arrow_decoders: dict[tuple[str, ...], ArrowRows] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        champion_source = source if source is not None else RegistryChampionSource(platform)
        holder = ChampionHolder(champion_source, interval_seconds=serving.reload_interval_seconds, metrics=metrics)
        holder_box["holder"] = holder
        app.state.holder = holder
        app.state.batcher = MicroBatcher(holder, metrics, serving.max_batch_rows)
        await asyncio.get_running_loop().run_in_executor(None, holder.refresh)
        try:
            seeded = await asyncio.get_running_loop().run_in_executor(None, seed_online, platform, online)
            log.info(seeded)
        except Exception as exc:  # serve anyway: the state builds up from the trades that arrive
            metrics.inc("online_seed_failures_total")
            log.warning("online features start empty: seeding from gold failed: %s: %s", type(exc).__name__, exc)
        # Everything alive now (libraries, the loaded model) is long-lived: keep it out of the
        # cyclic GC, whose full passes over it otherwise stall every in-flight request (tail latency).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)  # fewer young-generation passes under request churn
        if watch:
            holder.start()
        try:
            yield
        finally:
            holder.stop()

    app = FastAPI(
        title="financial-ai-mlops",
        version=_version(),
        description="Anomaly scoring with the registry champion, and the ranked decision matrix. "
        f"Every /v1 route needs header {API_KEY_HEADER} and is rate-limited per key.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.platform = platform
    app.state.online = online
    app.state.api_keys = len(keys)

    header = APIKeyHeader(
        name=API_KEY_HEADER, auto_error=False, description="one of the keys in serving.api_key / serving.api_keys"
    )
    challenge = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}

    def authorize(supplied: str | None, request: Request) -> None:
        """401 without a valid key, 429 over that key's rate limit: nothing else runs before both pass."""
        if keys:
            who = keys.match(supplied)
            if who is None:
                reason = "missing" if supplied is None else "invalid"
                metrics.inc("auth_failures_total", reason=reason)
                route = getattr(request.scope.get("route"), "path", "unmatched")
                client = request.client.host if request.client is not None else "unknown"
                failures.record(reason, client, request.method, route)
                raise HTTPException(401, f"missing or invalid {API_KEY_HEADER}", headers=challenge)
        else:
            who = ANONYMOUS
        if limiter is not None:
            wait = limiter.wait(who)
            if wait > 0:
                seconds = retry_after_seconds(wait)
                metrics.inc("rate_limited_total")
                raise HTTPException(
                    429,
                    f"over the rate limit of {limiter.rate:g} requests/s per API key (burst {limiter.burst}); "
                    f"retry after {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )

    async def require_key(request: Request, supplied: str | None = Depends(header)) -> None:  # async: no thread hop
        authorize(supplied, request)

    def champion() -> LoadedModel:
        holder = holder_box.get("holder")
        model = holder.current if holder is not None else None
        if model is None:
            reason = holder.last_error if holder is not None else "starting"
            raise HTTPException(503, f"no champion loaded yet: {reason}")
        return model

    def _invalid_body(issues: list[dict[str, Any]]) -> JSONResponse:
        summary = "; ".join(f"{e['field']}: {e['msg']}" for e in issues[:5])
        return JSONResponse({"detail": issues, "message": f"invalid request: {summary}"}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = []
        for err in exc.errors()[:50]:
            loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
            issues.append({"loc": loc, "field": ".".join(str(p) for p in loc), "msg": err["msg"], "type": err["type"]})
        return _invalid_body(issues)

    @app.exception_handler(BadRows)
    async def _bad_rows(_request: Request, exc: BadRows) -> JSONResponse:
        loc = list(exc.loc)
        field = ".".join(str(p) for p in loc)
        return _invalid_body([{"loc": loc, "field": field, "msg": str(exc), "type": "value_error"}])

    unauthorized: dict[int | str, dict[str, Any]] = {
        401: {
            "model": ErrorBody,
            "description": f"missing or invalid {API_KEY_HEADER}",
            "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
        },
        429: {
            "model": ErrorBody,
            "description": "over this API key's rate limit (serving.rate_limit_per_second, serving.rate_limit_burst)",
            "headers": {
                "Retry-After": {
                    "required": True,
                    "description": "seconds until a request will be accepted",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        },
    }
    invalid: dict[int | str, dict[str, Any]] = {
        422: {"model": ValidationErrorBody, "description": "invalid request (the message names the field)"}
    }

    async def score_trades(request: Request, model: LoadedModel, trades: list[Trade]) -> dict[str, Any]:
        """Raw trades: each updates its symbol's online state; one result per bar touched, from its feature row.

        A trade of the symbol's last closed bar rejoins the state (that bar is redone) and is scored from
        that bar's row. One older still (or of a symbol beyond the state's cap) cannot join the
        state: it is scored on the request's late trades alone, through an online state of their own
        (what the batch feature code gives on those trades, as the online-vs-batch property test holds),
        or through the batch code itself past :data:`LATE_ONLINE_MAX` (counted in ``late_trades_total``);
        so is one stamped over ``serving.online_max_ahead_seconds`` ahead of this clock (``future_trades_total``).
        """
        loop = asyncio.get_running_loop()
        batch = online_trades(trades, crypto)
        horizon = time.time_ns() + int(cfg.serving.online_max_ahead_seconds * 1e9)
        got = online.ingest(batch, blocking=False, not_after_ns=horizon) if len(batch) <= INLINE_TRADES else None
        if got is None:
            got = await loop.run_in_executor(None, partial(online.ingest, batch, not_after_ns=horizon))
        assert got is not None, "a blocking ingest always answers"
        metrics.inc("online_trades_total", len(batch) - len(got.late) - len(got.ahead))
        if got.ahead:
            metrics.inc("future_trades_total", len(got.ahead))
            got.late = sorted(got.late + got.ahead)  # scored on their own, like late trades
        if not online_columns.issuperset(model.input_columns):  # a champion of another feature set: score as before
            got.late, got.rows = list(range(len(batch))), []
        rows = [row for _, _, row in got.rows]
        keys = [(symbol, start) for symbol, start, _ in got.rows]
        if not got.late:
            if not rows:
                scores, labels = np.empty(0), np.empty(0, dtype=np.int64)
            elif len(rows) <= BATCHABLE_ROWS:
                model, scores, labels = await request.app.state.batcher.score(rows, checked_by=model)
            else:
                scores, labels = await loop.run_in_executor(None, model.score_rows, rows)
                metrics.inc("score_batches_total")
        else:
            metrics.inc("late_trades_total", len(got.late) - len(got.ahead))
            alone_online = len(got.late) <= LATE_ONLINE_MAX and online_columns.issuperset(model.input_columns)

            def score_with_late() -> tuple[np.ndarray, np.ndarray]:
                if alone_online:  # a state of their own: the rows the batch feature code gives on these trades alone
                    late = [batch[i] for i in got.late]
                    alone = OnlineFeatures(cfg.features, max_symbols=len(late)).ingest(late)  # room for all
                    assert alone is not None, "a blocking ingest always answers"
                    late_scores, late_labels = model.score_rows([row for _, _, row in alone.rows])
                    keys.extend((symbol, start) for symbol, start, _ in alone.rows)
                else:  # many, or a champion of another feature set (columns only the batch code builds)
                    from financial_transactions.features.feature_engineering import build_gold_features

                    gold = build_gold_features(trades_frame([trades[i] for i in got.late], crypto), cfg.features)
                    late_scores, late_labels = model.score_frame(gold)
                    starts = gold["bar_start"].map(lambda b: b.value).tolist()
                    keys.extend(zip(gold["symbol"].tolist(), starts, strict=True))
                on_scores, on_labels = model.score_rows(rows) if rows else (np.empty(0), np.empty(0, dtype=np.int64))
                return np.concatenate([on_scores, late_scores]), np.concatenate([on_labels, late_labels])

            scores, labels = await loop.run_in_executor(None, score_with_late)
            metrics.inc("score_batches_total")
        order = sorted(range(len(keys)), key=keys.__getitem__)  # by symbol, then bar, as gold is sorted
        return _results(
            model,
            scores[order],
            labels[order],
            [keys[i][0] for i in order],
            [_bar_iso(keys[i][1]) for i in order],
            "trades",
        )

    async def score_fast(model: LoadedModel, fast: FastRows) -> Response:
        """Rows already decoded and checked into the model's matrix: scored off the loop, on every core when many."""
        threads = 0 if len(fast.matrix) >= PARALLEL_ROWS else None
        scores, labels = await asyncio.get_running_loop().run_in_executor(
            None, partial(model.score_matrix, fast.matrix, threads=threads)
        )
        metrics.inc("score_batches_total")
        payload = _results(model, scores, labels, fast.symbols, fast.bar_starts, "rows")
        metrics.inc("rows_scored_total", payload["count"])
        metrics.inc("anomalies_flagged_total", payload["anomalies"])
        return Response(orjson.dumps(payload), media_type="application/json")

    @app.post(
        "/v1/anomaly/score",
        operation_id="score",
        response_model=None,
        # The body is parsed by pydantic-core straight from the bytes (below), not by FastAPI's
        # generic dependency machinery, which cost a third of this hot route's time; its schema
        # is documented by ``openapi`` (``request_body_schemas``).
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}},
                    ARROW_STREAM: {
                        "schema": {
                            "type": "string",
                            "format": "binary",
                            "description": "feature rows as an Arrow IPC stream, one column per JSON row key: every "
                            "feature column of the served champion (integers or floats, null allowed; finite and "
                            f"within ±{FEATURE_ABS_MAX:.0e}), optionally symbol (text) and bar_start (epoch ms, an "
                            "RFC 3339 string, or a timestamp with a zone), nothing else; checked and refused "
                            "exactly as the same rows in JSON (413 over serving.max_batch_rows, 422 naming the row "
                            "and column at fault)",
                        }
                    },
                },
            },
            "security": [{"APIKeyHeader": []}],
        },
        responses={
            200: {"model": ScoreResponse, "description": "one result per feature row, or per 1-minute bar of trades"},
            **unauthorized,
            413: {
                "model": ErrorBody,
                "description": "body over serving.max_body_bytes, or more rows/trades than serving.max_batch_rows",
            },
            **invalid,
            503: {"model": ErrorBody, "description": "no champion loaded yet"},
        },
        summary="Score raw trades or feature rows with the champion",
    )
    async def score(request: Request) -> Response:
        authorize(request.headers.get("x-api-key"), request)
        raw = await request.body()
        holder = holder_box.get("holder")
        current = holder.current if holder is not None else None
        if request.headers.get("content-type", "").partition(";")[0].strip().lower() == ARROW_STREAM:
            model = champion()
            key = tuple(model.input_columns)
            arrow = arrow_decoders.get(key) or arrow_decoders.setdefault(key, ArrowRows(model.input_columns))
            return await score_fast(model, arrow.decode(raw, serving.max_batch_rows))
        if current is not None and len(raw) >= FAST_ROWS_MIN_BYTES:
            key = tuple(current.input_columns)
            decoder = decoders.get(key) or decoders.setdefault(key, RowsDecoder(current.input_columns))
            fast = decoder.decode(raw, serving.max_batch_rows)
            if fast is not None:
                return await score_fast(current, fast)
        try:
            body = ScoreRequest.model_validate_json(raw)
        except ValidationError as exc:  # the same 422 as a FastAPI-parsed body, located under "body"
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
            ) from None
        if body.size > serving.max_batch_rows:
            raise HTTPException(
                413, f"batch of {body.size} rows exceeds serving.max_batch_rows={serving.max_batch_rows}"
            )
        model = champion()
        loop = asyncio.get_running_loop()
        if body.rows is not None:
            rows = body.rows
            check_rows(rows, model.input_columns)
            if len(rows) <= BATCHABLE_ROWS:
                model, scores, labels = await request.app.state.batcher.score(rows, checked_by=model)
            else:
                scores, labels = await loop.run_in_executor(None, model.score_rows, rows)
                metrics.inc("score_batches_total")
            symbols = [r.get("symbol") for r in rows]
            bars = [_iso(r.get("bar_start")) for r in rows]
            payload = _results(model, scores, labels, symbols, bars, "rows")
        else:
            payload = await score_trades(request, model, body.trades or [])
        metrics.inc("rows_scored_total", payload["count"])
        metrics.inc("anomalies_flagged_total", payload["anomalies"])
        return Response(orjson.dumps(payload), media_type="application/json")

    matrix_cache: dict[str, Any] = {}

    @app.get(
        "/v1/decision-matrix",
        operation_id="decision_matrix",
        dependencies=[Depends(require_key)],
        response_model=DecisionMatrixResponse,
        responses={
            200: {
                "description": "the newest decision run, ranked",
                "links": {
                    "SameRecommendation": {
                        "operationId": "decision_matrix",
                        "parameters": {"recommendation": "$response.body#/rows/0/recommendation"},
                        "description": "the rows sharing the first row's recommendation",
                    }
                },
            },
            **unauthorized,
            404: {"model": ErrorBody, "description": "no decision matrix yet (run `fin-mlops decide`)"},
            **invalid,
        },
        summary="The latest ranked decision matrix",
    )
    async def decision_matrix(
        recommendation: Recommendation = Query(None, description="only rows with this recommendation"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        data = await asyncio.get_running_loop().run_in_executor(None, _latest_matrix, platform, matrix_cache)
        rows = [r for r in data["rows"] if recommendation is None or r["recommendation"] == recommendation]
        return {**data, "rows": rows[:limit]}

    @app.post(
        "/v1/feedback",
        operation_id="record_feedback",
        status_code=201,
        dependencies=[Depends(require_key)],
        response_model=FeedbackRecorded,
        responses={
            201: {"description": "the verdict, appended to analyst_feedback"},
            400: {"model": ErrorBody, "description": "the body is not JSON"},
            **unauthorized,
            **invalid,
        },
        summary="Confirm or dismiss a flagged bar (analyst feedback, the first label source)",
    )
    async def record_feedback_route(body: FeedbackRequest) -> dict[str, Any]:
        from financial_transactions.features.feedback import record_feedback

        row = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: record_feedback(
                platform,
                symbol=body.symbol,
                bar_start=pd.Timestamp(body.bar_start, unit="ms", tz="UTC").to_pydatetime(),
                verdict=body.verdict,
                analyst=body.analyst,
                note=body.note,
                channel="api",
            ),
        )
        return row

    @app.get("/health", operation_id="health", response_model=HealthBody, summary="Liveness: the process answers")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        operation_id="ready",
        response_model=None,
        summary="Readiness: 503 until a champion is loaded",
        responses={
            200: {"model": ReadyBody, "description": "a champion is loaded and serving"},
            503: {"model": NotReadyBody, "description": "not ready: no champion loaded yet"},
        },
    )
    async def ready() -> JSONResponse:
        holder = holder_box.get("holder")
        model = holder.current if holder is not None else None
        if model is None:
            reason = holder.last_error if holder is not None and holder.last_error else "no champion loaded yet"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse(
            {
                "ready": True,
                "model_name": model.name,
                "model_version": model.version,
                "loaded_at": model.loaded_at.isoformat(),
                "last_error": holder.last_error if holder else None,
            }
        )

    @app.get(
        "/metrics",
        operation_id="metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics (text format 0.0.4)",
    )
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.add_middleware(RouteLane, fastapi=app, path="/v1/anomaly/score", endpoint=score)
    app.add_middleware(BodyLimit, limit=serving.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)

    spec_cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        """The generated document plus the score request body, for the champion being served.

        Rebuilt when the champion changes: a row's required fields are that champion's columns.
        """
        holder = holder_box.get("holder")
        model = holder.current if holder is not None else None
        served = (model.name, model.version) if model is not None else None
        if "spec" not in spec_cache or spec_cache["served"] != served:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = spec.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            columns = model.input_columns if model is not None else None
            schemas.update(request_body_schemas(columns, serving.max_batch_rows))
            components.setdefault("securitySchemes", {}).setdefault(
                "APIKeyHeader", {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
            )
            spec_cache.update(spec=spec, served=served)
        return spec_cache["spec"]  # type: ignore[no-any-return]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("financial-ai-mlops")
    except Exception:
        return "0"


def _latest_matrix(platform: Platform, cache: dict[str, Any]) -> dict[str, Any]:
    """The newest decision run as API rows, re-read only when the table version changes."""
    store, cfg = platform.store, platform.config
    fqn = cfg.table("decision_matrix")
    if not store.exists(fqn):
        raise HTTPException(404, f"{fqn} does not exist yet: run `fin-mlops decide`")
    version = store.version(fqn)
    if cache.get("version") == version:
        return cache["data"]  # type: ignore[no-any-return]
    df = store.read(fqn, version=version)
    if df.empty:
        raise HTTPException(404, f"{fqn} is empty: run `fin-mlops decide`")
    times = pd.to_datetime(df["created_at"], utc=True)
    run_id = df.loc[times.idxmax(), "run_id"]
    latest = df[df["run_id"] == run_id].copy()
    latest["_rank"] = pd.to_numeric(latest["rank"], errors="coerce")
    latest = latest.sort_values(["_rank", "symbol"], na_position="last", kind="stable")
    # a criterion has raw, score and weight columns (direction_score and final_score are totals)
    names = [
        c[: -len("_score")]
        for c in latest.columns
        if c.endswith("_score") and f"{c[: -len('_score')]}_weight" in latest.columns
    ]
    rows = []
    for rec in latest.to_dict("records"):
        rows.append(
            {
                "symbol": rec["symbol"],
                "asset_class": rec.get("asset_class"),
                "rank": _int(rec.get("rank")),
                "final_score": _float(rec.get("final_score")),
                "recommendation": rec["recommendation"],
                "explanation": rec.get("explanation"),
                "flags": rec.get("flags") or None,
                "coverage": _float(rec.get("coverage")),
                "criteria": {
                    n: {
                        "raw": _float(rec.get(f"{n}_raw")),
                        "score": _int(rec.get(f"{n}_score")),
                        "weight": _float(rec.get(f"{n}_weight")),
                        "label": rec.get(f"{n}_label"),
                    }
                    for n in names
                },
            }
        )
    data = {"run_id": str(run_id), "created_at": times.max().isoformat(), "table_version": version, "rows": rows}
    cache.update(version=version, data=data)
    return data


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(value: Any) -> int | None:
    f = _float(value)
    return int(f) if f is not None else None
