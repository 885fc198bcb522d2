"""The gate, through the real local SQLite registry and real pyfunc models."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from financial_transactions.config import ProjectConfig
from financial_transactions.config.ml import GateConfig, GuardrailsConfig
from financial_transactions.lakehouse import LakehouseError
from financial_transactions.lakehouse.store import LocalDeltaStore
from financial_transactions.models.champion_challenger import (
    ChampionChallenger,
    GateAlert,
    GateDecision,
    GateScore,
    decide,
    latest_promotion,
)
from financial_transactions.models.data import TrainingData
from financial_transactions.models.metrics import OperatingPoint, PairedDifference
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform
from tests.support.models import fit, lightgbm, random_forest, register
from tests.support.training_data import training_data


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

    assert decision.decision == "REJECT" and decision.test is not None
    assert decision.margin is not None and decision.test.lower < 0.05
    assert "below the required margin 0.0500" in decision.reason and "lower bound" in decision.reason
    assert registry.aliases() == {"champion": v1, "challenger": v2, "latest-model": v2}
    last = audit_rows(platform)[-1]
    assert last["decision"] == "REJECT" and last["snapshot_aliases"] is None
    assert last["margin"] == pytest.approx(decision.margin) and last["required_margin"] == 0.05
    assert last["margin_lower"] == pytest.approx(decision.test.lower)
    assert last["margin_lower"] <= last["margin"] <= last["margin_upper"]
    assert last["confidence"] == 0.95 and "paired class-stratified bootstrap" in last["test"]
    assert last["operating_point"] == "fpr" and last["operating_value"] == 0.01
    assert 0 <= last["challenger_matched_recall"] <= 1 and last["champion_matched_threshold"] is not None
    assert last["latency_objective_ms"] == 2000.0 and last["latency_batch_rows"] == 10_000
    assert json.loads(last["state_before"]) == json.loads(last["state_after"])


def test_own_thresholds_are_never_compared_only_the_matched_operating_point(
    platform: Platform, strong: TrainingData, moderate: TrainingData
) -> None:
    """The old guardrail took each model's recall at its own stored threshold: a better ranker whose threshold
    flags nothing (recall 0) was rejected. The gate now cuts both at the same FPR, where it is the better one."""
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), moderate), moderate)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    better_ranking = fit(lightgbm(), strong)
    better_ranking.threshold = 1.01  # ranks well, flags nothing at its own threshold: recall 0 there
    v2 = register(platform, registry, better_ranking, strong)

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    ch, cp = decision.challenger, decision.champion
    assert ch is not None and cp is not None and decision.test is not None
    assert ch.recall == 0.0 and cp.recall > 0.3  # own thresholds: what the old rule compared
    assert ch.matched is not None and cp.matched is not None
    assert ch.matched.fpr <= 0.01 and cp.matched.fpr <= 0.01  # the same operating point for both
    assert ch.matched_recall is not None and cp.matched_recall is not None and ch.matched_recall > cp.matched_recall
    assert decision.test.lower >= platform.config.gate.margin
    assert decision.decision == "PROMOTE" and "recall at FPR 0.01" in decision.reason
    last = audit_rows(platform)[-1]
    assert last["challenger_recall"] == 0.0 and last["challenger_matched_recall"] == pytest.approx(ch.matched_recall)


def test_latency_is_judged_against_the_objective_not_the_champion(
    config: ProjectConfig, tmp_path: Path, strong: TrainingData, moderate: TrainingData
) -> None:
    platform = gate_platform(config, tmp_path / "lh", guardrails=GuardrailsConfig(latency_objective_ms=0.01))
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(n_estimators=3), moderate), moderate)
    first = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    assert first.decision == "REJECT" and "first deploy refused: latency guardrail" in first.reason
    registry.apply_aliases({"champion": v1})
    v2 = register(platform, registry, fit(random_forest(n_estimators=60), strong), strong)  # clearly better

    decision = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)

    ch = decision.challenger
    assert ch is not None and len(ch.latency_samples_ms) == platform.config.gate.latency_repeats
    assert ch.latency_ms == pytest.approx(float(np.median(ch.latency_samples_ms)))
    assert decision.decision == "REJECT" and "latency guardrail" in decision.reason
    assert "above the 0.01 ms objective" in decision.reason and "margin" not in decision.reason
    assert registry.aliases()["champion"] == v1

    # the same challenger within a generous objective: the champion's own speed plays no part
    relaxed = gate_platform(config, tmp_path / "lh", guardrails=GuardrailsConfig(latency_objective_ms=60_000))
    again = ChampionChallenger(relaxed, registry=registry, alert=Alerts()).evaluate(v2, strong.test)
    assert again.decision == "PROMOTE" and "within the 60000 ms objective" in again.reason


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
        margin=0.01,
        guardrails=GuardrailsConfig(recall_tolerance=0.05, latency_objective_ms=100.0, latency_batch_rows=10),
    )

    def s(version: int, pr: float, matched_recall: float, ms: float) -> GateScore:
        op = OperatingPoint("fpr", 0.01, 0.5, matched_recall, 0.01, 0.02, 0.5)
        return GateScore(version, {"pr_auc": pr, "recall": 0.1}, ms, 100, op)

    def test(lower: float, estimate: float = 0.05) -> PairedDifference:
        return PairedDifference("pr_auc", estimate, lower, estimate + 0.05, 0.95, 1000, 0, 0.02, 0.02)

    champion = s(1, 0.80, 0.7, 10)
    assert decide(s(2, 0.80, 0.7, 10), None, cfg, "pr_auc")[0] == "PROMOTE"
    assert decide(s(2, 0.80, 0.7, 101), None, cfg, "pr_auc")[0] == "REJECT"  # first deploy still meets the SLO
    assert decide(s(2, 0.85, 0.7, 10), champion, cfg, "pr_auc", test(0.01))[0] == "PROMOTE"  # bound exactly met
    verdict, reason = decide(s(2, 0.85, 0.7, 10), champion, cfg, "pr_auc", test(0.009))
    assert verdict == "REJECT" and "below the required margin 0.0100" in reason  # a +0.05 point gain is not enough
    assert decide(s(2, 0.90, 0.64, 10), champion, cfg, "pr_auc", test(0.05))[0] == "REJECT"  # matched recall -0.06
    assert decide(s(2, 0.90, 0.66, 10), champion, cfg, "pr_auc", test(0.05))[0] == "PROMOTE"  # matched recall -0.04
    # latency: the objective alone decides; a challenger 9x slower than the champion but within it passes
    assert decide(s(2, 0.90, 0.7, 90.0), champion, cfg, "pr_auc", test(0.05))[0] == "PROMOTE"
    verdict, reason = decide(s(2, 0.805, 0.5, 101), champion, cfg, "pr_auc", test(-0.02, 0.005))
    assert verdict == "REJECT" and all(w in reason for w in ("margin", "recall guardrail", "latency guardrail"))
    assert decide(s(1, 0.9, 0.7, 10), champion, cfg, "pr_auc", test(0.05))[0] == "REJECT"  # same version
    with pytest.raises(ValueError, match="paired test"):
        decide(s(2, 0.9, 0.7, 10), champion, cfg, "pr_auc")  # never decided on point values alone


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


class PromotingRaceRegistry(ModelRegistry):
    """The real registry; between this gate's PROMOTE row and its alias move, a whole rival gate runs."""

    def __init__(self, name: str, client: MlflowClient, rival: Callable[[], GateDecision]) -> None:
        super().__init__(name, client)
        self.rival = rival
        self.rival_decision: GateDecision | None = None

    def apply_aliases(self, target: dict[str, int]) -> None:
        if self.rival_decision is None:
            self.rival_decision = self.rival()
        super().apply_aliases(target)


