"""LocalDeltaStore on real Delta tables (delta-rs): the operations every layer relies on."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from financial_transactions.lakehouse import (
    ConcurrentModification,
    ConstraintViolation,
    LocalDeltaStore,
    SchemaMismatch,
    TableNotFound,
)
from financial_transactions.lakehouse.errors import LakehouseError

FQN = "mlops_dev.financial_transactions.prices"


def _frame(ids: list[int], prices: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids,
            "price": prices,
            "ts": pd.to_datetime([f"2026-03-0{i % 9 + 1}T10:00:00" for i in ids], utc=True),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalDeltaStore:
    return LocalDeltaStore(tmp_path / "lh")


def test_layout_mirrors_unity_catalog(store: LocalDeltaStore) -> None:
    store.append(FQN, _frame([1], [1.0]))
    assert (store.root / "mlops_dev" / "financial_transactions" / "prices" / "_delta_log").is_dir()
    assert store.list_tables("mlops_dev", "financial_transactions") == [FQN]
    with pytest.raises(LakehouseError, match="three-part"):
        store.append("prices", _frame([1], [1.0]))


def test_merge_is_idempotent(store: LocalDeltaStore) -> None:
    store.merge(FQN, _frame([1, 2, 3], [1.0, 2.0, 3.0]), keys=["id"])
    batch = _frame([3, 4], [30.0, 4.0])
    first = store.merge(FQN, batch, keys=["id"])
    after_first = store.read(FQN).sort_values("id").reset_index(drop=True)
    second = store.merge(FQN, batch, keys=["id"])
    after_second = store.read(FQN).sort_values("id").reset_index(drop=True)
    assert (first.inserted, first.updated) == (1, 1)
    assert second.inserted == 0
    pd.testing.assert_frame_equal(after_first, after_second)
    assert after_second["id"].tolist() == [1, 2, 3, 4]
    assert after_second["price"].tolist() == [1.0, 2.0, 30.0, 4.0]


def test_insert_only_merge_keeps_existing_rows(store: LocalDeltaStore) -> None:
    store.merge(FQN, _frame([1], [1.0]), keys=["id"])
    result = store.merge(FQN, _frame([1, 2], [99.0, 2.0]), keys=["id"], update=False)
    assert (result.inserted, result.updated) == (1, 0)
    assert store.read(FQN).sort_values("id")["price"].tolist() == [1.0, 2.0]


def test_time_travel_by_version_and_timestamp(store: LocalDeltaStore) -> None:
    v0 = store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    time.sleep(0.05)
    v1 = store.append(FQN, _frame([3], [3.0]))
    assert (v0, v1) == (0, 1)
    assert store.count(FQN, version=0) == 2
    assert store.count(FQN) == 3
    assert sorted(store.read(FQN, version=0)["id"]) == [1, 2]
    history = store.history(FQN)
    assert [h["version"] for h in history] == [1, 0]
    as_of_v0 = store.read(FQN, timestamp=history[1]["timestamp"])
    assert sorted(as_of_v0["id"]) == [1, 2]
    with pytest.raises(TableNotFound, match="version 7 does not exist"):
        store.read(FQN, version=7)
    with pytest.raises(TableNotFound, match="no version exists as of"):
        store.read(FQN, timestamp="2000-01-01T00:00:00Z")


def test_restore_brings_back_an_old_version(store: LocalDeltaStore) -> None:
    store.append(FQN, _frame([1], [1.0]))
    store.overwrite(FQN, _frame([5, 6], [5.0, 6.0]))
    new_version = store.restore(FQN, 0)
    assert new_version == 2
    assert store.read(FQN)["id"].tolist() == [1]
    assert store.history(FQN)[0]["operation"] == "RESTORE"
    with pytest.raises(TableNotFound, match="cannot restore to version 9"):
        store.restore(FQN, 9)


def test_schema_evolution_on_append_and_strict_mismatch(store: LocalDeltaStore) -> None:
    store.append(FQN, _frame([1], [1.0]))
    store.append(FQN, _frame([2], [2.0]).assign(venue="XNAS"))
    df = store.read(FQN).sort_values("id")
    assert df["venue"].tolist()[1] == "XNAS"
    assert pd.isna(df["venue"].tolist()[0])
    with pytest.raises(SchemaMismatch, match=FQN):
        store.append(FQN, pd.DataFrame({"id": ["not-an-int"]}), schema_mode="strict")
    assert store.version(FQN) == 1


def test_constraint_violation_names_rule_and_commits_nothing(store: LocalDeltaStore) -> None:
    store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    store.add_constraint(FQN, "price_positive", "price > 0")
    store.add_constraint(FQN, "price_positive", "price > 0")  # idempotent
    version = store.version(FQN)
    with pytest.raises(ConstraintViolation) as err:
        store.append(FQN, _frame([3, 4], [3.0, -4.0]))
    assert FQN in str(err.value)
    assert "price_positive (price > 0): 1 row(s)" in str(err.value)
    assert store.version(FQN) == version
    assert store.count(FQN) == 2
    with pytest.raises(ConstraintViolation, match="price_big"):
        store.add_constraint(FQN, "price_big", "price > 1.5")


def test_append_if_version_detects_a_concurrent_writer(store: LocalDeltaStore) -> None:
    first = store.append_if_version(FQN, _frame([1], [1.0]), expected_version=-1, keys=["id"])
    assert first == 1  # version 0 is the empty create that racing creators agree on
    assert store.append_if_version(FQN, _frame([2], [2.0]), expected_version=1, keys=["id"]) == 2
    with pytest.raises(ConcurrentModification, match="expected version 1, table is at 2"):
        store.append_if_version(FQN, _frame([3], [3.0]), expected_version=1, keys=["id"])
    with pytest.raises(ConcurrentModification):
        store.append_if_version(FQN, _frame([3], [3.0]), expected_version=-1, keys=["id"])
    assert store.count(FQN) == 2


def test_timestamps_are_utc_microseconds(store: LocalDeltaStore) -> None:
    naive = pd.DataFrame({"id": [1], "ts": pd.to_datetime(["2026-03-08T07:00:00.123456789"])})
    store.append(FQN, naive)
    ts = store.read(FQN)["ts"].iloc[0]
    assert str(ts.tz) == "UTC"
    assert ts == pd.Timestamp("2026-03-08T07:00:00.123456", tz="UTC")


def test_missing_table_is_a_clear_error(store: LocalDeltaStore) -> None:
    assert not store.exists(FQN)
    with pytest.raises(TableNotFound, match="does not exist"):
        store.read(FQN)


def test_spark_round_trip(store: LocalDeltaStore, spark) -> None:  # type: ignore[no-untyped-def]
    store.append(FQN, _frame([1, 2, 3], [1.0, 2.0, 3.0]))
    store.append(FQN, _frame([4], [4.0]).assign(venue="XNYS"))
    sdf = store.to_spark(FQN, spark)
    assert sdf.columns == ["id", "price", "ts", "venue"]
    assert sdf.count() == 4
    assert store.to_spark(FQN, spark, version=0).count() == 3
    out = "mlops_dev.financial_transactions.prices_copy"
    store.write_spark(out, sdf.filter("id > 1"), mode="overwrite")
    assert sorted(store.read(out)["id"]) == [2, 3, 4]
    result = store.merge_spark(out, sdf.filter("id <= 2"), keys=["id"])
    assert (result.inserted, result.updated) == (1, 1)
    assert store.read(out)["ts"].dt.tz is not None


def test_racing_creators_cannot_both_win(tmp_path: Path) -> None:
    import threading

    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create(i: int) -> None:
        store = LocalDeltaStore(tmp_path / "race")
        barrier.wait()
        try:
            store.append_if_version(FQN, _frame([i], [float(i)]), expected_version=-1, keys=["id"])
            outcomes.append("won")
        except ConcurrentModification:
            outcomes.append("lost")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert LocalDeltaStore(tmp_path / "race").count(FQN) == 1
