"""Each criterion's raw value is derived from the right table, and the matrix lands in Delta."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import DIRECTION_CRITERIA, RISK_CRITERIA, DecisionConfig
from financial_transactions.decision.backtester import Backtester
from financial_transactions.decision.decision_matrix import DecisionMatrix
from financial_transactions.monitoring.drift_detector import DriftDetector, default_feature_columns
from financial_transactions.runtime import Platform
from tests.support.gold import gold_frame, now, prediction_rows, synthetic_trades, write_gold

SENTIMENT = {
    "weight": 1,
    "bands": [
        {"upper": -0.2, "score": 1, "label": "Negative"},
        {"lower": -0.2, "upper": 0.2, "score": 3, "label": "Neutral"},
        {"lower": 0.2, "score": 5, "label": "Positive"},
    ],
}


def test_raw_criteria_come_from_platform_tables(tmp_path: Path, config: ProjectConfig) -> None:
    criteria = {**config.decision.model_dump()["criteria"], "sentiment": SENTIMENT}
    decision = DecisionConfig.model_validate(
        {
            **config.decision.model_dump(),
            "criteria": criteria,
            "sentiment_table": "signals.sentiment",
            "regime": {"window_bars": 20, "history_windows": 5, "min_history_windows": 3},  # 200 bars a symbol
        }
    )
    cfg = config.model_copy(update={"decision": decision})
    platform = Platform.create(cfg, lakehouse_root=tmp_path / "lake")
    store = platform.store
    gold = gold_frame(platform, synthetic_trades({"AAPL": 190.0, "SOLUSDT": 150.0}, 200, seed=3))
    # the drift windows: the first 100 minutes against the last 100; only AAPL's microstructure shifts
    split = gold["bar_start"].min() + pd.Timedelta(minutes=100)
    shifted = (gold["symbol"] == "AAPL") & (gold["bar_start"] >= split)
    for col in ("trades_per_second", "price_std_rel", "max_trade_volume_share", "unique_price_ratio"):
        gold.loc[shifted, col] = gold.loc[shifted, col] * 3.0 + 1.0
    write_gold(platform, gold)
    rng = np.random.default_rng(1)
    labels = rng.random(len(gold)) < 0.04
    store.append(cfg.table("synthesized_predictions"), prediction_rows(gold, "3", labels, now()))
    backtester = Backtester(platform)
    report = backtester.run()
    backtester.write(report)
    t = now()
    store.append(
        cfg.table("drift_monitoring"),
        pd.DataFrame(
            {
                "run_id": ["old"] * 3 + ["new"] * 3,
                "computed_at": [t - timedelta(hours=1)] * 3 + [t] * 3,
                "feature": ["rsi", "natr", "returns"] * 2,
                "psi": [0.9, 0.9, 0.9, 0.05, 0.30, 0.12],
                "reference_start": [None] * 3 + [gold["bar_start"].min()] * 3,
                "reference_end": [None] * 3 + [split] * 3,
                "current_start": [None] * 3 + [split] * 3,
                "current_end": [None] * 3 + [gold["bar_start"].max() + pd.Timedelta(minutes=1)] * 3,
            }
        ),
    )
    store.append(
        f"{cfg.catalog}.signals.sentiment",
        pd.DataFrame(
            {
                "symbol": ["AAPL", "AAPL", "SOLUSDT"],
                "as_of": [t - timedelta(days=1), t, t],
                "score": [-0.9, 0.35, -0.1],
            }
        ),
    )

    raw, sources = DecisionMatrix(platform).gather()
    raw = raw.set_index("symbol")
    for symbol in ("AAPL", "SOLUSDT"):
        bars = gold[gold["symbol"] == symbol].sort_values("bar_start")
        last = bars.iloc[-1]
        trend = (np.sign(last["sma_10"] - last["sma_30"]) + np.sign(last["macd_hist"])) / 2
        assert raw.loc[symbol, "trend"] == trend
        assert raw.loc[symbol, "momentum"] == pytest.approx(last["rsi"])
        # volatility: the last 20 bars' mean ATR% ranked among the 5 windows of 20 before them
        natr = bars["natr"].dropna().to_numpy()
        windows = natr[-120:-20].reshape(5, 20).mean(axis=1)
        assert raw.loc[symbol, "volatility"] == pytest.approx((windows <= natr[-20:].mean()).mean())
        # the backtest criterion is the deflated edge, never the raw Sharpe
        chosen = next(r for r in report.results if r.symbol == symbol and r.strategy == "sma_cross")
        assert raw.loc[symbol, "backtest"] == pytest.approx(chosen.metrics["deflated_edge"])
        assert chosen.metrics["n_trials"] == len(report.results)
        # drift from this symbol's own rows, over the latest drift run's windows, counted per signal
        features = default_feature_columns(cfg.features)
        reference = bars[bars["bar_start"] < split][features]
        current = bars[bars["bar_start"] >= split][features]
        expected = DriftDetector(cfg.drift).compare(reference, current, features)
        assert raw.loc[symbol, "drift"] == pytest.approx(expected.drifted_share)
        sym_labels = labels[(gold["symbol"] == symbol).to_numpy()]
        order = np.argsort(gold.loc[gold["symbol"] == symbol, "bar_start"].to_numpy(), kind="stable")
        recent = sym_labels[order][-cfg.decision.model_window_bars :]
        assert raw.loc[symbol, "model_confidence"] == pytest.approx(recent.mean())
    assert raw.loc["AAPL", "drift"] > raw.loc["SOLUSDT", "drift"]  # per symbol, not one figure for all
    assert np.isnan(raw.loc["MSFT", "drift"])  # no rows, no drift
    assert raw.loc["AAPL", "sentiment"] == 0.35 and raw.loc["SOLUSDT", "sentiment"] == -0.1
    assert np.isnan(raw.loc["MSFT", "trend"]) and np.isnan(raw.loc["MSFT", "sentiment"])
    assert sources["gold_trade_features"] == 0 and sources[f"{cfg.catalog}.signals.sentiment"] == 0

    dm = DecisionMatrix(platform)
    result = dm.build()
    version = dm.write(result)
    stored = store.read(cfg.table("decision_matrix"), version=version).set_index("symbol")
    assert stored.loc["AAPL", "sentiment_label"] == "Positive" and stored.loc["AAPL", "sentiment_score"] == 5
    assert stored.loc["MSFT", "recommendation"] == "Insufficient data"  # no gold rows: nothing scored
    assert stored.loc["AAPL", "coverage"] == 1.0 and stored.loc["AAPL", "flags"] == ""
    weights = [stored.loc["AAPL", f"{n}_weight"] for n in cfg.decision.normalized_weights()]
    assert sum(weights) == pytest.approx(1.0)
    row = stored.loc["AAPL"]
    direction = [n for n in cfg.decision.criteria if n in DIRECTION_CRITERIA]
    expected_direction = sum(row[f"{n}_weight"] * row[f"{n}_score"] for n in direction) / sum(
        row[f"{n}_weight"] for n in direction
    )
    penalty = sum(row[f"{n}_weight"] * (5 - row[f"{n}_score"]) for n in cfg.decision.criteria if n in RISK_CRITERIA)
    assert row["direction_score"] == pytest.approx(expected_direction)
    assert row["risk_penalty"] == pytest.approx(penalty)
    capped = any(row[f"{n}_score"] == 1 for n in direction)
    assert row["final_score"] == pytest.approx(min(max(1.0, expected_direction - penalty), 2.5 if capped else 5.0))
    assert row["explanation"].startswith(f"{row['recommendation']} at {row['final_score']:.2f}: direction ")
