"""Time split with embargo, and the feature tables written through the real local lakehouse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.ml import FeaturesConfig, LabelsConfig, SplitConfig, embargo_bars
from financial_transactions.features.feature_engineering import FEATURE_COLUMNS, TIMESTAMP_KEY, build_gold_features
from financial_transactions.features.feature_store_manager import (
    FEATURE_KEYS,
    FEATURE_TABLES,
    FeatureStoreManager,
    time_split,
)
from financial_transactions.features.labels import label_bars
from financial_transactions.runtime import Platform
from tests.features.trades import synthetic_trades, with_transient_and_persistent_events


def _minute_frame(minutes: int, symbols: tuple[str, ...] = ("AAPL", "BTCUSDT")) -> pd.DataFrame:
    start = pd.Timestamp("2025-03-07 14:30", tz="UTC")
    rows = [(s, start + pd.Timedelta(minutes=m)) for m in range(minutes) for s in symbols]
    frame = pd.DataFrame(rows, columns=["symbol", "bar_start"])
    return frame.assign(bar_end=frame.bar_start + pd.Timedelta(minutes=1))


def test_time_split_orders_slices_with_embargo_gaps() -> None:
    frame = _minute_frame(1000)
    cfg = SplitConfig(test_fraction=0.2, validation_fraction=0.25, embargo_minutes=30)
    split, bounds = time_split(frame, cfg)
    by = {name: frame.bar_end[split == name] for name in ("train", "validation", "test", "embargo")}
    end = frame.bar_end.min()  # the first bar's end: the split's time axis is bar_end (point in time)
    # test = last 20% of rows = bars 800..999; validation = last 25% of the 770 bars before the
    # test embargo (bars 0..769): from bar 577 (int(770 * 0.75) = 577) up to 769
    assert bounds.test_start == end + pd.Timedelta(minutes=800)
    assert bounds.validation_start == end + pd.Timedelta(minutes=577)
    assert by["test"].min() == bounds.test_start and len(by["test"]) == 2 * 200
    assert by["validation"].min() == bounds.validation_start
    assert by["validation"].max() == bounds.test_start - pd.Timedelta(minutes=31)
    assert by["train"].max() == bounds.validation_start - pd.Timedelta(minutes=31)
    assert len(by["embargo"]) == 2 * 2 * 30
    # the gaps are at least the embargo, and no bar is in two slices
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


def _gappy_frame() -> pd.DataFrame:
    """Two sessions of an equity (14:30-21:00 UTC, 390 bars a day) and a 24/7 pair over the same days:
    the equity has no bars for 17.5 hours overnight."""
    rows = []
    for day in ("2025-03-06", "2025-03-07"):
        open_ = pd.Timestamp(f"{day} 14:30", tz="UTC")
        rows += [("AAPL", open_ + pd.Timedelta(minutes=m)) for m in range(390)]
    start = pd.Timestamp("2025-03-06 14:30", tz="UTC")
    rows += [("BTCUSDT", start + pd.Timedelta(minutes=m)) for m in range(0, 24 * 60 + 390)]
    frame = pd.DataFrame(rows, columns=["symbol", "bar_start"])
    return frame.assign(bar_end=frame.bar_start + pd.Timedelta(minutes=1))


def _bars_between(frame: pd.DataFrame, split: pd.Series, symbol: str, a: str, b: str) -> int:
    """How many of ``symbol``'s bars lie strictly between its last ``a`` row and its first ``b`` row."""
    own = frame[frame.symbol == symbol].assign(split=split[frame.symbol == symbol]).sort_values("bar_end")
    position = np.arange(len(own))
    return int(position[own.split.to_numpy() == b].min() - position[own.split.to_numpy() == a].max() - 1)


