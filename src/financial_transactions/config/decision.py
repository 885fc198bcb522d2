"""Decision matrix scoring and backtest settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from financial_transactions.config.core import StrictModel


class Band(StrictModel):
    """A half-open band ``[lower, upper)`` of a criterion's raw value mapped to a 1-5 score."""

    lower: float | None = None
    upper: float | None = None
    score: int = Field(ge=1, le=5)
    label: str = ""


class CriterionConfig(StrictModel):
    weight: float = Field(ge=0, le=1000)
    bands: list[Band] = Field(min_length=1)
    enabled: bool = True


class RecommendationThresholds(StrictModel):
    strong_buy: float = Field(default=4.0, ge=1, le=5)
    buy: float = Field(default=3.0, ge=1, le=5)
    hold: float = Field(default=2.0, ge=1, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> RecommendationThresholds:
        if not self.hold <= self.buy <= self.strong_buy:
            raise ValueError("thresholds must satisfy hold <= buy <= strong_buy")
        return self


class DecisionConfig(StrictModel):
    criteria: dict[str, CriterionConfig] = Field(default_factory=dict)
    thresholds: RecommendationThresholds = RecommendationThresholds()
    missing_policy: Literal["renormalize", "insufficient"] = "renormalize"
    min_criteria: int = Field(default=3, ge=1, le=100)
    sentiment_table: str | None = None


class BacktestConfig(StrictModel):
    strategy: Literal["sma_cross", "macd", "model"] = "sma_cross"
    mode: Literal["long_flat", "long_short"] = "long_flat"
    commission_bps: float = Field(default=1.0, ge=0, le=1000)
    slippage_bps: float = Field(default=2.0, ge=0, le=1000)
    fast_window: int = Field(default=10, ge=1, le=1000)
    slow_window: int = Field(default=30, ge=2, le=5000)
    risk_free_rate: float = Field(default=0.0, ge=-1, le=1)
    periods_per_year_equity: int = Field(default=252, ge=1, le=1_000_000)
    periods_per_year_crypto: int = Field(default=365, ge=1, le=1_000_000)
