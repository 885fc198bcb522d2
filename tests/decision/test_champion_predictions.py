"""Which predictions count: the current champion's, out of sample only; only current backtests feed decisions."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.ml import LightGBMParams, ModelsConfig
from financial_transactions.decision.backtester import AS_OF, CURRENT, Backtester, current_runs
from financial_transactions.decision.decision_matrix import DecisionMatrix
from financial_transactions.decision.predictions import (
    TRAIN_CUTOFF_TAG,
    champion_predictions,
    synthesize_predictions,
    training_cutoff,
)
from financial_transactions.models.registry import ModelRegistry, RegistryError
from financial_transactions.runtime import Platform
from tests.support.gold import T0, gold_frame, now, prediction_rows, synthetic_trades, train_champion, write_gold

SYMBOLS = {"AAPL": 190.0, "BTCUSDT": 90_000.0}


def test_training_cutoff_follows_the_tournament_lineage(config: ProjectConfig, tmp_path: Path) -> None:
    """A real tournament: version -> run -> parent run's train_set version -> newest bar of train_set."""
    from financial_transactions.models.training import run_training
    from tests.support.labelled_market import write_market

    small = config.model_copy(
        update={"models": ModelsConfig(enabled=["lightgbm"], lightgbm=LightGBMParams(n_estimators=30, num_leaves=15))}
    )
    platform = Platform.create(small, lakehouse_root=tmp_path / "lh")
    write_market(platform, minutes=600)
    outcome = run_training(platform, git_sha="cafe")
    assert outcome.status == "promoted" and outcome.registered_version == 1
    trained_on = outcome.tournament.table  # the tournament logged the train_set version it read
    train_fqn = small.table("train_set")
    train_version = platform.store.version(train_fqn)
    train_set = platform.store.read(train_fqn, version=train_version)
    assert len(trained_on) == 1 and set(train_set["split"]) == {"train", "validation"}
    expected = pd.Timestamp(train_set["bar_start"].max())

    assert training_cutoff(platform, 1) == expected
    run = synthesize_predictions(platform)
    preds = platform.store.read(small.table("synthesized_predictions"))
    assert run.train_cutoff == expected and (preds["train_cutoff"] == expected).all()
    gold = platform.store.read(small.table("gold_trade_features"), columns=["bar_start"])
    assert gold["bar_start"].max() > expected  # the test slice lies after the cutoff

    # a stated cutoff (version tag) wins over the lineage
    registry = ModelRegistry.from_platform(platform)
    registry.client.set_model_version_tag(small.model_name, "1", TRAIN_CUTOFF_TAG, "2026-03-06T05:00:00Z")
    assert training_cutoff(platform, 1) == pd.Timestamp("2026-03-06T05:00:00Z")
    # no lineage at all (a model logged outside a tournament run): unknown, never "everything is out of sample"
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="m", python_model=_Constant(), input_example=pd.DataFrame({"x": [1.0]}))
    bare = registry.register(info.model_uri)
    assert training_cutoff(platform, bare) is None
    # the data a model saw is gone (dropped / vacuumed): unknown as well
    registry.client.delete_model_version_tag(small.model_name, "1", TRAIN_CUTOFF_TAG)
    platform.store.overwrite(train_fqn, train_set.iloc[:0])  # a new version; the lineage still names the old one
    assert training_cutoff(platform, 1) == expected
    shutil.rmtree(platform.store.path(train_fqn))  # type: ignore[attr-defined]
    assert training_cutoff(platform, 1) is None
    # but a registry that cannot answer is an error, never a permanent "unknown" written to every row
    with pytest.raises(RegistryError, match="version 999"):
        training_cutoff(platform, 999)


