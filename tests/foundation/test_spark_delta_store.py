"""SparkDeltaStore (the Unity Catalog engine) against a recording Spark double.

Native Delta SQL cannot run on a local Spark without the Delta jars (Maven is
unreachable here), so this checks the exact statements the store sends and how
it reads their answers; the semantics are the ones the local store is tested for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from financial_transactions.lakehouse import ConcurrentModification, SparkDeltaStore, TableNotFound
from financial_transactions.lakehouse.errors import LakehouseError

FQN = "mlops_prd.financial_transactions.retraining_audit"


class _Rows:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def collect(self) -> list[dict[str, Any]]:
        return self._rows


class _Catalog:
    def __init__(self, existing: set[str]) -> None:
        self.existing = existing

    def tableExists(self, name: str) -> bool:
        return name in self.existing


class RecordingSpark:
    def __init__(self, history_versions: list[int], existing: set[str] | None = None) -> None:
        self.statements: list[str] = []
        self.catalog = _Catalog(existing if existing is not None else {FQN})
        self.history_versions = history_versions

    def sql(self, statement: str) -> _Rows:
        self.statements.append(statement)
        if statement.startswith("DESCRIBE HISTORY"):
            return _Rows(
                [
                    {
                        "version": v,
                        "timestamp": datetime(2026, 11, 22, 12, v),
                        "operation": "WRITE",
                        "operationParameters": {},
                        "operationMetrics": {"numTargetRowsInserted": "1"},
                    }
                    for v in self.history_versions
                ]
            )
        if statement.startswith("SHOW TBLPROPERTIES"):
            return _Rows([{"key": "delta.constraints.price_positive", "value": "price > 0"}])
        return _Rows([])


def test_restore_and_history_use_delta_sql() -> None:
    spark = RecordingSpark([0, 1, 2])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    assert store.version(FQN) == 2
    assert store.restore(FQN, 1) == 2
    assert (
        "RESTORE TABLE `mlops_prd`.`financial_transactions`.`retraining_audit` TO VERSION AS OF 1" in spark.statements
    )
    with pytest.raises(TableNotFound, match="cannot restore to version 5"):
        store.restore(FQN, 5)


def test_constraints_are_added_once() -> None:
    spark = RecordingSpark([0])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    store.add_constraint(FQN, "price_positive", "price > 0")
    assert not any(s.startswith("ALTER TABLE") for s in spark.statements)
    store.add_constraint(FQN, "volume_non_negative", "volume >= 0")
    assert (
        "ALTER TABLE `mlops_prd`.`financial_transactions`.`retraining_audit` "
        "ADD CONSTRAINT `volume_non_negative` CHECK (volume >= 0)"
    ) in spark.statements
    assert store.constraints(FQN) == {"price_positive": "price > 0"}


def test_append_if_version_refuses_a_moved_table() -> None:
    spark = RecordingSpark([0, 1, 2, 3])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match="expected version 2, table is at 3"):
        store.append_if_version(FQN, pd.DataFrame({"a": [1]}), expected_version=2, keys=["a"])
    assert not any(s.startswith(("INSERT", "MERGE")) for s in spark.statements)  # refused before writing


def test_missing_table_history_is_a_clear_error() -> None:
    store = SparkDeltaStore(RecordingSpark([], existing=set()))  # type: ignore[arg-type]
    with pytest.raises(TableNotFound, match=f"table {FQN} does not exist"):
        store.history(FQN)


# -- the conditional commit (optimistic concurrency) --------------------------------------------
Q = "`mlops_prd`.`financial_transactions`.`retraining_audit`"


class _View:
    def __init__(self, spark: DeltaSpark, table: pa.Table) -> None:
        self.spark, self.table = spark, table

    def createOrReplaceTempView(self, name: str) -> None:
        self.spark.views[name] = self.table


class _ViewCatalog(_Catalog):
    def __init__(self, spark: DeltaSpark) -> None:
        super().__init__(set())
        self.spark = spark

    def tableExists(self, name: str) -> bool:
        return self.spark.versions is not None

    def dropTempView(self, name: str) -> None:
        self.spark.dropped.append(name)
        self.spark.views.pop(name, None)


class DeltaSpark:
    """A recording double of an append-only Delta table (event ids per version) that can play races.

    ``racer`` commits another writer's row when the INSERT starts, before it reads the table (the
    state moved under the guard); ``conflict`` makes the INSERT fail at commit the way Delta reports
    a concurrent append. The guard is evaluated from the statement text, as Delta would.
    """

    def __init__(
        self,
        versions: list[list[str]] | None,
        *,
        racer: str | None = None,
        conflict: Exception | None = None,
        created_by: str | None = None,
    ) -> None:
        self.versions = versions
        self.created_by = created_by
        self.racer = racer
        self.conflict = conflict
        self.statements: list[str] = []
        self.views: dict[str, pa.Table] = {}
        self.dropped: list[str] = []
        self.catalog = _ViewCatalog(self)

    def createDataFrame(self, table: pa.Table) -> _View:
        return _View(self, table)

    def _commit(self, keys: list[str]) -> None:
        assert self.versions is not None
        self.versions.append([*self.versions[-1], *keys])

    def sql(self, statement: str) -> _Rows:
        import re

        self.statements.append(statement)
        if statement.startswith("DESCRIBE HISTORY"):
            assert self.versions is not None
            return _Rows(
                [
                    {
                        "version": v,
                        "timestamp": datetime(2026, 11, 22, 12, v),
                        "operation": "WRITE",
                        "operationParameters": {},
                        "operationMetrics": {},
                    }
                    for v in range(len(self.versions))
                ]
            )
        if statement.startswith("CREATE TABLE IF NOT EXISTS"):
            if self.versions is None:  # another creator may win the create and insert before us
                self.versions = [[], [self.created_by]] if self.created_by else [[]]
            return _Rows([])
        if m := re.match(r"SELECT count\(\*\) AS n FROM \S+ VERSION AS OF (\d+)$", statement):
            assert self.versions is not None
            return _Rows([{"n": len(self.versions[int(m.group(1))])}])
        if statement.startswith("INSERT INTO"):
            if self.racer is not None:
                self._commit([self.racer])
                self.racer = None
            if self.conflict is not None:
                raise self.conflict
            assert self.versions is not None
            view = re.search(r" FROM (_cond_src_\w+) s ", statement)
            guard = re.search(r"WHERE \(SELECT count\(\*\) FROM \S+\) = (\d+) ", statement)
            assert view and guard, statement
            latest = self.versions[-1]
            if len(latest) == int(guard.group(1)):
                new = [k for k in self.views[view.group(1)].column("event_id").to_pylist() if k not in latest]
                self._commit(new)
            return _Rows([])
        if m := re.match(r"SELECT count\(\*\) AS n FROM (_cond_src_\w+) s WHERE EXISTS", statement):
            assert self.versions is not None
            keys = self.views[m.group(1)].column("event_id").to_pylist()
            return _Rows([{"n": sum(k in self.versions[-1] for k in keys)}])
        raise AssertionError(f"unexpected statement {statement}")


def _row(event_id: str) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [event_id], "decision": ["triggered"]})


def test_conditional_insert_is_one_statement_that_reads_the_expected_state() -> None:
    spark = DeltaSpark([["e1"], ["e1", "e2"]])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    assert store.append_if_version(FQN, _row("e3"), expected_version=1, keys=["event_id"]) == 2
    assert spark.versions == [["e1"], ["e1", "e2"], ["e1", "e2", "e3"]]
    (insert,) = [s for s in spark.statements if s.startswith("INSERT")]
    view = next(iter(spark.dropped))
    assert insert == (
        f"INSERT INTO {Q} (`event_id`, `decision`) SELECT s.`event_id`, s.`decision` FROM {view} s "
        f"WHERE (SELECT count(*) FROM {Q}) = 2 "
        f"AND NOT EXISTS (SELECT 1 FROM {Q} t WHERE t.`event_id` = s.`event_id`)"
    )
    assert f"SELECT count(*) AS n FROM {Q} VERSION AS OF 1" in spark.statements  # the state decided on
    assert not any(s.startswith("MERGE") for s in spark.statements)
    assert spark.views == {}  # the source view is dropped again


def test_a_commit_before_the_insert_reads_the_table_inserts_nothing_and_is_a_conflict() -> None:
    # the old check-then-MERGE absorbed this commit and inserted on top of it
    spark = DeltaSpark([["e1"], ["e1", "e2"]], racer="other")
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match=r"after version 1 .* no longer has 2 rows\); nothing inserted"):
        store.append_if_version(FQN, _row("e3"), expected_version=1, keys=["event_id"])
    assert spark.versions is not None and spark.versions[-1] == ["e1", "e2", "other"]  # only the racer's row landed
    assert spark.views == {}


class ConcurrentAppendException(Exception):
    """Named like Delta's io.delta.exceptions.ConcurrentAppendException."""


