"""One Delta table interface, two engines.

Tables are addressed by their Unity Catalog three-part name
(``mlops_dev.financial_transactions.silver_trades``, from ``cfg.table(key)``).

* :class:`LocalDeltaStore` keeps real Delta tables under
  ``<root>/<catalog>/<schema>/<table>`` through ``deltalake`` (delta-rs): no JVM
  jars are needed, so it works where Maven is unreachable, and the files are
  ordinary Delta that Spark/Databricks can read.
* :class:`SparkDeltaStore` runs the same operations as Spark SQL against
  native Delta in Unity Catalog on a Databricks runtime.

Both speak pandas and Arrow on the Python side and Spark DataFrames on the
engine side, always column-wise (Arrow / Parquet), never row by row.
"""

from __future__ import annotations

import abc
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pandas as pd
import pyarrow as pa

from financial_transactions.lakehouse.errors import (
    ConcurrentModification,
    ConstraintViolation,
    LakehouseError,
    SchemaMismatch,
    TableNotFound,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

TableData: TypeAlias = "pd.DataFrame | pa.Table"
_FQN = re.compile(r"^[A-Za-z_][\w]*\.[A-Za-z_][\w]*\.[A-Za-z_][\w]*$")


@dataclass(frozen=True)
class MergeResult:
    version: int
    inserted: int
    updated: int


def split_fqn(fqn: str) -> tuple[str, str, str]:
    """``catalog.schema.table`` -> its three parts; anything else is a clear error."""
    if not _FQN.match(fqn):
        raise LakehouseError(f"table name {fqn!r} is not a three-part catalog.schema.table name")
    catalog, schema, table = fqn.split(".")
    return catalog, schema, table


def to_arrow(data: TableData) -> pa.Table:
    """pandas/Arrow -> Arrow with Delta-compatible types (UTC microsecond timestamps)."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    return normalize_arrow(table)


def normalize_arrow(table: pa.Table) -> pa.Table:
    """Delta stores timestamps as microseconds; tz-naive values are taken as UTC."""
    fields = []
    changed = False
    for field in table.schema:
        typ = field.type
        if pa.types.is_timestamp(typ) and (typ.unit != "us" or typ.tz not in ("UTC", "+00:00")):
            typ = pa.timestamp("us", tz="UTC")
            changed = True
        elif pa.types.is_large_string(typ) or pa.types.is_string_view(typ) or pa.types.is_null(typ):
            typ = pa.string()
            changed = True
        fields.append(pa.field(field.name, typ, nullable=True))
    if not changed:
        return table
    return table.cast(pa.schema(fields), safe=False)


class DeltaStore(abc.ABC):
    """The table operations the platform needs, identical on every engine."""

    @abc.abstractmethod
    def exists(self, fqn: str) -> bool: ...

    @abc.abstractmethod
    def version(self, fqn: str) -> int: ...

    @abc.abstractmethod
    def append(self, fqn: str, data: TableData, *, schema_mode: Literal["merge", "strict"] = "merge") -> int: ...

    @abc.abstractmethod
    def overwrite(self, fqn: str, data: TableData) -> int: ...

    @abc.abstractmethod
    def merge(self, fqn: str, data: TableData, keys: Sequence[str], *, update: bool = True) -> MergeResult: ...

    @abc.abstractmethod
    def append_if_version(self, fqn: str, data: TableData, expected_version: int, keys: Sequence[str]) -> int:
        """Insert ``data`` only if nobody committed after ``expected_version``.

        ``keys`` identify rows (e.g. an event id; rows whose key is already
        there are not inserted again). The check and the insert are one
        transaction that reads the table, so a commit by anyone after
        ``expected_version`` makes it fail with :class:`ConcurrentModification`
        instead of silently interleaving; the caller re-reads and decides again.
        """

    @abc.abstractmethod
    def read_arrow(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        since: tuple[str, datetime] | None = None,
    ) -> pa.Table:
        """``since=(column, instant)``: only rows with ``column >= instant`` (files and row groups wholly
        before it are skipped by their statistics, so a recent tail of a long table is cheap)."""

    def read(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        since: tuple[str, datetime] | None = None,
    ) -> pd.DataFrame:
        """Latest state, or a time-travel read by version or timestamp, as pandas."""
        table = self.read_arrow(fqn, version=version, timestamp=timestamp, columns=columns, since=since)
        return table.to_pandas(types_mapper=None)

    @abc.abstractmethod
    def count(self, fqn: str, version: int | None = None) -> int: ...

    @abc.abstractmethod
    def history(self, fqn: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def restore(self, fqn: str, version: int) -> int: ...

    @abc.abstractmethod
    def add_constraint(self, fqn: str, name: str, expression: str) -> None: ...

    @abc.abstractmethod
    def constraints(self, fqn: str) -> dict[str, str]: ...

    @abc.abstractmethod
    def list_tables(self, catalog: str, schema: str) -> list[str]: ...

    @abc.abstractmethod
    def create_table(self, fqn: str, schema: pa.Schema, *, properties: Mapping[str, str] | None = None) -> int:
        """Create ``fqn`` empty with ``schema`` and table ``properties`` unless it exists; its version.

        How job-owned tables come to exist with their properties (change data feed,
        isolation level) before the first write, like ``setup_uc_infrastructure.sql``.
        """

    @abc.abstractmethod
    def properties(self, fqn: str) -> dict[str, str]:
        """The table properties (``delta.*`` configuration) of the latest version."""

    @abc.abstractmethod
    def set_properties(self, fqn: str, properties: Mapping[str, str]) -> int:
        """``ALTER TABLE ... SET TBLPROPERTIES``; the new version."""

    @abc.abstractmethod
    def changes(self, fqn: str, start_version: int, end_version: int | None = None) -> pa.Table:
        """The change data feed between two versions (inclusive), oldest first.

        The table's columns plus ``_change_type`` (``insert``, ``update_preimage``,
        ``update_postimage``, ``delete``), ``_commit_version`` and ``_commit_timestamp``;
        the table needs ``delta.enableChangeDataFeed = true`` from ``start_version`` on.
        """

    @abc.abstractmethod
    def to_spark(
        self, fqn: str, spark: SparkSession, *, version: int | None = None, timestamp: datetime | str | None = None
    ) -> SparkDataFrame: ...

    @abc.abstractmethod
    def write_spark(self, fqn: str, sdf: SparkDataFrame, mode: Literal["append", "overwrite"] = "append") -> int: ...

    @abc.abstractmethod
    def merge_spark(
        self, fqn: str, sdf: SparkDataFrame, keys: Sequence[str], *, update: bool = True
    ) -> MergeResult: ...


def _parse_ts(ts: datetime | str) -> datetime:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts


#: Rows per Parquet row group of a delta-rs write (the unit a Spark read splits a file by).
ROW_GROUP_ROWS = 1 << 17


def _merge_predicate(keys: Sequence[str]) -> str:
    if not keys:
        raise LakehouseError("merge needs at least one key column")
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)


def _dataset(dt: Any, root: Path) -> Any:
    """A pyarrow dataset over a local Delta table, read through Arrow's native file system.

    deltalake's default wraps a Python file handler, so Arrow's I/O threads call back into
    Python; one still prefetching as the interpreter exits is killed taking the GIL and the
    process aborts ("terminate called without an active exception", exit -6) after its work
    is done (apache/arrow#39862). The native file system never enters Python.
    """
    import pyarrow.fs as pa_fs

    return dt.to_pyarrow_dataset(filesystem=pa_fs.SubTreeFileSystem(str(root), pa_fs.LocalFileSystem()))


class LocalDeltaStore(DeltaStore):
    """Real Delta tables on the local filesystem through delta-rs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    # -- locations -------------------------------------------------------------
    def path(self, fqn: str) -> Path:
        catalog, schema, table = split_fqn(fqn)
        return self.root / catalog / schema / table

    def _table(self, fqn: str, version: int | None = None):  # type: ignore[no-untyped-def]
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            dt = DeltaTable(str(self.path(fqn)))
            if version is not None:
                if version < 0 or version > dt.version():
                    raise TableNotFound(f"{fqn}: version {version} does not exist (latest is {dt.version()})")
                dt.load_as_version(version)
            return dt
        except TableNotFoundError as exc:
            raise TableNotFound(f"table {fqn} does not exist (looked in {self.path(fqn)})") from exc

    def exists(self, fqn: str) -> bool:
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(str(self.path(fqn))))

    def version(self, fqn: str) -> int:
        return int(self._table(fqn).version())

    # -- writes ----------------------------------------------------------------
    def _write(self, fqn: str, table: pa.Table, mode: Literal["append", "overwrite"], schema_mode: str | None) -> int:
        from deltalake import WriterProperties, write_deltalake

        path = self.path(fqn)
        path.parent.mkdir(parents=True, exist_ok=True)
        # row groups Spark can split: one 500k-row group was one task, half of local[2] idle
        props = WriterProperties(max_row_group_size=ROW_GROUP_ROWS)
        try:
            write_deltalake(str(path), table, mode=mode, schema_mode=schema_mode, writer_properties=props)  # type: ignore[arg-type]
        except Exception as exc:  # delta-rs raises several exception types; classify by message
            error = _classify(fqn, exc)
            if isinstance(error, ConstraintViolation):
                error = ConstraintViolation(self._explain_violation(fqn, table))
            raise error from exc
        return self.version(fqn)

    def _explain_violation(self, fqn: str, table: pa.Table) -> str:
        """Name every CHECK constraint the rejected batch breaks, with a row count.

        delta-rs reports only that *some* rows failed; evaluating each
        constraint over the batch (a scratch Delta table + DataFusion SQL)
        tells the user which rule to look at. Runs on the error path only.
        """
        import tempfile

        from deltalake import DeltaTable, QueryBuilder, write_deltalake

        broken = []
        with tempfile.TemporaryDirectory() as tmp:
            write_deltalake(tmp, table)
            qb = QueryBuilder().register("batch", DeltaTable(tmp))
            for name, expr in self.constraints(fqn).items():
                rows = qb.execute(f"SELECT count(*) AS n FROM batch WHERE NOT ({expr})").read_all()
                n = int(rows.column(0)[0].as_py())
                if n:
                    broken.append(f"{name} ({expr}): {n} row(s)")
        detail = "; ".join(broken) or "a CHECK constraint"
        return f"{fqn}: write rejected, nothing committed; violated constraint {detail}"

    def append(self, fqn: str, data: TableData, *, schema_mode: Literal["merge", "strict"] = "merge") -> int:
        return self._write(fqn, to_arrow(data), "append", "merge" if schema_mode == "merge" else None)

    def overwrite(self, fqn: str, data: TableData) -> int:
        return self._write(fqn, to_arrow(data), "overwrite", "overwrite")

    def merge(self, fqn: str, data: TableData, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        source = to_arrow(data)
        if not self.exists(fqn):
            version = self._write(fqn, source, "append", None)
            return MergeResult(version, source.num_rows, 0)
        return self._merge(fqn, self._table(fqn), source, keys, update=update)

    def _merge(self, fqn: str, dt: Any, source: pa.Table, keys: Sequence[str], *, update: bool) -> MergeResult:
        try:
            builder = dt.merge(
                source,
                predicate=_merge_predicate(keys),
                source_alias="s",
                target_alias="t",
                merge_schema=True,
            )
            if update:
                builder = builder.when_matched_update_all()
            metrics = builder.when_not_matched_insert_all().execute()
        except Exception as exc:
            error = _classify(fqn, exc)
            if isinstance(error, ConstraintViolation):
                error = ConstraintViolation(self._explain_violation(fqn, source))
            raise error from exc
        return MergeResult(
            version=self.version(fqn),
            inserted=int(metrics.get("num_target_rows_inserted", 0)),
            updated=int(metrics.get("num_target_rows_updated", 0)),
        )

    def append_if_version(self, fqn: str, data: TableData, expected_version: int, keys: Sequence[str]) -> int:
        source = to_arrow(data)
        if not self.exists(fqn):
            if expected_version != -1:
                raise ConcurrentModification(f"{fqn}: expected version {expected_version} but the table does not exist")
            # Two racing creators must not both win: delta-rs would rebase the
            # loser's create into an append. Create an empty table first, then
            # insert conditionally on it, so exactly one racer's rows land.
            from deltalake import DeltaTable

            self.path(fqn).parent.mkdir(parents=True, exist_ok=True)
            try:
                DeltaTable.create(str(self.path(fqn)), source.schema, mode="ignore")
            except Exception as exc:
                if not self.exists(fqn):
                    raise _classify(fqn, exc) from exc
            # Racing creates can leave more than one metadata commit; what
            # matters is that no rows exist yet at the version we insert on.
            current = self.version(fqn)
            if self.count(fqn, current):
                raise ConcurrentModification(f"{fqn}: expected no table, another writer created and filled it first")
            return self.append_if_version(fqn, source, current, keys)
        current = self.version(fqn)
        if current != expected_version:
            raise ConcurrentModification(f"{fqn}: expected version {expected_version}, table is at {current}")
        return self._merge(fqn, self._table(fqn, expected_version), source, keys, update=False).version

    # -- reads -----------------------------------------------------------------
    def read_arrow(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        since: tuple[str, datetime] | None = None,
    ) -> pa.Table:
        dt = self._table(fqn, version)
        if timestamp is not None:
            when = _parse_ts(timestamp)
            first = self.history(fqn)[-1]["timestamp"]
            if when < first:
                raise TableNotFound(
                    f"{fqn}: no version exists as of {when.isoformat()} (first commit {first.isoformat()})"
                )
            dt.load_as_version(when)
        import pyarrow.dataset as pa_ds

        wanted = list(columns) if columns is not None else None
        rows = None if since is None else pa_ds.field(since[0]) >= pa.scalar(since[1])
        return _dataset(dt, self.path(fqn)).to_table(columns=wanted, filter=rows)

    def count(self, fqn: str, version: int | None = None) -> int:
        return int(_dataset(self._table(fqn, version), self.path(fqn)).count_rows())

    def history(self, fqn: str) -> list[dict[str, Any]]:
        """Newest first: version, timestamp (UTC datetime), operation, parameters, metrics."""
        out = []
        for entry in self._table(fqn).history():
            ts = entry.get("timestamp")
            out.append(
                {
                    "version": int(entry.get("version", 0)),
                    "timestamp": datetime.fromtimestamp(ts / 1000, tz=UTC) if ts else None,
                    "operation": entry.get("operation"),
                    "parameters": entry.get("operationParameters", {}),
                    "metrics": entry.get("operationMetrics", {}),
                }
            )
        return sorted(out, key=lambda e: e["version"], reverse=True)

    def restore(self, fqn: str, version: int) -> int:
        dt = self._table(fqn)
        if version < 0 or version > dt.version():
            raise TableNotFound(f"{fqn}: cannot restore to version {version} (latest is {dt.version()})")
        try:
            dt.restore(version)
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def add_constraint(self, fqn: str, name: str, expression: str) -> None:
        dt = self._table(fqn)
        if self.constraints(fqn).get(name) == expression:
            return
        try:
            dt.alter.add_constraint({name: expression})
        except Exception as exc:
            raise ConstraintViolation(f"{fqn}: cannot add constraint {name!r} ({expression}): {exc}") from exc

    def constraints(self, fqn: str) -> dict[str, str]:
        conf = self._table(fqn).metadata().configuration
        prefix = "delta.constraints."
        return {k[len(prefix) :]: v for k, v in conf.items() if k.startswith(prefix) and v is not None}

    def list_tables(self, catalog: str, schema: str) -> list[str]:
        base = self.root / catalog / schema
        if not base.is_dir():
            return []
        return sorted(f"{catalog}.{schema}.{p.name}" for p in base.iterdir() if (p / "_delta_log").is_dir())

    def create_table(self, fqn: str, schema: pa.Schema, *, properties: Mapping[str, str] | None = None) -> int:
        from deltalake import DeltaTable

        path = self.path(fqn)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            DeltaTable.create(
                str(path), normalize_arrow(schema.empty_table()).schema, mode="ignore", configuration=properties
            )
        except Exception as exc:
            if not self.exists(fqn):  # a racing creator winning is fine
                raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def properties(self, fqn: str) -> dict[str, str]:
        conf = self._table(fqn).metadata().configuration
        return {k: v for k, v in conf.items() if v is not None}

    def set_properties(self, fqn: str, properties: Mapping[str, str]) -> int:
        try:
            self._table(fqn).alter.set_table_properties(dict(properties))
        except LakehouseError:
            raise
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def changes(self, fqn: str, start_version: int, end_version: int | None = None) -> pa.Table:
        try:
            reader = self._table(fqn).load_cdf(starting_version=start_version, ending_version=end_version)
            table = pa.RecordBatchReader.from_stream(reader).read_all()
        except LakehouseError:
            raise
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return _order_changes(normalize_arrow(table))

    # -- Spark -----------------------------------------------------------------
    def to_spark(
        self, fqn: str, spark: SparkSession, *, version: int | None = None, timestamp: datetime | str | None = None
    ) -> SparkDataFrame:
        """Let Spark read the snapshot's Parquet files directly (distributed, no Python rows).

        The snapshot's file list pins the version; passing the table schema
        explicitly skips footer inference and fills columns that older files
        (written before a schema evolution) lack with nulls.
        """
        from pyspark.sql.pandas.types import from_arrow_schema

        dt = self._table(fqn, version)
        if timestamp is not None:
            dt.load_as_version(_parse_ts(timestamp))
        arrow_schema = normalize_arrow(pa.schema(dt.schema().to_arrow()).empty_table()).schema  # type: ignore[call-overload]
        files = dt.file_uris()
        if not files:
            return spark.createDataFrame(arrow_schema.empty_table())
        return spark.read.schema(from_arrow_schema(arrow_schema, prefer_timestamp_ntz=False)).parquet(*files)

    def write_spark(self, fqn: str, sdf: SparkDataFrame, mode: Literal["append", "overwrite"] = "append") -> int:
        """Spark writes Parquet in parallel into the table folder; delta-rs commits the files.

        Falls back to Arrow batches through delta-rs when the commit would
        need delta-rs to check something per row (CHECK constraints) or to
        evolve the schema, so both paths enforce exactly the same rules.
        """
        schema = normalize_arrow(pa.schema(_spark_arrow_schema(sdf)).empty_table()).schema
        if self.exists(fqn) and (self.constraints(fqn) or (mode == "append" and not self._same_schema(fqn, schema))):
            table = sdf.toArrow()
            return self.append(fqn, table) if mode == "append" else self.overwrite(fqn, table)
        return self._commit_spark_files(fqn, sdf, schema, mode)

    def _same_schema(self, fqn: str, schema: pa.Schema) -> bool:
        current = normalize_arrow(pa.schema(self._table(fqn).schema().to_arrow()).empty_table()).schema  # type: ignore[call-overload]
        return bool(current.equals(schema))

    def _commit_spark_files(
        self, fqn: str, sdf: SparkDataFrame, schema: pa.Schema, mode: Literal["append", "overwrite"]
    ) -> int:
        import os
        import uuid

        import pyarrow.parquet as pq
        from deltalake import Schema as DeltaSchema
        from deltalake.transaction import AddAction, create_table_with_add_actions

        path = self.path(fqn)
        staging = path / f"spark-{uuid.uuid4().hex[:12]}"
        spark = sdf.sparkSession
        previous = spark.conf.get("spark.sql.parquet.outputTimestampType", None)
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        try:
            sdf.write.mode("overwrite").parquet(str(staging))
        finally:
            if previous is not None:
                spark.conf.set("spark.sql.parquet.outputTimestampType", previous)
        actions = []
        for file in sorted(staging.glob("*.parquet")):
            meta = pq.read_metadata(file)
            actions.append(
                AddAction(
                    path=str(file.relative_to(path)),
                    size=file.stat().st_size,
                    partition_values={},
                    modification_time=int(os.path.getmtime(file) * 1000),
                    data_change=True,
                    stats=f'{{"numRecords": {meta.num_rows}}}',
                )
            )
        try:
            if self.exists(fqn):
                self._table(fqn).create_write_transaction(actions, mode=mode, schema=DeltaSchema.from_arrow(schema))
            else:
                create_table_with_add_actions(str(path), DeltaSchema.from_arrow(schema), actions, mode="error")
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def merge_spark(self, fqn: str, sdf: SparkDataFrame, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        return self.merge(fqn, sdf.toArrow(), keys, update=update)


def _order_changes(table: pa.Table) -> pa.Table:
    """Change rows by commit version, pre-images before post-images: one order for both engines."""
    rank = {"delete": 0, "update_preimage": 1, "update_postimage": 2, "insert": 3}
    ranks = pa.array([rank.get(c, 4) for c in table.column("_change_type").to_pylist()], pa.int8())
    keyed = table.append_column("_rank", ranks)
    ordered = keyed.sort_by([("_commit_version", "ascending"), ("_rank", "ascending")]).drop_columns(["_rank"])
    index = ordered.schema.get_field_index("_commit_version")
    return ordered.set_column(index, "_commit_version", ordered.column(index).cast(pa.int64()))


def _spark_arrow_schema(sdf: SparkDataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(sdf.schema, timezone="UTC")


def _conditional_insert(target: str, view: str, columns: Sequence[str], keys: Sequence[str], rows: int) -> str:
    """The INSERT of :meth:`SparkDeltaStore.append_if_version`: lands only if ``target`` still has ``rows`` rows."""
    names = ", ".join(f"`{c}`" for c in columns)
    values = ", ".join(f"s.`{c}`" for c in columns)
    return (
        f"INSERT INTO {target} ({names}) SELECT {values} FROM {view} s "
        f"WHERE (SELECT count(*) FROM {target}) = {int(rows)} "
        f"AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {_merge_predicate(keys)})"
    )


#: Delta's commit-conflict errors (class names and Databricks error classes), whatever wraps them.
_DELTA_CONFLICTS = (
    "concurrentappendexception",
    "concurrentdeletereadexception",
    "concurrentdeletedeleteexception",
    "concurrenttransactionexception",
    "concurrentwriteexception",
    "metadatachangedexception",
    "protocolchangedexception",
    "delta_concurrent_",
    "delta_metadata_changed",
    "delta_protocol_changed",
)


def _classify(fqn: str, exc: Exception) -> LakehouseError:
    text = str(exc)
    low = text.lower()
    name = type(exc).__name__
    if name.lower() in _DELTA_CONFLICTS or any(marker in low for marker in _DELTA_CONFLICTS):
        return ConcurrentModification(f"{fqn}: concurrent commit, nothing committed: {text}")
    if "invariant" in low or "constraint" in low or "failed validation" in low:
        return ConstraintViolation(f"{fqn}: write rejected by a CHECK constraint, nothing committed: {text}")
    if "concurrent" in low or name == "CommitFailedError":
        return ConcurrentModification(f"{fqn}: concurrent commit, nothing committed: {text}")
    if "schema" in low or "cast" in low or "mismatch" in low or "failed_to_merge_fields" in low:
        return SchemaMismatch(f"{fqn}: schema mismatch, nothing committed: {text}")
    return LakehouseError(f"{fqn}: {name}: {text}")


class SparkDeltaStore(DeltaStore):
    """Native Delta through Spark SQL: Unity Catalog on Databricks, the session catalog locally.

    Every operation is the Spark SQL a Databricks job runs (``MERGE WITH SCHEMA EVOLUTION``,
    ``DESCRIBE HISTORY``, ``VERSION AS OF``, ``RESTORE``, ``ADD CONSTRAINT``,
    ``table_changes``); only the table *name* differs by engine:

    * ``root`` None (Databricks, Spark Connect to a UC workspace): the three-part
      Unity Catalog name as it is.
    * ``root`` given (an embedded Spark with the Delta jars, :func:`get_spark` ``delta=True``):
      no Unity Catalog server runs locally (the open-source server and its Spark connector
      are not on Maven Central), so ``catalog.schema.table`` maps to database
      ``<catalog>__<schema>``, table ``<table>`` of Spark's session catalog, an *external*
      Delta table at ``<root>/<catalog>/<schema>/<table>``: the folder
      :class:`LocalDeltaStore` uses, so either engine reads what the other wrote. The
      session catalog lives in memory; the Delta log is the source of truth, and a store
      registers each table it finds there on first use, so every process (and a store on
      another root in the same session, one at a time) sees the tables on its disk.
    """

    #: The session catalog is one per process, shared by every store on it: registrations
    #: (drop a stale entry, create the new one) of racing stores must not interleave.
    _catalog_lock = threading.RLock()

    def __init__(self, spark: SparkSession, root: str | Path | None = None) -> None:
        self.spark = spark
        self.root = Path(root).resolve() if root is not None else None
        self._registered: set[str] = set()
        self._databases: set[str] = set()

    # -- names -------------------------------------------------------------------
    def path(self, fqn: str) -> Path:
        """The table's folder on a local Spark (``<root>/<catalog>/<schema>/<table>``)."""
        if self.root is None:
            raise LakehouseError(f"{fqn}: a Unity Catalog table has no local path")
        catalog, schema, table = split_fqn(fqn)
        return self.root / catalog / schema / table

    @staticmethod
    def local_name(fqn: str) -> str:
        """``catalog.schema.table`` -> ``catalog__schema.table``, its name in the local session catalog."""
        catalog, schema, table = split_fqn(fqn)
        return f"{catalog}__{schema}.{table}"

    def name(self, fqn: str) -> str:
        """The quoted SQL identifier of ``fqn`` on this engine (registered locally when it exists)."""
        if self.root is None:
            return ".".join(f"`{p}`" for p in split_fqn(fqn))
        ident = ".".join(f"`{p}`" for p in self.local_name(fqn).split("."))
        on_disk = self.exists(fqn)
        if on_disk and fqn in self._registered:
            return ident
        with SparkDeltaStore._catalog_lock:
            self._register(fqn, ident, on_disk)
        return ident

    def _register(self, fqn: str, ident: str, on_disk: bool) -> None:
        """Point the session catalog's entry for ``fqn`` at this root's folder, or drop a stale one."""
        location = self.path(fqn)
        database = self.local_name(fqn).split(".")[0]
        if database not in self._databases:
            self._sql(f"CREATE DATABASE IF NOT EXISTS `{database}` LOCATION {_literal(location.parent)}")
            self._databases.add(database)
        current = self._catalog_location(ident) if self.spark.catalog.tableExists(self.local_name(fqn)) else None
        if current is not None and (current != location or not on_disk):
            # another root's (or a deleted) table under this name: drop the entry; an
            # external table's files stay where they are
            self._sql(f"DROP TABLE IF EXISTS {ident}")
            current = None
        if on_disk:
            if current is None:
                self._sql(f"CREATE TABLE IF NOT EXISTS {ident} USING DELTA LOCATION {_literal(location)}")
            self._registered.add(fqn)
        else:
            self._registered.discard(fqn)

    def _catalog_location(self, ident: str) -> Path | None:
        rows = self._sql(f"DESCRIBE TABLE EXTENDED {ident}").collect()
        for r in rows:
            if r["col_name"] == "Location" and r["data_type"]:
                return Path(re.sub(r"^file:(//)?", "", str(r["data_type"]))).resolve()
        return None

    def _sql(self, statement: str) -> SparkDataFrame:
        return self.spark.sql(statement)

    # -- state -------------------------------------------------------------------
    def exists(self, fqn: str) -> bool:
        if self.root is None:
            return bool(self.spark.catalog.tableExists(fqn))
        return (self.path(fqn) / "_delta_log").is_dir()

    def _require(self, fqn: str) -> str:
        if not self.exists(fqn):
            where = f" (looked in {self.path(fqn)})" if self.root is not None else ""
            raise TableNotFound(f"table {fqn} does not exist{where}")
        return self.name(fqn)

    def version(self, fqn: str) -> int:
        return int(self._history(fqn, limit=1)[0]["version"])

    # -- writes ------------------------------------------------------------------
    def _df(self, data: TableData) -> SparkDataFrame:
        return self.spark.createDataFrame(to_arrow(data))

    def append(self, fqn: str, data: TableData, *, schema_mode: Literal["merge", "strict"] = "merge") -> int:
        return self._save(fqn, self._df(data), "append", merge_schema=schema_mode == "merge")

    def overwrite(self, fqn: str, data: TableData) -> int:
        return self._save(fqn, self._df(data), "overwrite", merge_schema=False)

    def write_spark(self, fqn: str, sdf: SparkDataFrame, mode: Literal["append", "overwrite"] = "append") -> int:
        return self._save(fqn, sdf, mode, merge_schema=mode == "append")

    def _save(self, fqn: str, sdf: SparkDataFrame, mode: str, *, merge_schema: bool) -> int:
        ident = self.name(fqn)
        writer = sdf.write.format("delta").mode(mode)
        if mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        elif merge_schema:
            writer = writer.option("mergeSchema", "true")
        if self.root is not None and not self.exists(fqn):
            writer = writer.option("path", str(self.path(fqn)))  # external, in the shared layout
        try:
            writer.saveAsTable(ident)
        except Exception as exc:
            raise self._rejected(fqn, exc, sdf) from exc
        if self.root is not None:
            self._registered.add(fqn)
        return self.version(fqn)

    def _rejected(self, fqn: str, exc: Exception, sdf: SparkDataFrame) -> LakehouseError:
        """Classify a failed write; a CHECK violation names every broken rule with its row count."""
        error = _classify(fqn, exc)
        if not isinstance(error, ConstraintViolation):
            return error
        broken = []
        for name, expr in self.constraints(fqn).items():
            n = sdf.filter(f"NOT ({expr})").count()
            if n:
                broken.append(f"{name} ({expr}): {n} row(s)")
        detail = "; ".join(broken) or "a CHECK constraint"
        return ConstraintViolation(f"{fqn}: write rejected, nothing committed; violated constraint {detail}")

    def merge(self, fqn: str, data: TableData, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        return self.merge_spark(fqn, self._df(data), keys, update=update)

    def merge_spark(self, fqn: str, sdf: SparkDataFrame, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        if not self.exists(fqn):
            version = self._save(fqn, sdf, "append", merge_schema=True)
            return MergeResult(version, self.count(fqn), 0)
        predicate = _merge_predicate(keys)
        ident = self.name(fqn)
        view = f"_merge_src_{uuid.uuid4().hex[:16]}"
        sdf.createOrReplaceTempView(view)
        clause = "WHEN MATCHED THEN UPDATE SET * " if update else ""
        try:
            self._sql(
                f"MERGE WITH SCHEMA EVOLUTION INTO {ident} t USING {view} s "
                f"ON {predicate} {clause}WHEN NOT MATCHED THEN INSERT *"
            )
        except Exception as exc:
            raise self._rejected(fqn, exc, sdf) from exc
        finally:
            self.spark.catalog.dropTempView(view)
        last = self._history(fqn, limit=1)[0]
        metrics = last.get("metrics") or {}
        return MergeResult(
            version=int(last["version"]),
            inserted=int(metrics.get("numTargetRowsInserted", 0)),
            updated=int(metrics.get("numTargetRowsUpdated", 0)),
        )

    def append_if_version(self, fqn: str, data: TableData, expected_version: int, keys: Sequence[str]) -> int:
        """One Delta transaction that inserts ``data`` only on top of ``expected_version``'s state.

        Checking the version and then writing would absorb a commit that lands in
        between, so the check lives inside the write: a single
        ``INSERT INTO t (...) SELECT ... FROM src WHERE (SELECT count(*) FROM t) = <rows at
        expected_version> AND NOT EXISTS (<same key in t>)``. What this relies on
        (docs.databricks.com, "Isolation levels and write conflicts on Databricks";
        delta-io ``ConflictChecker``; the contract suite races real writers on it):

        * An INSERT whose subquery reads its own target table is *not* a blind
          append: it "supports the same concurrency as MERGE". Its read of the
          whole table makes a concurrent commit that added data fail this
          transaction with ``ConcurrentAppendException`` (``DELTA_CONCURRENT_APPEND``,
          ``WHOLE_TABLE_READ`` under row-level concurrency), mapped to
          :class:`ConcurrentModification`.
        * Under the default ``WriteSerializable`` level a concurrent *blind*
          append (plain INSERT/``append``) is exempt from that check; under
          ``Serializable`` it conflicts too. Tables created here are therefore
          created ``Serializable``, matching the local store, where any commit
          after ``expected_version`` fails the write.
        * A commit that landed *before* this transaction took its snapshot is no
          conflict at all: the guard then reads a different row count, nothing is
          inserted, and the key check below turns that into
          :class:`ConcurrentModification`. The row count is the state because the
          tables written this way are append-only audit tables.
        """
        if not keys:
            raise LakehouseError("a conditional append needs at least one key column")
        source = to_arrow(data)
        if not self.exists(fqn):
            if expected_version != -1:
                raise ConcurrentModification(f"{fqn}: expected version {expected_version} but the table does not exist")
            # Like the local store: create it empty (racing creators cannot both
            # insert), then insert conditionally on the empty state.
            self.create_table(fqn, source.schema, properties=SERIALIZABLE)
            current = self.version(fqn)
            if self._rows_at(fqn, current):
                raise ConcurrentModification(f"{fqn}: expected no table, another writer created and filled it first")
            return self.append_if_version(fqn, source, current, keys)
        current = self.version(fqn)
        if current != expected_version:
            raise ConcurrentModification(f"{fqn}: expected version {expected_version}, table is at {current}")
        if source.num_rows == 0:
            return current
        expected_rows = self._rows_at(fqn, expected_version)
        ident = self.name(fqn)
        view = f"_cond_src_{uuid.uuid4().hex[:16]}"
        sdf = self._df(source)
        sdf.createOrReplaceTempView(view)
        try:
            try:
                self._sql(_conditional_insert(ident, view, source.column_names, keys, expected_rows))
            except Exception as exc:
                raise self._rejected(fqn, exc, sdf) from exc
            landed = self._sql(
                f"SELECT count(*) AS n FROM {view} s WHERE EXISTS "
                f"(SELECT 1 FROM {ident} t WHERE {_merge_predicate(keys)})"
            ).collect()[0]["n"]
        finally:
            self.spark.catalog.dropTempView(view)
        if int(landed) != source.num_rows:
            raise ConcurrentModification(
                f"{fqn}: another writer committed after version {expected_version} before this insert read "
                f"the table (it no longer has {expected_rows} rows); nothing inserted"
            )
        return self.version(fqn)

    def _rows_at(self, fqn: str, version: int) -> int:
        rows = self._sql(f"SELECT count(*) AS n FROM {self.name(fqn)} VERSION AS OF {int(version)}").collect()
        return int(rows[0]["n"])

    def create_table(self, fqn: str, schema: pa.Schema, *, properties: Mapping[str, str] | None = None) -> int:
        """``CREATE TABLE IF NOT EXISTS`` with ``schema``'s columns (a racing creator winning is fine)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        ident = self.name(fqn)
        struct = from_arrow_schema(normalize_arrow(schema.empty_table()).schema, prefer_timestamp_ntz=False)
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in struct.fields)
        location = f" LOCATION {_literal(self.path(fqn))}" if self.root is not None else ""
        props = _tblproperties(properties or {})
        try:
            self._sql(f"CREATE TABLE IF NOT EXISTS {ident} ({columns}) USING DELTA{location}{props}")
        except Exception as exc:
            if not self.exists(fqn):
                raise _classify(fqn, exc) from exc
        if self.root is not None:
            self.name(fqn)  # registers what a racing creator made, too
        return self.version(fqn)

    def properties(self, fqn: str) -> dict[str, str]:
        rows = self._sql(f"SHOW TBLPROPERTIES {self._require(fqn)}").collect()
        return {str(r["key"]): str(r["value"]) for r in rows}

    def set_properties(self, fqn: str, properties: Mapping[str, str]) -> int:
        ident = self._require(fqn)
        try:
            self._sql(f"ALTER TABLE {ident} SET{_tblproperties(properties)}")
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    # -- reads -------------------------------------------------------------------
    def read_arrow(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        since: tuple[str, datetime] | None = None,
    ) -> pa.Table:
        sdf = self.to_spark(fqn, self.spark, version=version, timestamp=timestamp)
        if since is not None:
            from pyspark.sql import functions as F

            sdf = sdf.where(F.col(f"`{since[0]}`") >= F.lit(since[1]))
        if columns is not None:
            sdf = sdf.select(*[f"`{c}`" for c in columns])
        return normalize_arrow(sdf.toArrow())

    def count(self, fqn: str, version: int | None = None) -> int:
        return int(self.to_spark(fqn, self.spark, version=version).count())

    def to_spark(
        self, fqn: str, spark: SparkSession, *, version: int | None = None, timestamp: datetime | str | None = None
    ) -> SparkDataFrame:
        ident = self._require(fqn)
        travel = ""
        if version is not None:
            travel = f" VERSION AS OF {int(version)}"
        elif timestamp is not None:
            travel = f" TIMESTAMP AS OF {_literal(_parse_ts(timestamp).astimezone(UTC).isoformat())}"
        try:
            return spark.sql(f"SELECT * FROM {ident}{travel}")
        except Exception as exc:
            raise _time_travel_error(fqn, exc, version, timestamp) from exc

    def history(self, fqn: str) -> list[dict[str, Any]]:
        """Newest first: version, timestamp (UTC datetime), operation, parameters, metrics."""
        return self._history(fqn)

    def _history(self, fqn: str, limit: int | None = None) -> list[dict[str, Any]]:
        ident = self._require(fqn)
        statement = f"DESCRIBE HISTORY {ident}" + (f" LIMIT {int(limit)}" if limit else "")
        # epoch microseconds, not the timestamp column: collect() would turn that into the
        # driver's *local* wall time
        rows = (
            self._sql(statement)
            .selectExpr(
                "version", "unix_micros(timestamp) AS ts", "operation", "operationParameters", "operationMetrics"
            )
            .collect()
        )
        out = [
            {
                "version": int(r["version"]),
                "timestamp": _EPOCH + timedelta(microseconds=int(r["ts"])) if r["ts"] is not None else None,
                "operation": r["operation"],
                "parameters": dict(r["operationParameters"] or {}),
                "metrics": dict(r["operationMetrics"] or {}),
            }
            for r in rows
        ]
        return sorted(out, key=lambda e: e["version"], reverse=True)

    def changes(self, fqn: str, start_version: int, end_version: int | None = None) -> pa.Table:
        ident = self._require(fqn)
        name = ident.replace("`", "")
        end = f", {int(end_version)}" if end_version is not None else ""
        try:
            table = self._sql(f"SELECT * FROM table_changes({_literal(name)}, {int(start_version)}{end})").toArrow()
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return _order_changes(normalize_arrow(table))

    def restore(self, fqn: str, version: int) -> int:
        latest = self.version(fqn)
        if version < 0 or version > latest:
            raise TableNotFound(f"{fqn}: cannot restore to version {version} (latest is {latest})")
        try:
            self._sql(f"RESTORE TABLE {self.name(fqn)} TO VERSION AS OF {int(version)}")
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def add_constraint(self, fqn: str, name: str, expression: str) -> None:
        if self.constraints(fqn).get(name) == expression:
            return
        try:
            self._sql(f"ALTER TABLE {self.name(fqn)} ADD CONSTRAINT `{name}` CHECK ({expression})")
        except Exception as exc:
            raise ConstraintViolation(f"{fqn}: cannot add constraint {name!r} ({expression}): {exc}") from exc

    def constraints(self, fqn: str) -> dict[str, str]:
        prefix = "delta.constraints."
        return {k[len(prefix) :]: v for k, v in self.properties(fqn).items() if k.startswith(prefix)}

    def list_tables(self, catalog: str, schema: str) -> list[str]:
        if self.root is not None:  # the Delta logs on disk, whichever process wrote them
            base = self.root / catalog / schema
            if not base.is_dir():
                return []
            return sorted(f"{catalog}.{schema}.{p.name}" for p in base.iterdir() if (p / "_delta_log").is_dir())
        rows = self._sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()
        return sorted(f"{catalog}.{schema}.{r['tableName']}" for r in rows)


#: The isolation level of tables written with ``append_if_version``: a concurrent blind
#: append must conflict with the guarded insert (see :meth:`SparkDeltaStore.append_if_version`).
SERIALIZABLE: Mapping[str, str] = {"delta.isolationLevel": "Serializable"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _literal(value: object) -> str:
    """A Spark SQL string literal."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _tblproperties(properties: Mapping[str, str]) -> str:
    if not properties:
        return ""
    pairs = ", ".join(f"{_literal(k)} = {_literal(v)}" for k, v in properties.items())
    return f" TBLPROPERTIES ({pairs})"


def _time_travel_error(
    fqn: str, exc: Exception, version: int | None, timestamp: datetime | str | None
) -> LakehouseError:
    """Delta's refusal of a version or timestamp that does not exist, as :class:`TableNotFound`."""
    text = str(exc)
    low = text.lower()
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if version is not None and ("version_not_found" in low or "cannot time travel" in low):
        return TableNotFound(f"{fqn}: version {version} does not exist ({first_line})")
    if timestamp is not None and "timestamp" in low and ("earlier" in low or "before" in low or "after" in low):
        when = _parse_ts(timestamp).isoformat()
        return TableNotFound(f"{fqn}: no version exists as of {when} ({first_line})")
    return _classify(fqn, exc)