def test_gate_starting_after_a_recorded_promotion_does_not_promote_on_top(
    platform: Platform, strong: TrainingData, noise: TrainingData
) -> None:
    """Gate A has committed its PROMOTE row but not yet moved the aliases; gate B starts then. B sees the
    old aliases and A's row in the audit table it conditions on, so neither the alias re-read nor the
    optimistic commit stops it: only the pending-promotion check does."""
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)  # clearly better than v1
    v3 = register(platform, registry, fit(random_forest(60), strong), strong)  # also clearly better than v1
    rival_alerts = Alerts()

    def rival() -> GateDecision:
        return ChampionChallenger(platform, registry=ModelRegistry(registry.name, registry.client),
                                  alert=rival_alerts).evaluate(v3, strong.test)  # fmt: skip

    racing = PromotingRaceRegistry(registry.name, registry.client, rival)
    decision = ChampionChallenger(platform, registry=racing, alert=Alerts()).evaluate(v2, strong.test)

    assert decision.decision == "PROMOTE" and decision.challenger_version == v2
    late = racing.rival_decision
    assert late is not None and late.decision == "REJECT" and late.error is not None
    assert "the champion is being replaced" in late.reason and decision.decision_id in late.reason
    assert late.champion is not None and late.challenger is not None  # it had scored both: margin alone passed
    assert late.challenger.metrics["pr_auc"] - late.champion.metrics["pr_auc"] > 0.3
    assert len(rival_alerts.sent) == 1 and rival_alerts.sent[0].severity == "critical"
    assert registry.aliases() == {"champion": v2, "previous-champion": v1, "latest-model": v3, "challenger": v3}
    rows = audit_rows(platform)
    assert [(r["decision"], r["challenger_version"]) for r in rows] == [
        ("PROMOTE", v1),
        ("PROMOTE", v2),
        ("REJECT", v3),
    ]
    promo = latest_promotion(platform)
    assert promo is not None and promo["challenger_version"] == v2 and promo["snapshot_aliases"]["champion"] == v1


