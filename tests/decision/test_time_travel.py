"""Time-travel backtests: two prediction versions give two different, reproducible results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.decision.backtester import Backtester, BacktestReport
from financial_transactions.lakehouse.errors import TableNotFound
from financial_transactions.runtime import Platform
from tests.support.gold import T0, gold_frame, now, prediction_rows, synthetic_trades, write_gold

SYMBOLS = {"AAPL": 190.0, "MSFT": 410.0, "BTCUSDT": 90_000.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[tuple[Platform, pd.DataFrame]]:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("tt") / "lakehouse")
    gold = gold_frame(platform, synthetic_trades(SYMBOLS, 240, seed=5))
    write_gold(platform, gold)
    yield platform, gold


def _model_rows(report: BacktestReport) -> dict[str, tuple[dict[str, object], np.ndarray]]:
    return {r.symbol: (r.metrics, r.equity) for r in report.results if r.strategy == "model"}


def test_two_prediction_versions_two_reproducible_backtests(world: tuple[Platform, pd.DataFrame]) -> None:
    platform, gold = world
    store, cfg = platform.store, platform.config
    preds_fqn = cfg.table("synthesized_predictions")
    rng = np.random.default_rng(0)
    v0 = store.append(preds_fqn, prediction_rows(gold, "1", (rng.random(len(gold)) < 0.05), now()))
    v1 = store.append(preds_fqn, prediction_rows(gold, "2", (rng.random(len(gold)) < 0.25), now()))
    assert (v0, v1) == (0, 1)

    bt = Backtester(platform)
    first = bt.run(as_of_version=0, strategies=["model", "sma_cross"])
    second = bt.run(as_of_version=1, strategies=["model", "sma_cross"])
    a, b = _model_rows(first), _model_rows(second)
    assert set(a) == set(SYMBOLS) == set(b)
    # version 1 holds model 2's newer predictions: the model strategy follows them
    assert {r.model_versions for r in first.results if r.strategy == "model"} == {"1"}
    assert {r.model_versions for r in second.results if r.strategy == "model"} == {"2"}
    for sym in SYMBOLS:
        assert not np.array_equal(a[sym][1], b[sym][1]), sym
        assert a[sym][0]["n_trades"] != b[sym][0]["n_trades"] or a[sym][0]["sharpe"] != b[sym][0]["sharpe"]

    # more gold bars and more predictions arrive later ...
    later = gold_frame(platform, synthetic_trades(SYMBOLS, 60, seed=9, start=T0 + timedelta(minutes=300)))
    write_gold(platform, later)
    store.append(preds_fqn, prediction_rows(later, "2", np.ones(len(later), dtype=bool), now()))
    # ... and the as-of backtests are unchanged, to the last bit
    again = bt.run(as_of_version=0, strategies=["model", "sma_cross"])
    for sym, (metrics, equity) in _model_rows(again).items():
        np.testing.assert_array_equal(equity, a[sym][1])
        assert metrics == a[sym][0]
    assert again.inputs.gold_version == first.inputs.gold_version == 0
    sma_first = {r.symbol: r.equity for r in first.results if r.strategy == "sma_cross"}
    for r in again.results:
        if r.strategy == "sma_cross":
            np.testing.assert_array_equal(r.equity, sma_first[r.symbol])
    # the latest run sees the new bars
    latest = bt.run(strategies=["model"])
    assert latest.inputs.predictions_version == 2 and latest.inputs.gold_version == 1
    assert all(r.n_bars > 240 for r in latest.results)

    # --as-of-timestamp at version 1's commit instant is the same backtest as --as-of-version 1
    when = next(h["timestamp"] for h in store.history(preds_fqn) if h["version"] == 1)
    by_time = bt.run(as_of_timestamp=when.isoformat(), strategies=["model"])
    assert by_time.inputs.predictions_version == 1
    for sym, (_, equity) in _model_rows(by_time).items():
        np.testing.assert_array_equal(equity, b[sym][1])

    # results carry their provenance and an equity curve the dashboard can draw
    bt.write(first)
    version = bt.write(second)
    rows = store.read(cfg.table("backtest_results"), version=version)
    row = rows[(rows["run_id"] == second.run_id) & (rows["symbol"] == "AAPL") & (rows["strategy"] == "model")].iloc[0]
    assert row["as_of_version"] == 1 and row["gold_version"] == 0 and row["model_versions"] == "2"
    curve, times = json.loads(row["equity_curve"]), json.loads(row["equity_ts"])
    assert len(curve) == len(times) == row["n_bars"] and curve[0] == 1.0
    assert curve[-1] == pytest.approx(b["AAPL"][1][-1], abs=1e-8)
    assert row["total_return"] == pytest.approx(b["AAPL"][0]["total_return"])
    assert set(rows["run_id"]) == {first.run_id, second.run_id}


def test_as_of_errors_are_clear(world: tuple[Platform, pd.DataFrame]) -> None:
    platform, _ = world
    bt = Backtester(platform)
    with pytest.raises(ValueError, match="has no version 99"):
        bt.run(as_of_version=99)
    with pytest.raises(ValueError, match="not both"):
        bt.run(as_of_version=0, as_of_timestamp="2026-01-01T00:00:00Z")
    with pytest.raises(TableNotFound, match="no version as of"):
        bt.run(as_of_timestamp="2001-01-01T00:00:00Z")
