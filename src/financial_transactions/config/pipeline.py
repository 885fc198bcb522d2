"""Medallion pipeline and Structured Streaming settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from financial_transactions.config.core import StrictModel


class ExpectationsConfig(StrictModel):
    """Bounds behind the silver expectations (the rule set lives in ``dlt.expectations``)."""

    min_timestamp: str = "2000-01-01T00:00:00Z"
    max_future_seconds: int = Field(default=86_400, ge=0, le=31_536_000)
    known_sources: list[str] = Field(default_factory=lambda: ["finnhub", "binance", "alphavantage"], min_length=1)


class StreamingConfig(StrictModel):
    trigger: Literal["availableNow", "processingTime"] = "availableNow"
    processing_time: str = Field(default="10 seconds", pattern=r"^\d+ (second|seconds|minute|minutes)$")
    max_files_per_trigger: int = Field(default=1000, ge=1, le=1_000_000)


class PipelineConfig(StrictModel):
    bar_interval: str = Field(default="1 minute", pattern=r"^\d+ (second|seconds|minute|minutes)$")
    expectations: ExpectationsConfig = ExpectationsConfig()
    streaming: StreamingConfig = StreamingConfig()
    shuffle_partitions: int = Field(default=4, ge=1, le=10_000)