class ProcessDied(BaseException):
    """What the gate's own error handling cannot catch: the job was killed."""


class DyingRegistry(ModelRegistry):
    def apply_aliases(self, target: dict[str, int]) -> None:
        raise ProcessDied("killed between the audit commit and the alias move")


def test_interrupted_promotion_blocks_until_its_timeout_then_is_cancelled(
    config: ProjectConfig, tmp_path: Path, strong: TrainingData, noise: TrainingData
) -> None:
    platform = gate_platform(config, tmp_path / "lh")
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), noise), noise)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)
    with pytest.raises(ProcessDied):
        ChampionChallenger(platform, registry=DyingRegistry(registry.name, registry.client), alert=Alerts()).evaluate(
            v2, strong.test
        )
    stuck = audit_rows(platform)[-1]
    assert stuck["decision"] == "PROMOTE" and registry.aliases()["champion"] == v1  # recorded, never moved

    blocked = ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v2, strong.test)
    assert blocked.decision == "REJECT" and "the champion is being replaced" in blocked.reason
    assert registry.aliases()["champion"] == v1

    impatient = gate_platform(config, tmp_path / "lh", pending_promotion_timeout_seconds=0.0)
    alerts = Alerts()
    decision = ChampionChallenger(impatient, registry=registry, alert=alerts).evaluate(v2, strong.test)

    assert decision.decision == "PROMOTE"
    assert registry.aliases() == {"champion": v2, "previous-champion": v1, "latest-model": v2}
    assert [a.severity for a in alerts.sent] == ["warning"] and stuck["decision_id"] in alerts.sent[0].message
    rows = audit_rows(platform)
    assert [r["decision"] for r in rows] == ["PROMOTE", "PROMOTE", "REJECT", "REJECT", "PROMOTE"]
    cancel = rows[3]
    assert cancel["supersedes"] == stuck["decision_id"] and "interrupted promotion" in cancel["reason"]
    promo = latest_promotion(platform)
    assert promo is not None and promo["decision_id"] == decision.decision_id


class AuditDown(LocalDeltaStore):
    """The real local store, except that the audit table cannot be written (disk full, permissions)."""

    def append(self, fqn: str, data: Any, *, schema_mode: Any = "merge") -> int:
        if fqn.endswith("champion_challenger_audit"):
            raise LakehouseError(f"{fqn}: storage unavailable")
        return super().append(fqn, data, schema_mode=schema_mode)

    def append_if_version(self, fqn: str, data: Any, expected_version: int, keys: Any) -> int:
        if fqn.endswith("champion_challenger_audit"):
            raise LakehouseError(f"{fqn}: storage unavailable")
        return super().append_if_version(fqn, data, expected_version, keys)


def test_audit_write_failure_is_a_reject_with_an_alert_never_a_traceback(
    config: ProjectConfig, tmp_path: Path, strong: TrainingData
) -> None:
    platform = gate_platform(config, tmp_path / "lh", margin=0.05)
    platform.__dict__["store"] = AuditDown(platform.lakehouse_root)
    registry = ModelRegistry.from_platform(platform)
    v1 = register(platform, registry, fit(lightgbm(), strong), strong)
    alerts = Alerts()

    first = ChampionChallenger(platform, registry=registry, alert=alerts).evaluate(v1, strong.test)

    # a first deploy would promote, but its PROMOTE row cannot be written: nothing moves
    assert first.decision == "REJECT" and first.error is not None
    assert "could not be recorded in the audit table" in first.error and "storage unavailable" in first.error
    assert "audit row could not be written" in first.error
    assert "champion" not in registry.aliases()
    assert alerts.sent and all(a.severity == "critical" for a in alerts.sent)
    assert not platform.store.exists(platform.config.table("champion_challenger_audit"))

    # a plain REJECT (too small a margin) whose row cannot be written says so and alerts
    platform.__dict__["store"] = LocalDeltaStore(platform.lakehouse_root)
    ChampionChallenger(platform, registry=registry, alert=Alerts()).evaluate(v1, strong.test)
    v2 = register(platform, registry, fit(lightgbm(), strong), strong)
    platform.__dict__["store"] = AuditDown(platform.lakehouse_root)
    alerts = Alerts()
    second = ChampionChallenger(platform, registry=registry, alert=alerts).evaluate(v2, strong.test)
    assert second.decision == "REJECT" and "margin" in second.reason
    assert second.error is not None and "audit row could not be written" in second.error
    assert len(alerts.sent) == 1 and alerts.sent[0].severity == "critical" and second.alerted
    assert registry.aliases()["champion"] == v1
