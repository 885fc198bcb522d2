"""Collectors built from the project config, in one place: the CLI, the job scripts and the replay
(:mod:`financial_transactions.replay.window`) all build them with the ``build_*`` functions here.

On Databricks the keys come from the secret scope (``CredentialRef.resolve``),
locally from the environment; endpoints from ``collectors.*`` (overridable with
``FIN_MLOPS_*_URL``), so a job can be pointed at the replay as easily as at the vendor.

Always-on collection: :func:`run_stream` with ``continuous=True`` runs a stream collector
until SIGTERM (the collectors' continuous job on Databricks, ``fin-mlops ingest finnhub
--continuous`` locally), under the feed's lease; :func:`record_gaps` turns every run's
connection events into the ``collector_gaps`` rows.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import pyarrow as pa

from financial_transactions.ingest.alphavantage import AlphaVantageCollector, SymbolResult
from financial_transactions.ingest.collectors import (
    CollectorCounters,
    CryptoCollector,
    FinnhubCollector,
    StreamCollector,
)
from financial_transactions.ingest.health import TABLE_KEY, collection_health
from financial_transactions.ingest.redaction import CollectorError
from financial_transactions.lakehouse.catalog import spec

if TYPE_CHECKING:
    from financial_transactions.config import ProjectConfig
    from financial_transactions.runtime import Platform


def build_finnhub(
    cfg: ProjectConfig,
    *,
    token: str,
    landing: Path,
    url: str | None = None,
    symbols: list[str] | None = None,
    flush_max_records: int | None = None,
    run_id: str | None = None,
    live: bool = False,
) -> FinnhubCollector:
    """A Finnhub collector with ``collectors.finnhub``'s settings; the arguments override endpoint, symbols, flush.

    ``live``: a vendor feed, whose event times ``collectors.*.max_age_seconds`` bounds into the past of
    its receive clock; otherwise (the replay of a user's history) any age is accepted.
    """
    fcfg = cfg.collectors.finnhub
    return FinnhubCollector(
        token=token,
        url=url or fcfg.ws_url,
        symbols=symbols or [*cfg.symbols.equities, *cfg.symbols.futures],  # the trade feed carries futures too
        landing=landing,
        flush_max_records=fcfg.flush_max_records if flush_max_records is None else flush_max_records,
        flush_interval_seconds=fcfg.flush_interval_seconds,
        backoff=fcfg.reconnect,
        connect_timeout_seconds=fcfg.connect_timeout_seconds,
        stale_after_seconds=fcfg.stale_after_seconds,
        fsync=fcfg.fsync,
        run_id=run_id,
        max_age_seconds=fcfg.max_age_seconds if live else None,
        lease_ttl_seconds=fcfg.lease_ttl_seconds,
        heartbeat_seconds=fcfg.heartbeat_seconds,
    )


def build_crypto(
    cfg: ProjectConfig,
    *,
    landing: Path,
    url: str | None = None,
    symbols: list[str] | None = None,
    flush_max_records: int | None = None,
    run_id: str | None = None,
    live: bool = False,
) -> CryptoCollector:
    """A Binance trade-stream collector with ``collectors.crypto``'s settings (arguments override as above)."""
    ccfg = cfg.collectors.crypto
    return CryptoCollector(
        url=url or ccfg.ws_url,
        symbols=symbols or list(cfg.symbols.crypto),
        landing=landing,
        flush_max_records=ccfg.flush_max_records if flush_max_records is None else flush_max_records,
        flush_interval_seconds=ccfg.flush_interval_seconds,
        backoff=ccfg.reconnect,
        connect_timeout_seconds=ccfg.connect_timeout_seconds,
        stale_after_seconds=ccfg.stale_after_seconds,
        fsync=ccfg.fsync,
        run_id=run_id,
        max_age_seconds=ccfg.max_age_seconds if live else None,
        lease_ttl_seconds=ccfg.lease_ttl_seconds,
        heartbeat_seconds=ccfg.heartbeat_seconds,
    )


def build_alphavantage(
    cfg: ProjectConfig,
    *,
    api_key: str,
    landing: Path,
    url: str | None = None,
    symbols: list[str] | None = None,
    outputsize: str | None = None,
    calls_per_minute: int | None = None,
    rate_window_seconds: float = 60.0,
    run_id: str | None = None,
) -> AlphaVantageCollector:
    """An Alpha Vantage collector with ``collectors.alphavantage``'s settings.

    ``calls_per_minute`` calls are allowed per ``rate_window_seconds`` (the vendor's quota
    window is a minute; the replay shortens it).
    """
    acfg = cfg.collectors.alphavantage
    return AlphaVantageCollector(
        base_url=url or acfg.base_url,
        api_key=api_key,
        symbols=symbols or list(cfg.symbols.equities),
        landing=landing,
        functions=list(acfg.functions),
        interval=acfg.interval,
        outputsize=outputsize or acfg.outputsize,
        calls_per_minute=calls_per_minute or acfg.calls_per_minute,
        rate_window_seconds=rate_window_seconds,
        timeout_seconds=acfg.timeout_seconds,
        retry=acfg.retry,
        fsync=acfg.fsync,
        run_id=run_id,
    )


def finnhub_collector(
    platform: Platform, *, url: str | None = None, symbols: list[str] | None = None
) -> FinnhubCollector:
    fcfg = platform.config.collectors.finnhub
    token = platform.secret(fcfg.api_key)
    if not token:
        raise CollectorError(f"finnhub: no API key found in {fcfg.api_key.describe()}")
    live = is_remote_feed(url or fcfg.ws_url)
    return build_finnhub(
        platform.config, token=token, landing=Path(platform.paths.landing), url=url, symbols=symbols, live=live
    )


def crypto_collector(
    platform: Platform, *, url: str | None = None, symbols: list[str] | None = None
) -> CryptoCollector:
    live = is_remote_feed(url or platform.config.collectors.crypto.ws_url)
    return build_crypto(platform.config, landing=Path(platform.paths.landing), url=url, symbols=symbols, live=live)


def is_remote_feed(url: str) -> bool:
    """Whether ``url`` is a vendor's live feed, whose event times the age bound guards against clock errors.

    A feed on this machine (the replay, a recorded tape played back for a re-collection) plays history,
    which is never bounded into the past.
    """
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a DNS name other than localhost: a remote feed
        return True


def alphavantage_collector(
    platform: Platform,
    *,
    url: str | None = None,
    symbols: list[str] | None = None,
    outputsize: str | None = None,
    calls_per_minute: int | None = None,
) -> AlphaVantageCollector:
    acfg = platform.config.collectors.alphavantage
    key = platform.secret(acfg.api_key)
    if not key:
        raise CollectorError(f"alphavantage: no API key found in {acfg.api_key.describe()}")
    return build_alphavantage(
        platform.config,
        api_key=key,
        landing=Path(platform.paths.landing),
        url=url,
        symbols=symbols,
        outputsize=outputsize,
        calls_per_minute=calls_per_minute,
    )


#: The stream feeds, by the name ``fin-mlops ingest`` and the job scripts use.
StreamFeed = Literal["finnhub", "crypto"]
#: Every stream feed's landing source (the ``collector_gaps`` feed names).
STREAM_SOURCES = ("finnhub", "binance")


def stream_collector(
    platform: Platform, feed: StreamFeed, *, url: str | None = None, symbols: list[str] | None = None
) -> StreamCollector:
    """The configured collector of ``feed`` (finnhub or crypto)."""
    if feed == "finnhub":
        return finnhub_collector(platform, url=url, symbols=symbols)
    if feed == "crypto":
        return crypto_collector(platform, url=url, symbols=symbols)
    raise ValueError(f"unknown stream feed {feed!r}; expected finnhub or crypto")


def run_stream(
    platform: Platform,
    feed: StreamFeed,
    duration: float | None = None,
    *,
    continuous: bool = False,
    url: str | None = None,
    symbols: list[str] | None = None,
) -> CollectorCounters:
    """Collect ``feed``: for ``duration`` seconds (default ``collectors.<feed>.duration_seconds``), or with
    ``continuous`` until SIGTERM, reconnecting however often the network fails. SIGTERM flushes."""
    if continuous and duration is not None:
        raise ValueError("a continuous collector runs until stopped: give no duration")
    collector = stream_collector(platform, feed, url=url, symbols=symbols)
    if continuous:
        return collector.run(None, handle_signals=True, persistent=True)
    default = getattr(platform.config.collectors, feed).duration_seconds
    return collector.run(duration or default, handle_signals=True)


def run_finnhub(platform: Platform, duration: float | None = None, **kw: Any) -> CollectorCounters:
    """Stream for ``duration`` seconds (default ``collectors.finnhub.duration_seconds``); SIGTERM flushes."""
    return run_stream(platform, "finnhub", duration, **kw)


def gap_stale_seconds(platform: Platform) -> float:
    """A run with no event for this long and no ``stop`` is taken as killed: three heartbeats, at least a lease."""
    c = platform.config.collectors
    return max(3 * max(c.finnhub.heartbeat_seconds, c.crypto.heartbeat_seconds), c.finnhub.lease_ttl_seconds)


def record_gaps(platform: Platform, *, now: float | None = None) -> list[dict[str, Any]]:
    """Recompute ``collector_gaps`` from the landing zone's collector events and merge it by (feed, day).

    Idempotent: the same events give the same rows, a re-run updates a day's row in place.
    """
    rows = collection_health(
        Path(platform.paths.landing),
        STREAM_SOURCES,
        now=time.time() if now is None else now,
        stale_after=gap_stale_seconds(platform),
    )
    if rows:
        table = pa.Table.from_pylist(rows, schema=spec(TABLE_KEY).schema)
        platform.store.merge(platform.config.table("collector_gaps"), table, spec(TABLE_KEY).merge_keys)
    return rows


def run_alphavantage(platform: Platform, **kw: object) -> dict[str, SymbolResult]:
    """One pass over the configured symbols and functions; per-symbol errors are in the result."""
    return alphavantage_collector(platform, **kw).run()  # type: ignore[arg-type]
