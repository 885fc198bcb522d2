"""SparkDeltaStore (the Unity Catalog engine) against a recording Spark double.

Native Delta SQL cannot run on a local Spark without the Delta jars (Maven is
unreachable here), so this checks the exact statements the store sends and how
it reads their answers; the semantics are the ones the local store is tested for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from financial_transactions.lakehouse import ConcurrentModification, SparkDeltaStore, TableNotFound

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
    store = SparkDeltaStore(RecordingSpark([0, 1, 2, 3]))  # type: ignore[arg-type]
    with pytest.raises(ConcurrentModification, match="expected version 2, table is at 3"):
        store.append_if_version(FQN, {"a": [1]}, expected_version=2, keys=["a"])  # type: ignore[arg-type]


def test_missing_table_history_is_a_clear_error() -> None:
    store = SparkDeltaStore(RecordingSpark([], existing=set()))  # type: ignore[arg-type]
    with pytest.raises(TableNotFound, match=f"table {FQN} does not exist"):
        store.history(FQN)
