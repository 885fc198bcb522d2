"""Rollback through the real local (SQLite) registry and real Delta tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.monitoring.rollback import ModelRollback, RollbackFailed, RollbackRefused, promotion_of
from financial_transactions.runtime import DatabricksRuntime, Platform

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def _features(platform: Platform) -> dict[str, int]:
    """trade_features with versions 0 (what v2 trained on, before v3's training) and 1 (what v3 trained on)."""
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
    _promotion(platform, 2, {"champion": 1}, {}, {fqn: 0}, T0 - timedelta(days=1))
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
    assert "feature tables: the versions v2 was trained on (gate decision promote-v2)" in plan.describe()

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
    assert not result.serving_failed and result.serving is not None and "not on Databricks" in result.serving


class _Endpoint:
    """A ModelServingManager stand-in (its REST behaviour is tested in tests/serving against the stub)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.deployed = fail, []

    def deploy(self, *, champion: int, wait_seconds: float) -> Any:
        from financial_transactions.runtime.serving_endpoint import ServingError

        if self.fail:
            raise ServingError("the config update failed (UPDATE_FAILED)")
        self.deployed.append(champion)
        return type("Deployed", (), {"describe": lambda _self: f"endpoint serves v{champion} 100%; READY"})()


@pytest.mark.parametrize("fail", [False, True])
def test_rollback_on_databricks_puts_the_target_on_the_serving_endpoint(
    platform: Platform, registry: ModelRegistry, fail: bool
) -> None:
    fqn = platform.config.table("trade_features")
    _promotion(platform, 3, {"champion": 2}, _features(platform), {fqn: 1}, T0)
    _promotion(platform, 2, {"champion": 1}, {}, {fqn: 0}, T0 - timedelta(days=1))
    platform.runtime = DatabricksRuntime()  # what the job sees; the registry and tables stay the local ones
    endpoint = _Endpoint(fail=fail)
    result = ModelRollback(platform, registry, serving_manager=endpoint).run()  # type: ignore[arg-type]
    assert result.status == "done" and registry.aliases()["champion"] == 2  # the registry rollback stands
    if not fail:
        assert endpoint.deployed == [2] and result.serving == "endpoint serves v2 100%; READY"
        assert not result.serving_failed
    else:
        assert result.serving_failed and "champion version 2 is not served" in (result.serving or "")
        alerts = platform.store.read(platform.config.table("alerts_audit"))
        stuck = alerts[alerts["title"].str.contains("endpoint still serves the old model", regex=False)]
        assert len(stuck) == 1 and stuck["severity"].iloc[0] == "critical"


def test_dry_run_changes_nothing(platform: Platform, registry: ModelRegistry) -> None:
    fqn = platform.config.table("trade_features")
    _promotion(platform, 3, {"champion": 2}, _features(platform), {fqn: 1}, T0)
    _promotion(platform, 2, {"champion": 1}, {}, {fqn: 0}, T0 - timedelta(days=1))
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
    _promotion(platform, 3, {"champion": 2}, {fqn: 0}, {fqn: 1}, T0)
    # no record of what v2 was trained on: refused, not restored to v3's pre-promotion snapshot
    with pytest.raises(RollbackRefused, match="no recorded feature-table versions that v2 was trained on"):
        ModelRollback(platform, registry).run(restore_features=True)
    _promotion(platform, 2, {"champion": 1}, {}, {fqn: 7}, T0 - timedelta(days=1))  # version 7 never existed
    with pytest.raises(RollbackRefused, match="has no version 7"):
        ModelRollback(platform, registry).run(restore_features=True)
    assert registry.aliases()["champion"] == 3
    assert platform.store.version(fqn) == 1
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
    _promotion(platform, 2, {"champion": 1}, {}, {fqn: 0}, T0 - timedelta(days=1))

    def broken_restore(table: str, version: int) -> int:
        raise OSError("storage unavailable")

    monkeypatch.setattr(platform.store, "restore", broken_restore)
    with pytest.raises(RollbackFailed, match="storage unavailable"):
        ModelRollback(platform, registry).run(restore_features=True)
    assert registry.aliases() == {"champion": 3, "previous-champion": 2, "challenger": 4, "latest-model": 4}
    audit = platform.store.read(platform.config.table("rollback_audit")).iloc[0]
    assert audit["status"] == "failed" and "storage unavailable" in audit["error"]


# -- the real gate writes the snapshot; the rollback uses it ------------------------------------------
@pytest.fixture
def gate_platform(config: ProjectConfig, lakehouse_root: Path, mlflow_registry: None) -> Platform:
    """A platform whose gate needs a clear margin (0.05) and whose real registry starts empty."""
    from financial_transactions.config.ml import GateConfig

    return Platform.create(config.model_copy(update={"gate": GateConfig(margin=0.05)}), lakehouse_root=lakehouse_root)


def _training_run(platform: Platform, data: TrainingData) -> tuple[dict[str, int], dict[str, int]]:
    """Like a training run: rewrite the feature tables with ``data``; (versions before, versions trained on)."""
    from financial_transactions.models.training import feature_table_versions

    before = feature_table_versions(platform)
    store, cfg = platform.store, platform.config
    store.overwrite(cfg.table("trade_features"), pd.concat([data.train, data.validation, data.test]))
    store.overwrite(cfg.table("train_set"), data.train)
    store.overwrite(cfg.table("test_set"), data.test)
    return before, feature_table_versions(platform)


def test_restore_features_after_a_rejected_retrain_goes_back_to_the_targets_training_data(
    gate_platform: Platform,
) -> None:
    """promote v1, a rejected v2 retrain rewrites the features, promote v3, roll back: v1's features."""
    from financial_transactions.models.champion_challenger import ChampionChallenger
    from tests.support.models import fit, lightgbm, register
    from tests.support.training_data import training_data

    platform = gate_platform
    registry = ModelRegistry.from_platform(platform)
    alerts: list[Any] = []
    runs = {"v1": training_data(600, seed=3, shift=0.0), "v2": training_data(600, seed=5, shift=0.0)}
    runs["v3"] = training_data(600, seed=1, shift=3.0)
    trained: dict[str, dict[str, int]] = {}
    decisions = {}
    for name, data in runs.items():
        before, trained[name] = _training_run(platform, data)
        version = register(platform, registry, fit(lightgbm(), data), data)
        gate = ChampionChallenger(platform, registry=registry, alert=alerts.append)
        decisions[name] = gate.evaluate(
            version, data.test, feature_versions_before=before, challenger_feature_versions=trained[name]
        )
        assert version == int(name[1:])
    assert [d.decision for d in decisions.values()] == ["PROMOTE", "REJECT", "PROMOTE"]
    assert registry.aliases() == {"champion": 3, "previous-champion": 1, "latest-model": 3}
    # v3's pre-promotion snapshot holds the rejected v2 run's tables, not what v1 was trained on
    promotion = promotion_of(platform, 3)
    assert promotion is not None and promotion["snapshot_feature_versions"] == trained["v2"] != trained["v1"]

    rollback = ModelRollback(platform, registry)
    plan = rollback.plan(restore_features=True)
    assert (plan.from_version, plan.to_version) == (3, 1)
    assert {r.table: r.target_version for r in plan.feature_restores} == trained["v1"]
    assert plan.feature_source == f"the versions v1 was trained on (gate decision {decisions['v1'].decision_id})"
    # an explicit target that never was champion: its own (REJECT) decision recorded what it was trained on
    to_v2 = rollback.plan(2, restore_features=True)
    assert {r.table: r.target_version for r in to_v2.feature_restores} == trained["v2"]
    assert to_v2.feature_source == f"the versions v2 was trained on (gate decision {decisions['v2'].decision_id})"

    result = rollback.run(restore_features=True, reason="v3 misfires")
    assert result.status == "done" and registry.aliases()["champion"] == 1
    cfg = platform.config
    restored_train = platform.store.read(cfg.table("train_set"))
    pd.testing.assert_series_equal(
        restored_train["ret_1"].reset_index(drop=True), runs["v1"].train["ret_1"].reset_index(drop=True)
    )
    restored_test = platform.store.read(cfg.table("test_set"))
    assert restored_test["label"].sum() == runs["v1"].test["label"].sum() and len(restored_test) == len(runs["v1"].test)
    assert len(platform.store.read(cfg.table("trade_features"))) == 600
    audit = platform.store.read(cfg.table("rollback_audit")).iloc[0]
    assert {r["table"]: r["to_version"] for r in json.loads(audit["feature_restores"])} == trained["v1"]
    assert audit["snapshot_decision_id"] == decisions["v3"].decision_id
