"""Collectors built from the project config: what the CLI and the job scripts both run.

On Databricks the keys come from the secret scope (``CredentialRef.resolve``),
locally from the environment; endpoints from ``collectors.*`` (overridable with
``FIN_MLOPS_*_URL``), so a job can be pointed at the replay as easily as at the vendor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.ingest.alphavantage import AlphaVantageCollector, SymbolResult
from financial_transactions.ingest.collectors import CollectorCounters, CryptoCollector, FinnhubCollector
from financial_transactions.ingest.redaction import CollectorError

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform


def finnhub_collector(
    platform: Platform, *, url: str | None = None, symbols: list[str] | None = None
) -> FinnhubCollector:
    fcfg = platform.config.collectors.finnhub
    token = fcfg.api_key.resolve()
    if not token:
        raise CollectorError(f"finnhub: no API key found in {fcfg.api_key.describe()}")
    return FinnhubCollector(
        token=token,
        url=url or fcfg.ws_url,
        symbols=symbols or list(platform.config.symbols.equities),
        landing=Path(platform.paths.landing),
        flush_max_records=fcfg.flush_max_records,
        flush_interval_seconds=fcfg.flush_interval_seconds,
        backoff=fcfg.reconnect,
        connect_timeout_seconds=fcfg.connect_timeout_seconds,
        stale_after_seconds=fcfg.stale_after_seconds,
        fsync=fcfg.fsync,
    )


def crypto_collector(
    platform: Platform, *, url: str | None = None, symbols: list[str] | None = None
) -> CryptoCollector:
    ccfg = platform.config.collectors.crypto
    return CryptoCollector(
        url=url or ccfg.ws_url,
        symbols=symbols or list(platform.config.symbols.crypto),
        landing=Path(platform.paths.landing),
        flush_max_records=ccfg.flush_max_records,
        flush_interval_seconds=ccfg.flush_interval_seconds,
        backoff=ccfg.reconnect,
        connect_timeout_seconds=ccfg.connect_timeout_seconds,
        stale_after_seconds=ccfg.stale_after_seconds,
        fsync=ccfg.fsync,
    )


def alphavantage_collector(
    platform: Platform,
    *,
    url: str | None = None,
    symbols: list[str] | None = None,
    outputsize: str | None = None,
    calls_per_minute: int | None = None,
) -> AlphaVantageCollector:
    acfg = platform.config.collectors.alphavantage
    key = acfg.api_key.resolve()
    if not key:
        raise CollectorError(f"alphavantage: no API key found in {acfg.api_key.describe()}")
    return AlphaVantageCollector(
        base_url=url or acfg.base_url,
        api_key=key,
        symbols=symbols or list(platform.config.symbols.equities),
        landing=Path(platform.paths.landing),
        functions=list(acfg.functions),
        interval=acfg.interval,
        outputsize=outputsize or acfg.outputsize,
        calls_per_minute=calls_per_minute or acfg.calls_per_minute,
        timeout_seconds=acfg.timeout_seconds,
        retry=acfg.retry,
        fsync=acfg.fsync,
    )


def run_finnhub(platform: Platform, duration: float | None = None, **kw: object) -> CollectorCounters:
    """Stream for ``duration`` seconds (default ``collectors.finnhub.duration_seconds``); SIGTERM flushes."""
    collector = finnhub_collector(platform, **kw)  # type: ignore[arg-type]
    return collector.run(duration or platform.config.collectors.finnhub.duration_seconds, handle_signals=True)


def run_alphavantage(platform: Platform, **kw: object) -> dict[str, SymbolResult]:
    """One pass over the configured symbols and functions; per-symbol errors are in the result."""
    return alphavantage_collector(platform, **kw).run()  # type: ignore[arg-type]
