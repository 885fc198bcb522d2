"""Each criterion's raw value is derived from the right table, and the matrix lands in Delta."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import DecisionConfig
from financial_transactions.decision.backtester import Backtester
from financial_transactions.decision.decision_matrix import DecisionMatrix
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
        {**config.decision.model_dump(), "criteria": criteria, "sentiment_table": "signals.sentiment"}
    )
    cfg = config.model_copy(update={"decision": decision})
    platform = Platform.create(cfg, lakehouse_root=tmp_path / "lake")
    store = platform.store
    gold = gold_frame(platform, synthetic_trades({"AAPL": 190.0, "SOLUSDT": 150.0}, 200, seed=3))
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
        natr = bars["natr"].dropna().tail(cfg.decision.lookback_bars)
        assert raw.loc[symbol, "volatility"] == pytest.approx((natr <= last["natr"]).mean())
        sharpe = next(r.metrics["sharpe"] for r in report.results if r.symbol == symbol and r.strategy == "sma_cross")
        assert raw.loc[symbol, "backtest"] == pytest.approx(sharpe)
        sym_labels = labels[(gold["symbol"] == symbol).to_numpy()]
        order = np.argsort(gold.loc[gold["symbol"] == symbol, "bar_start"].to_numpy(), kind="stable")
        recent = sym_labels[order][-cfg.decision.model_window_bars :]
        assert raw.loc[symbol, "model_confidence"] == pytest.approx(recent.mean())
    assert (raw["drift"].dropna() == 0.12).all() and raw["drift"].notna().sum() == len(cfg.symbols.all)
    assert raw.loc["AAPL", "sentiment"] == 0.35 and raw.loc["SOLUSDT", "sentiment"] == -0.1
    assert np.isnan(raw.loc["MSFT", "trend"]) and np.isnan(raw.loc["MSFT", "sentiment"])
    assert sources["gold_trade_features"] == 0 and sources[f"{cfg.catalog}.signals.sentiment"] == 0

    dm = DecisionMatrix(platform)
    result = dm.build()
    version = dm.write(result)
    stored = store.read(cfg.table("decision_matrix"), version=version).set_index("symbol")
    assert stored.loc["AAPL", "sentiment_label"] == "Positive" and stored.loc["AAPL", "sentiment_score"] == 5
    assert stored.loc["MSFT", "recommendation"] == "Insufficient data"  # drift alone is < min_criteria
    assert stored.loc["AAPL", "coverage"] == 1.0 and stored.loc["AAPL", "flags"] == ""
    weights = [stored.loc["AAPL", f"{n}_weight"] for n in cfg.decision.normalized_weights()]
    assert sum(weights) == pytest.approx(1.0)
    assert stored.loc["AAPL", "final_score"] == pytest.approx(
        sum(stored.loc["AAPL", f"{n}_weight"] * stored.loc["AAPL", f"{n}_score"] for n in cfg.decision.criteria)
    )
