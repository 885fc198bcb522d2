"""Market-data sources: the offline replay and the vendor collectors.

Endpoints are plain URLs so that tests and users can point any collector at
any server (the replay on 127.0.0.1, a vendor, a proxy). Environment variable
overrides are applied by :func:`financial_transactions.config.project.apply_env_overrides`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from financial_transactions.config.core import CredentialRef, StrictModel


class BackoffConfig(StrictModel):
    """Exponential backoff with full jitter, bounded in delay and attempts."""

    initial_seconds: float = Field(default=0.5, gt=0, le=60)
    max_seconds: float = Field(default=30.0, gt=0, le=600)
    multiplier: float = Field(default=2.0, ge=1.0, le=10.0)
    max_attempts: int = Field(default=8, ge=1, le=1000)


class FinnhubConfig(StrictModel):
    ws_url: str = Field(default="wss://ws.finnhub.io", min_length=1)
    api_key: CredentialRef = CredentialRef(
        env="FINNHUB_API_KEY", secret_scope="financial-mlops", secret_key="finnhub-api-key"
    )
    flush_max_records: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    duration_seconds: float = Field(default=300.0, gt=0, le=86_400)
    reconnect: BackoffConfig = BackoffConfig()
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: no frame at all (not even a ping) for this long -> the connection is dead: reconnect
    stale_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    max_age_seconds: float | None = Field(
        default=86_400.0,
        gt=0,
        le=31_622_400,
        description="a live trade whose event time is more than this before the feed's receive time is quarantined "
        "with a reason (a clock error); null = any age. Replays of a user's history, and any feed on this "
        "machine (a loopback URL: the replay, a recorded tape), are never bounded",
    )
    fsync: bool = True
    lease_ttl_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="the feed lease expires this long after its holder's last renewal (renewed every third of it); "
        "then another collector may take the feed over",
    )
    heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="a connected collector records a heartbeat event this often: a killed collector's gap in "
        "collector_gaps starts at its last one",
    )


class AlphaVantageConfig(StrictModel):
    base_url: str = Field(default="https://www.alphavantage.co", min_length=1)
    api_key: CredentialRef = CredentialRef(
        env="ALPHAVANTAGE_API_KEY", secret_scope="financial-mlops", secret_key="alphavantage-api-key"
    )
    calls_per_minute: int = Field(default=5, ge=1, le=1200)
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    outputsize: Literal["compact", "full"] = "compact"
    functions: list[Literal["TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"]] = Field(
        default=["TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"], min_length=1
    )
    interval: Literal["1min", "5min", "15min", "30min", "60min"] = "1min"
    retry: BackoffConfig = BackoffConfig(initial_seconds=1.0, max_seconds=60.0, max_attempts=5)
    fsync: bool = True


class CryptoConfig(StrictModel):
    ws_url: str = Field(default="wss://stream.binance.com:9443", min_length=1)
    flush_max_records: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    duration_seconds: float = Field(default=300.0, gt=0, le=86_400)
    reconnect: BackoffConfig = BackoffConfig()
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    stale_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    max_age_seconds: float | None = Field(
        default=86_400.0,
        gt=0,
        le=31_622_400,
        description="a live trade whose event time is more than this before the feed's receive time is quarantined "
        "with a reason (a clock error); null = any age. Replays of a user's history, and any feed on this "
        "machine (a loopback URL: the replay, a recorded tape), are never bounded",
    )
    fsync: bool = True
    lease_ttl_seconds: float = Field(default=30.0, ge=1, le=3600, description="as collectors.finnhub")
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=600, description="as collectors.finnhub")


class CollectorsConfig(StrictModel):
    finnhub: FinnhubConfig = FinnhubConfig()
    alphavantage: AlphaVantageConfig = AlphaVantageConfig()
    crypto: CryptoConfig = CryptoConfig()


class RegimeShiftConfig(StrictModel):
    """The second replay window used to demonstrate drift: more volatility, a trend."""

    volatility_multiplier: float = Field(default=3.0, ge=1.0, le=20.0)
    annual_drift: float = Field(default=-0.8, ge=-5.0, le=5.0)
    volume_multiplier: float = Field(default=2.0, ge=0.1, le=20.0)


class ReplayFaults(StrictModel):
    """Fault switches of the replay servers (0 = off). Counted per connection / per HTTP call."""

    drop_every_n_messages: int = Field(default=0, ge=0, le=1_000_000_000)
    malformed_every_n_messages: int = Field(default=0, ge=0, le=1_000_000_000)
    delay_ms: float = Field(default=0.0, ge=0, le=60_000)
    av_note_every_n: int = Field(default=0, ge=0, le=1_000_000)
    av_information_every_n: int = Field(default=0, ge=0, le=1_000_000)
    av_server_error_every_n: int = Field(default=0, ge=0, le=1_000_000)
    av_slow_every_n: int = Field(default=0, ge=0, le=1_000_000)
    av_slow_seconds: float = Field(default=0.0, ge=0, le=300)


class ReplayConfig(StrictModel):
    """The offline market: local servers speaking the vendor protocols."""

    host: str = "127.0.0.1"
    finnhub_port: int = Field(default=18765, ge=0, le=65535)
    alphavantage_port: int = Field(default=18766, ge=0, le=65535)
    binance_port: int = Field(default=18767, ge=0, le=65535)
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    start_date: date = date(2026, 3, 6)
    trading_days: int = Field(default=2, ge=1, le=60)
    equity_trades_per_day: int = Field(default=12_000, ge=100, le=10_000_000)
    crypto_trades_per_day: int = Field(default=8_000, ge=100, le=10_000_000)
    anomaly_rate: float = Field(
        default=0.01,
        ge=0.0,
        le=0.2,
        description="share of active symbol-minutes where the synthetic market injects a labelled anomaly",
    )
    anomaly_subtlety: float = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="share of anomalies sized like normal market behaviour (3-8 sigma spikes, 2-5x bursts, "
        "3-8-print wash groups, 1-2-minute unpadded stale runs); 0 = every anomaly is blatant",
    )
    news_rate: float = Field(
        default=0.004,
        ge=0.0,
        le=0.2,
        description="share of active symbol-minutes that start an unlabelled news-like burst (busier, larger, "
        "more volatile trading with a lasting price move): normal behaviour, so volume alone is no label",
    )
    identical_print_rate: float = Field(
        default=0.05,
        ge=0.0,
        le=0.9,
        description="share of normal prints repeated as a run of identical prints (same ms, price and size); "
        "run lengths are geometric with an occasional long tail",
    )
    speed: float = Field(default=0.0, ge=0.0, le=1_000_000.0)  # 0 = as fast as possible
    csv_path: str | None = Field(
        default=None, description="a user's file to replay instead of the synthetic market: CSV or Parquet"
    )
    csv_kind: Literal["auto", "trades", "bars"] = "auto"
    csv_symbol: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.:_\-]{1,20}$",
        description="the instrument of a single-instrument file without a symbol column (DateTime,Price,Volume)",
    )
    csv_asset_class: Literal["equity", "crypto", "future"] | None = Field(
        default=None, description="asset class of every symbol of the file (default: its asset_class column)"
    )
    csv_window2: Literal["split", "regime_shift"] = Field(
        default="split",
        description="window 2 (the shift stage) of a user's file: its later part (split in time) or a "
        "regime-shifted copy of the whole file; a second file (csv_path_window2) wins over both",
    )
    csv_split_fraction: float = Field(
        default=0.7, gt=0.1, lt=0.95, description="share of the file's time span replayed as window 1 when split"
    )
    csv_path_window2: str | None = Field(default=None, description="a second user file replayed as window 2")
    regime_shift: RegimeShiftConfig = RegimeShiftConfig()
    #: daily bars before the window that the Alpha Vantage replay serves (compact = last 100)
    history_days: int = Field(default=120, ge=0, le=10_000)
    finnhub_batch_size: int = Field(default=50, ge=1, le=10_000)
    ping_interval_seconds: float = Field(default=15.0, ge=0.05, le=3600)
    #: playback starts once every symbol has a subscriber, or this long after the first subscription
    start_grace_seconds: float = Field(default=2.0, ge=0, le=300)
    #: pause the timeline while a symbol has no subscriber (a reconnecting collector misses nothing)
    hold_when_unsubscribed: bool = True
    hold_timeout_seconds: float = Field(default=30.0, ge=0, le=3600)
    require_token: bool = True
    #: the limit the Alpha Vantage replay enforces (Note payload beyond it); `fin-mlops run` collects at it
    alphavantage_calls_per_minute: int = Field(default=600, ge=1, le=100_000)
    alphavantage_window_seconds: float = Field(
        default=60.0,
        ge=0.1,
        le=3600,
        description="sliding window of that limit (60 = per minute, as the vendor); tests shorten it",
    )
    #: flush size of the collectors `fin-mlops run` points at the replay: the replay plays hours of market
    #: in seconds, so the vendor-tuned ``collectors.*.flush_max_records`` would write hundreds of tiny files
    collect_flush_max_records: int = Field(default=50_000, ge=1, le=1_000_000)
    faults: ReplayFaults = ReplayFaults()