def test_embargo_counts_each_symbols_own_bars_across_an_overnight_gap() -> None:
    """A 30-minute embargo before a boundary at the equity's open drops none of its bars (its previous
    bar closed 17 hours earlier), so its last training bars' forward labels would read validation
    bars. The per-symbol embargo drops each symbol's own last N bars before every slice start."""
    frame = _gappy_frame()
    cfg = SplitConfig(test_fraction=0.2972, validation_fraction=0.7, embargo_minutes=30)
    minutes_only, bounds = time_split(frame, cfg)
    day2_open = pd.Timestamp("2025-03-07 14:31", tz="UTC")  # the first day-2 bar's end
    assert bounds.test_start <= day2_open + pd.Timedelta(minutes=60)  # a boundary right after the open
    assert _bars_between(frame, minutes_only, "AAPL", "validation", "test") < 5  # the leak
    for bars in (5, 50):
        split, b = time_split(frame, cfg, embargo_bars=bars)
        assert b.embargo_bars == bars and b.as_dict()["embargo_bars"] == str(bars)
        for symbol in ("AAPL", "BTCUSDT"):
            assert _bars_between(frame, split, symbol, "train", "validation") >= bars
            assert _bars_between(frame, split, symbol, "validation", "test") >= bars
        # the minutes embargo still holds on top, and slices keep their order
        assert (split[frame.bar_end >= b.test_start] == "test").all()
        emb = frame.bar_end[(split == "embargo") & (frame.symbol == "AAPL")]
        assert (emb < b.test_start).all()


def test_rule_labels_of_training_rows_never_read_a_later_slice() -> None:
    """End to end: rule labels (trailing scale, k = 5 bars ahead) + the auto embargo. Rewriting every
    validation and test bar leaves every training label unchanged, and every validation label is
    unchanged by rewriting the test bars."""
    frame = _gappy_frame()
    rng = np.random.default_rng(4)
    close = np.exp(np.cumsum(rng.normal(0, 1e-3, len(frame)))) * 100.0
    frame = frame.assign(close=close, high=close * 1.0004, low=close * 0.9996, volume=rng.lognormal(6, 0.5, len(frame)))
    labels, features = LabelsConfig(rule_forward_bars=5), FeaturesConfig()
    split_cfg = SplitConfig(test_fraction=0.2972, validation_fraction=0.7, embargo_minutes=30)
    e = embargo_bars(split_cfg, labels, features)
    assert e == 50
    split, b = time_split(frame, split_cfg, embargo_bars=e)
    base, _ = label_bars(frame, labels, features, None)

    def relabel(after: pd.Timestamp) -> pd.DataFrame:
        later = frame.bar_end >= after
        changed = frame.copy()
        shock = rng.uniform(0.3, 3.0, int(later.sum()))
        for col in ("close", "high", "low"):
            changed.loc[later, col] = changed.loc[later, col] * shock
        changed.loc[later, "volume"] = changed.loc[later, "volume"] * shock**4
        return label_bars(changed, labels, features, None)[0]

    keyed = base.merge(frame.assign(split=split)[["symbol", "bar_end", "split"]], on=["symbol", "bar_end"])
    for after, kept in ((b.validation_start, "train"), (b.test_start, "validation")):
        other = relabel(after).merge(keyed[["symbol", "bar_end", "split"]], on=["symbol", "bar_end"])
        mine = keyed[keyed.split == kept].sort_values(["symbol", "bar_end"]).label.to_numpy()
        theirs = other[other.split == kept].sort_values(["symbol", "bar_end"]).label.to_numpy()
        assert len(mine) > 100
        np.testing.assert_array_equal(mine, theirs)


def test_embargo_must_cover_the_label_horizon(project_root: Path) -> None:
    import yaml

    from financial_transactions.config import ConfigError, ProjectConfig

    raw = yaml.safe_load((project_root / "project_config.yml").read_text(encoding="utf-8"))
    raw["labels"]["rule_forward_bars"] = 8
    raw["split"]["embargo_bars"] = 7
    with pytest.raises(ConfigError, match=r"split.embargo_bars \(7\) must be at least labels.rule_forward_bars \(8\)"):
        ProjectConfig.from_dict(raw, "dev")
    raw["split"]["embargo_bars"] = 8
    cfg = ProjectConfig.from_dict(raw, "dev")
    assert embargo_bars(cfg.split, cfg.labels, cfg.features) == 8
    raw["split"]["embargo_bars"] = "auto"
    raw["labels"]["rule_forward_bars"] = 80
    cfg = ProjectConfig.from_dict(raw, "dev")
    assert embargo_bars(cfg.split, cfg.labels, cfg.features) == 80  # beyond the 50-bar look-back
    raw["labels"]["rule_forward_bars"] = 5
    raw["features"]["volume_zscore_window"] = 120
    cfg = ProjectConfig.from_dict(raw, "dev")
    assert cfg.features.lookback_bars == 120 and embargo_bars(cfg.split, cfg.labels, cfg.features) == 120