class _Constant(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    def predict(self, context: object, model_input: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score": np.zeros(len(model_input)), "label": 0})


def test_in_sample_bars_get_no_model_position(config: ProjectConfig, tmp_path: Path) -> None:
    platform = Platform.create(config, lakehouse_root=tmp_path / "lh")
    gold = gold_frame(platform, synthetic_trades(SYMBOLS, 240, seed=8))
    write_gold(platform, gold)
    cutoff = T0 + pd.Timedelta(minutes=119, seconds=30)
    # no flagged bar: out of sample the model is long from the bar after the first usable prediction
    rows = prediction_rows(gold, "4", np.zeros(len(gold), dtype=bool), now(), train_cutoff=cutoff)
    platform.store.append(config.table("synthesized_predictions"), rows)
    report = Backtester(platform).run(strategies=["model"], mode="long_flat")
    embargo = pd.Timedelta(minutes=config.split.embargo_minutes)
    assert report.inputs.champion == "4"  # no registry champion: the newest scoring run's model
    assert {r.symbol for r in report.results} == set(SYMBOLS)
    for res in report.results:
        usable = (res.times > cutoff + embargo).to_numpy()
        expected = np.concatenate([[0.0], usable[:-1].astype(float)])  # the position acts on the next bar
        np.testing.assert_array_equal(res.positions, expected)
        assert res.positions[res.times <= cutoff + embargo].sum() == 0 and res.positions.sum() > 0
        assert res.metrics["exposure"] == pytest.approx(expected[1:].mean())
        assert res.model_versions == "4"

    # a model trained on every bar (or whose cutoff is unknown) is never followed
    newest_bar = gold["bar_start"].max()
    everything = prediction_rows(gold, "5", np.zeros(len(gold), dtype=bool), now(), train_cutoff=newest_bar)
    platform.store.append(config.table("synthesized_predictions"), everything)
    report = Backtester(platform).run(strategies=["model"])
    skipped = {s["symbol"]: s["reason"] for s in report.skipped if s["strategy"] == "model"}
    assert report.results == [] and set(skipped) == set(SYMBOLS)
    newest = pd.Timestamp(gold["bar_start"].max()).isoformat()
    assert skipped["AAPL"] == (
        f"no out-of-sample predictions: model v5 was trained on bars up to {newest}"
        f" (+{config.split.embargo_minutes} min embargo)"
    )
    unknown = prediction_rows(gold, "6", np.zeros(len(gold), dtype=bool), now(), train_cutoff=None)
    platform.store.append(config.table("synthesized_predictions"), unknown)
    report = Backtester(platform).run(strategies=["model"])
    skipped = {s["symbol"]: s["reason"] for s in report.skipped if s["strategy"] == "model"}
    assert report.results == [] and "model v6 was trained on bars up to unknown" in skipped["BTCUSDT"]


@dataclass
class TwoChampions:
    platform: Platform
    gold: pd.DataFrame
    a: int
    b: int
    registry: ModelRegistry


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[TwoChampions]:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    decision = cfg.decision.model_copy(update={"model_window_bars": 100_000})  # the rate over every scored bar
    cfg = cfg.model_copy(update={"decision": decision})
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("champions") / "lh")
    gold = gold_frame(platform, synthetic_trades(SYMBOLS, 300, seed=17))
    write_gold(platform, gold)
    a = train_champion(platform, gold, n_estimators=8, seed=1, train_fraction=0.3)
    b = train_champion(platform, gold, n_estimators=30, seed=2, train_fraction=0.3, label_quantile=0.7)
    yield TwoChampions(platform, gold, a, b, ModelRegistry.from_platform(platform))


def _rates(platform: Platform, version: int) -> dict[str, float]:
    preds = platform.store.read(platform.config.table("synthesized_predictions"))
    mine = preds[preds["model_version"] == str(version)]
    return {str(k): float(v) for k, v in mine.groupby("symbol")["label"].mean().items()}


def _model_equity(report: object) -> dict[str, np.ndarray]:
    return {r.symbol: r.equity for r in report.results if r.strategy == "model"}  # type: ignore[attr-defined]


def test_predictions_follow_the_champion_back_and_forth(two: TwoChampions) -> None:
    platform, a, b = two.platform, two.a, two.b
    preds_fqn = platform.config.table("synthesized_predictions")
    two.registry.set_alias("champion", a)
    first = synthesize_predictions(platform)
    assert (first.model_version, first.rows_scored, first.table_version) == (str(a), len(two.gold), 0)
    two.registry.set_alias("champion", b)  # promotion: b scores every bar too, later
    second = synthesize_predictions(platform)
    assert (second.model_version, second.rows_scored, second.table_version) == (str(b), len(two.gold), 1)
    rate_a, rate_b = _rates(platform, a), _rates(platform, b)
    assert rate_a != rate_b  # the two champions disagree, so following the wrong one would show

    bt = Backtester(platform)
    on_b = bt.run(strategies=["model"])
    assert {r.model_versions for r in on_b.results} == {str(b)}

    two.registry.set_alias("champion", a)  # rollback: a has scored every bar already ...
    again = synthesize_predictions(platform)
    assert again.rows_scored == 0 and again.table_version is None  # ... so nothing is appended
    assert platform.store.version(preds_fqn) == 1
    on_a = bt.run(strategies=["model"])
    assert on_a.inputs.champion == str(a) and {r.model_versions for r in on_a.results} == {str(a)}
    raw, _ = DecisionMatrix(platform).gather()
    conf = raw.set_index("symbol")["model_confidence"].dropna().to_dict()
    assert conf == pytest.approx(rate_a)

    # the model backtest is exactly a's own rows, not b's newer ones
    preds = platform.store.read(preds_fqn)
    chosen, version = champion_predictions(preds, str(a))
    assert version == str(a) and set(chosen["model_version"]) == {str(a)} and len(chosen) == len(two.gold)
    a_equity, b_equity = _model_equity(on_a), _model_equity(on_b)
    assert any(not np.array_equal(a_equity[s], b_equity[s]) for s in a_equity)

    two.registry.set_alias("champion", b)  # and forth again
    assert {r.model_versions for r in bt.run(strategies=["model"]).results} == {str(b)}
    raw, _ = DecisionMatrix(platform).gather()
    assert raw.set_index("symbol")["model_confidence"].dropna().to_dict() == pytest.approx(rate_b)

    # replays of the past follow the champion of their time: the snapshot's newest scoring run
    assert {r.model_versions for r in bt.run(as_of_version=0, strategies=["model"]).results} == {str(a)}
    two.registry.set_alias("champion", a)
    assert {r.model_versions for r in bt.run(as_of_version=1, strategies=["model"]).results} == {str(b)}


def test_decision_matrix_ignores_as_of_replays(config: ProjectConfig, tmp_path: Path) -> None:
    platform = Platform.create(config, lakehouse_root=tmp_path / "lh")
    store = platform.store
    write_gold(platform, gold_frame(platform, synthetic_trades(SYMBOLS, 200, seed=4)))
    later = gold_frame(platform, synthetic_trades(SYMBOLS, 200, seed=5, start=T0 + pd.Timedelta(minutes=200)))
    write_gold(platform, later)  # gold v1: the current run sees 400 minutes, a replay of v0 only 200

    bt = Backtester(platform)
    current = bt.run(strategies=["sma_cross"])
    bt.write(current)
    replay = bt.run(as_of_timestamp=store.history(config.table("gold_trade_features"))[-1]["timestamp"])
    assert replay.inputs.gold_version == 0
    bt.write(replay)  # newer by created_at, but history

    results = store.read(config.table("backtest_results"))
    kinds = results.groupby("run_id")["run_kind"].agg(set).to_dict()
    assert kinds == {current.run_id: {CURRENT}, replay.run_id: {AS_OF}}
    assert set(current_runs(results)["run_id"]) == {current.run_id}
    raw, _ = DecisionMatrix(platform).gather()
    raw = raw.set_index("symbol")
    for res in current.results:
        replayed = next(r for r in replay.results if r.symbol == res.symbol and r.strategy == "sma_cross")
        assert replayed.metrics["sharpe"] != res.metrics["sharpe"]  # the replay would have told another story
        assert raw.loc[res.symbol, "backtest"] == pytest.approx(res.metrics["deflated_edge"])

    # rows written before run_kind existed: a replay is recognised by its as-of instant
    legacy = results.drop(columns="run_kind")
    assert set(current_runs(legacy)["run_id"]) == {current.run_id}
