"""The pipeline's ``configuration`` block: thresholds travel as Spark conf and reach the one rule set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from financial_transactions.config import ProjectConfig
from financial_transactions.config.pipeline import (
    CONF_KNOWN_SOURCES,
    CONF_MAX_FUTURE_SECONDS,
    CONF_MIN_TIMESTAMP,
    EXPECTATION_CONFS,
    ExpectationsConfig,
    expectation_overrides,
)
from financial_transactions.deploy.rules.pipelines import pipeline_conf_keys
from financial_transactions.pipeline import expectations
from financial_transactions.pipeline.declarative import CONF_CONFIG, CONF_ENV, CONF_LANDING, DeclarativeSettings

from .bundle_fixture import PROJECT_ROOT


def _bundle_configuration() -> dict[str, str]:
    doc = yaml.safe_load((PROJECT_ROOT / "resources" / "streaming_pipeline.yml").read_text(encoding="utf-8"))
    conf: dict[str, str] = doc["resources"]["pipelines"]["financial_streaming_dlt"]["configuration"]
    return conf


def test_bundle_carries_the_thresholds_of_every_env() -> None:
    conf = _bundle_configuration()
    assert set(EXPECTATION_CONFS) <= set(conf) and set(EXPECTATION_CONFS) <= (pipeline_conf_keys() or set())
    for env in ("dev", "acc", "prd"):
        configured = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", env).pipeline.expectations
        # the bundle's values are project_config.yml's: both engines judge a record the same way
        assert expectation_overrides(configured, conf) == configured, env


def test_overrides_parse_and_fail_naming_the_key() -> None:
    base = ExpectationsConfig()
    got = expectation_overrides(
        base,
        {
            CONF_MIN_TIMESTAMP: "2024-06-01T00:00:00Z",
            CONF_MAX_FUTURE_SECONDS: " 60 ",
            CONF_KNOWN_SOURCES: "finnhub, binance",
        },
    )
    assert got.min_timestamp == datetime(2024, 6, 1, tzinfo=UTC) and got.max_future_seconds == 60
    assert got.known_sources == ["finnhub", "binance"]
    assert expectation_overrides(base, {CONF_MAX_FUTURE_SECONDS: "", CONF_MIN_TIMESTAMP: None}) is base
    with pytest.raises(ValueError) as info:
        expectation_overrides(base, {CONF_MAX_FUTURE_SECONDS: "99999999999", CONF_KNOWN_SOURCES: ","})
    message = str(info.value)
    assert message.startswith("pipeline configuration: invalid expectation threshold(s): ")
    assert "fin_mlops.expectations.max_future_seconds = '99999999999': Input should be less than or equal to" in message
    assert "fin_mlops.expectations.known_sources = ',': List should have at least 1 item" in message


@pytest.fixture
def pipeline_conf(spark: object, tmp_path: Path) -> Iterator[object]:
    """The session's Spark conf as the Lakeflow pipeline sets it; unset again afterwards."""
    values = {
        CONF_CONFIG: str(PROJECT_ROOT / "project_config.yml"),
        CONF_ENV: "dev",
        CONF_LANDING: str(tmp_path / "landing"),
        CONF_MIN_TIMESTAMP: "2026-01-01T00:00:00Z",
        CONF_MAX_FUTURE_SECONDS: "60",
        CONF_KNOWN_SOURCES: "finnhub",
    }
    for key, value in values.items():
        spark.conf.set(key, value)  # type: ignore[attr-defined]
    try:
        yield spark
    finally:
        for key in values:
            spark.conf.unset(key)  # type: ignore[attr-defined]


def test_settings_apply_the_thresholds_to_the_rule_set(pipeline_conf: object) -> None:
    from pyspark.sql import functions as F

    spark = pipeline_conf
    settings = DeclarativeSettings.from_spark_conf(spark)  # type: ignore[arg-type]
    exp = settings.config.pipeline.expectations
    assert (exp.min_timestamp, exp.max_future_seconds, exp.known_sources) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        60,
        ["finnhub"],
    )
    assert settings.config.source_path == PROJECT_ROOT / "project_config.yml"
    trades, _ = expectations.rules_for(settings.config)  # what dlt_pipeline.py builds its expectations from
    default_trades, _ = expectations.rules_for(ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev"))
    ingested = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    rows = [  # (trade_id, source, ts): valid by default, each broken by exactly one override
        ("old", "finnhub", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        ("ahead", "finnhub", datetime(2026, 3, 6, 15, 2, tzinfo=UTC)),
        ("binance", "binance", datetime(2026, 3, 6, 14, 59, tzinfo=UTC)),
        ("ok", "finnhub", datetime(2026, 3, 6, 14, 59, tzinfo=UTC)),
    ]
    frame = spark.createDataFrame(  # type: ignore[attr-defined]
        [(t, "trade", s, "AAPL", 1.0, 1.0, ts, ingested, None) for t, s, ts in rows],
        "trade_id string, record_type string, source string, symbol string, price double, volume double, "
        "ts timestamp, ingested_at timestamp, _rescued_data string",  # bronze's columns the rules read
    )

    def verdicts(rules: dict[str, str]) -> dict[str, list[str]]:
        out = frame.select("trade_id", F.expr(expectations.failed_rules_sql(rules)).alias("failed")).collect()
        return {r["trade_id"]: list(r["failed"]) for r in out}

    assert verdicts(default_trades) == {"old": [], "ahead": [], "binance": [], "ok": []}
    assert verdicts(trades) == {
        "old": ["ts_in_bounds"],
        "ahead": ["ts_in_bounds"],
        "binance": ["source_known"],
        "ok": [],
    }


def test_a_bad_threshold_stops_the_pipeline_with_the_key(pipeline_conf: object) -> None:
    spark = pipeline_conf
    spark.conf.set(CONF_MAX_FUTURE_SECONDS, "soon")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"fin_mlops\.expectations\.max_future_seconds = 'soon': Input should be"):
        DeclarativeSettings.from_spark_conf(spark)  # type: ignore[arg-type]
