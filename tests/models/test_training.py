"""End to end on a tiny market: gold + ground truth -> features -> tournament -> validator -> gate."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
from rich.console import Console
from typer.testing import CliRunner

from financial_transactions.cli.main import app
from financial_transactions.config import ProjectConfig
from financial_transactions.models.champion_challenger import latest_promotion
from financial_transactions.models.deployment import deploy_champion
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.stage import run_stage
from financial_transactions.models.training import run_training
from financial_transactions.runtime import Platform
from financial_transactions.runtime.context import RunContext
from tests.support.labelled_market import write_market
from tests.support.models import small


def test_run_training_first_deploy_then_rejects_an_identical_retrain(config: ProjectConfig, tmp_path: Path) -> None:
    platform = Platform.create(small(config), lakehouse_root=tmp_path / "lh")
    write_market(platform)

    first = run_training(platform, git_sha="feedbeef")

    assert first.status == "promoted" and first.decision is not None and first.decision.first_deploy
    assert first.validation is not None and first.validation.passed
    assert first.registered_version == 1
    winner = first.tournament.winner
    assert winner is not None and winner.metric("pr_auc") >= 0.5
    assert all(r.ok for r in first.tournament.results)
    registry = ModelRegistry.from_platform(platform)
    assert registry.aliases() == {"champion": 1, "latest-model": 1}
    version = registry.version_info(1)
    assert version.tags["git_sha"] == "feedbeef" and version.tags["algorithm"] == winner.name
    promo = latest_promotion(platform)
    assert promo is not None and promo["snapshot_feature_versions"] == {}  # no feature table existed before
    trained = json.loads(json.dumps(promo["challenger_feature_versions"]))
    # the three tables one feature write produced: a rollback restores them together
    assert trained == {
        config.table(k): platform.store.version(config.table(k)) for k in ("trade_features", "train_set", "test_set")
    }

    second = run_training(platform, git_sha="feedbeef")  # same data, same seeds: no real improvement

    assert second.registered_version == 2 and second.decision is not None
    assert second.decision.decision == "REJECT" and "margin" in second.decision.reason
    assert second.decision.margin == pytest.approx(0.0, abs=1e-12)
    assert registry.aliases() == {"champion": 1, "challenger": 2, "latest-model": 2}
    audit = platform.store.read(config.table("champion_challenger_audit"))
    assert list(audit.sort_values("decided_at")["decision"]) == ["PROMOTE", "REJECT"]
    results = platform.store.read(config.table("tournament_results"))
    assert results["tournament_id"].nunique() == 2 and len(results) == 8

    deployed = deploy_champion(platform)  # the champion loads and serves, nothing moves
    assert deployed.champion_version == 1 and deployed.decision is None and deployed.smoke_rows > 0
    regated = deploy_champion(platform, version=2)  # gate v2 again on the current test_set
    assert regated.decision is not None and regated.decision.decision == "REJECT"
    assert regated.champion_version == 1 and registry.aliases()["champion"] == 1


def test_train_stage_and_cli(config: ProjectConfig, tmp_path: Path, project_root: Path) -> None:
    root = tmp_path / "lh"
    platform = Platform.create(small(config), lakehouse_root=root)
    write_market(platform, minutes=700)
    ctx = RunContext(platform=platform, console=Console(record=True, width=200), git_sha="abc")

    summary = run_stage(ctx)

    assert summary["decision"] == "PROMOTE" and summary["version"] == 1 and summary["failed_models"] == 0
    tournament = platform.store.read(platform.config.table("tournament_results"))
    winner = tournament[tournament["is_winner"]].iloc[0]
    assert summary["winner"] == winner["model"]
    assert summary["validation_pr_auc"] == round(winner["validation_pr_auc"], 4)  # what picked it
    assert summary["test_pr_auc"] == round(winner["pr_auc"], 4)  # the held-out figure
    registry = ModelRegistry.from_platform(platform)
    assert registry.aliases()["champion"] == 1
    assert registry.version_info(1).tags["git_sha"] == "abc"  # the run context's git_sha reached the model
    printed = ctx.console.export_text()
    assert "tournament" in printed and "PROMOTE" in printed and "validation" in printed

    result = CliRunner().invoke(
        app, ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root), "train"]
    )
    assert result.exit_code == 0, result.output
    assert "ranked by validation pr_auc" in " ".join(result.output.split())
    assert "champion / challenger gate" in result.output
    assert ModelRegistry.from_platform(platform).aliases()["latest-model"] == 2

    script = project_root / "scripts" / "financial" / "deploy_anomaly_model.py"
    argv = [
        "deploy_anomaly_model.py",
        "--env",
        "dev",
        "--config",
        str(project_root / "project_config.yml"),
        "--lakehouse-root",
        str(root),
    ]
    with pytest.raises(SystemExit) as exit_info, patch.object(sys, "argv", argv):
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0


def test_cli_explains_missing_inputs(tmp_path: Path, project_root: Path) -> None:
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path / "empty")]
    train = CliRunner().invoke(app, [*base, "train"])
    assert train.exit_code == 1 and "gold_trade_features does not exist" in " ".join(train.output.split())
    deploy = CliRunner().invoke(app, [*base, "deploy-model"])
    assert deploy.exit_code == 1 and "test_set does not exist" in " ".join(deploy.output.split())
