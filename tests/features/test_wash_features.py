"""Wash-trade features: repeats of one (price, size) across timestamps of a bar, not inside one millisecond.

Golden values on hand-made minutes, the vectorised code against a print-by-print reference
(the per-bar ``(price, size) -> timestamps`` dictionary an incremental implementation keeps),
and the same columns through Spark's ``applyInPandas``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.features.feature_engineering import (
    GOLD_KEYS,
    build_gold_features,
    feature_columns,
    gold_features_spark,
)

WASH_COLUMNS = [
    "cross_ts_repeat_ratio",
    "max_cross_ts_prints",
    "max_cross_ts_reprints",
    "cross_ts_repeat_share",
    "max_cross_ts_volume_share",
]


def _trades(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """(ts, price, volume) rows of one equity symbol on 2025-03-07 (regular session), in tape order."""
    return pd.DataFrame(
        {
            "trade_id": [f"t{i:05d}" for i in range(len(rows))],
            "source": "finnhub",
            "asset_class": "equity",
            "symbol": "AAPL",
            "price": [r[1] for r in rows],
            "volume": [r[2] for r in rows],
            "ts": pd.to_datetime([r[0] for r in rows], utc=True, format="ISO8601"),
            "trade_date": date(2025, 3, 7),
            "session_type": "regular",
        }
    )


MINUTES = [
    # 0. a normal identical-print run: one order fills four resting orders in one ms, plus one print
    [("2025-03-07 15:00:01.000", 10.00, 100.0)] * 4 + [("2025-03-07 15:00:30.000", 10.01, 37.0)],
    # 1. a wash trade: one (price, size) at three timestamps, two copies each, plus two normal prints
    [("2025-03-07 15:01:05.000", 10.02, 250.0)] * 2
    + [("2025-03-07 15:01:20.500", 10.02, 250.0)] * 2
    + [("2025-03-07 15:01:40.000", 10.02, 250.0)] * 2
    + [("2025-03-07 15:01:41.000", 10.03, 100.0), ("2025-03-07 15:01:50.000", 10.01, 12.0)],
    # 2. a chance match: two round lots at the same tick 20 s apart, and the same price at another size
    [
        ("2025-03-07 15:02:00.000", 10.00, 100.0),
        ("2025-03-07 15:02:20.000", 10.00, 100.0),
        ("2025-03-07 15:02:40.000", 10.00, 200.0),
    ],
    # 3. the most re-printed pair (5 shares at three timestamps) is not the largest by volume
    #    (300 shares at two): the volume share follows the volume
    [
        ("2025-03-07 15:03:01.000", 10.00, 5.0),
        ("2025-03-07 15:03:02.000", 10.01, 300.0),
        ("2025-03-07 15:03:03.000", 10.00, 5.0),
        ("2025-03-07 15:03:04.000", 10.01, 300.0),
        ("2025-03-07 15:03:05.000", 10.00, 5.0),
        ("2025-03-07 15:03:06.000", 10.02, 85.0),
    ],
    # 4. zero-volume prints at two timestamps: re-printed, but no volume to take a share of
    [("2025-03-07 15:04:00.000", 10.00, 0.0), ("2025-03-07 15:04:10.000", 10.00, 0.0)],
    # 5. a single print: nothing repeats
    [("2025-03-07 15:05:00.000", 10.00, 100.0)],
]


def test_golden_values_on_hand_made_minutes() -> None:
    gold = build_gold_features(_trades([r for rows in MINUTES for r in rows]), FeaturesConfig())
    assert len(gold) == 6
    assert gold["max_cross_ts_prints"].tolist() == [0, 6, 2, 3, 2, 0]
    # distinct timestamps of the most spread pair, minus one: the same-ms run counts 0
    assert gold["max_cross_ts_reprints"].tolist() == [0, 2, 1, 2, 1, 0]
    # repeated prints (prints - pairs) and how many of them are at a new timestamp of their pair:
    # 0: 5 - 2 = 3 repeats, 0 new; 1: 8 - 3 = 5, 2 new; 2: 3 - 2 = 1, 1 new; 3: 6 - 3 = 3, 2 + 1 new;
    # 4: 2 - 1 = 1, 1 new; 5: nothing repeats
    assert gold["cross_ts_repeat_share"].tolist() == pytest.approx([0.0, 2 / 5, 1.0, 1.0, 1.0, 0.0], abs=0)
    # the largest pair seen at two or more timestamps, by volume, over the bar's volume
    assert gold["max_cross_ts_volume_share"].tolist() == pytest.approx(
        [0.0, 1500 / 1612, 200 / 400, 600 / 700, 0.0, 0.0], abs=0
    )
    assert gold["cross_ts_repeat_ratio"].tolist() == pytest.approx([0.0, 6 / 8, 2 / 3, 5 / 6, 1.0, 0.0], abs=0)
    assert gold["max_identical_prints"].tolist() == [4, 2, 1, 1, 1, 1]  # what the same-ms feature sees


def test_the_new_columns_are_model_inputs() -> None:
    cols = feature_columns(FeaturesConfig())
    assert all(c in cols for c in WASH_COLUMNS)


def _reference(rows: list[tuple[int, float, float]]) -> dict[str, float]:
    """The definitions print by print, as an incremental (online) implementation keeps them."""
    stamps: dict[tuple[float, float], set[int]] = {}
    prints: dict[tuple[float, float], int] = {}
    volume: dict[tuple[float, float], float] = {}
    repeats = reprints = 0
    for ts, price, size in rows:
        pair = (price, size)
        if pair in prints:
            repeats += 1
            reprints += ts not in stamps[pair]
        stamps.setdefault(pair, set()).add(ts)
        prints[pair] = prints.get(pair, 0) + 1
        volume[pair] = volume.get(pair, 0.0) + size
    spread = [p for p, at in stamps.items() if len(at) > 1]
    total = sum(size for _, _, size in rows)
    return {
        "cross_ts_repeat_ratio": sum(prints[p] for p in spread) / len(rows),
        "max_cross_ts_prints": max((prints[p] for p in spread), default=0),
        "max_cross_ts_reprints": max(len(at) - 1 for at in stamps.values()),
        "cross_ts_repeat_share": reprints / repeats if repeats else 0.0,
        "max_cross_ts_volume_share": max((volume[p] for p in spread), default=0.0) / total if total > 0 else 0.0,
    }


def _random_tape(seed: int, n: int) -> pd.DataFrame:
    """Few prices and sizes over ten minutes with many shared milliseconds: repeats of every kind."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 10 * 60_000, n))
    shared = rng.random(n) < 0.3
    ts[shared] = (ts[shared] // 5_000) * 5_000  # many prints on a few shared milliseconds
    ts = np.sort(ts)
    prices = rng.choice([10.0, 10.01, 10.02], n)
    sizes = rng.choice([100.0, 200.0, 7.0, 50.0, 0.0], n, p=[0.4, 0.2, 0.2, 0.15, 0.05])
    base = pd.Timestamp("2025-03-07 15:00", tz="UTC")
    stamps = [(base + pd.Timedelta(milliseconds=int(t))).isoformat() for t in ts]
    return _trades(list(zip(stamps, prices, sizes, strict=True)))


def test_vectorised_columns_equal_the_print_by_print_definition() -> None:
    trades = _random_tape(7, 3000)
    gold = build_gold_features(trades, FeaturesConfig())
    ms = (trades["ts"] - pd.Timestamp("2025-03-07 15:00", tz="UTC")) // pd.Timedelta(milliseconds=1)
    minute = ms.to_numpy() // 60_000
    assert len(gold) == 10
    for m, (_, bar) in zip(range(10), gold.iterrows(), strict=True):
        inside = minute == m
        rows = list(zip(ms[inside], trades.price[inside], trades.volume[inside], strict=True))
        expected = _reference(rows)
        for col in WASH_COLUMNS:
            assert bar[col] == pytest.approx(expected[col], rel=1e-12, abs=0), (m, col)


def test_spark_path_computes_the_same_wash_columns(spark: Any) -> None:
    """gold_features_spark (and the declarative pipeline, which wraps the same UDF) gives the pandas values."""
    hand = _trades([r for rows in MINUTES for r in rows]).assign(symbol="MSFT")
    trades = pd.concat([_random_tape(11, 1500), hand], ignore_index=True)
    trades["trade_id"] = [f"t{i:05d}" for i in range(len(trades))]
    cfg = FeaturesConfig()
    sdf = spark.createDataFrame(trades.sample(frac=1.0, random_state=0))  # type: ignore[attr-defined]
    from_spark = gold_features_spark(sdf, cfg).toPandas().sort_values(GOLD_KEYS).reset_index(drop=True)
    expected = build_gold_features(trades, cfg)
    assert len(from_spark) == len(expected) == 16
    pd.testing.assert_frame_equal(from_spark[WASH_COLUMNS], expected[WASH_COLUMNS], check_exact=True)