@pytest.mark.parametrize(
    "error",
    [
        ConcurrentAppendException("Files were added to the root of the table by a concurrent update."),
        RuntimeError(
            "[DELTA_CONCURRENT_APPEND.WHOLE_TABLE_READ] Transaction conflict detected. A concurrent WRITE added "
            "data to table mlops_prd.financial_transactions.retraining_audit committed at version 2. SQLSTATE: 2D521"
        ),
        RuntimeError("io.delta.exceptions.MetadataChangedException: The metadata of the Delta table has changed"),
    ],
)
def test_delta_commit_conflicts_become_concurrent_modification(error: Exception) -> None:
    spark = DeltaSpark([["e1"]], conflict=error)
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match="concurrent commit, nothing committed"):
        store.append_if_version(FQN, _row("e2"), expected_version=0, keys=["event_id"])
    assert spark.versions == [["e1"]] and spark.views == {}


def test_other_insert_errors_are_not_mistaken_for_conflicts() -> None:
    spark = DeltaSpark([["e1"]], conflict=RuntimeError("[PERMISSION_DENIED] User does not have MODIFY on Table"))
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    with pytest.raises(LakehouseError, match="PERMISSION_DENIED") as info:
        store.append_if_version(FQN, _row("e2"), expected_version=0, keys=["event_id"])
    assert not isinstance(info.value, ConcurrentModification)


