"""The Databricks bronze path: Auto Loader's reader plan, and the runner's Auto Loader mode.

``cloudFiles`` exists only on Databricks. A recording double of ``spark.readStream``
captures the plan (format, options, path) exactly as the code builds it; its
``load`` answers with Spark's own JSON file stream over the *same* path glob and
``pathGlobFilter``, so which landing files that plan selects is checked on a real
file system with Hadoop's globber (the behaviour ``cloudFiles.useStrictGlobber``
gives Auto Loader).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.ingest.landing import landing_key
from financial_transactions.lakehouse.paths import LakehousePaths
from financial_transactions.lakehouse.store import LocalDeltaStore
from financial_transactions.pipeline import bronze_ingest
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.runtime import DatabricksRuntime, Platform
from tests.support import landing_sample as sample


class RecordingStreamReader:
    """``spark.readStream`` for ``cloudFiles``: records every call; ``load`` reads the same glob as JSON."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark
        self.format_name: str | None = None
        self.recorded: dict[str, str] = {}
        self.paths: list[str] = []

    def format(self, name: str) -> RecordingStreamReader:
        self.format_name = name
        return self

    def option(self, key: str, value: object) -> RecordingStreamReader:
        assert key not in self.recorded, f"option {key} set twice"
        self.recorded[key] = str(value)
        return self

    def load(self, path: str) -> Any:
        assert self.format_name == "cloudFiles", self.format_name
        self.paths.append(path)
        return (
            self._spark.readStream.format(self.recorded["cloudFiles.format"])
            .schema(f"{bronze_ingest.LANDING_DDL}, `_rescued_data` string")
            .option("pathGlobFilter", self.recorded["pathGlobFilter"])
            .option("maxFilesPerTrigger", self.recorded["cloudFiles.maxFilesPerTrigger"])
            .load(path)
        )


class SparkWithRecordingReader:
    """The real session, except that every ``readStream`` is a :class:`RecordingStreamReader`."""

    def __init__(self, spark: Any) -> None:
        self._real = spark
        self.readers: list[RecordingStreamReader] = []

    @property
    def readStream(self) -> RecordingStreamReader:
        reader = RecordingStreamReader(self._real)
        self.readers.append(reader)
        return reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _noise(landing: Path) -> list[Path]:
    """NDJSON files that must never be bronze input, beyond the sample's own ``_quarantine``/``_ground_truth``."""
    aside = landing / "_abandoned/window1/20260306T000000Z-dead01/finnhub/date=2026-03-06/symbol=AAPL/x.ndjson"
    stray = landing / "stray.ndjson"
    shallow = landing / "finnhub/date=2026-03-06/orphan.ndjson"
    for path in (aside, stray, shallow):
        sample.write_records(path, sample.AAPL[:1])
    return [aside, stray, shallow]


def _expected_options(platform: Platform) -> dict[str, str]:
    autoloader = platform.config.pipeline.autoloader
    return {
        "cloudFiles.format": "json",
        "cloudFiles.schemaLocation": str(platform.paths.checkpoints / autoloader.schema_location_name),
        "cloudFiles.schemaHints": bronze_ingest.LANDING_DDL.replace("`", ""),
        "cloudFiles.schemaEvolutionMode": autoloader.schema_evolution_mode,
        "cloudFiles.maxFilesPerTrigger": str(autoloader.max_files_per_trigger),
        "cloudFiles.inferColumnTypes": "true",
        "cloudFiles.includeExistingFiles": "true",
        "cloudFiles.partitionColumns": "",  # the record's symbol, never the sanitised folder name
        "cloudFiles.useStrictGlobber": "true",  # '*' never crosses a '/'
        "rescuedDataColumn": "_rescued_data",
        "pathGlobFilter": "*.ndjson",
    }


def _selected_by(spark: Any, reader: RecordingStreamReader) -> set[str]:
    """The files Spark's Hadoop globber takes for the recorded path and ``pathGlobFilter``."""
    from pyspark.sql import functions as F

    frame = spark.read.format("text").option("pathGlobFilter", reader.recorded["pathGlobFilter"]).load(reader.paths[0])
    rows = frame.select(F.col("_metadata.file_path").alias("f")).distinct().collect()
    return {bronze_ingest.canonical_file(r["f"]) for r in rows}


def _sample_data_files(landing: Path) -> set[str]:
    """The sample's 8 data files, by the layout's shape: <source>/date=*/symbol=*/<name>.ndjson."""
    out = set()
    for path in landing.rglob("*.ndjson"):
        parts = path.relative_to(landing).parts
        if (
            len(parts) == 4
            and not parts[0].startswith("_")
            and parts[1].startswith("date=")
            and parts[2].startswith("symbol=")
        ):
            out.add(bronze_ingest.canonical_file(str(path)))
    return out


