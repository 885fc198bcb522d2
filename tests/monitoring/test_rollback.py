"""Rollback through the real local (SQLite) registry and real Delta tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from financial_transactions.lakehouse import Platform
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.monitoring.rollback import ModelRollback, RollbackFailed, RollbackRefused

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def _features(platform: Platform) -> dict[str, int]:
    """trade_features with versions 0 (before v3's training) and 1 (what v3 trained on)."""
    fqn = platform.config.table("trade_features")
    platform.store.append(fqn, pd.DataFrame({"symbol": ["AAPL"], "bar_start": [T0], "rsi": [40.0]}))
    platform.store.append(
        fqn, pd.DataFrame({"symbol": ["AAPL"], "bar_start": [T0 + timedelta(minutes=1)], "rsi": [90.0]})
    )
    return {fqn: 0}


def _promotion(
    platform: Platform,
    version: int,
    snapshot_aliases: dict[str, int],
    features_before: dict[str, int],
    trained_on: dict[str, int],
    at: datetime,
) -> None:
    row = {
        "decision_id": f"promote-v{version}",
        "decided_at": at,
        "decision": "PROMOTE",
        "challenger_version": version,
        "snapshot_aliases": json.dumps(snapshot_aliases),
        "snapshot_feature_versions": json.dumps(features_before),
        "challenger_feature_versions": json.dumps(trained_on),
        "supersedes": None,
    }
    platform.store.append(platform.config.table("champion_challenger_audit"), pa.Table.from_pylist([row]))


def test_rollback_to_previous_champion_restores_alias_and_feature_table(
    platform: Platform, registry: ModelRegistry
) -> None:
    fqn = platform.config.table("trade_features")
    before_features = _features(platform)
    _promotion(
        platform,
        3,
        {"champion": 2, "previous-champion": 1, "challenger": 3, "latest-model": 3},
        before_features,
        {fqn: 1},
        T0,
    )
    rollback = ModelRollback(platform, registry)

    plan = rollback.plan(restore_features=True)
    assert (plan.from_version, plan.to_version, plan.source) == (3, 2, "alias previous-champion")
    assert plan.aliases_after == {"champion": 2, "previous-champion": 1, "challenger": 4, "latest-model": 4}
    assert [(r.table, r.current_version, r.target_version) for r in plan.feature_restores] == [(fqn, 1, 0)]

    result = rollback.run(restore_features=True, reason="v3 false positives")
    assert result.status == "done"
    assert registry.aliases() == {"champion": 2, "previous-champion": 1, "challenger": 4, "latest-model": 4}
    assert platform.store.version(fqn) == 2  # RESTORE is a new commit...
    assert platform.store.read(fqn)["rsi"].tolist() == [40.0]  # ...with version 0's content
    audit = platform.store.read(platform.config.table("rollback_audit")).iloc[0]
    assert (audit["status"], audit["from_version"], audit["to_version"]) == ("done", 3, 2)
    assert audit["reason"] == "v3 false positives" and audit["snapshot_decision_id"] == "promote-v3"
    assert json.loads(audit["feature_restores"]) == [
        {"table": fqn, "from_version": 1, "to_version": 0, "new_version": 2}
    ]
    alerts = platform.store.read(platform.config.table("alerts_audit"))
    assert alerts.iloc[0]["source"] == "rollback" and alerts.iloc[0]["status"] == "not_configured"


def test_dry_run_changes_nothing(platform: Platform, registry: ModelRegistry) -> None:
    fqn = platform.config.table("trade_features")
    _promotion(platform, 3, {"champion": 2}, _features(platform), {fqn: 1}, T0)
    result = ModelRollback(platform, registry).run(restore_features=True, dry_run=True)
    assert result.status == "dry_run" and result.rollback_id is None
    assert "alias champion: v3 -> v2" in result.plan.describe()
    assert registry.aliases()["champion"] == 3
    assert platform.store.version(fqn) == 1
    assert not platform.store.exists(platform.config.table("rollback_audit"))


def test_to_version_uses_that_versions_training_data(platform: Platform, registry: ModelRegistry) -> None:
    fqn = platform.config.table("trade_features")
    _features(platform)
    _promotion(platform, 1, {}, {}, {fqn: 0}, T0 - timedelta(days=2))
    _promotion(platform, 3, {"champion": 2}, {fqn: 0}, {fqn: 1}, T0)
    result = ModelRollback(platform, registry).run(1, restore_features=True)
    assert registry.aliases()["champion"] == 1 and registry.aliases()["previous-champion"] == 3
    assert result.restored == {fqn: 2}
    assert platform.store.read(fqn)["rsi"].tolist() == [40.0]


@pytest.mark.parametrize(
    ("to_version", "message"),
    [
        (9, "has no version 9"),
        (0, "not a valid model version"),
        (3, "already the champion"),
    ],
)
def test_bad_target_version_is_refused_and_nothing_changes(
    platform: Platform, registry: ModelRegistry, to_version: int, message: str
) -> None:
    fqn = platform.config.table("trade_features")
    _promotion(platform, 3, {"champion": 2}, _features(platform), {fqn: 1}, T0)
    before = registry.aliases()
    with pytest.raises(RollbackRefused, match=message):
        ModelRollback(platform, registry).run(to_version, restore_features=True)
    assert registry.aliases() == before
    assert platform.store.version(fqn) == 1
    assert not platform.store.exists(platform.config.table("rollback_audit"))


def test_missing_snapshot_versions_are_refused(platform: Platform, registry: ModelRegistry) -> None:
    fqn = platform.config.table("trade_features")
    _features(platform)
    _promotion(platform, 3, {"champion": 2}, {fqn: 7}, {fqn: 1}, T0)  # version 7 never existed
    with pytest.raises(RollbackRefused, match="has no version 7"):
        ModelRollback(platform, registry).run(restore_features=True)
    assert registry.aliases()["champion"] == 3
    # without any snapshot and without previous-champion there is no default target
    registry.delete_alias("previous-champion")
    platform.store.overwrite(
        platform.config.table("champion_challenger_audit"),
        pa.table(
            {
                "decision_id": ["x"],
                "decided_at": [T0],
                "decision": ["REJECT"],
                "challenger_version": [4],
                "supersedes": pa.array([None], pa.string()),
            }
        ),
    )
    with pytest.raises(RollbackRefused, match="no previous champion"):
        ModelRollback(platform, registry).plan()


def test_failure_mid_way_is_reversed_and_audited(platform: Platform, registry: ModelRegistry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fqn = platform.config.table("trade_features")
    _promotion(platform, 3, {"champion": 2, "previous-champion": 1}, _features(platform), {fqn: 1}, T0)

    def broken_restore(table: str, version: int) -> int:
        raise OSError("storage unavailable")

    monkeypatch.setattr(platform.store, "restore", broken_restore)
    with pytest.raises(RollbackFailed, match="storage unavailable"):
        ModelRollback(platform, registry).run(restore_features=True)
    assert registry.aliases() == {"champion": 3, "previous-champion": 2, "challenger": 4, "latest-model": 4}
    audit = platform.store.read(platform.config.table("rollback_audit")).iloc[0]
    assert audit["status"] == "failed" and "storage unavailable" in audit["error"]
