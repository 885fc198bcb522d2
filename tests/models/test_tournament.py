"""The tournament on a tiny synthetic feature table: ranking, logging, failures, persistence."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from rich.console import Console

from financial_transactions.config import ProjectConfig
from financial_transactions.config.ml import (
    IsolationForestParams,
    LightGBMParams,
    ModelsConfig,
    RandomForestParams,
    XGBoostParams,
)
from financial_transactions.models.algorithms import LightGBMModel, build_models
from financial_transactions.models.base import ModelResult
from financial_transactions.models.report import leaderboard
from financial_transactions.models.tournament import ModelTournament, rank_results
from financial_transactions.runtime import Platform
from tests.support.training_data import FEATURES, training_data


def small_models() -> ModelsConfig:
    return ModelsConfig(
        lightgbm=LightGBMParams(n_estimators=25, num_leaves=8),
        xgboost=XGBoostParams(n_estimators=25, max_depth=3),
        random_forest=RandomForestParams(n_estimators=20, max_depth=6),
        isolation_forest=IsolationForestParams(n_estimators=25),
    )


@pytest.fixture
def small_platform(config: ProjectConfig, lakehouse_root: Any) -> Platform:
    return Platform.create(config.model_copy(update={"models": small_models()}), lakehouse_root=lakehouse_root)


class BrokenLightGBM(LightGBMModel):
    """A real entrant whose training blows up, as a bad hyperparameter or OOM would."""

    name: ClassVar[str] = "lightgbm"

    def _fit_estimator(self, x: np.ndarray, y: np.ndarray) -> Any:
        raise RuntimeError("forced failure: training diverged")


def test_tournament_ranks_logs_and_persists(small_platform: Platform) -> None:
    data = training_data(900, seed=5, shift=1.5)
    result = ModelTournament(small_platform, git_sha="abc1234").run(data)

    assert [r.status for r in result.results] == ["ok"] * 4
    assert sorted(r.rank for r in result.results if r.rank) == [1, 2, 3, 4]
    pr = [r.selection_metric("pr_auc") for r in result.results]
    assert pr == sorted(pr, reverse=True)  # ranked by the primary metric on the validation slice
    winner = result.winner
    assert winner is not None and winner.rank == 1 and winner.metric("pr_auc") > 0.5
    expected = {"pr_auc", "roc_auc", "precision_at_k", "recall_at_fpr", "f1", "inference_rows_per_s"}
    for r in result.results:
        assert set(r.metrics) >= expected and set(r.validation_metrics) >= expected
        assert 0 <= r.metrics["pr_auc"] <= 1 and r.metrics["inference_rows_per_s"] > 0
        assert r.threshold is not None and r.model_uri is not None
        assert r.validation_metrics["pr_auc"] != r.metrics["pr_auc"]  # two different slices

    client = MlflowClient()
    run = client.get_run(winner.run_id)  # type: ignore[arg-type]
    assert run.data.tags["git_sha"] == "abc1234"
    assert run.data.tags["env"] == "dev"
    assert run.data.tags["config_hash"] == small_platform.config.config_hash
    assert run.data.tags["mlflow.parentRunId"] == result.parent_run_id
    assert run.data.metrics["pr_auc"] == pytest.approx(winner.metric("pr_auc"))
    assert run.data.metrics["val_pr_auc"] == pytest.approx(winner.selection_metric("pr_auc"))
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["selection_slice"] == "validation"
    assert parent.data.metrics["winner_val_pr_auc"] == pytest.approx(winner.selection_metric("pr_auc"))
    assert "n_estimators" in run.data.params
    import mlflow

    model = mlflow.pyfunc.load_model(winner.model_uri)
    assert model.metadata.signature.inputs.input_names() == FEATURES
    types = {c.name: c.type.name for c in model.metadata.signature.inputs.inputs}
    assert types["trade_count"] == "long" and types["rsi"] == "double"  # the feature table's types
    assert model.metadata.saved_input_example_info is not None  # an input example was logged
    out = model.predict(data.test)
    assert list(out.columns) == ["score", "label", "model_version"]
    assert out["score"].between(0, 1).all() and set(out["label"]) <= {0, 1}
    flagged = out["score"] >= winner.threshold
    assert (out["label"] == flagged.astype(int)).all()  # the validation threshold travels with the model

    table = small_platform.store.read(small_platform.config.table("tournament_results"))
    assert len(table) == 4 and set(table["tournament_id"]) == {result.tournament_id}
    row = table[table["is_winner"]].iloc[0]
    assert row["model"] == winner.name and row["primary_metric"] == "pr_auc"
    assert row["primary_value"] == pytest.approx(winner.metric("pr_auc"))  # held out
    assert row["selection_slice"] == "validation"
    assert row["selection_value"] == pytest.approx(winner.selection_metric("pr_auc"))
    assert row["validation_pr_auc"] == row["selection_value"] and row["pr_auc"] == row["primary_value"]
    by_rank = table.sort_values("rank")
    assert by_rank["validation_pr_auc"].is_monotonic_decreasing
    assert row["n_test"] == len(data.test) and row["n_test_anomalies"] == int(data.test["label"].sum())
    local = client.download_artifacts(result.parent_run_id, "tournament_results.json")
    artifact = json.loads(Path(local).read_text(encoding="utf-8"))
    assert len(artifact["data"]) == 4


def test_failed_model_is_recorded_and_others_still_ranked(small_platform: Platform) -> None:
    cfg = small_platform.config.models
    models = [BrokenLightGBM(cfg.lightgbm, random_state=1, n_jobs=1), *build_models(cfg)[1:]]
    result = ModelTournament(small_platform, models=models).run(training_data(900, seed=6, shift=1.5))

    failed = result.failed
    assert [r.name for r in failed] == ["lightgbm"]
    assert failed[0].status == "failed" and "forced failure" in (failed[0].error or "")
    assert failed[0].metrics == {} and failed[0].rank is None and failed[0].model_uri is None
    with pytest.raises(ValueError, match="failed"):
        failed[0].metric("pr_auc")  # never a silent 0.0
    ranked = [r for r in result.results if r.ok]
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert {r.name for r in ranked} == {"xgboost", "random_forest", "isolation_forest"}
    assert result.winner is not None and result.winner.name != "lightgbm"

    run = MlflowClient().get_run(failed[0].run_id)  # type: ignore[arg-type]
    assert run.info.status == "FAILED" and "forced failure" in run.data.tags["error"]

    console = Console(record=True, width=220)
    console.print(leaderboard(result, precision_at_k=100, fixed_fpr=0.01))
    shown = console.export_text()
    assert "failed" in shown and "forced failure: training diverged" in shown  # the leaderboard shows it
    broken_line = next(line for line in shown.splitlines() if "lightgbm" in line)
    assert "0.0000" not in broken_line  # no metric is invented for it

    table = small_platform.store.read(small_platform.config.table("tournament_results"))
    bad = table[table["model"] == "lightgbm"].iloc[0]
    assert bad["status"] == "failed" and "forced failure" in bad["error"]
    assert math.isnan(bad["pr_auc"]) and math.isnan(bad["primary_value"]) and not bad["is_winner"]
    assert math.isnan(bad["validation_pr_auc"]) and math.isnan(bad["selection_value"])
    assert table[table["status"] == "ok"]["pr_auc"].notna().all()


def _result(name: str, pr: float, roc: float = 0.5, rec: float = 0.5, f1: float = 0.5, **test: float) -> ModelResult:
    """An entrant with the given validation figures (what ranks) and, optionally, test figures."""
    validation = {"pr_auc": pr, "roc_auc": roc, "recall_at_fpr": rec, "f1": f1}
    return ModelResult(name, "ok", {**validation, **test}, validation_metrics=validation)


def test_rank_tie_break_is_documented_order() -> None:
    failed = ModelResult("zz_failed", "failed", error="boom")
    ranked = rank_results(
        [_result("b", 0.9, 0.8), failed, _result("a", 0.9, 0.8), _result("c", 0.9, 0.95), _result("d", 0.95, 0.1)],
        "pr_auc",
        ["roc_auc", "recall_at_fpr", "f1"],
        1e-9,
    )
    assert [x.name for x in ranked] == ["d", "c", "a", "b", "zz_failed"]  # primary, roc tie-break, then name
    assert [x.rank for x in ranked] == [1, 2, 3, 4, None]


def test_winner_is_chosen_on_validation_not_on_the_reported_test_slice() -> None:
    """The model that happens to score best on test must not win for it: that figure is then reported."""
    steady = _result("steady", 0.90, pr_auc=0.88)
    lucky = _result("lucky", 0.80, pr_auc=0.97)  # worse where it is chosen, best where it is reported
    ranked = rank_results([lucky, steady], "pr_auc", ["roc_auc"], 1e-9)
    assert [r.name for r in ranked] == ["steady", "lucky"]
    assert ranked[0].metric("pr_auc") == 0.88 and ranked[0].selection_metric("pr_auc") == 0.90


def test_tie_tolerance_ranking_is_a_total_order() -> None:
    """0.900 ~ 0.905 ~ 0.910 pairwise within 0.006, but 0.900 and 0.910 are not: tiers are cut from the
    best (0.910 and 0.905 tie, ordered by ROC-AUC; 0.900 is a tier below), whatever the input order."""
    models = [
        _result("a", 0.900, roc=0.99),
        _result("b", 0.905, roc=0.70),
        _result("c", 0.910, roc=0.80),
        _result("d", 0.896, roc=0.10),
        _result("e", 0.905, roc=0.70),
    ]
    orders = {
        tuple(r.name for r in rank_results(list(p), "pr_auc", ["roc_auc"], 0.006))
        for p in itertools.permutations(models)
    }
    assert orders == {("c", "b", "e", "a", "d")}  # tier 1: c, b, e (roc, then name); tier 2: a, d
    # with no tolerance it is plain lexicographic order
    assert [r.name for r in rank_results(models, "pr_auc", ["roc_auc"], 0.0)] == ["c", "b", "e", "a", "d"]
    strict = [r.name for r in rank_results(models, "pr_auc", ["roc_auc"], 0.02)]
    assert strict == ["a", "c", "b", "e", "d"]  # everything within 0.02 of 0.910: roc-auc decides


def test_tournament_refuses_a_holdout_without_anomalies(small_platform: Platform) -> None:
    data = training_data(600, seed=7)
    data.test["label"] = 0
    with pytest.raises(ValueError, match="test slice has 0 anomalous"):
        ModelTournament(small_platform).run(data)