def test_auto_loader_reader_plan(spark: Any, tmp_path: Path, config: Any) -> None:
    landing = tmp_path / "landing"
    sample.build(landing)
    noise = _noise(landing)
    platform = Platform(config=config, lakehouse_root=tmp_path, runtime=DatabricksRuntime())
    double = SparkWithRecordingReader(spark)
    schema_location = str(platform.paths.checkpoints / "bronze_trades_schema")

    session: Any = double  # stands in for a SparkSession
    bronze = bronze_ingest.read_landing_stream(
        session, str(landing), auto_loader=True, schema_location=schema_location, max_files_per_trigger=1000
    )
    (reader,) = double.readers
    assert reader.format_name == "cloudFiles"
    assert reader.recorded == _expected_options(platform)
    assert "price double" in reader.recorded["cloudFiles.schemaHints"]
    assert "conditions array<string>" in reader.recorded["cloudFiles.schemaHints"]
    assert reader.paths == [f"{landing}/*/date=*/symbol=*"] == [bronze_ingest.landing_glob(landing)]
    assert bronze.isStreaming and bronze.columns == bronze_ingest.BRONZE_COLUMNS

    # What that plan selects on a real file system: exactly the 8 data files, none of the noise.
    selected = _selected_by(spark, reader)
    expected = _sample_data_files(landing)
    assert len(expected) == 8 and selected == expected
    assert set(bronze_ingest.list_landing_files(landing)) == expected  # the local batch listing agrees
    never = [*landing.glob("_quarantine/**/*.ndjson"), *landing.glob("_ground_truth/**/*.ndjson"), *noise]
    assert len(never) == 5 and not {bronze_ingest.canonical_file(str(p)) for p in never} & selected

    with pytest.raises(ValueError, match="schema location"):
        bronze_ingest.read_landing_stream(session, str(landing), auto_loader=True)


def test_local_listing_warns_about_files_outside_the_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sample.build(tmp_path)
    _noise(tmp_path)
    with caplog.at_level(logging.WARNING, logger="financial_transactions.pipeline.bronze_ingest"):
        files = bronze_ingest.list_landing_files(tmp_path)
    assert len(files) == 8
    assert "2 landing file(s) outside <source>/date=*/symbol=*/ are not bronze input" in caplog.text


def _databricks_like(platform: Platform, spark: Any) -> tuple[Platform, SparkWithRecordingReader]:
    """A Platform on the Databricks code path (Auto Loader), with local storage and the recording reader."""
    double = SparkWithRecordingReader(spark)
    session: Any = double
    db = Platform(
        config=platform.config, lakehouse_root=platform.lakehouse_root, runtime=DatabricksRuntime(), _spark=session
    )
    db.__dict__["store"] = LocalDeltaStore(platform.lakehouse_root)
    db.__dict__["paths"] = LakehousePaths(platform.lakehouse_root, platform.config.catalog, platform.config.schema_name)
    return db, double


def test_runner_auto_loader_mode_incremental_idempotent_and_full_refresh(platform: Platform, spark: Any) -> None:
    """``PipelineRunner`` on Databricks: Auto Loader availableNow into bronze + silver, then gold."""
    db, double = _databricks_like(platform, spark)
    sample.build(db.paths.landing)
    _noise(db.paths.landing)

    first = PipelineRunner(db).run()
    assert [r.format_name for r in double.readers] == ["cloudFiles"]
    assert double.readers[0].recorded == _expected_options(db)
    assert first.mode == "incremental" and first.files_ingested == 8
    assert first.bronze_rows_added == first.counts["bronze_trades"] == sample.BRONZE_ROWS
    assert first.counts["silver_trades"] == sample.SILVER_ROWS  # every valid trade once, identical prints kept
    assert first.gold_symbols == ["AAPL", "BTCUSDT", "MSFT", "NVDA"] and first.counts["gold_trade_features"] > 0
    bronze_files = db.store.read(db.config.table("bronze_trades"), columns=["_source_file"])["_source_file"]
    assert set(bronze_files) == {landing_key(f) for f in bronze_ingest.list_landing_files(db.paths.landing)}
    checkpoint = db.paths.checkpoints / db.config.pipeline.streaming.checkpoint_name
    assert (checkpoint / "offsets").is_dir()

    again = PipelineRunner(db).run()  # the checkpoint remembers every file: nothing is read twice
    assert again.mode == "up_to_date" and again.files_ingested == 0
    assert again.counts == first.counts

    late = sample.trade("fh-LATE", "AAPL", "2026-03-06T15:10:00", 101.25, 7.0)
    sample.write_records(db.paths.landing / "finnhub/date=2026-03-06/symbol=AAPL/runE-000001.ndjson", [late])
    more = PipelineRunner(db).run()
    assert more.mode == "incremental" and more.files_ingested == 1 and more.gold_symbols == ["AAPL"]
    assert more.counts["silver_trades"] == sample.SILVER_ROWS + 1

    full = PipelineRunner(db).run(full_refresh=True)  # checkpoint dropped, tables emptied, all files again
    assert full.mode == "full_refresh" and full.files_ingested == 9 and full.gold_symbols == ["*"]
    assert full.counts["bronze_trades"] == sample.BRONZE_ROWS + 1
    assert full.counts["silver_trades"] == sample.SILVER_ROWS + 1
    assert full.counts["gold_trade_features"] == more.counts["gold_trade_features"]
    assert all(full.versions[k] > more.versions[k] for k in ("bronze_trades", "silver_trades"))
