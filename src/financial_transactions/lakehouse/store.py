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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
        elif pa.types.is_large_string(typ) or pa.types.is_null(typ):
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
    ) -> pa.Table: ...

    def read(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Latest state, or a time-travel read by version or timestamp, as pandas."""
        table = self.read_arrow(fqn, version=version, timestamp=timestamp, columns=columns)
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


def _merge_predicate(keys: Sequence[str]) -> str:
    if not keys:
        raise LakehouseError("merge needs at least one key column")
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)


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
        from deltalake import write_deltalake

        path = self.path(fqn)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(str(path), table, mode=mode, schema_mode=schema_mode)  # type: ignore[arg-type]
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
            raise _classify(fqn, exc) from exc
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
        return dt.to_pyarrow_table(columns=list(columns) if columns is not None else None)

    def count(self, fqn: str, version: int | None = None) -> int:
        return int(self._table(fqn, version).to_pyarrow_dataset().count_rows())

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
    if "schema" in low or "cast" in low or "mismatch" in low:
        return SchemaMismatch(f"{fqn}: schema mismatch, nothing committed: {text}")
    return LakehouseError(f"{fqn}: {name}: {text}")


class SparkDeltaStore(DeltaStore):
    """Native Delta in Unity Catalog through Spark SQL (Databricks runtime or Connect)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def _sql(self, statement: str) -> SparkDataFrame:
        return self.spark.sql(statement)

    @staticmethod
    def _quote(fqn: str) -> str:
        return ".".join(f"`{p}`" for p in split_fqn(fqn))

    def exists(self, fqn: str) -> bool:
        return bool(self.spark.catalog.tableExists(fqn))

    def version(self, fqn: str) -> int:
        return int(self.history(fqn)[0]["version"])

    def _df(self, data: TableData) -> SparkDataFrame:
        return self.spark.createDataFrame(to_arrow(data))

    def append(self, fqn: str, data: TableData, *, schema_mode: Literal["merge", "strict"] = "merge") -> int:
        return self._save(fqn, self._df(data), "append", merge_schema=schema_mode == "merge")

    def overwrite(self, fqn: str, data: TableData) -> int:
        return self._save(fqn, self._df(data), "overwrite", merge_schema=False)

    def _save(self, fqn: str, sdf: SparkDataFrame, mode: str, *, merge_schema: bool) -> int:
        writer = sdf.write.format("delta").mode(mode)
        writer = writer.option("mergeSchema", "true") if merge_schema else writer.option("overwriteSchema", "true")
        try:
            writer.saveAsTable(fqn)
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        return self.version(fqn)

    def merge(self, fqn: str, data: TableData, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        return self.merge_spark(fqn, self._df(data), keys, update=update)

    def merge_spark(self, fqn: str, sdf: SparkDataFrame, keys: Sequence[str], *, update: bool = True) -> MergeResult:
        if not self.exists(fqn):
            version = self._save(fqn, sdf, "append", merge_schema=True)
            return MergeResult(version, self.count(fqn), 0)
        view = f"_merge_src_{abs(hash((fqn, tuple(keys)))) % 10**8}"
        sdf.createOrReplaceTempView(view)
        clause = "WHEN MATCHED THEN UPDATE SET * " if update else ""
        try:
            self._sql(
                f"MERGE WITH SCHEMA EVOLUTION INTO {self._quote(fqn)} t USING {view} s "
                f"ON {_merge_predicate(keys)} {clause}WHEN NOT MATCHED THEN INSERT *"
            )
        except Exception as exc:
            raise _classify(fqn, exc) from exc
        last = self.history(fqn)[0]
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
        delta-io ``ConflictChecker``):

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
            self._create_empty(fqn, source)
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
        view = f"_cond_src_{uuid.uuid4().hex[:16]}"
        self._df(source).createOrReplaceTempView(view)
        try:
            try:
                self._sql(_conditional_insert(self._quote(fqn), view, source.column_names, keys, expected_rows))
            except Exception as exc:
                raise _classify(fqn, exc) from exc
            landed = self._sql(
                f"SELECT count(*) AS n FROM {view} s WHERE EXISTS "
                f"(SELECT 1 FROM {self._quote(fqn)} t WHERE {_merge_predicate(keys)})"
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
        rows = self._sql(f"SELECT count(*) AS n FROM {self._quote(fqn)} VERSION AS OF {int(version)}").collect()
        return int(rows[0]["n"])

    def _create_empty(self, fqn: str, source: pa.Table) -> None:
        """``CREATE TABLE IF NOT EXISTS`` with ``source``'s schema, Serializable (see ``append_if_version``)."""
        view = f"_cond_schema_{uuid.uuid4().hex[:16]}"
        self._df(source.schema.empty_table()).createOrReplaceTempView(view)
        try:
            self._sql(
                f"CREATE TABLE IF NOT EXISTS {self._quote(fqn)} USING DELTA "
                f"TBLPROPERTIES ('delta.isolationLevel' = 'Serializable') AS SELECT * FROM {view}"
            )
        except Exception as exc:
            if not self.exists(fqn):  # a racing creator winning is fine; anything else is not
                raise _classify(fqn, exc) from exc
        finally:
            self.spark.catalog.dropTempView(view)

    def read_arrow(
        self,
        fqn: str,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        sdf = self.to_spark(fqn, self.spark, version=version, timestamp=timestamp)
        if columns is not None:
            sdf = sdf.select(*columns)
        return sdf.toArrow()

    def count(self, fqn: str, version: int | None = None) -> int:
        return int(self.to_spark(fqn, self.spark, version=version).count())

    def history(self, fqn: str) -> list[dict[str, Any]]:
        if not self.exists(fqn):
            raise TableNotFound(f"table {fqn} does not exist")
        rows = self._sql(f"DESCRIBE HISTORY {self._quote(fqn)}").collect()
        out = [
            {
                "version": int(r["version"]),
                "timestamp": r["timestamp"].replace(tzinfo=UTC) if r["timestamp"] else None,
                "operation": r["operation"],
                "parameters": dict(r["operationParameters"] or {}),
                "metrics": dict(r["operationMetrics"] or {}),
            }
            for r in rows
        ]
        return sorted(out, key=lambda e: e["version"], reverse=True)

    def restore(self, fqn: str, version: int) -> int:
        latest = self.version(fqn)
        if version < 0 or version > latest:
            raise TableNotFound(f"{fqn}: cannot restore to version {version} (latest is {latest})")
        self._sql(f"RESTORE TABLE {self._quote(fqn)} TO VERSION AS OF {int(version)}")
        return self.version(fqn)

    def add_constraint(self, fqn: str, name: str, expression: str) -> None:
        if self.constraints(fqn).get(name) == expression:
            return
        try:
            self._sql(f"ALTER TABLE {self._quote(fqn)} ADD CONSTRAINT `{name}` CHECK ({expression})")
        except Exception as exc:
            raise ConstraintViolation(f"{fqn}: cannot add constraint {name!r} ({expression}): {exc}") from exc

    def constraints(self, fqn: str) -> dict[str, str]:
        rows = self._sql(f"SHOW TBLPROPERTIES {self._quote(fqn)}").collect()
        prefix = "delta.constraints."
        return {r["key"][len(prefix) :]: r["value"] for r in rows if r["key"].startswith(prefix)}

    def list_tables(self, catalog: str, schema: str) -> list[str]:
        rows = self._sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()
        return sorted(f"{catalog}.{schema}.{r['tableName']}" for r in rows)

    def to_spark(
        self, fqn: str, spark: SparkSession, *, version: int | None = None, timestamp: datetime | str | None = None
    ) -> SparkDataFrame:
        if not self.exists(fqn):
            raise TableNotFound(f"table {fqn} does not exist")
        reader = spark.read
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        elif timestamp is not None:
            reader = reader.option("timestampAsOf", _parse_ts(timestamp).isoformat())
        return reader.table(fqn)

    def write_spark(self, fqn: str, sdf: SparkDataFrame, mode: Literal["append", "overwrite"] = "append") -> int:
        return self._save(fqn, sdf, mode, merge_schema=mode == "append")
