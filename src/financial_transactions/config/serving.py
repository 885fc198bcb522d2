"""FastAPI service and Databricks model-serving settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from financial_transactions.config.core import CredentialRef, StrictModel


class CanaryConfig(StrictModel):
    champion_percent: int = Field(default=90, ge=0, le=100)
    challenger_percent: int = Field(default=10, ge=0, le=100)

    @model_validator(mode="after")
    def _sums_to_100(self) -> CanaryConfig:
        if self.champion_percent + self.challenger_percent != 100:
            raise ValueError("champion_percent + challenger_percent must be 100")
        return self


class ServingConfig(StrictModel):
    """The local FastAPI service (``fin-mlops serve``) and the Databricks serving endpoint."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=8000, ge=1, le=65535)
    max_batch_rows: int = Field(default=10_000, ge=1, le=1_000_000, description="larger batches get HTTP 413")
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, le=1024**3, description="larger request bodies get HTTP 413 unread"
    )
    api_key: CredentialRef = Field(
        default=CredentialRef(env="FIN_MLOPS_API_KEY"),
        description="an accepted X-API-Key for /v1/* (or several, comma-separated); `fin-mlops serve` refuses to "
        "start without any key unless given --insecure-no-auth on a loopback address",
    )
    api_keys: CredentialRef | None = Field(
        default=CredentialRef(env="FIN_MLOPS_API_KEYS"),
        description="more accepted keys, comma-separated, all valid at once (rotation: add the new key, move the "
        "clients, remove the old one); e.g. {env: FIN_MLOPS_API_KEYS, secret_scope: financial-mlops, "
        "secret_key: serving-api-keys}",
    )
    api_key_min_chars: int = Field(
        default=16, ge=8, le=256, description="a shorter key is refused at start-up (a guessable key is no key)"
    )
    rate_limit_per_second: float | None = Field(
        default=500.0,
        gt=0,
        le=1_000_000,
        description="sustained requests per second per API key on /v1/* (token bucket); over it: HTTP 429 with "
        "Retry-After; null: no limit",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, le=10_000_000, description="requests a key may send at once above the sustained rate"
    )
    online_max_ahead_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="a raw trade stamped further than this ahead of the server clock is scored on its own and "
        "never joins its symbol's online state (one bad clock would otherwise open a bar in the future and make "
        "every real trade late)",
    )
    reload_interval_seconds: float = Field(
        default=30.0, gt=0, le=86_400, description="how often the service checks whether the champion alias moved"
    )
    endpoint_enabled: bool = Field(
        default=True,
        description="on Databricks, the deploy step (deploy_anomaly_model.py, fin-mlops deploy-model) creates or "
        "updates the serving endpoint for the champion; off Databricks it never does",
    )
    endpoint_name: str = Field(default="financial-anomaly-endpoint", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    endpoint_wait_seconds: float = Field(
        default=1200,
        ge=1,
        le=7200,
        description="bound on every endpoint wait: for a running config update before applying ours, "
        "and for ours to be READY before a deploy ends or a promotion moves aliases",
    )
    workload_size: Literal["Small", "Medium", "Large"] = "Small"
    scale_to_zero: bool = True
    canary: CanaryConfig = CanaryConfig()