def test_time_split_refuses_too_short_history() -> None:
    with pytest.raises(ValueError, match="no rows before the test slice"):
        time_split(_minute_frame(40), SplitConfig(embargo_minutes=60))
    with pytest.raises(ValueError, match="empty"):
        time_split(_minute_frame(100), SplitConfig(embargo_minutes=70, validation_fraction=0.5))
    with pytest.raises(ValueError, match="50 bars per symbol"):
        time_split(_minute_frame(100), SplitConfig(embargo_minutes=0), embargo_bars=50)
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


def _write_truth(landing: Path, records: list[dict[str, object]], gold: pd.DataFrame) -> None:
    """The replay's ground truth for ``gold``'s symbols, with coverage spanning each symbol's bars."""
    path = landing / "_ground_truth" / "seed-window" / "anomalies.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    span = gold.groupby("symbol").agg(start=("bar_start", "min"), end=("bar_end", "max"))
    entries = [
        {"symbol": s, "start_ms": r.start.value // 1_000_000, "end_ms": r.end.value // 1_000_000 - 1}
        for s, r in span.iterrows()
    ]
    (path.parent / "coverage.json").write_text(json.dumps({"window": "seed-window", "symbols": entries}), "utf-8")


def test_feature_tables_written_and_read_back(
    platform: Platform, gold_and_truth: tuple[pd.DataFrame, list[dict[str, object]]]
) -> None:
    gold, records = gold_and_truth
    store, cfg = platform.store, platform.config
    store.overwrite(cfg.table("gold_trade_features"), gold)
    _write_truth(platform.paths.landing, records, gold)

    manager = FeatureStoreManager(platform)
    result = manager.run()
    assert result.labels.source == "ground_truth"
    assert result.summary()["ground_truth_bars"] == len(gold) and result.summary()["rule_bars"] == 0
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
    assert not features.duplicated(list(FEATURE_KEYS)).any() and FEATURE_KEYS == ["symbol", "bar_end"]
    assert set(FEATURE_COLUMNS) | {"label", "anomaly_types", "label_source"} <= set(test.columns)
    assert str(features.bar_start.dtype) == "datetime64[us, UTC]"
    embargo = pd.Timedelta(minutes=cfg.split.embargo_minutes)
    validation = train[train.split == "validation"]
    assert test.bar_end.min() - validation.bar_end.max() > embargo
    assert validation.bar_end.min() - train[train.split == "train"].bar_end.max() > embargo
    assert result.boundaries.embargo_bars == 50
    constraints = store.constraints(fqn["train_set"])
    assert constraints["keys_not_null"] == "symbol IS NOT NULL AND bar_start IS NOT NULL AND bar_end IS NOT NULL"
    assert constraints["label_is_binary"] == "label = 0 OR label = 1"

    data = manager.training_data()
    assert data.sizes == {
        "n_train": result.sizes["n_train"],
        "n_validation": result.sizes["n_validation"],
        "n_test": result.sizes["n_test"],
    }
    assert data.feature_columns == FEATURE_COLUMNS
    assert data.feature_table_versions == {fqn["train_set"]: store.version(fqn["train_set"]),
                                           fqn["test_set"]: store.version(fqn["test_set"]),
                                           fqn["trade_features"]: store.version(fqn["trade_features"])}  # fmt: skip
    # pinned to what one write produced: the provenance is that write's three versions, trade_features included
    assert manager.training_data(versions=result.versions).feature_table_versions == result.versions
    assert data.train.bar_end.is_monotonic_increasing
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
    # pinned without trade_features (an older record): its version is not guessed
    assert pinned.feature_table_versions == {fqn["train_set"]: before["train_set"], fqn["test_set"]: before["test_set"]}


def test_point_in_time_key_is_when_the_features_are_known() -> None:
    """An as-of lookup at time t on ``bar_end`` returns what the features were *at t*; on ``bar_start``
    it would return the bar still being traded at t, built from trades after t."""
    trades = synthetic_trades("AAPL", 6000, seed=9, mean_gap_ms=400)
    gold = build_gold_features(trades, FeaturesConfig())
    rng = np.random.default_rng(2)
    moments = pd.Series(np.sort(rng.choice(trades.ts.iloc[500:-500].to_numpy(), 12, replace=False)))
    moments = (pd.to_datetime(moments, utc=True) + pd.Timedelta(milliseconds=1)).dt.as_unit("us")
    lookups = pd.DataFrame({"symbol": "AAPL", "t": moments}).sort_values("t")
    table = gold.sort_values(TIMESTAMP_KEY)
    for key, should_match in ((TIMESTAMP_KEY, True), ("bar_start", False)):
        found = pd.merge_asof(
            lookups, table.sort_values(key), left_on="t", right_on=key, by="symbol", direction="backward"
        )
        matches = []
        for row in found.itertuples():
            known = build_gold_features(trades[trades.ts < row.t], FeaturesConfig())  # all that existed at t
            as_known = known[known.bar_start == row.bar_start].iloc[0]
            matches.append(all(np.isclose(getattr(row, c), as_known[c], equal_nan=True) for c in FEATURE_COLUMNS))
        assert all(matches) if should_match else not any(matches), key


def test_unity_catalog_feature_table_spec(platform: Platform) -> None:
    """On Databricks the tables are declared through the Feature Engineering client with the
    point-in-time keys; a recording client stands in (no workspace in tests)."""

    class Recording:
        def __init__(self) -> None:
            self.created: list[dict[str, object]] = []

        def create_table(self, name: str, primary_keys: list[str], df: object = None, **kwargs: object) -> None:
            self.created.append({"name": name, "primary_keys": primary_keys, **kwargs})
            platform.store.overwrite(name, df)  # type: ignore[arg-type]  # the client writes the Delta table

        def write_table(self, name: str, df: object, mode: str = "merge") -> None:
            raise AssertionError("first run creates the tables")

    class Spark:
        def createDataFrame(self, frame: pd.DataFrame) -> pd.DataFrame:
            return frame

    platform._spark = Spark()  # type: ignore[assignment]
    client = Recording()
    gold = build_gold_features(synthetic_trades(n=30_000, seed=3), FeaturesConfig())
    FeatureStoreManager(platform, fe_client=client).run(gold=gold, leakage_check=False)
    assert [c["name"] for c in client.created] == [platform.config.table(k) for k in FEATURE_TABLES]
    for spec in client.created:
        assert spec["primary_keys"] == ["symbol", "bar_end"] and spec["timestamp_keys"] == ["bar_end"]


def test_rule_labels_when_no_ground_truth(
    platform: Platform, gold_and_truth: tuple[pd.DataFrame, list[dict[str, object]]]
) -> None:
    gold, _ = gold_and_truth
    result = FeatureStoreManager(platform).run(gold=gold)
    assert result.labels.source == "rule"
    # per symbol: 31 bars before the rule has a scale, k = 5 bars at the end without a future
    assert result.sizes["n_features_rows"] == len(gold) - 2 * (31 + platform.config.labels.rule_forward_bars)
    table = platform.store.read(platform.config.table("trade_features"))
    assert set(table.label_source) == {"rule"}


def test_empty_or_duplicated_gold_is_refused(platform: Platform) -> None:
    manager = FeatureStoreManager(platform)
    with pytest.raises(ValueError, match="empty"):
        manager.build(build_gold_features(synthetic_trades(n=10).iloc[:0], FeaturesConfig()), None)
    gold = build_gold_features(synthetic_trades(n=2000), FeaturesConfig())
    with pytest.raises(ValueError, match="duplicate"):
        manager.build(pd.concat([gold, gold.iloc[:3]]), None)
