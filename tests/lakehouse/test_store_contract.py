"""One contract, two engines: every DeltaStore operation on delta-rs and on Spark SQL with real Delta.

``delta-rs`` is :class:`LocalDeltaStore`; ``spark-delta`` is :class:`SparkDeltaStore` on the
shared local Spark with Delta's extension and catalog (the statements a Databricks job
runs), its tables mapped to ``<catalog>__<schema>.<table>`` external tables under the same
lakehouse layout. Each test runs against both and asserts the same values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest

from financial_transactions.lakehouse import (
    ConcurrentModification,
    ConstraintViolation,
    DeltaStore,
    LocalDeltaStore,
    SchemaMismatch,
    SparkDeltaStore,
    TableNotFound,
)
from financial_transactions.lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FQN = "mlops_dev.financial_transactions.prices"
ENGINES = ["delta-rs", "spark-delta"]


def _frame(ids: list[int], prices: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids,
            "price": prices,
            "ts": pd.to_datetime([f"2026-03-0{i % 9 + 1}T10:00:00" for i in ids], utc=True),
        }
    )


def _make(engine: str, root: Path, request: pytest.FixtureRequest) -> DeltaStore:
    if engine == "delta-rs":
        return LocalDeltaStore(root)
    return SparkDeltaStore(request.getfixturevalue("spark"), root=root)  # type: ignore[arg-type]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(engine: str, request: pytest.FixtureRequest) -> Callable[[Path], DeltaStore]:
    return lambda root: _make(engine, root, request)


@pytest.fixture
def store(make_store: Callable[[Path], DeltaStore], tmp_path: Path) -> DeltaStore:
    return make_store(tmp_path / "lh")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("id").reset_index(drop=True)


def test_layout_mirrors_unity_catalog(store: DeltaStore, tmp_path: Path) -> None:
    store.append(FQN, _frame([1], [1.0]))
    assert (tmp_path / "lh" / "mlops_dev" / "financial_transactions" / "prices" / "_delta_log").is_dir()
    assert store.list_tables("mlops_dev", "financial_transactions") == [FQN]
    assert store.list_tables("mlops_dev", "nothing_here") == []
    with pytest.raises(LakehouseError, match="three-part"):
        store.append("prices", _frame([1], [1.0]))


def test_merge_is_idempotent(store: DeltaStore) -> None:
    created = store.merge(FQN, _frame([1, 2, 3], [1.0, 2.0, 3.0]), keys=["id"])
    assert (created.version, created.inserted, created.updated) == (0, 3, 0)
    batch = _frame([3, 4], [30.0, 4.0])
    first = store.merge(FQN, batch, keys=["id"])
    after_first = _sorted(store.read(FQN))
    second = store.merge(FQN, batch, keys=["id"])
    after_second = _sorted(store.read(FQN))
    assert (first.version, first.inserted, first.updated) == (1, 1, 1)
    assert (second.version, second.inserted) == (2, 0)
    pd.testing.assert_frame_equal(after_first, after_second)
    assert after_second["id"].tolist() == [1, 2, 3, 4]
    assert after_second["price"].tolist() == [1.0, 2.0, 30.0, 4.0]
    assert store.history(FQN)[0]["operation"] == "MERGE"


def test_insert_only_merge_keeps_existing_rows(store: DeltaStore) -> None:
    store.merge(FQN, _frame([1], [1.0]), keys=["id"])
    result = store.merge(FQN, _frame([1, 2], [99.0, 2.0]), keys=["id"], update=False)
    assert (result.inserted, result.updated) == (1, 0)
    assert _sorted(store.read(FQN))["price"].tolist() == [1.0, 2.0]


def test_merge_evolves_the_schema(store: DeltaStore) -> None:
    store.merge(FQN, _frame([1, 2], [1.0, 2.0]), keys=["id"])
    result = store.merge(FQN, _frame([2, 3], [20.0, 3.0]).assign(venue=["XNAS", "XNYS"]), keys=["id"])
    assert (result.inserted, result.updated) == (1, 1)
    df = _sorted(store.read(FQN))
    assert list(df.columns) == ["id", "price", "ts", "venue"]
    assert df["venue"].tolist()[1:] == ["XNAS", "XNYS"]
    assert pd.isna(df["venue"].iloc[0])


def test_time_travel_by_version_and_timestamp(store: DeltaStore) -> None:
    v0 = store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    time.sleep(0.05)
    v1 = store.append(FQN, _frame([3], [3.0]))
    assert (v0, v1) == (0, 1)
    assert store.count(FQN, version=0) == 2
    assert store.count(FQN) == 3
    assert sorted(store.read(FQN, version=0)["id"]) == [1, 2]
    assert sorted(store.read_arrow(FQN, version=1, columns=["id"]).column("id").to_pylist()) == [1, 2, 3]
    history = store.history(FQN)
    assert [h["version"] for h in history] == [1, 0]
    assert all(str(h["timestamp"].tzinfo) == "UTC" for h in history)
    assert history[0]["timestamp"] > history[1]["timestamp"]
    assert sorted(store.read(FQN, timestamp=history[1]["timestamp"])["id"]) == [1, 2]
    assert sorted(store.read(FQN, timestamp=history[0]["timestamp"].isoformat())["id"]) == [1, 2, 3]
    with pytest.raises(TableNotFound, match="version 7 does not exist"):
        store.read(FQN, version=7)
    with pytest.raises(TableNotFound, match="no version exists as of"):
        store.read(FQN, timestamp="2000-01-01T00:00:00Z")


def test_history_names_each_operation_with_its_metrics(store: DeltaStore) -> None:
    store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    store.merge(FQN, _frame([2, 3], [20.0, 3.0]), keys=["id"])
    store.overwrite(FQN, _frame([9], [9.0]))
    newest, merged, first = store.history(FQN)
    assert [newest["version"], merged["version"], first["version"]] == [2, 1, 0]
    assert merged["operation"] == "MERGE"
    inserted = merged["metrics"].get("numTargetRowsInserted", merged["metrics"].get("num_target_rows_inserted"))
    assert int(inserted) == 1  # Delta's and delta-rs's names for the same metric
    assert newest["operation"] in {"WRITE", "CREATE OR REPLACE TABLE AS SELECT"}


def test_overwrite_replaces_rows_and_schema_and_keeps_the_history(store: DeltaStore) -> None:
    store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    version = store.overwrite(FQN, pd.DataFrame({"id": [5], "label": ["new"]}))
    assert version == 1
    df = store.read(FQN)
    assert list(df.columns) == ["id", "label"]
    assert df["label"].tolist() == ["new"]
    assert sorted(store.read(FQN, version=0)["id"]) == [1, 2]


def test_restore_brings_back_an_old_version(store: DeltaStore) -> None:
    store.append(FQN, _frame([1], [1.0]))
    store.overwrite(FQN, _frame([5, 6], [5.0, 6.0]))
    new_version = store.restore(FQN, 0)
    assert new_version == 2
    assert store.read(FQN)["id"].tolist() == [1]
    assert store.history(FQN)[0]["operation"] == "RESTORE"
    with pytest.raises(TableNotFound, match="cannot restore to version 9"):
        store.restore(FQN, 9)


def test_schema_evolution_on_append_and_strict_mismatch(store: DeltaStore) -> None:
    store.append(FQN, _frame([1], [1.0]))
    store.append(FQN, _frame([2], [2.0]).assign(venue="XNAS"))
    df = _sorted(store.read(FQN))
    assert df["venue"].tolist()[1] == "XNAS"
    assert pd.isna(df["venue"].tolist()[0])
    with pytest.raises(SchemaMismatch, match=FQN):
        store.append(FQN, pd.DataFrame({"id": ["not-an-int"]}), schema_mode="strict")
    with pytest.raises(SchemaMismatch, match=FQN):
        store.append(FQN, pd.DataFrame({"id": [3], "extra": [1.5]}), schema_mode="strict")
    assert store.version(FQN) == 1


def test_constraint_violation_names_rule_and_commits_nothing(store: DeltaStore) -> None:
    store.append(FQN, _frame([1, 2], [1.0, 2.0]))
    store.add_constraint(FQN, "price_positive", "price > 0")
    store.add_constraint(FQN, "price_positive", "price > 0")  # idempotent
    assert store.constraints(FQN) == {"price_positive": "price > 0"}
    version = store.version(FQN)
    with pytest.raises(ConstraintViolation) as err:
        store.append(FQN, _frame([3, 4], [3.0, -4.0]))
    assert FQN in str(err.value)
    assert "price_positive (price > 0): 1 row(s)" in str(err.value)
    with pytest.raises(ConstraintViolation, match="price_positive"):
        store.merge(FQN, _frame([2], [-2.0]), keys=["id"])
    assert store.version(FQN) == version
    assert store.count(FQN) == 2
    with pytest.raises(ConstraintViolation, match="price_big"):
        store.add_constraint(FQN, "price_big", "price > 1.5")
    assert store.constraints(FQN) == {"price_positive": "price > 0"}


def test_table_properties_and_the_change_data_feed(store: DeltaStore) -> None:
    schema = pa.schema([("id", pa.int64()), ("price", pa.float64())])
    assert store.create_table(FQN, schema, properties={"delta.enableChangeDataFeed": "true"}) == 0
    assert store.create_table(FQN, schema) == 0  # exists: nothing happens
    assert store.properties(FQN)["delta.enableChangeDataFeed"] == "true"
    assert store.read(FQN).empty and list(store.read(FQN).columns) == ["id", "price"]
    store.append(FQN, pd.DataFrame({"id": [1, 2], "price": [1.0, 2.0]}))
    store.merge(FQN, pd.DataFrame({"id": [2, 3], "price": [20.0, 3.0]}), keys=["id"])
    feed = store.changes(FQN, 1).to_pandas()
    assert feed["_commit_version"].tolist() == [1, 1, 2, 2, 2]
    rows = list(zip(feed["_change_type"], feed["id"], feed["price"], strict=True))
    assert rows[:2] in ([("insert", 1, 1.0), ("insert", 2, 2.0)], [("insert", 2, 2.0), ("insert", 1, 1.0)])
    assert rows[2:] == [("update_preimage", 2, 2.0), ("update_postimage", 2, 20.0), ("insert", 3, 3.0)]
    assert str(feed["_commit_timestamp"].dt.tz) == "UTC"
    assert store.changes(FQN, 2, 2)["_change_type"].to_pylist() == ["update_preimage", "update_postimage", "insert"]
    assert store.set_properties(FQN, {"delta.appendOnly": "false"}) == 3
    assert store.properties(FQN)["delta.appendOnly"] == "false"


def test_append_if_version_detects_a_concurrent_writer(store: DeltaStore) -> None:
    first = store.append_if_version(FQN, _frame([1], [1.0]), expected_version=-1, keys=["id"])
    assert first == 1  # version 0 is the empty create that racing creators agree on
    assert store.append_if_version(FQN, _frame([2], [2.0]), expected_version=1, keys=["id"]) == 2
    with pytest.raises(ConcurrentModification, match="expected version 1, table is at 2"):
        store.append_if_version(FQN, _frame([3], [3.0]), expected_version=1, keys=["id"])
    with pytest.raises(ConcurrentModification):
        store.append_if_version(FQN, _frame([3], [3.0]), expected_version=-1, keys=["id"])
    assert store.count(FQN) == 2
    assert store.append_if_version(FQN, _frame([], []), expected_version=2, keys=["id"]) == 2  # nothing to add


def _race(n: int, attempt: Callable[[int], object]) -> list[str]:
    """``n`` writers start together; each reports won / lost (ConcurrentModification)."""
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            outcomes.append("won")
        except ConcurrentModification:
            outcomes.append("lost")
        except BaseException as exc:  # surfaced below: a crash is not a lost race
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return sorted(outcomes)


def test_racing_creators_cannot_both_win(make_store: Callable[[Path], DeltaStore], tmp_path: Path) -> None:
    root = tmp_path / "race"
    outcomes = _race(
        3,
        lambda i: make_store(root).append_if_version(FQN, _frame([i], [float(i)]), expected_version=-1, keys=["id"]),
    )
    assert outcomes == ["lost", "lost", "won"]
    assert make_store(root).count(FQN) == 1


def test_conflicting_conditional_commits_on_one_version_land_once(store: DeltaStore) -> None:
    """Writers that all decided on the same version race for real: exactly one commit lands."""
    base = store.append_if_version(FQN, _frame([0], [1.0]), expected_version=-1, keys=["id"])
    outcomes = _race(
        3, lambda i: store.append_if_version(FQN, _frame([10 + i], [1.0]), expected_version=base, keys=["id"])
    )
    assert outcomes == ["lost", "lost", "won"]
    assert store.count(FQN) == 2
    assert store.version(FQN) == base + 1


def test_timestamps_are_utc_microseconds(store: DeltaStore) -> None:
    naive = pd.DataFrame({"id": [1], "ts": pd.to_datetime(["2026-03-08T07:00:00.123456789"])})
    store.append(FQN, naive)
    ts = store.read(FQN)["ts"].iloc[0]
    assert str(ts.tz) == "UTC"
    assert ts == pd.Timestamp("2026-03-08T07:00:00.123456", tz="UTC")
    assert store.read_arrow(FQN).schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_a_read_since_an_instant_returns_exactly_the_rows_from_it_on(store: DeltaStore) -> None:
    ts = pd.date_range("2026-03-09 14:30", periods=6, freq="1min", tz="UTC")
    for part in (ts[:3], ts[3:]):  # two files: the first lies wholly before the instant
        store.append(FQN, pd.DataFrame({"id": range(len(part)), "ts": part, "price": [1.0] * len(part)}))
    since = ts[2].to_pydatetime()
    got = store.read(FQN, columns=["ts"], since=("ts", since))
    assert sorted(got["ts"].tolist()) == list(ts[2:])  # a read has no order
    assert store.read(FQN, since=("ts", ts[-1].to_pydatetime() + pd.Timedelta(seconds=1))).empty


def test_missing_table_is_a_clear_error(store: DeltaStore) -> None:
    assert not store.exists(FQN)
    with pytest.raises(TableNotFound, match="does not exist"):
        store.read(FQN)
    with pytest.raises(TableNotFound, match="does not exist"):
        store.history(FQN)


def test_spark_round_trip(store: DeltaStore, spark) -> None:  # type: ignore[no-untyped-def]
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
    assert store.write_spark(out, sdf.filter("id = 4"), mode="append") == 2
    assert store.count(out) == 5


def test_a_table_is_readable_by_the_other_engine(tmp_path: Path, spark) -> None:  # type: ignore[no-untyped-def]
    """Both engines keep ``<root>/<catalog>/<schema>/<table>``: one engine's commits are the other's history."""
    root = tmp_path / "lh"
    rs, sql = LocalDeltaStore(root), SparkDeltaStore(spark, root=root)
    rs.append(FQN, _frame([1, 2], [1.0, 2.0]))
    sql.merge(FQN, _frame([2, 3], [20.0, 3.0]), keys=["id"])
    rs.append(FQN, _frame([4], [4.0]))
    assert _sorted(sql.read(FQN))["price"].tolist() == [1.0, 20.0, 3.0, 4.0]
    assert _sorted(rs.read(FQN)).equals(_sorted(sql.read(FQN)))
    assert [h["version"] for h in sql.history(FQN)] == [2, 1, 0]
    assert sorted(rs.read(FQN, version=1)["id"]) == [1, 2, 3]
    assert sql.list_tables("mlops_dev", "financial_transactions") == [FQN]


def test_a_session_serves_one_lakehouse_root_after_another(tmp_path: Path, spark) -> None:  # type: ignore[no-untyped-def]
    """The same table name on a second root is that root's table, not the first one's registration."""
    first = SparkDeltaStore(spark, root=tmp_path / "a")
    first.append(FQN, _frame([1], [1.0]))
    second = SparkDeltaStore(spark, root=tmp_path / "b")
    assert not second.exists(FQN)
    second.append(FQN, _frame([7, 8], [7.0, 8.0]))
    assert sorted(second.read(FQN)["id"]) == [7, 8]
    assert LocalDeltaStore(tmp_path / "a").count(FQN) == 1
    assert sorted(SparkDeltaStore(spark, root=tmp_path / "a").read(FQN)["id"]) == [1]


def test_a_commit_between_the_version_check_and_the_guarded_insert_lands_nothing(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real Delta: another writer commits after the check but before the INSERT reads the table.

    The INSERT's own guard then reads a different state, inserts nothing, and the store says so
    (the old check-then-MERGE absorbed that commit and inserted on top of it).
    """
    store = SparkDeltaStore(spark, root=tmp_path / "lh")
    base = store.append_if_version(FQN, _frame([1], [1.0]), expected_version=-1, keys=["id"])
    rows_at = SparkDeltaStore._rows_at

    def then_a_racer_commits(self: SparkDeltaStore, fqn: str, version: int) -> int:
        rows = rows_at(self, fqn, version)
        self.append(fqn, _frame([99], [9.0]))  # the racer, right after the state was decided on
        return rows

    monkeypatch.setattr(SparkDeltaStore, "_rows_at", then_a_racer_commits)
    with pytest.raises(ConcurrentModification, match=rf"after version {base} .* no longer has 1 rows\); nothing"):
        store.append_if_version(FQN, _frame([2], [2.0]), expected_version=base, keys=["id"])
    monkeypatch.undo()
    assert sorted(store.read(FQN)["id"]) == [1, 99]
    assert store.version(FQN) == base + 1
