"""The gate, through the real local SQLite registry and real pyfunc models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from financial_transactions.config import ProjectConfig
from financial_transactions.config.ml import GateConfig, GuardrailsConfig
from financial_transactions.lakehouse import Platform
from financial_transactions.models.champion_challenger import (
    ChampionChallenger,
    GateAlert,
    GateScore,
    decide,
    latest_promotion,
)
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry

from .helpers import fit, lightgbm, random_forest, register
from .synthetic import training_data


@pytest.fixture(scope="module")
def strong() -> TrainingData:
    return training_data(1200, seed=1, shift=3.0)


@pytest.fixture(scope="module")
def moderate() -> TrainingData:
    return training_data(1200, seed=2, shift=0.8)


@pytest.fixture(scope="module")
def noise() -> TrainingData:
    return training_data(1200, seed=3, shift=0.0)


class Alerts:
    def __init__(self) -> None:
        self.sent: list[GateAlert] = []

    def __call__(self, alert: GateAlert) -> None:
        self.sent.append(alert)


def gate_platform(config: ProjectConfig, root: Path, **gate: Any) -> Platform:
    cfg = config.model_copy(update={"gate": GateConfig(**gate)}) if gate else config
    return Platform.create(cfg, lakehouse_root=root)


def audit_rows(platform: Platform) -> list[dict[str, Any]]:
    df = platform.store.read(platform.config.table("champion_challenger_audit")).sort_values("decided_at")
    return df.to_dict("records")


def test_first_deploy_promotes_and_snapshots(platform: Platform, strong: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    assert not registry.exists()
    v1 = register(platform, registry, fit(lightgbm(), strong), strong)
    alerts = Alerts()
    decision = ChampionChallenger(platform, registry=registry, alert=alerts).evaluate(
        v1, strong.test, feature_versions_before={"mlops_dev.financial_transactions.train_set": 4}
    )
    assert decision.decision == "PROMOTE" and decision.first_deploy
    assert "no champion" in decision.reason
    assert registry.aliases() == {"champion": v1, "latest-model": v1}
    assert alerts.sent == []
    (row,) = audit_rows(platform)
    assert row["decision"] == "PROMOTE" and row["first_deploy"]
    assert row["champion_version"] is None or row["champion_version"] != row["champion_version"]  # null
    assert json.loads(row["snapshot_aliases"]) == {"challenger": v1, "latest-model": v1}
    assert json.loads(row["snapshot_feature_versions"]) == {"mlops_dev.financial_transactions.train_set": 4}
    assert json.loads(row["state_after"]) == {"champion": v1, "latest-model": v1}
    assert row["challenger_primary"] == pytest.approx(decision.challenger.metrics["pr_auc"])  # type: ignore[union-attr]
    # the champion pyfunc names its own version
    _version, model = registry.load_alias("champion")
    assert set(model.predict(strong.test.head(3))["model_version"]) == {str(v1)}


def test_better_challenger_is_promoted(platform: Platform, strong: TrainingData, noise: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)
    assert registry.aliases() == {"champion": v1, "challenger": v2, "latest-model": v2}

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    assert decision.decision == "PROMOTE" and not decision.first_deploy
    assert decision.champion is not None and decision.challenger is not None
    assert decision.margin == pytest.approx(decision.challenger.metrics["pr_auc"] - decision.champion.metrics["pr_auc"])
    assert decision.margin > 0.3  # a real model vs one trained on noise, on the same holdout
    assert decision.champion.rows == decision.challenger.rows == len(strong.test)
    assert registry.aliases() == {"champion": v2, "previous-champion": v1, "latest-model": v2}
    last = audit_rows(platform)[-1]
    assert last["decision"] == "PROMOTE" and last["champion_version"] == v1 and last["challenger_version"] == v2
    assert json.loads(last["snapshot_aliases"])["champion"] == v1  # what a rollback re-points to
    assert json.loads(last["challenger_metrics"])["pr_auc"] == pytest.approx(last["challenger_primary"])
    promo = latest_promotion(platform)
    assert promo is not None and promo["challenger_version"] == v2 and promo["snapshot_aliases"]["champion"] == v1


def test_small_margin_is_rejected(config: ProjectConfig, tmp_path: Path, strong: TrainingData) -> None:
    platform = gate_platform(config, tmp_path / "lh", margin=0.05)
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), strong), strong)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)  # the same recipe: no real gain

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    assert decision.decision == "REJECT"
    assert decision.margin is not None and decision.margin < 0.05
    assert "margin" in decision.reason and "below the required 0.0500" in decision.reason
    assert registry.aliases() == {"champion": v1, "challenger": v2, "latest-model": v2}
    last = audit_rows(platform)[-1]
    assert last["decision"] == "REJECT" and last["snapshot_aliases"] is None
    assert last["margin"] == pytest.approx(decision.margin) and last["required_margin"] == 0.05
    assert json.loads(last["state_before"]) == json.loads(last["state_after"])


def test_recall_regression_is_rejected(platform: Platform, strong: TrainingData, moderate: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), moderate), moderate)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    better_ranking = fit(lightgbm(), strong)
    better_ranking.threshold = 1.01  # ranks perfectly, flags nothing: recall 0
    v2 = register(platform, registry, better_ranking, strong)

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    assert decision.champion is not None and decision.challenger is not None
    assert decision.margin is not None and decision.margin >= platform.config.gate.margin  # margin alone would pass
    assert decision.challenger.recall == 0.0 and decision.champion.recall > 0.3
    assert decision.decision == "REJECT" and "recall guardrail" in decision.reason
    assert "margin" not in decision.reason
    assert registry.aliases()["champion"] == v1


def test_latency_regression_is_rejected(
    config: ProjectConfig, tmp_path: Path, strong: TrainingData, moderate: TrainingData
) -> None:
    platform = gate_platform(
        config, tmp_path / "lh", guardrails=GuardrailsConfig(latency_tolerance=0.5, latency_slack_ms=0.0)
    )
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(n_estimators=3), moderate), moderate)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(random_forest(n_estimators=400), strong), strong)

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    assert decision.champion is not None and decision.challenger is not None
    assert decision.challenger.latency_ms > 1.5 * decision.champion.latency_ms
    assert decision.decision == "REJECT" and "latency guardrail" in decision.reason
    assert registry.aliases()["champion"] == v1


class UnavailableRegistryClient(MlflowClient):
    """The real client, except that the registry read the gate depends on fails."""

    def get_registered_model(self, name: str) -> Any:
        raise MlflowException("registry backend unavailable", error_code="TEMPORARILY_UNAVAILABLE")


def test_registry_error_rejects_and_alerts(platform: Platform, strong: TrainingData, noise: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)  # clearly better
    settings = platform.mlflow
    broken = ModelRegistry(
        registry.name, UnavailableRegistryClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    )
    alerts = Alerts()

    decision = ChampionChallenger(platform, registry=broken, alert=alerts).evaluate(v2, strong.test)

    assert decision.decision == "REJECT" and decision.error is not None
    assert "registry backend unavailable" in decision.reason
    assert len(alerts.sent) == 1 and alerts.sent[0].severity == "critical"
    assert alerts.sent[0].context["challenger_version"] == v2
    assert registry.aliases() == {"champion": v1, "challenger": v2, "latest-model": v2}  # nothing moved
    last = audit_rows(platform)[-1]
    assert last["decision"] == "REJECT" and last["alerted"] and "unavailable" in last["error"]


def test_registry_error_never_counts_as_no_champion(platform: Platform, strong: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), strong), strong)
    settings = platform.mlflow
    broken = ModelRegistry(
        registry.name, UnavailableRegistryClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    )
    alerts = Alerts()
    decision = ChampionChallenger(platform, registry=broken, alert=alerts).evaluate(v1, strong.test)
    assert decision.decision == "REJECT" and not decision.first_deploy
    assert "champion" not in registry.aliases() and len(alerts.sent) == 1


def test_unloadable_champion_rejects(platform: Platform, strong: TrainingData, noise: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)
    stored = registry.client.get_model_version_download_uri(registry.name, str(v1))
    shutil.rmtree(Path(stored.removeprefix("file://")))  # the champion's files are gone
    alerts = Alerts()

    decision = ChampionChallenger(platform, registry=registry, alert=alerts).evaluate(v2, strong.test)

    assert decision.decision == "REJECT" and f"champion version {v1} unusable" in decision.reason
    assert len(alerts.sent) == 1
    assert registry.aliases()["champion"] == v1


def test_decide_rules() -> None:
    cfg = GateConfig(
        margin=0.01, guardrails=GuardrailsConfig(recall_tolerance=0.05, latency_tolerance=0.5, latency_slack_ms=1.0)
    )

    def s(version: int, pr: float, recall: float, ms: float) -> GateScore:
        return GateScore(version, {"pr_auc": pr, "recall": recall}, ms, 100)

    assert decide(s(2, 0.80, 0.7, 10), None, cfg, "pr_auc")[0] == "PROMOTE"
    assert decide(s(2, 0.81, 0.7, 10), s(1, 0.80, 0.7, 10), cfg, "pr_auc")[0] == "PROMOTE"  # margin exactly met
    assert decide(s(2, 0.809, 0.7, 10), s(1, 0.80, 0.7, 10), cfg, "pr_auc")[0] == "REJECT"
    assert decide(s(2, 0.90, 0.64, 10), s(1, 0.80, 0.7, 10), cfg, "pr_auc")[0] == "REJECT"  # recall -0.06
    assert decide(s(2, 0.90, 0.66, 10), s(1, 0.80, 0.7, 10), cfg, "pr_auc")[0] == "PROMOTE"  # recall -0.04
    assert decide(s(2, 0.90, 0.7, 16.0), s(1, 0.80, 0.7, 10), cfg, "pr_auc")[0] == "PROMOTE"  # 15 + 1 slack
    verdict, reason = decide(s(2, 0.805, 0.5, 17), s(1, 0.80, 0.7, 10), cfg, "pr_auc")
    assert verdict == "REJECT" and all(w in reason for w in ("margin", "recall guardrail", "latency guardrail"))
    assert decide(s(1, 0.9, 0.7, 10), s(1, 0.8, 0.7, 10), cfg, "pr_auc")[0] == "REJECT"  # same version


class RacingRegistry(ModelRegistry):
    """The real registry; while the gate scores the models, another gate records its decision."""

    def __init__(
        self, name: str, client: MlflowClient, platform: Platform, rival_version: int, holdout: pd.DataFrame
    ) -> None:
        super().__init__(name, client)
        self.platform = platform
        self.rival_version = rival_version
        self.holdout = holdout
        self.raced = False

    def load(self, version: int) -> Any:
        if not self.raced:
            self.raced = True
            rival = ChampionChallenger(self.platform, registry=ModelRegistry(self.name, self.client), alert=Alerts())
            rival.evaluate(self.rival_version, self.holdout)
        return super().load(version)


def test_concurrent_gates_promote_at_most_once(platform: Platform, strong: TrainingData, noise: TrainingData) -> None:
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), noise), noise)  # the rival: no better, rejected
    v3 = register(platform, registry, fit(lightgbm(), strong), strong)  # clearly better
    racing = RacingRegistry(registry.name, registry.client, platform, rival_version=v2, holdout=strong.test)
    alerts = Alerts()

    decision = ChampionChallenger(platform, registry=racing, alert=alerts).evaluate(v3, strong.test)

    assert decision.decision == "REJECT" and "another gate decision was recorded" in decision.reason
    assert len(alerts.sent) == 1
    assert registry.aliases()["champion"] == v1
    decisions = [r["decision"] for r in audit_rows(platform)]
    assert decisions == ["PROMOTE", "REJECT", "REJECT"]  # first deploy, the rival, this gate (fail closed)
