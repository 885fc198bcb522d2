"""Time split with embargo, and the feature tables written through the real local lakehouse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.ml import FeaturesConfig, SplitConfig
from financial_transactions.features.feature_engineering import FEATURE_COLUMNS, build_gold_features
from financial_transactions.features.feature_store_manager import FeatureStoreManager, time_split
from financial_transactions.lakehouse import Platform
from tests.features.trades import synthetic_trades, with_transient_and_persistent_events


def _minute_frame(minutes: int, symbols: tuple[str, ...] = ("AAPL", "BTCUSDT")) -> pd.DataFrame:
    start = pd.Timestamp("2025-03-07 14:30", tz="UTC")
    rows = [(s, start + pd.Timedelta(minutes=m)) for m in range(minutes) for s in symbols]
    return pd.DataFrame(rows, columns=["symbol", "bar_start"])


def test_time_split_orders_slices_with_embargo_gaps() -> None:
    frame = _minute_frame(1000)
    cfg = SplitConfig(test_fraction=0.2, validation_fraction=0.25, embargo_minutes=30)
    split, bounds = time_split(frame, cfg)
    by = {name: frame.bar_start[split == name] for name in ("train", "validation", "test", "embargo")}
    start = frame.bar_start.min()
    # test = last 20% of rows = minutes 800..999; validation = last 25% of the 770 minutes before
    # the test embargo (minutes 0..769): from minute 577 (int(770 * 0.75) = 577) up to 769
    assert bounds.test_start == start + pd.Timedelta(minutes=800)
    assert bounds.validation_start == start + pd.Timedelta(minutes=577)
    assert by["test"].min() == bounds.test_start and len(by["test"]) == 2 * 200
    assert by["validation"].min() == bounds.validation_start
    assert by["validation"].max() == bounds.test_start - pd.Timedelta(minutes=31)
    assert by["train"].max() == bounds.validation_start - pd.Timedelta(minutes=31)
    assert len(by["embargo"]) == 2 * 2 * 30
    # the gaps are at least the embargo, and no bar_start is in two slices
    assert by["validation"].min() - by["train"].max() > pd.Timedelta(minutes=30)
    assert by["test"].min() - by["validation"].max() > pd.Timedelta(minutes=30)
    for name, times in by.items():
        for other, other_times in by.items():
            if name != other:
                assert not set(times) & set(other_times)
    # never shuffled: the split depends only on time, not on row order
    shuffled = frame.sample(frac=1.0, random_state=1)
    split2, bounds2 = time_split(shuffled, cfg)
    assert bounds2 == bounds
    pd.testing.assert_series_equal(split2.sort_index(), split.sort_index())


def test_time_split_refuses_too_short_history() -> None:
    with pytest.raises(ValueError, match="no rows before the test slice"):
        time_split(_minute_frame(40), SplitConfig(embargo_minutes=60))
    with pytest.raises(ValueError, match="empty"):
        time_split(_minute_frame(100), SplitConfig(embargo_minutes=70, validation_fraction=0.5))
    split, _ = time_split(_minute_frame(10), SplitConfig(embargo_minutes=0))
    assert set(split) == {"train", "validation", "test"}


@pytest.fixture(scope="module")
def gold_and_truth() -> tuple[pd.DataFrame, list[dict[str, object]]]:
    parts, records = [], []
    for i, (symbol, asset) in enumerate([("AAPL", "equity"), ("ETHUSDT", "crypto")]):
        base = synthetic_trades(symbol, 30_000, seed=20 + i, asset_class=asset, price0=180.0 + 3000 * i)
        trades, events = with_transient_and_persistent_events(base, seed=30 + i, events=10)
        parts.append(trades)
        for ev in events[events.kind.isin(["spike", "burst"])].itertuples():
            kind = "price_spike" if ev.kind == "spike" else "volume_burst"
            records.append(
                {"source": "finnhub", "symbol": ev.symbol, "ts": ev.ts.value // 1_000_000, "anomaly_type": kind}
            )
    return build_gold_features(pd.concat(parts, ignore_index=True), FeaturesConfig()), records


def _write_truth(landing: Path, records: list[dict[str, object]]) -> None:
    path = landing / "_ground_truth" / "seed-window" / "anomalies.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_feature_tables_written_and_read_back(
    platform: Platform, gold_and_truth: tuple[pd.DataFrame, list[dict[str, object]]]
) -> None:
    gold, records = gold_and_truth
    store, cfg = platform.store, platform.config
    store.overwrite(cfg.table("gold_trade_features"), gold)
    _write_truth(platform.paths.landing, records)

    manager = FeatureStoreManager(platform)
    result = manager.run()
    assert result.labels.source == "ground_truth"
    assert result.labels.positives == len({(r["symbol"], r["ts"] // 60_000) for r in records})  # type: ignore[operator]
    assert result.leakage_max_f1 is not None and result.leakage_max_f1 < 1.0

    fqn = {key: cfg.table(key) for key in ("trade_features", "train_set", "test_set")}
    assert set(result.versions) == set(fqn.values())
    features = store.read(fqn["trade_features"])
    train = store.read(fqn["train_set"])
    test = store.read(fqn["test_set"])
    assert len(features) == len(gold) == result.sizes["n_features_rows"]
    assert len(train) == result.sizes["n_train"] + result.sizes["n_validation"]
    assert len(test) == result.sizes["n_test"]
    assert len(train) + len(test) + result.sizes["n_embargo"] == len(gold)
    assert set(train.split) == {"train", "validation"} and set(test.split) == {"test"}
    assert not features.duplicated(["symbol", "bar_start"]).any()
    assert set(FEATURE_COLUMNS) | {"label", "anomaly_types", "label_source"} <= set(test.columns)
    assert str(features.bar_start.dtype) == "datetime64[us, UTC]"
    embargo = pd.Timedelta(minutes=cfg.split.embargo_minutes)
    validation = train[train.split == "validation"]
    assert test.bar_start.min() - validation.bar_start.max() > embargo
    assert validation.bar_start.min() - train[train.split == "train"].bar_start.max() > embargo
    constraints = store.constraints(fqn["train_set"])
    assert constraints["keys_not_null"] == "symbol IS NOT NULL AND bar_start IS NOT NULL"
    assert constraints["label_is_binary"] == "label = 0 OR label = 1"

    data = manager.training_data()
    assert data.sizes == {
        "n_train": result.sizes["n_train"],
        "n_validation": result.sizes["n_validation"],
        "n_test": result.sizes["n_test"],
    }
    assert data.feature_columns == FEATURE_COLUMNS
    assert data.feature_table_versions == {fqn["train_set"]: store.version(fqn["train_set"]),
                                           fqn["test_set"]: store.version(fqn["test_set"])}  # fmt: skip
    assert data.train.bar_start.is_monotonic_increasing
    for frame in (data.train, data.validation, data.test):
        assert set(np.unique(frame.label)) == {0, 1}

    # a second run is a new Delta version of each table; the first stays readable (time travel)
    before = {name: store.version(t) for name, t in fqn.items()}
    again = manager.run(leakage_check=False)
    for name, table in fqn.items():
        assert again.versions[table] > before[name]
    pinned = manager.training_data(
        versions={fqn["train_set"]: before["train_set"], fqn["test_set"]: before["test_set"]}
    )
    pd.testing.assert_frame_equal(pinned.test, data.test)


def test_rule_labels_when_no_ground_truth(
    platform: Platform, gold_and_truth: tuple[pd.DataFrame, list[dict[str, object]]]
) -> None:
    gold, _ = gold_and_truth
    result = FeatureStoreManager(platform).run(gold=gold)
    assert result.labels.source == "rule"
    assert result.sizes["n_features_rows"] == len(gold) - 2 * 2 * platform.config.labels.rule_forward_bars
    table = platform.store.read(platform.config.table("trade_features"))
    assert set(table.label_source) == {"rule"}


def test_empty_or_duplicated_gold_is_refused(platform: Platform) -> None:
    manager = FeatureStoreManager(platform)
    with pytest.raises(ValueError, match="empty"):
        manager.build(build_gold_features(synthetic_trades(n=10).iloc[:0], FeaturesConfig()), None)
    gold = build_gold_features(synthetic_trades(n=2000), FeaturesConfig())
    with pytest.raises(ValueError, match="duplicate"):
        manager.build(pd.concat([gold, gold.iloc[:3]]), None)
