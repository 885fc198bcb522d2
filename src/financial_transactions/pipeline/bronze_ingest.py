"""Bronze: landing NDJSON -> raw records + file name, ingestion time and rescued data.

Crypto, equities and Alpha Vantage bars share one bronze schema (the landing
contract's fields plus ``_source_file``, ``_ingested_at`` and ``_rescued_data``).

Two readers produce that same shape:

* locally, the ``text`` source parses each line twice with ``from_json``: once into
  the typed landing schema and once into a string map, so that unknown keys and
  values of the wrong type end up in ``_rescued_data`` (what Auto Loader's
  rescued-data column does on Databricks) instead of being lost;
* on Databricks, Auto Loader (``cloudFiles``) with the same schema as hints, a
  schema location and ``rescuedDataColumn``.

Every reader takes exactly the files of the landing layout,
``<source>/date=<day>/symbol=<sym>/<name>.ndjson`` (:func:`landing_glob`), so the
collectors' ``_quarantine``, the replay's ``_ground_truth``, set-aside
``_abandoned`` attempts and in-flight ``.tmp`` files are never bronze input, on
either engine.

``_source_file`` is the file's name relative to the landing root
(:func:`~financial_transactions.ingest.landing.landing_key`), so a lakehouse moved
or restored elsewhere still knows which files it holds.

Damaged landing files (an empty file, a truncated last line, binary garbage,
invalid UTF-8, an over-long line, a file gone between listing and reading) never
stop a batch: the driver's scan (:func:`inspect_file`) finds them, their intact
lines are ingested, and each damaged line (or the file itself) becomes one bronze
row whose ``_rescued_data`` names the damage under ``_damaged``; the
``landing_line_intact`` expectation sends it to the quarantine with that reason.

Every helper is DataFrame -> DataFrame so the embedded runner, the stream
processor and the declarative pipeline file all share it.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from financial_transactions.ingest.landing import LANDING_KEY_PARTS, LANDING_SUFFIX, canonical_file, landing_key
from financial_transactions.ingest.records import MAX_RAW_CHARS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

#: The partition folders under the landing root that hold data files (the landing writer's layout).
LANDING_LAYOUT = ("*", "date=*", "symbol=*")

#: The landing contract, field by field (DDL keeps it readable and identical for every reader).
LANDING_FIELDS: tuple[tuple[str, str], ...] = (
    ("trade_id", "string"),
    ("record_type", "string"),
    ("source", "string"),
    ("symbol", "string"),
    ("price", "double"),
    ("volume", "double"),
    ("ts", "bigint"),
    ("conditions", "array<string>"),
    ("exchange_trade_id", "string"),
    ("is_buyer_maker", "boolean"),
    ("ingested_at", "bigint"),
    ("collector", "string"),
    ("collector_run", "string"),
    ("connection", "bigint"),
    ("msg_seq", "bigint"),
    ("position", "bigint"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("interval", "string"),
)
LANDING_DDL = ", ".join(f"`{name}` {typ}" for name, typ in LANDING_FIELDS)
LANDING_COLUMNS = [name for name, _ in LANDING_FIELDS]
_CORRUPT = "_corrupt_record"
METADATA_COLUMNS = ["_rescued_data", "_source_file", "_ingested_at"]
BRONZE_COLUMNS = [*LANDING_COLUMNS, *METADATA_COLUMNS]


def landing_schema() -> StructType:
    from pyspark.sql.types import StructType

    schema = StructType.fromDDL(LANDING_DDL)
    assert isinstance(schema, StructType)
    return schema


# -- file bookkeeping (local engine) -------------------------------------------
def landing_glob(landing: str | Path) -> str:
    """The path pattern of the data folders: ``<landing>/*/date=*/symbol=*``.

    The streaming readers load it (with ``pathGlobFilter`` ``*.ndjson``): the
    partition levels keep ``_quarantine/<source>/date=*`` (no ``symbol=`` level),
    ``_ground_truth/<window>`` and ``_abandoned/<window>/<attempt>/...`` (deeper)
    out by shape, whatever a file system's glob does with leading ``_``.
    """
    return "/".join([str(landing).rstrip("/"), *LANDING_LAYOUT])


def _in_layout(relative: Path) -> bool:
    parts = relative.parts
    return (
        len(parts) == len(LANDING_LAYOUT) + 1
        and all(fnmatch.fnmatchcase(part, pattern) for part, pattern in zip(parts, LANDING_LAYOUT, strict=False))
        and not any(part.startswith((".", "_")) for part in parts)
        and parts[-1].endswith(LANDING_SUFFIX)
    )


def list_landing_files(landing: Path) -> list[str]:
    """Every complete landing file in the landing layout (:func:`landing_glob`), sorted.

    The same files the streaming readers take: names starting with ``.``
    (in-flight temporary files) or ``_`` (``_quarantine``, ``_ground_truth``,
    ``_abandoned``, markers) never count. An ``.ndjson`` file elsewhere is not
    read either, and is logged as a warning, so it does not vanish unnoticed.
    """
    if not landing.is_dir():
        return []
    found: list[str] = []
    stray: list[str] = []
    for dirpath, dirnames, filenames in os.walk(landing):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in filenames:
            if not name.endswith(LANDING_SUFFIX) or name.startswith((".", "_")):
                continue
            path = os.path.join(dirpath, name)
            (found if _in_layout(Path(path).relative_to(landing)) else stray).append(path)
    if stray:
        log.warning(
            "%d landing file(s) outside <source>/date=*/symbol=*/ are not bronze input, e.g. %s", len(stray), stray[0]
        )
    return sorted(found)


def new_files(landing_files: Iterable[str], ingested_files: Iterable[str]) -> list[str]:
    """Landing files that bronze has not seen, compared by name relative to the landing root.

    Absolute names (rows written before bronze stored relative ones, or a lakehouse
    copied to another folder) compare equal to their relative form.
    """
    seen = {landing_key(f) for f in ingested_files}
    return [f for f in landing_files if landing_key(f) not in seen]


def source_key_column(path: Column) -> Column:
    """Spark's ``_metadata.file_path`` -> the landing key stored in ``_source_file``.

    The last :data:`LANDING_KEY_PARTS` path segments (every data file sits at exactly
    that depth); the partition values and file names the writers produce are path-safe,
    so no URL decoding is needed.

    ``substring_index`` scans the path once from its end; the anchored regular expression
    it replaces (``([^/]+/...)$``) was retried from every start position of every row's
    path and took a third of the bronze write's CPU time (JFR, 500k trades).
    """
    from pyspark.sql import functions as F

    return F.substring_index(path, "/", -LANDING_KEY_PARTS)


# -- damaged files -----------------------------------------------------------------
#: A landing record is well under 1 KiB; a longer line than this is damage, not data.
MAX_LINE_BYTES = 1 << 20
#: The ``_rescued_data`` key that names a damaged line's reason (the ``landing_line_intact`` rule reads it).
DAMAGED = "_damaged"


@dataclass
class Damage:
    """One damaged unit of a landing file: a line (1-based ``line``) or the whole file (``line`` None)."""

    reason: str
    line: int | None = None
    raw: str = ""

    def rescued(self) -> str:
        """The bronze ``_rescued_data`` JSON: the reason, where, and the capped raw text."""
        doc: dict[str, object] = {DAMAGED: self.reason}
        if self.line is not None:
            doc["_line"] = self.line
        if self.raw:
            doc["_corrupt_record"] = self.raw
        return orjson.dumps(doc).decode()


@dataclass
class FileScan:
    """What the driver's scan found in one landing file."""

    path: str
    drifted: bool = False  # a record has a key outside the landing schema
    records: int = 0  # non-blank lines
    damage: list[Damage] = field(default_factory=list)
    intact: list[str] = field(default_factory=list)  # the intact lines, kept only when the file is damaged


