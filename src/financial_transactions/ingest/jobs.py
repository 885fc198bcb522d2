"""Collectors built from the project config, in one place: the CLI, the job scripts and the replay
(:mod:`financial_transactions.replay.window`) all build them with the ``build_*`` functions here.

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
) -> FinnhubCollector:
    """A Finnhub collector with ``collectors.finnhub``'s settings; the arguments override endpoint, symbols, flush."""
    fcfg = cfg.collectors.finnhub
    return FinnhubCollector(
        token=token,
        url=url or fcfg.ws_url,
        symbols=symbols or list(cfg.symbols.equities),
        landing=landing,
        flush_max_records=fcfg.flush_max_records if flush_max_records is None else flush_max_records,
        flush_interval_seconds=fcfg.flush_interval_seconds,
        backoff=fcfg.reconnect,
        connect_timeout_seconds=fcfg.connect_timeout_seconds,
        stale_after_seconds=fcfg.stale_after_seconds,
        fsync=fcfg.fsync,
        run_id=run_id,
    )


def build_crypto(
    cfg: ProjectConfig,
    *,
    landing: Path,
    url: str | None = None,
    symbols: list[str] | None = None,
    flush_max_records: int | None = None,
    run_id: str | None = None,
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
    return build_finnhub(platform.config, token=token, landing=Path(platform.paths.landing), url=url, symbols=symbols)


def crypto_collector(
    platform: Platform, *, url: str | None = None, symbols: list[str] | None = None
) -> CryptoCollector:
    return build_crypto(platform.config, landing=Path(platform.paths.landing), url=url, symbols=symbols)


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


def run_finnhub(platform: Platform, duration: float | None = None, **kw: object) -> CollectorCounters:
    """Stream for ``duration`` seconds (default ``collectors.finnhub.duration_seconds``); SIGTERM flushes."""
    collector = finnhub_collector(platform, **kw)  # type: ignore[arg-type]
    return collector.run(duration or platform.config.collectors.finnhub.duration_seconds, handle_signals=True)


def run_alphavantage(platform: Platform, **kw: object) -> dict[str, SymbolResult]:
    """One pass over the configured symbols and functions; per-symbol errors are in the result."""
    return alphavantage_collector(platform, **kw).run()  # type: ignore[arg-type]
