"""Medallion pipeline and Structured Streaming settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from financial_transactions.config.cadence import CadenceConfig
from financial_transactions.config.core import StrictModel

_KNOWN_SOURCES = ("finnhub", "binance", "alphavantage")

# Spark conf keys of the declarative pipeline (its bundle ``configuration``) that override
# ``pipeline.expectations``. They live beside the bounds they are checked against, so the pipeline
# applies them and ``fin-mlops bundle-check`` validates them through the same code.
CONF_MIN_TIMESTAMP = "fin_mlops.expectations.min_timestamp"
CONF_MAX_FUTURE_SECONDS = "fin_mlops.expectations.max_future_seconds"
CONF_KNOWN_SOURCES = "fin_mlops.expectations.known_sources"


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


#: Threshold conf key -> the ``pipeline.expectations`` field it overrides.
EXPECTATION_CONFS: dict[str, str] = {
    CONF_MIN_TIMESTAMP: "min_timestamp",
    CONF_MAX_FUTURE_SECONDS: "max_future_seconds",
    CONF_KNOWN_SOURCES: "known_sources",
}


def expectation_overrides(base: ExpectationsConfig, conf: Mapping[str, str | None]) -> ExpectationsConfig:
    """``base`` with the ``fin_mlops.expectations.*`` values of ``conf`` applied.

    Values are strings (Spark conf): an ISO-8601 instant, whole seconds, and a comma-separated
    source list. They go through :class:`ExpectationsConfig`, so the bounds of
    ``project_config.yml`` hold here too; a bad value raises ``ValueError`` naming the key.
    """
    updates: dict[str, Any] = {}
    for key, field in EXPECTATION_CONFS.items():
        value = conf.get(key)
        if value is None or str(value).strip() == "":
            continue
        text = str(value).strip()
        updates[field] = [s.strip() for s in text.split(",") if s.strip()] if field == "known_sources" else text
    if not updates:
        return base
    try:
        return ExpectationsConfig.model_validate({**base.model_dump(), **updates})
    except ValidationError as exc:
        keys = {field: key for key, field in EXPECTATION_CONFS.items()}
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            key = keys.get(field, field)
            problems.append(f"{key} = {conf.get(key)!r}: {err['msg']}")
        raise ValueError(f"pipeline configuration: invalid expectation threshold(s): {'; '.join(problems)}") from None


class StreamingConfig(StrictModel):
    trigger: Literal["availableNow", "processingTime"] = "availableNow"
    processing_time: str = Field(default="5 seconds", pattern=r"^\d+ (second|seconds|minute|minutes)$")
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
    cadence: CadenceConfig = CadenceConfig()
