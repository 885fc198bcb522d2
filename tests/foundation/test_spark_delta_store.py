"""SparkDeltaStore on Unity Catalog: what exists on Databricks alone, against a recording Spark double.

Every Delta statement the store sends runs on a real local Spark with the Delta jars in
``tests/lakehouse/test_store_contract.py``. What a local Spark cannot run is Unity Catalog
itself: three-part ``catalog.schema.table`` names (the local session catalog has one level
of databases), ``SHOW TABLES IN catalog.schema``, and the error classes only Databricks
raises (row-level concurrency's ``DELTA_CONCURRENT_APPEND.WHOLE_TABLE_READ``, UC's
``PERMISSION_DENIED``). Those are checked here, on the statements the store sends.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from financial_transactions.lakehouse import ConcurrentModification, SparkDeltaStore, TableNotFound
from financial_transactions.lakehouse.errors import LakehouseError

FQN = "mlops_prd.financial_transactions.retraining_audit"
Q = "`mlops_prd`.`financial_transactions`.`retraining_audit`"


class _Rows:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def collect(self) -> list[dict[str, Any]]:
        return self._rows

    def selectExpr(self, *exprs: str) -> _Rows:
        """DESCRIBE HISTORY's projection: the timestamp as epoch microseconds."""
        out = []
        for r in self._rows:
            row = dict(r)
            row["ts"] = int(r["timestamp"].timestamp() * 1_000_000)
            out.append(row)
        return _Rows(out)


class _View:
    def __init__(self, spark: UnityCatalogSpark, table: pa.Table) -> None:
        self.spark, self.table = spark, table

    def createOrReplaceTempView(self, name: str) -> None:
        self.spark.views[name] = self.table


class _Catalog:
    def __init__(self, spark: UnityCatalogSpark) -> None:
        self.spark = spark

    def tableExists(self, name: str) -> bool:
        self.spark.exists_calls.append(name)
        return self.spark.versions is not None

    def dropTempView(self, name: str) -> None:
        self.spark.views.pop(name, None)


class UnityCatalogSpark:
    """A recording double of a UC workspace's session over one append-only audit table (ids per version)."""

    def __init__(
        self,
        versions: list[list[str]] | None,
        *,
        conflict: Exception | None = None,
        tables: list[str] | None = None,
    ) -> None:
        self.versions = versions
        self.conflict = conflict
        self.tables = tables or []
        self.statements: list[str] = []
        self.exists_calls: list[str] = []
        self.views: dict[str, pa.Table] = {}
        self.catalog = _Catalog(self)

    def createDataFrame(self, table: pa.Table) -> _View:
        return _View(self, table)

    def sql(self, statement: str) -> _Rows:
        self.statements.append(statement)
        if statement.startswith("DESCRIBE HISTORY"):
            assert self.versions is not None
            newest = range(len(self.versions) - 1, -1, -1)
            limit = re.search(r" LIMIT (\d+)$", statement)
            rows = [
                {
                    "version": v,
                    "timestamp": datetime(2026, 11, 22, 12, v, tzinfo=UTC),
                    "operation": "WRITE",
                    "operationParameters": {},
                    "operationMetrics": {},
                }
                for v in newest
            ]
            return _Rows(rows[: int(limit.group(1))] if limit else rows)
        if statement.startswith("SHOW TABLES IN"):
            return _Rows([{"tableName": t} for t in self.tables])
        if statement.startswith("CREATE TABLE IF NOT EXISTS"):
            self.versions = self.versions or [[]]
            return _Rows([])
        if m := re.match(r"SELECT count\(\*\) AS n FROM \S+ VERSION AS OF (\d+)$", statement):
            assert self.versions is not None
            return _Rows([{"n": len(self.versions[int(m.group(1))])}])
        if statement.startswith("INSERT INTO"):
            if self.conflict is not None:
                raise self.conflict
            assert self.versions is not None
            view = re.search(r" FROM (_cond_src_\w+) s ", statement)
            assert view, statement
            self.versions.append([*self.versions[-1], *self.views[view.group(1)].column("event_id").to_pylist()])
            return _Rows([])
        if m := re.match(r"SELECT count\(\*\) AS n FROM (_cond_src_\w+) s WHERE EXISTS", statement):
            assert self.versions is not None
            keys = self.views[m.group(1)].column("event_id").to_pylist()
            return _Rows([{"n": sum(k in self.versions[-1] for k in keys)}])
        raise AssertionError(f"unexpected statement {statement}")


