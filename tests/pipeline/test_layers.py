"""Bronze, expectations and silver helpers on the crafted landing sample (exact counts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.pipeline import bronze_ingest, expectations, silver_transform
from tests.support import landing_sample as sample

STAMP = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    sample.build(root)
    return root


@dataclass
class Layers:
    bronze: list[Any]
    flagged: dict[str, list[str]]
    silver: dict[str, Any]
    silver_columns: list[str]
    bars: dict[str, Any]
    quarantine: dict[str, Any]


@pytest.fixture(scope="module")
def layers(spark: Any, landing: Path) -> Layers:
    """Every layer of the sample computed once (Spark actions are the slow part of these tests)."""
    from pyspark import StorageLevel

    cfg = ProjectConfig.from_yaml(Path(__file__).resolve().parents[2] / "project_config.yml", "dev")
    files = bronze_ingest.list_landing_files(landing)
    bronze = bronze_ingest.read_landing_batch(spark, files, STAMP).persist(StorageLevel.MEMORY_ONLY)
    trades, bars = expectations.rules_for(cfg)
    typed = silver_transform.typed_records(bronze, silver_transform.asset_classes(cfg.symbols, landing))
    flagged_df = expectations.flag(typed, trades, bars)
    valid, invalid = expectations.split_by_rules(flagged_df, silver_transform.TYPED_COLUMNS)
    flagged: dict[str, list[str]] = {}
    for row in flagged_df.select("trade_id", "_rescued_data", "failed_rules").collect():
        key = row["trade_id"] if row["trade_id"] is not None else f"<none:{row['_rescued_data'] is not None}>"
        if row["failed_rules"]:
            flagged.setdefault(key, []).extend(row["failed_rules"])
    silver_df = silver_transform.silver_trades(valid)
    out = Layers(
        bronze=bronze.collect(),
        flagged=flagged,
        silver={r["trade_id"]: r for r in silver_df.collect()},
        silver_columns=list(silver_df.columns),
        bars={r["bar_id"]: r for r in silver_transform.silver_bars(valid).collect()},
        quarantine={r["quarantine_id"]: r for r in silver_transform.quarantine(invalid).collect()},
    )
    bronze.unpersist()
    return out


def test_listing_skips_in_flight_and_underscore_folders(landing: Path) -> None:
    files = bronze_ingest.list_landing_files(landing)
    assert len(files) == 8
    assert not any("/_" in f or "/." in f for f in files)
    assert bronze_ingest.new_files(files, [f"file:{files[0]}"]) == files[1:]


def test_bronze_keeps_every_line_with_file_time_and_rescued_data(layers: Layers) -> None:
    bronze_rows = layers.bronze
    assert len(bronze_rows) == sample.BRONZE_ROWS
    assert {r["_ingested_at"].replace(tzinfo=UTC) for r in bronze_rows} == {STAMP}
    by_file: dict[str, int] = {}
    for r in bronze_rows:
        name = Path(bronze_ingest.canonical_file(r["_source_file"])).name
        by_file[name] = by_file.get(name, 0) + 1
    assert by_file == {
        "runA-000001.ndjson": 10,
        "runA-000002.ndjson": 7,
        "runB-000001.ndjson": 2,
        "runA-000003.ndjson": 11,
        "runC-000001.ndjson": 3,
        "runC-000002.ndjson": 1,
        "runB-000002.ndjson": 2,
        "runD-000001.ndjson": 1,
    }
    rescued = {r["trade_id"]: json.loads(r["_rescued_data"]) for r in bronze_rows if r["_rescued_data"]}
    assert rescued["bad-string-price"] == {"price": "abc"}
    assert rescued["fh-N1"] == {"venue": "XNAS"}
    assert rescued[None] == {"_corrupt_record": sample.NOT_JSON, "_damaged": "not JSON", "_line": 11}
    assert len(rescued) == 3
    nvda = next(r for r in bronze_rows if r["trade_id"] == "fh-N1")
    assert (nvda["price"], nvda["volume"], nvda["symbol"]) == (900.0, 3.0, "NVDA")


def test_each_expectation_quarantines_its_own_row(layers: Layers) -> None:
    flagged = dict(layers.flagged)
    for trade_id, rules in sample.EXPECTED_RULES.items():
        assert sorted(flagged.pop(trade_id)) == sorted(rules), trade_id
    assert flagged.pop("<none:False>") == ["trade_id_present"]
    assert sorted(flagged.pop("<none:True>")) == sorted(expectations.TRADE_RULE_NAMES)  # not JSON at all
    bad_bar = f"alphavantage-AAPL-1min-{sample.ms('2026-03-06T14:32:00')}"
    assert flagged.pop(bad_bar) == ["ohlc_consistent"]
    assert flagged == {}  # every other row passes every rule


def test_rule_set_is_plain_sql_shared_by_both_engines(config: ProjectConfig) -> None:
    trades, bars = expectations.rules_for(config)
    assert list(trades) == list(expectations.TRADE_RULE_NAMES)
    assert list(bars) == list(expectations.BAR_RULE_NAMES)
    assert "RLIKE '^[A-Z][A-Z0-9.:\\\\-]{0,19}$'" in trades["symbol_valid"]
    assert "'finnhub', 'binance', 'alphavantage'" in trades["source_known"]
    assert str(config.pipeline.expectations.min_timestamp_ms) in trades["ts_in_bounds"]
    assert expectations.all_valid_sql(trades).count(" AND coalesce(") == len(trades) - 1


#: Silver's identity of the sample's Binance trades: (source, symbol, venue trade id), not the collector's id.
VENUE_IDS = {"bn-C1": "binance:BTCUSDT:111", "bn-C2": "binance:BTCUSDT:112"}


def test_silver_dedups_by_trade_id_only_and_sets_sessions(layers: Layers) -> None:
    silver = {next((k for k, v in VENUE_IDS.items() if v == tid), tid): row for tid, row in layers.silver.items()}
    assert set(VENUE_IDS.values()) <= set(layers.silver)
    assert len(silver) == sample.SILVER_ROWS
    # three identical prints (same symbol, ms, price, volume), three trade ids: all stay
    prints = [silver[t] for t in ("fh-A2a", "fh-A2b", "fh-A2c")]
    assert len({(p["symbol"], p["ts"], p["price"], p["volume"]) for p in prints}) == 1
    # F7 re-landed F3's trades under another file name: one row each, from the first file
    assert silver["bn-C1"]["_source_file"].endswith("runB-000001.ndjson")
    for trade_id, (session, day) in sample.EXPECTED_SESSIONS.items():
        row = silver[trade_id]
        assert (row["session_type"], row["trade_date"].isoformat()) == (session, day), trade_id
    assert silver["bn-C1"]["asset_class"] == "crypto" and silver["fh-A1"]["asset_class"] == "equity"
    assert silver["fh-A1"]["conditions"] == "1,12"
    assert silver["fh-A1"]["ts"].replace(tzinfo=UTC) == datetime(2026, 3, 6, 14, 30, 0, 100_000, tzinfo=UTC)
    assert layers.silver_columns == silver_transform.SILVER_COLUMNS

    bars_rows = layers.bars
    assert len(bars_rows) == sample.BAR_ROWS
    refetched = bars_rows[f"alphavantage-AAPL-1min-{sample.ms('2026-03-06T14:31:00')}"]
    assert (refetched["close"], refetched["high"], refetched["volume"]) == (101.0, 102.5, 6.0)  # latest fetch wins

    quarantine = layers.quarantine
    assert len(quarantine) == sample.QUARANTINE_ROWS
    assert json.loads(quarantine["bad-volume"]["raw"])["volume"] == -1.0
    assert quarantine["bad-string-price"]["_rescued_data"] == '{"price":"abc"}'
    assert sum(1 for q in quarantine if q.startswith("noid:")) == 2


def test_spark_session_type_is_the_calendar_s_including_early_closes(spark: Any) -> None:
    """Silver's Spark column and the pandas calendar are one implementation: early closes included."""
    import pandas as pd
    from pyspark.sql import functions as F

    from financial_transactions.market.calendar import classify_sessions

    stamps = [
        "2025-07-03T16:59:59.999Z",  # 12:59:59.999 EDT on an early-close day -> regular
        "2025-07-03T17:00:00.000Z",  # 13:00 -> after-hours
        "2025-07-03T21:00:00.000Z",  # 17:00 -> closed
        "2026-11-27T17:59:59.999Z",  # day after Thanksgiving, 12:59:59.999 EST -> regular
        "2026-11-27T18:00:00.000Z",  # 13:00 -> after-hours
        "2026-12-24T22:00:00.000Z",  # Christmas Eve 17:00 -> closed
        "2026-12-23T22:00:00.000Z",  # an ordinary 17:00 -> after-hours
        "2026-07-03T17:00:00.000Z",  # observed Independence Day -> closed
    ]
    ms = [int(pd.Timestamp(s).value // 1_000_000) for s in stamps]
    rows = [(m, "equity") for m in ms] + [(ms[0], "crypto")]
    df = spark.createDataFrame(rows, "ts_ms bigint, asset_class string")
    got = [
        r["s"]
        for r in df.select(silver_transform.session_type(F.col("ts_ms"), F.col("asset_class")).alias("s")).collect()
    ]
    expected = ["regular", "after_hours", "closed", "regular", "after_hours", "closed", "after_hours", "closed"]
    assert got == [*expected, "continuous"]
    pandas_side = classify_sessions(pd.Series(pd.to_datetime(ms, unit="ms", utc=True)), "equity").tolist()
    assert pandas_side == expected
