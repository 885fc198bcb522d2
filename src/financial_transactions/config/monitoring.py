"""Drift detection, the retraining trigger and alerting."""

from __future__ import annotations

from pydantic import Field, model_validator

from financial_transactions.config.core import CredentialRef, StrictModel


class DriftConfig(StrictModel):
    bins: int = Field(default=10, ge=2, le=1000)
    epsilon: float = Field(default=1e-4, gt=0, le=0.01)
    psi_warn: float = Field(default=0.1, ge=0, le=100)
    psi_alert: float = Field(default=0.25, ge=0, le=100)
    js_alert: float = Field(default=0.1, ge=0, le=1)
    drifted_share_alert: float = Field(default=0.3, ge=0, le=1)
    critical_features: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)  # empty = all model features

    @model_validator(mode="after")
    def _warn_below_alert(self) -> DriftConfig:
        if self.psi_warn > self.psi_alert:
            raise ValueError(f"psi_warn ({self.psi_warn}) must not exceed psi_alert ({self.psi_alert})")
        return self


class RetrainingConfig(StrictModel):
    cooldown_hours: float = Field(default=6.0, ge=0, le=24 * 30)
    daily_limit: int = Field(default=3, ge=0, le=1000)
    performance_drop: float = Field(default=0.1, ge=0, le=1)
    job_name: str = "financial-retraining-workflow"


class AlertingConfig(StrictModel):
    webhook: CredentialRef = CredentialRef(
        env="FIN_MLOPS_ALERT_WEBHOOK_URL", secret_scope="financial-mlops", secret_key="alert-webhook-url"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