def test_racing_creators_create_an_empty_serializable_table_then_insert_conditionally() -> None:
    spark = DeltaSpark(None)
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    assert store.append_if_version(FQN, _row("e1"), expected_version=-1, keys=["event_id"]) == 1
    create = next(s for s in spark.statements if s.startswith("CREATE"))
    assert create.startswith(
        f"CREATE TABLE IF NOT EXISTS {Q} USING DELTA TBLPROPERTIES ('delta.isolationLevel' = 'Serializable') "
        "AS SELECT * FROM _cond_schema_"
    )
    assert spark.versions == [[], ["e1"]]
    assert any(
        s.endswith("= 0 AND NOT EXISTS (SELECT 1 FROM " + Q + " t WHERE t.`event_id` = s.`event_id`)")
        for s in spark.statements
        if s.startswith("INSERT")
    )
    # the second creator finds the table already filled: it must not decide on an empty history
    with pytest.raises(ConcurrentModification, match="expected version -1, table is at 1"):
        store.append_if_version(FQN, _row("e2"), expected_version=-1, keys=["event_id"])
    raced = DeltaSpark(None, created_by="other")
    with pytest.raises(ConcurrentModification, match="another writer created and filled it first"):
        SparkDeltaStore(raced).append_if_version(FQN, _row("e2"), expected_version=-1, keys=["event_id"])  # type: ignore[arg-type]
    assert raced.versions == [[], ["other"]]
    late = DeltaSpark([["e1"]])
    late_store = SparkDeltaStore(late)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match="expected version -1"):
        late_store.append_if_version(FQN, _row("e2"), expected_version=-1, keys=["event_id"])


def test_only_one_of_many_writers_on_the_same_version_lands() -> None:
    spark = DeltaSpark([["e0"]])
    store = SparkDeltaStore(spark)  # type: ignore[arg-type]
    landed, refused = [], 0
    for i in range(8):  # every writer decided on version 0
        try:
            landed.append(store.append_if_version(FQN, _row(f"w{i}"), expected_version=0, keys=["event_id"]))
        except ConcurrentModification:
            refused += 1
    assert landed == [1] and refused == 7 and spark.versions == [["e0"], ["e0", "w0"]]
