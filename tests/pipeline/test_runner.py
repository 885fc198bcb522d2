"""The embedded runner on real Delta tables: exact counts, idempotence, time travel, gold values."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.pipeline.reproduce import reproduce_gold
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample

EXPECTED = {
    "bronze_trades": sample.BRONZE_ROWS,
    "silver_trades": sample.SILVER_ROWS,
    "silver_trades_quarantine": sample.QUARANTINE_ROWS,
    "silver_bars": sample.BAR_ROWS,
}


def _gold_row(platform: Platform, symbol: str, bar_start: str, version: int | None = None) -> pd.Series:
    gold = platform.store.read(platform.config.table("gold_trade_features"), version=version)
    hit = gold[(gold["symbol"] == symbol) & (gold["bar_start"] == pd.Timestamp(bar_start, tz="UTC"))]
    assert len(hit) == 1, (symbol, bar_start, len(hit))
    return hit.iloc[0]


def test_runner_end_to_end_idempotent_incremental_and_time_travel(
    platform: Platform, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, cfg = platform.store, platform.config
    files = sample.build(platform.paths.landing)

    # 1. first run: exact counts on every layer
    first = PipelineRunner(platform).run()
    assert first.mode == "incremental"
    assert first.files_ingested == 8
    assert {k: first.counts[k] for k in EXPECTED} == EXPECTED
    gold_rows = first.counts["gold_trade_features"]
    assert first.gold_symbols == ["AAPL", "BTCUSDT", "MSFT", "NVDA"]
    assert first.quarantine_totals == {
        "landing_line_intact": 1,  # the sample's not-JSON line
        "ohlc_consistent": 1,
        "price_positive": 4,
        "record_type_known": 2,
        "source_known": 2,
        "symbol_valid": 3,
        "trade_id_present": 2,
        "ts_in_bounds": 3,
        "volume_non_negative": 2,
    }

    # gold VWAP / OHLC / counts equal the hand-computed bars (3 identical prints included)
    bar = _gold_row(platform, "AAPL", "2026-03-06T14:30:00")
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (100.0, 101.0, 99.5, 99.5)
    assert bar["volume"] == 75.0 and bar["trade_count"] == 5
    assert bar["vwap"] == pytest.approx((100.0 * 10 + 3 * 101.0 * 20 + 99.5 * 5) / 75, rel=1e-12)
    nxt = _gold_row(platform, "AAPL", "2026-03-06T14:31:00")
    assert (nxt["open"], nxt["high"], nxt["low"], nxt["close"], nxt["volume"]) == (102.0, 102.0, 100.5, 100.5, 5.0)
    assert nxt["vwap"] == pytest.approx((102.0 * 1 + 100.5 * 4) / 5, rel=1e-12)
    assert nxt["trade_count"] == 2
    assert nxt["returns"] == pytest.approx(100.5 / 99.5 - 1, rel=1e-12)

    quarantine = store.read(cfg.table("silver_trades_quarantine")).set_index("quarantine_id")
    assert list(quarantine.loc["bad-two-rules", "failed_rules"]) == ["symbol_valid", "price_positive"]
    assert json.loads(quarantine.loc["bad-price", "raw"])["price"] == 0.0

    # 2. same landing zone again: nothing read, nothing written, no new versions
    versions = first.versions
    again = PipelineRunner(platform).run()
    assert again.mode == "up_to_date" and again.files_ingested == 0
    assert again.versions == versions and again.counts == first.counts
    assert store.count(cfg.table("pipeline_runs")) == 1

    # 3. the same file landed twice (a reprocessed copy): bronze grows, silver and gold do not
    shutil.copy(files["F1"], files["F1"].with_name("runA-000009.ndjson"))
    copy = PipelineRunner(platform).run()
    assert copy.files_ingested == 1 and copy.bronze_rows_added == 10
    assert copy.silver.silver_inserted == 0
    assert copy.counts["silver_trades"] == sample.SILVER_ROWS
    assert copy.versions["gold_trade_features"] == versions["gold_trade_features"]

    # 4. new trades: incremental MERGE into silver, gold rebuilt for that symbol only
    sample.write_records(
        platform.paths.landing / "finnhub/date=2026-03-06/symbol=AAPL/runE-000001.ndjson",
        [
            sample.trade("fh-A9", "AAPL", "2026-03-06T14:31:45", 104.0, 6.0),
            sample.trade("fh-A10", "AAPL", "2026-03-06T14:32:10", 105.0, 1.0),
        ],
    )
    more = PipelineRunner(platform).run()
    assert more.silver.silver_inserted == 2 and more.gold_symbols == ["AAPL"]
    assert more.counts["silver_trades"] == sample.SILVER_ROWS + 2
    assert more.counts["gold_trade_features"] == gold_rows + 1
    changed = _gold_row(platform, "AAPL", "2026-03-06T14:31:00")
    assert (changed["high"], changed["close"], changed["volume"], changed["trade_count"]) == (104.0, 104.0, 11.0, 3)

    # 5. time travel: gold as of the first run is intact and rebuilds identically from its silver
    gold_v0 = versions["gold_trade_features"]
    old = _gold_row(platform, "AAPL", "2026-03-06T14:31:00", version=gold_v0)
    assert (old["close"], old["volume"]) == (100.5, 5.0)
    repro = reproduce_gold(platform, gold_v0)
    assert repro.rows == gold_rows and repro.silver_version == versions["silver_trades"]
    assert repro.reproduced is True, repro.detail
    latest = reproduce_gold(platform, more.versions["gold_trade_features"])
    assert latest.reproduced is True and latest.rows == gold_rows + 1
    # ... and `fin-mlops pipeline --as-of-version` says so: at 80 columns every item whole, --json the raw values
    from typer.testing import CliRunner

    from financial_transactions.cli import app

    monkeypatch.setattr("financial_transactions.runtime.local.get_spark", lambda **_kw: spark)
    base = ["--config", str(Path(__file__).resolve().parents[2] / "project_config.yml"),
            "--lakehouse-root", str(platform.lakehouse_root), "pipeline", "--as-of-version", str(gold_v0)]  # fmt: skip
    shown = CliRunner().invoke(app, base, env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    items = ["rows", "symbols", "built from silver version", "rebuilt from that silver, identical"]
    text = " ".join(shown.stdout.translate(str.maketrans("│┃", "  ")).split())
    assert all(f"{item} " in text for item in items) and "yes (identical)" in text and "…" not in text
    assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= 80
    piped = CliRunner().invoke(app, [*base, "--json"])
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["reproduction"][:3] == [
        {"item": "rows", "value": gold_rows},
        {"item": "symbols", "value": repro.symbols},
        {"item": "built from silver version", "value": versions["silver_trades"]},
    ]

    # 6. full refresh rebuilds every layer from all landing files (history kept)
    full = PipelineRunner(platform).run(full_refresh=True)
    assert full.mode == "full_refresh" and full.files_ingested == 10
    assert full.counts["bronze_trades"] == sample.BRONZE_ROWS + 10 + 2
    assert full.counts["silver_trades"] == sample.SILVER_ROWS + 2
    assert full.counts["gold_trade_features"] == gold_rows + 1
    assert all(full.versions[k] > more.versions[k] for k in EXPECTED)
    assert store.count(cfg.table("gold_trade_features"), version=gold_v0) == gold_rows


def test_run_that_died_after_bronze_is_finished_by_the_next(platform: Platform, spark: Any) -> None:
    """Bronze committed, then the process died: the next run carries those rows into silver."""
    sample.build(platform.paths.landing)
    files = bronze_ingest.list_landing_files(platform.paths.landing)
    stamp = datetime(2026, 3, 10, tzinfo=UTC)
    bronze = bronze_ingest.read_landing_batch(spark, files, stamp)
    platform.store.write_spark(platform.config.table("bronze_trades"), bronze)

    result = PipelineRunner(platform).run()
    assert result.files_ingested == 0  # nothing new in landing...
    assert result.silver.bronze_rows == sample.BRONZE_ROWS  # ...but the orphaned bronze rows were processed
    assert {k: result.counts[k] for k in EXPECTED} == EXPECTED
    assert PipelineRunner(platform).run().mode == "up_to_date"


def test_empty_landing_is_a_clear_no_op(platform: Platform) -> None:
    result = PipelineRunner(platform).run()
    assert result.mode == "up_to_date" and result.files_discovered == 0
    assert not platform.store.exists(platform.config.table("bronze_trades"))
    with pytest.raises(FileNotFoundError, match="no landing files"):
        PipelineRunner(platform).run(full_refresh=True)


def test_landing_listing_ignores_non_ndjson(tmp_path: Path) -> None:
    (tmp_path / "finnhub/date=2026-03-06/symbol=AAPL").mkdir(parents=True)
    (tmp_path / "finnhub/date=2026-03-06/symbol=AAPL/a.ndjson").write_text("{}\n")
    (tmp_path / "finnhub/date=2026-03-06/symbol=AAPL/README.txt").write_text("x")
    (tmp_path / "finnhub/date=2026-03-06/symbol=AAPL/_SUCCESS.ndjson").write_text("{}\n")
    assert [Path(f).name for f in bronze_ingest.list_landing_files(tmp_path)] == ["a.ndjson"]
