"""Injected trades live on the training and evaluation path only: silver_trades and gold_trade_features (what
scoring, the backtest and the decision matrix read) stay the real market, row for row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.features.bars import ts_to_ns
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.features.feature_store_manager import FeatureStoreManager
from financial_transactions.features.injection import inject
from financial_transactions.features.labels import INJECTED, RULE
from financial_transactions.runtime import Platform
from tests.features.trades import synthetic_trades


def _silver() -> pd.DataFrame:
    parts = []
    for symbol, seed, price in (("AAPL", 3, 180.0), ("MSFT", 4, 410.0)):
        trades = synthetic_trades(symbol, 16_000, seed=seed, price0=price)
        trades["trade_id"] = symbol + "-" + trades["trade_id"]  # silver ids are unique across symbols
        trades["exchange_trade_id"] = None
        parts.append(trades)
    return pd.concat(parts, ignore_index=True)


def test_injection_never_reaches_silver_gold_or_a_decision(platform: Platform) -> None:
    cfg = platform.config
    assert cfg.labels.injection.enabled  # project_config.yml turns it on: no ground truth here, a user's data
    silver = _silver()
    gold = build_gold_features(silver, cfg.features)
    store = platform.store
    store.overwrite(cfg.table("silver_trades"), silver)
    store.overwrite(cfg.table("gold_trade_features"), gold)
    silver_version, gold_version = (
        store.version(cfg.table("silver_trades")),
        store.version(cfg.table("gold_trade_features")),
    )

    result = FeatureStoreManager(platform).run(leakage_check=False)

    # the real tables are untouched: same versions, same rows
    assert store.version(cfg.table("silver_trades")) == silver_version
    assert store.version(cfg.table("gold_trade_features")) == gold_version
    assert store.count(cfg.table("silver_trades")) == 32_000
    assert store.count(cfg.table("gold_trade_features")) == len(gold)
    real_gold = store.read(cfg.table("gold_trade_features")).sort_values(["symbol", "bar_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        real_gold[["symbol", "close", "volume", "trade_count"]],
        gold.sort_values(["symbol", "bar_start"]).reset_index(drop=True)[["symbol", "close", "volume", "trade_count"]],
    )
    # the same injection, recomputed: none of its trades is in silver, every one of its bars is a positive
    expected = inject(silver, cfg.labels.injection, cfg.features.bar_interval, salt="train")
    added = ~expected.trades["trade_id"].isin(silver["trade_id"])
    assert int(added.sum()) == len(expected.trades) - 32_000 > 0
    assert not store.read(cfg.table("silver_trades"))["trade_id"].isin(expected.trades.loc[added, "trade_id"]).any()
    assert result.extra["injected_trades"] == len(expected.events)
    assert result.extra["injected_anomalies"] == sum(expected.anomalies.values())

    features = store.read(cfg.table("trade_features"))
    assert set(features["label_source"]) == {INJECTED}  # injection covers both symbols: the rule labels nothing
    assert RULE not in result.labels.by_source
    bar_ns = interval_ns(cfg.features.bar_interval)
    event_bars = {
        (s, t)
        for s, t in zip(expected.events["symbol"], (ts_to_ns(expected.events["ts"]) // bar_ns) * bar_ns, strict=True)
    }
    positives = features[features["label"] == 1]
    got = set(zip(positives["symbol"], ts_to_ns(positives["bar_start"]), strict=True))
    assert got == event_bars  # exactly the bars holding an injected or altered trade
    # the feature tables hold the copy's bars: the injected bars' trade counts differ from real gold's
    merged = features.merge(real_gold, on=["symbol", "bar_start"], suffixes=("", "_real"))
    assert len(merged) == len(features)  # injection adds trades to real bars, never new bars
    changed = merged["trade_count"] != merged["trade_count_real"]
    assert (
        changed.any()
        and set(zip(merged.loc[changed, "symbol"], ts_to_ns(merged.loc[changed, "bar_start"]), strict=True))
        <= event_bars
    )
    assert json.loads(json.dumps(result.summary()))["injected_bars"] == len(features)
    assert np.isclose(result.summary()["positive_rate"], len(positives) / len(features), atol=1e-4)
