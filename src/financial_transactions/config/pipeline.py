"""Medallion pipeline and Structured Streaming settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from financial_transactions.config.core import StrictModel

_KNOWN_SOURCES = ("finnhub", "binance", "alphavantage")


class ExpectationsConfig(StrictModel):
    """Bounds behind the silver expectations (the rule set lives in ``dlt.expectations``).

    The upper timestamp bound is relative to the record's own ``ingested_at`` (not the
    wall clock) so that re-running the pipeline on the same files gives the same verdicts.
    """

    min_timestamp: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_future_seconds: int = Field(default=86_400, ge=0, le=31_536_000)
    known_sources: list[str] = Field(default_factory=lambda: list(_KNOWN_SOURCES), min_length=1)

    @field_validator("min_timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if not datetime(1970, 1, 1, tzinfo=UTC) <= value <= datetime(2100, 1, 1, tzinfo=UTC):
            raise ValueError("must lie between 1970-01-01 and 2100-01-01")
        return value.astimezone(UTC)

    @field_validator("known_sources")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        for source in value:
            if not source.replace("_", "").isalnum() or source.lower() != source:
                raise ValueError(f"source {source!r} must be a lower-case identifier")
        return value

    @property
    def min_timestamp_ms(self) -> int:
        return int(self.min_timestamp.timestamp() * 1000)


class StreamingConfig(StrictModel):
    trigger: Literal["availableNow", "processingTime"] = "availableNow"
    processing_time: str = Field(default="10 seconds", pattern=r"^\d+ (second|seconds|minute|minutes)$")
    max_files_per_trigger: int = Field(default=1000, ge=1, le=1_000_000)
    checkpoint_name: str = Field(default="silver_trades_stream", pattern=r"^[a-z][a-z0-9_]{0,63}$")


class AutoLoaderConfig(StrictModel):
    """Databricks Auto Loader (``cloudFiles``) options for bronze; unused by the local engine."""

    schema_location_name: str = Field(default="bronze_trades_schema", pattern=r"^[a-z][a-z0-9_]{0,63}$")
    schema_evolution_mode: Literal["rescue", "addNewColumns", "none"] = "rescue"
    max_files_per_trigger: int = Field(default=1000, ge=1, le=1_000_000)


class PipelineConfig(StrictModel):
    expectations: ExpectationsConfig = ExpectationsConfig()
    streaming: StreamingConfig = StreamingConfig()
    autoloader: AutoLoaderConfig = AutoLoaderConfig()
    shuffle_partitions: int = Field(default=4, ge=1, le=10_000)
