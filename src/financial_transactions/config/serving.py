"""FastAPI service and Databricks model-serving settings."""

from __future__ import annotations

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
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_batch_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    api_key: CredentialRef = CredentialRef(env="FIN_MLOPS_API_KEY")
    reload_interval_seconds: float = Field(default=30.0, gt=0, le=86_400)
    endpoint_name: str = Field(default="financial-anomaly-endpoint", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    workload_size: str = "Small"
    scale_to_zero: bool = True
    canary: CanaryConfig = CanaryConfig()