def _row(event_id: str) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [event_id], "decision": ["triggered"]})


def test_unity_catalog_tables_keep_their_three_part_names_without_a_location() -> None:
    spark = UnityCatalogSpark(None)
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    assert store.append_if_version(FQN, _row("e1"), expected_version=-1, keys=["event_id"]) == 1
    create = next(s for s in spark.statements if s.startswith("CREATE"))
    # a managed UC table: no LOCATION, no local database; Serializable for the guarded insert
    assert create == (
        f"CREATE TABLE IF NOT EXISTS {Q} (`event_id` string, `decision` string) USING DELTA "
        "TBLPROPERTIES ('delta.isolationLevel' = 'Serializable')"
    )
    (insert,) = [s for s in spark.statements if s.startswith("INSERT")]
    assert insert.startswith(f"INSERT INTO {Q} (`event_id`, `decision`) SELECT s.`event_id`, s.`decision` FROM _cond_")
    assert insert.endswith(
        f"WHERE (SELECT count(*) FROM {Q}) = 0 AND NOT EXISTS (SELECT 1 FROM {Q} t WHERE t.`event_id` = s.`event_id`)"
    )
    assert f"SELECT count(*) AS n FROM {Q} VERSION AS OF 0" in spark.statements
    assert set(spark.exists_calls) == {FQN}  # the catalog is asked by the UC name
    assert not any("__" in s or "LOCATION" in s for s in spark.statements)
    assert spark.views == {}
    with pytest.raises(LakehouseError, match="no local path"):
        store.path(FQN)


def test_unity_catalog_listing_and_history() -> None:
    spark = UnityCatalogSpark([["e1"], ["e1", "e2"]], tables=["retraining_audit", "alerts_audit"])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    assert store.list_tables("mlops_prd", "financial_transactions") == [
        "mlops_prd.financial_transactions.alerts_audit",
        FQN,
    ]
    assert "SHOW TABLES IN `mlops_prd`.`financial_transactions`" in spark.statements
    assert store.version(FQN) == 1
    assert f"DESCRIBE HISTORY {Q} LIMIT 1" in spark.statements
    assert store.history(FQN)[-1]["timestamp"] == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    missing = SparkDeltaStore(UnityCatalogSpark(None))  # type: ignore[arg-type]
    with pytest.raises(TableNotFound, match=f"table {FQN} does not exist$"):
        missing.history(FQN)


@pytest.mark.parametrize(
    "error",
    [
        # row-level concurrency (Databricks only) names what the guarded insert read
        RuntimeError(
            "[DELTA_CONCURRENT_APPEND.WHOLE_TABLE_READ] Transaction conflict detected. A concurrent WRITE added "
            "data to table mlops_prd.financial_transactions.retraining_audit committed at version 2. SQLSTATE: 2D521"
        ),
        RuntimeError("[DELTA_METADATA_CHANGED] MetadataChangedException: The metadata of the Delta table has changed"),
    ],
)
def test_databricks_conflict_classes_become_concurrent_modification(error: Exception) -> None:
    spark = UnityCatalogSpark([["e1"]], conflict=error)
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match="concurrent commit, nothing committed"):
        store.append_if_version(FQN, _row("e2"), expected_version=0, keys=["event_id"])
    assert spark.versions == [["e1"]] and spark.views == {}


def test_unity_catalog_permission_errors_are_not_mistaken_for_conflicts() -> None:
    spark = UnityCatalogSpark([["e1"]], conflict=RuntimeError("[PERMISSION_DENIED] User does not have MODIFY on Table"))
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(LakehouseError, match="PERMISSION_DENIED") as info:
        store.append_if_version(FQN, _row("e2"), expected_version=0, keys=["event_id"])
    assert not isinstance(info.value, ConcurrentModification)