def _raw(line: bytes) -> str:
    return line[:MAX_RAW_CHARS].decode("utf-8", "backslashreplace")


def _parse_line(line: bytes, *, last: bool) -> tuple[dict[str, object] | None, str | None]:
    """``(record, None)`` for a JSON object, else ``(None, why the line is not a landing record)``."""
    if len(line) > MAX_LINE_BYTES:
        return None, f"line of {len(line):,} bytes exceeds the {MAX_LINE_BYTES:,}-byte limit"
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"invalid UTF-8 at byte {exc.start}"
        if last:
            return None, "truncated last line (no newline, not complete JSON): the file was cut"
        return None, "not JSON"
    if type(record) is not dict:
        return None, f"not a JSON object ({type(record).__name__})"
    return record, None


def inspect_file(path: str) -> FileScan:
    """Read one landing file once (bytes) and classify it: clean, drifted, or damaged.

    The file is read whole with one ``open``: renaming it afterwards cannot tear the
    read, and a file already gone is reported, not raised. Blank lines are skipped; a
    last line without its newline is kept when it is complete JSON.
    """
    scan = FileScan(path)
    try:
        with open(canonical_file(path), "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        scan.damage.append(Damage("file vanished between listing and reading (renamed or deleted)"))
        return scan
    except OSError as exc:
        scan.damage.append(Damage(f"unreadable file: {type(exc).__name__}: {exc.strerror or exc}"))
        return scan
    known = frozenset(LANDING_COLUMNS)
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with its newline
    intact: list[bytes] = []
    records = 0
    for number, line in enumerate([*lines, tail] if tail else lines, 1):
        if not line.strip():
            continue
        records += 1
        record, reason = _parse_line(line, last=bool(tail) and number == len(lines) + 1)
        if record is None:
            scan.damage.append(Damage(reason or "not JSON", number, _raw(line)))
            continue
        intact.append(line)
        if not scan.drifted and not known.issuperset(record):
            scan.drifted = True
    scan.records = records
    if records == 0:
        scan.damage.append(Damage(f"empty file ({len(data)} bytes, no record)"))
    if scan.damage:
        scan.intact = [line.decode("utf-8") for line in intact]
    return scan


# -- parsing ---------------------------------------------------------------------
def _rescued_column(parsed: Column, as_map: Column, raw: Column) -> Column:
    """JSON of the fields that did not fit: unknown keys and values of the wrong type.

    A line that is not a JSON object at all is kept whole under ``_corrupt_record``.
    """
    from pyspark.sql import functions as F

    known = F.array(*[F.lit(c) for c in LANDING_COLUMNS])
    unknown = F.map_filter(as_map, lambda k, _v: ~F.array_contains(known, k))
    mistyped = [
        F.when(
            as_map.getItem(name).isNotNull() & parsed.getField(name).isNull(),
            F.create_map(F.lit(name), as_map.getItem(name)),
        ).otherwise(F.create_map().cast("map<string,string>"))
        for name in LANDING_COLUMNS
    ]
    rescued = F.map_concat(unknown, *mistyped)
    return (
        F.when(as_map.isNull(), F.to_json(F.create_map(F.lit("_corrupt_record"), raw)))
        .when(F.size(rescued) > 0, F.to_json(rescued))
        .otherwise(F.lit(None).cast("string"))
    )


def parse_landing_lines(lines: DataFrame, ingested_at: datetime | None = None) -> DataFrame:
    """``(value, _source_file)`` text lines -> bronze rows.

    ``ingested_at`` pins ``_ingested_at`` to one value for the whole batch (the
    runner uses its run timestamp as a watermark); ``None`` uses the query time,
    which a streaming micro-batch keeps stable across a restart of that batch.
    """
    from pyspark.sql import functions as F

    non_blank = lines.where(F.length(F.trim(F.col("value"))) > 0)
    parsed = non_blank.select(
        F.col("value"),
        F.col("_source_file"),
        F.from_json(
            F.col("value"), f"{LANDING_DDL}, `{_CORRUPT}` string", {"columnNameOfCorruptRecord": _CORRUPT}
        ).alias("p"),
        F.json_object_keys(F.col("value")).alias("k"),
    )
    # The string-map parse that builds the rescued JSON is the expensive part: only rows
    # with a type mismatch (the parser flags them), unknown keys or no JSON object pay it.
    known = F.array(*[F.lit(c) for c in LANDING_COLUMNS])
    suspicious = (
        F.col("p").getField(_CORRUPT).isNotNull()
        | F.col("k").isNull()
        | (F.size(F.array_except(F.col("k"), known)) > 0)
    )
    as_map = F.from_json(F.col("value"), "map<string,string>")
    stamp = F.lit(ingested_at).cast("timestamp") if ingested_at is not None else F.current_timestamp()
    return parsed.select(
        *[F.col("p").getField(name).alias(name) for name in LANDING_COLUMNS],
        F.when(suspicious, _rescued_column(F.col("p"), as_map, F.col("value"))).alias("_rescued_data"),
        F.col("_source_file"),
        stamp.alias("_ingested_at"),
    )


def _parse_json_files(spark: SparkSession, files: Sequence[str], ingested_at: datetime | None) -> DataFrame:
    """Spark's JSON reader (PERMISSIVE): a line with a mistyped value or no JSON at all keeps
    its parsable fields and lands whole in ``_corrupt_record``, from which the rescued JSON
    is built; every other line never pays for it."""
    from pyspark.sql import functions as F

    raw = (
        spark.read.format("json")
        .schema(f"{LANDING_DDL}, `{_CORRUPT}` string")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .option("ignoreMissingFiles", "true")  # renamed after the scan: not remembered, listed again next run
        .load(list(files))
    )
    parsed = F.struct(*[F.col(c) for c in LANDING_COLUMNS])
    as_map = F.from_json(F.col(_CORRUPT), "map<string,string>")
    stamp = F.lit(ingested_at).cast("timestamp") if ingested_at is not None else F.current_timestamp()
    return raw.select(
        *[F.col(c) for c in LANDING_COLUMNS],
        F.when(F.col(_CORRUPT).isNotNull(), _rescued_column(parsed, as_map, F.col(_CORRUPT))).alias("_rescued_data"),
        source_key_column(F.col("_metadata.file_path")).alias("_source_file"),
        stamp.alias("_ingested_at"),
    )


def _damaged_rows(spark: SparkSession, damaged: Sequence[FileScan], ingested_at: datetime | None) -> list[DataFrame]:
    """Bronze rows of damaged files, built from the bytes the scan already read (never re-read).

    Intact lines go through the line parser; every damaged line, or the file itself when
    nothing of it could be read, becomes one row with null landing fields and the damage in
    ``_rescued_data``, so the file is remembered and its damage reaches the quarantine.
    """
    from pyspark.sql import functions as F

    parts: list[DataFrame] = []
    intact = [(line, landing_key(scan.path)) for scan in damaged for line in scan.intact]
    if intact:
        lines = spark.createDataFrame(intact, "value string, _source_file string NOT NULL")
        parts.append(parse_landing_lines(lines, ingested_at))
    rows = [(d.rescued(), landing_key(scan.path)) for scan in damaged for d in scan.damage]
    stamp = F.lit(ingested_at).cast("timestamp") if ingested_at is not None else F.current_timestamp()
    broken = spark.createDataFrame(rows, "_rescued_data string, _source_file string NOT NULL")
    parts.append(
        broken.select(
            *[F.lit(None).cast(typ).alias(name) for name, typ in LANDING_FIELDS],
            F.col("_rescued_data"),
            F.col("_source_file"),
            stamp.alias("_ingested_at"),
        )
    )
    return parts


def scan_files(files: Sequence[str]) -> list[FileScan]:
    """:func:`inspect_file` for every file (driver side, one read each)."""
    return [inspect_file(f) for f in files]


def read_landing_batch(
    spark: SparkSession,
    files: Sequence[str],
    ingested_at: datetime | None = None,
    *,
    scans: Sequence[FileScan] | None = None,
) -> DataFrame:
    """Read exactly ``files`` (the runner's not-yet-ingested list) as bronze rows.

    The driver scans every file once with orjson (about 1 µs a line, a fifth of what
    tokenising the lines with Spark cost on ``local[2]``) and sorts them: clean files go
    through Spark's JSON reader (the fast path); files with unknown keys (schema drift)
    through the line parser that puts those keys in ``_rescued_data``; damaged files
    (:func:`inspect_file`) are built from the scanned bytes (:func:`_damaged_rows`). All
    give the same columns and rescue rules, and a damaged file never fails the batch.
    ``scans`` are :func:`scan_files` of ``files`` when the caller has them already.
    """

    if not files:
        raise ValueError("read_landing_batch needs at least one file")
    if scans is not None:
        return _read_scanned(spark, list(scans), ingested_at)
    # The scan (driver, Python) and the reader's planning (JVM: a path check per file, about
    # a second for a few hundred files) overlap; the plan is rebuilt only when the scan finds
    # drift or damage (a file gone since listing also fails the first plan).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-scan") as pool:
        scanning = pool.submit(scan_files, files)
        try:
            every_file: DataFrame | None = _parse_json_files(spark, files, ingested_at)
        except Exception as exc:  # AnalysisException (PATH_NOT_FOUND): replanned below from the scan
            log.info("landing batch replanned after the scan: %s", str(exc).splitlines()[0] if str(exc) else exc)
            every_file = None
        scans = scanning.result()
    if every_file is not None and not any(s.damage or s.drifted for s in scans):
        return every_file
    return _read_scanned(spark, scans, ingested_at)


def _read_scanned(spark: SparkSession, scans: list[FileScan], ingested_at: datetime | None) -> DataFrame:
    """:func:`read_landing_batch` once the scan has sorted the files: clean, drifted, damaged."""
    from pyspark.sql import functions as F

    damaged = [s for s in scans if s.damage]
    drifted = [s.path for s in scans if s.drifted and not s.damage]
    regular = [s.path for s in scans if not s.drifted and not s.damage]
    parts: list[DataFrame] = []
    if regular:
        parts.append(_parse_json_files(spark, regular, ingested_at))
    if drifted:
        lines = (
            spark.read.format("text")
            .option("ignoreMissingFiles", "true")
            .load(drifted)
            .select(F.col("value"), source_key_column(F.col("_metadata.file_path")).alias("_source_file"))
        )
        parts.append(parse_landing_lines(lines, ingested_at))
    if damaged:
        for scan in damaged:
            log.warning(
                "damaged landing file %s: %d damaged unit(s), e.g. %s; quarantined, %d intact line(s) kept",
                landing_key(scan.path), len(scan.damage), scan.damage[0].reason, len(scan.intact),
            )  # fmt: skip
        parts.extend(_damaged_rows(spark, damaged, ingested_at))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


#: Arrow types of the landing contract's DDL types (:data:`LANDING_FIELDS`).
_ARROW_TYPES = {"string": "string", "double": "float64", "bigint": "int64", "boolean": "bool"}


def landing_arrow_schema() -> pa.Schema:
    """The landing contract as an Arrow schema (the explicit schema of :func:`read_landing_arrow`)."""
    import pyarrow as pa

    def arrow(typ: str) -> pa.DataType:
        if typ == "array<string>":
            return pa.list_(pa.string())
        return pa.type_for_alias(_ARROW_TYPES[typ])

    return pa.schema([pa.field(name, arrow(typ)) for name, typ in LANDING_FIELDS])


def read_landing_arrow(scans: Sequence[FileScan], ingested_at: datetime) -> pa.Table | None:
    """Bronze rows of clean landing files through Arrow's JSON reader, or None: use Spark's.

    The embedded runner's fast path (no JVM work, about a tenth of the CPU time of Spark's
    JSON reader and Parquet writer on 500k trades). It takes only batches whose every file
    the scan (:func:`inspect_file`) found clean, with no unknown key, and it is strict where
    Spark's PERMISSIVE reader rescues: a value of the wrong type (a string price, a float
    timestamp), a file gone since the scan, or a row count other than the scan's makes it
    return None, and the caller reads the batch with :func:`read_landing_batch`, whose rules
    decide. So both give the same rows: the landing fields, ``_rescued_data`` null,
    ``_source_file`` the landing key and ``_ingested_at`` the batch stamp.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    if not scans or any(s.damage or s.drifted for s in scans):
        return None
    parse = pj.ParseOptions(explicit_schema=landing_arrow_schema(), unexpected_field_behavior="error")
    stamp = pa.scalar(ingested_at, pa.timestamp("us", tz="UTC"))
    tables = []
    for scan in scans:
        try:
            size = os.path.getsize(canonical_file(scan.path))
            # a block holds whole lines: one as long as the file (a line is at most MAX_LINE_BYTES)
            read = pj.ReadOptions(block_size=max(1 << 20, min(size + 1, 4 * MAX_LINE_BYTES)))
            table = pj.read_json(canonical_file(scan.path), read_options=read, parse_options=parse)
        except (OSError, pa.ArrowException) as exc:
            log.info("landing batch read by Spark: Arrow refused %s: %s", landing_key(scan.path), exc)
            return None
        if table.num_rows != scan.records:
            log.info("landing batch read by Spark: %s has %d record(s), Arrow read %d",
                     landing_key(scan.path), scan.records, table.num_rows)  # fmt: skip
            return None
        rows = table.num_rows
        tables.append(
            table.append_column("_rescued_data", pa.nulls(rows, pa.string()))
            .append_column("_source_file", pa.repeat(pa.scalar(landing_key(scan.path), pa.string()), rows))
            .append_column("_ingested_at", pa.repeat(stamp, rows))
        )
    out = pa.concat_tables(tables)
    # the nullability Spark's reader declares (and bronze's Delta schema records): never-null metadata
    fields = [f.with_nullable(f.name not in ("_source_file", "_ingested_at")) for f in out.schema]
    return out.cast(pa.schema(fields))


def read_landing_stream(
    spark: SparkSession,
    landing: str,
    *,
    max_files_per_trigger: int = 1000,
    auto_loader: bool = False,
    schema_location: str | None = None,
    schema_evolution_mode: str = "rescue",
) -> DataFrame:
    """A streaming DataFrame of bronze rows from the landing zone's data folders.

    Both readers load :func:`landing_glob` with ``pathGlobFilter`` ``*.ndjson``.
    ``auto_loader=True`` (Databricks) uses ``cloudFiles`` with the landing schema
    as hints, a schema location, ``rescuedDataColumn``, the strict globber (``*``
    never crosses a ``/``) and no partition columns (the path's ``symbol=`` is a
    sanitised folder name; the record's own ``symbol`` must win). Otherwise Spark's
    file source. Either way the checkpoint remembers which files were read.
    """
    from pyspark.sql import functions as F

    source_glob = landing_glob(landing)
    if auto_loader:
        if not schema_location:
            raise ValueError("Auto Loader needs a schema location")
        raw = (
            spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            .option("cloudFiles.schemaLocation", schema_location)
            .option("cloudFiles.schemaHints", LANDING_DDL.replace("`", ""))
            .option("cloudFiles.schemaEvolutionMode", schema_evolution_mode)
            .option("cloudFiles.maxFilesPerTrigger", str(max_files_per_trigger))
            .option("cloudFiles.inferColumnTypes", "true")
            .option("cloudFiles.includeExistingFiles", "true")
            .option("cloudFiles.partitionColumns", "")
            .option("cloudFiles.useStrictGlobber", "true")
            .option("rescuedDataColumn", "_rescued_data")
            .option("pathGlobFilter", f"*{LANDING_SUFFIX}")
            .load(source_glob)
        )
        # Hinted columns exist even before a file carries them, so no schema analysis is
        # needed here (a declarative query function must not trigger one).
        return raw.select(
            *[F.col(name).cast(typ).alias(name) for name, typ in LANDING_FIELDS],
            F.col("_rescued_data"),
            source_key_column(F.col("_metadata.file_path")).alias("_source_file"),
            F.current_timestamp().alias("_ingested_at"),
        )
    lines = (
        spark.readStream.format("text")
        .option("pathGlobFilter", f"*{LANDING_SUFFIX}")
        .option("maxFilesPerTrigger", str(max_files_per_trigger))
        .load(source_glob)
        .select(F.col("value"), source_key_column(F.col("_metadata.file_path")).alias("_source_file"))
    )
    return parse_landing_lines(lines)
