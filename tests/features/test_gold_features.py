"""build_gold_features: hand-computed bars and microstructure, session-anchored VWAP,
no look-ahead, schema agreement, bad input, and Spark applyInPandas == pandas."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.ml import FeaturesConfig
from financial_transactions.features.feature_engineering import (
    FEATURE_COLUMNS,
    GOLD_KEYS,
    GOLD_SCHEMA,
    FeatureEngineer,
    build_gold_features,
    empty_gold_frame,
    feature_columns,
    gold_columns,
    gold_features_spark,
    gold_schema_ddl,
)
from tests.features.trades import synthetic_trades


def _trades(rows: list[tuple[str, float, float]], **extra: Any) -> pd.DataFrame:
    """(ts, price, volume) rows of one equity symbol on 2025-03-07 (regular session)."""
    ts = pd.to_datetime([r[0] for r in rows], utc=True)
    frame = pd.DataFrame(
        {
            "trade_id": [f"t{i:03d}" for i in range(len(rows))],
            "source": "finnhub",
            "asset_class": "equity",
            "symbol": "AAPL",
            "price": [r[1] for r in rows],
            "volume": [r[2] for r in rows],
            "ts": ts,
            "trade_date": date(2025, 3, 7),
            "session_type": "regular",
        }
    )
    for key, value in extra.items():
        frame[key] = value
    return frame


HAND = [
    ("2025-03-07 15:00:00.100", 10.0, 100.0),
    ("2025-03-07 15:00:10.000", 10.0, 100.0),  # repeat of the previous print, different ms
    ("2025-03-07 15:00:10.000", 10.0, 100.0),  # identical (ts, price, volume) to the one above
    ("2025-03-07 15:00:30.000", 11.0, 200.0),
    ("2025-03-07 15:00:59.999", 10.5, 100.0),
    ("2025-03-07 15:01:00.000", 10.5, 300.0),  # second bar: price unchanged from the close
    ("2025-03-07 15:01:20.000", 9.45, 100.0),
]


def test_hand_computed_bars_and_microstructure() -> None:
    gold = build_gold_features(_trades(HAND), FeaturesConfig())
    assert list(gold.columns) == [name for name, _ in gold_columns(FeaturesConfig())]
    assert len(gold) == 2
    b0, b1 = gold.iloc[0], gold.iloc[1]
    assert b0.bar_start == pd.Timestamp("2025-03-07 15:00", tz="UTC")
    assert b0.bar_end == pd.Timestamp("2025-03-07 15:01", tz="UTC")
    assert (b0.open, b0.high, b0.low, b0.close) == (10.0, 11.0, 10.0, 10.5)
    assert (b1.open, b1.high, b1.low, b1.close) == (10.5, 10.5, 9.45, 9.45)
    assert b0.volume == 600.0 and b1.volume == 400.0
    assert b0.trade_count == 5 and b1.trade_count == 2
    assert b0.vwap == pytest.approx((3 * 1000 + 2200 + 1050) / 600)
    assert b1.vwap == pytest.approx((3150 + 945) / 400)
    assert np.isnan(b0.returns) and np.isnan(b0.log_return)
    assert b1.returns == pytest.approx(9.45 / 10.5 - 1)
    assert b1.log_return == pytest.approx(np.log(9.45 / 10.5))
    # microstructure of bar 0
    assert b0.dup_print_ratio == pytest.approx(2 / 5)
    assert b0.max_identical_prints == 2
    assert b0.repeat_print_ratio == pytest.approx(2 / 5)
    # (10.0, 100) prints at 15:00:00.100 and twice at 15:00:10.000: one pair at two timestamps, 3 prints
    assert b0.cross_ts_repeat_ratio == pytest.approx(3 / 5) and b0.max_cross_ts_prints == 3
    assert b0.unique_price_ratio == pytest.approx(3 / 5)
    assert b0.max_abs_trade_return == pytest.approx(np.log(11 / 10))
    assert b0.max_abs_median_dev == pytest.approx(0.1)  # median of 10,10,10,11,10.5 is 10
    prices = np.array([10, 10, 10, 11, 10.5])
    assert b0.price_std == pytest.approx(prices.std(ddof=0))
    assert b0.price_std_rel == pytest.approx(prices.std(ddof=0) / b0.vwap)
    assert b0.flat_run_trades == 3 and b0.flat_run_seconds == pytest.approx(9.9)
    assert b0.max_trade_volume_share == pytest.approx(200 / 600)
    assert b0.trades_per_second == pytest.approx(5 / 60)
    # bar 1: the spike vs the previous *trade* (across the bar boundary) and the run carried in
    assert b1.max_abs_trade_return == pytest.approx(abs(np.log(9.45 / 10.5)))
    assert b1.max_abs_median_dev == pytest.approx(abs(9.45 / 9.975 - 1))
    assert b1.flat_run_trades == 2  # 10.5 @ 15:00:59.999 and 10.5 @ 15:01:00.000
    assert b1.flat_run_seconds == pytest.approx(0.001)
    assert b1.repeat_print_ratio == 0.0 and b1.dup_print_ratio == 0.0
    assert b1.cross_ts_repeat_ratio == 0.0 and b1.max_cross_ts_prints == 0  # 10.5 @ 300 here, 10.5 @ 100 before
    # session VWAP: cumulative over both bars of the same session
    assert b1.session_vwap == pytest.approx((3 * 1000 + 2200 + 1050 + 3150 + 945) / 1000)
    assert b1.vwap_deviation == pytest.approx(9.45 / b1.session_vwap - 1)
    assert (b0.trade_date, b0.session_type, b0.asset_class, b0.source) == (
        date(2025, 3, 7),
        "regular",
        "equity",
        "finnhub",
    )
    assert b0.is_regular_session == 1.0 and b0.is_extended_session == 0.0 and b0.is_crypto == 0.0


def _cross_ts_reference(rows: list[tuple[Any, float, float]]) -> tuple[float, int]:
    """The definition, print by print: prints whose (price, volume) also prints at another ts of the bar."""
    seen: dict[tuple[float, float], set[Any]] = {}
    counts: dict[tuple[float, float], int] = {}
    for ts, price, volume in rows:
        seen.setdefault((price, volume), set()).add(ts)
        counts[(price, volume)] = counts.get((price, volume), 0) + 1
    spread = [pair for pair, at in seen.items() if len(at) > 1]
    return sum(counts[p] for p in spread) / len(rows), max((counts[p] for p in spread), default=0)


def test_cross_timestamp_repeats_see_wash_trades_not_identical_runs() -> None:
    """Golden values on three hand-made minutes, then the vectorised code against the print-by-print definition."""
    minute = [
        # a normal identical-print run: 4 copies of one print in one millisecond -> not a cross-ts repeat
        [("2025-03-07 15:00:01.000", 10.00, 100.0)] * 4 + [("2025-03-07 15:00:30.000", 10.01, 37.0)],
        # a wash trade: one (price, size) in three clusters of 2, plus two normal prints
        [("2025-03-07 15:01:05.000", 10.02, 250.0)] * 2
        + [("2025-03-07 15:01:20.500", 10.02, 250.0)] * 2
        + [("2025-03-07 15:01:40.000", 10.02, 250.0)] * 2
        + [("2025-03-07 15:01:41.000", 10.03, 100.0), ("2025-03-07 15:01:50.000", 10.01, 12.0)],
        # a chance match: two round lots at the same tick, 20 s apart, and the same price at another size
        [
            ("2025-03-07 15:02:00.000", 10.00, 100.0),
            ("2025-03-07 15:02:20.000", 10.00, 100.0),
            ("2025-03-07 15:02:40.000", 10.00, 200.0),
        ],
    ]
    gold = build_gold_features(_trades([r for rows in minute for r in rows]), FeaturesConfig())
    assert gold["cross_ts_repeat_ratio"].tolist() == pytest.approx([0.0, 6 / 8, 2 / 3])
    assert gold["max_cross_ts_prints"].tolist() == [0, 6, 2]
    assert gold["max_identical_prints"].tolist() == [4, 2, 1]  # what the same-ms feature saw of each

    rng = np.random.default_rng(4)
    n = 4000
    ts = np.sort(rng.integers(0, 10 * 60_000, n))
    ts[rng.random(n) < 0.2] = 0  # many prints on a shared millisecond
    ts = np.sort(ts)
    prices = rng.choice([10.0, 10.01, 10.02], n)
    sizes = rng.choice([100.0, 200.0, 7.0, 50.0], n)
    base = pd.Timestamp("2025-03-07 15:00", tz="UTC")
    stamps = [(base + pd.Timedelta(milliseconds=int(t))).strftime("%Y-%m-%d %H:%M:%S.%f") for t in ts]
    gold = build_gold_features(_trades(list(zip(stamps, prices, sizes, strict=True))), FeaturesConfig())
    minutes = ts // 60_000
    assert len(gold) == len(np.unique(minutes))
    for (_, bar), m in zip(gold.iterrows(), np.unique(minutes), strict=True):
        inside = minutes == m
        ratio, biggest = _cross_ts_reference(list(zip(ts[inside], prices[inside], sizes[inside], strict=True)))
        assert bar["cross_ts_repeat_ratio"] == pytest.approx(ratio) and bar["max_cross_ts_prints"] == biggest


def test_vwap_restarts_at_each_session() -> None:
    rows = [
        ("2025-03-07 20:58:00", 10.0, 100.0),  # 15:58 New York, regular
        ("2025-03-07 20:59:30", 12.0, 100.0),
        ("2025-03-07 21:00:05", 20.0, 50.0),  # 16:00:05, after-hours: a new anchor
        ("2025-03-07 21:01:00", 30.0, 50.0),
    ]
    trades = _trades(rows)
    trades["session_type"] = ["regular", "regular", "after_hours", "after_hours"]
    gold = build_gold_features(trades, FeaturesConfig())
    np.testing.assert_allclose(gold.session_vwap, [10.0, 11.0, 20.0, 25.0])
    assert list(gold.is_extended_session) == [0.0, 0.0, 1.0, 1.0]
    # without trade_date/session_type the calendar supplies them: the same anchors
    derived = build_gold_features(trades.drop(columns=["trade_date", "session_type"]), FeaturesConfig())
    assert list(derived.session_type) == ["regular", "regular", "after_hours", "after_hours"]
    np.testing.assert_allclose(derived.session_vwap, gold.session_vwap)


def test_input_order_and_epoch_ms_do_not_matter() -> None:
    trades = synthetic_trades(n=3000)
    cfg = FeaturesConfig()
    expected = build_gold_features(trades, cfg)
    shuffled = trades.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(build_gold_features(shuffled, cfg), expected)
    as_ms = trades.assign(ts=(trades.ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1))
    assert as_ms.ts.dtype == np.int64
    pd.testing.assert_frame_equal(build_gold_features(as_ms, cfg), expected)


def test_multi_symbol_and_empty_input() -> None:
    cfg = FeaturesConfig()
    a = synthetic_trades("AAPL", 2000, seed=1)
    b = synthetic_trades("BTCUSDT", 2000, seed=2, asset_class="crypto", price0=90_000)
    both = FeatureEngineer(cfg).transform(pd.concat([b, a], ignore_index=True))
    assert list(both.symbol.unique()) == ["AAPL", "BTCUSDT"]
    pd.testing.assert_frame_equal(both[both.symbol == "BTCUSDT"].reset_index(drop=True), build_gold_features(b, cfg))
    assert (both[both.symbol == "BTCUSDT"].is_crypto == 1.0).all()
    assert set(both[both.symbol == "BTCUSDT"].session_type) == {"continuous"}
    empty = build_gold_features(a.iloc[:0], cfg)
    assert empty.empty and list(empty.columns) == list(empty_gold_frame(cfg).columns)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("price", 0.0, "price must be finite and > 0"), ("volume", -1.0, "volume must be"), ("price", np.nan, "price")],
)
def test_bad_rows_raise(column: str, value: float, message: str) -> None:
    trades = _trades(HAND)
    trades.loc[2, column] = value
    with pytest.raises(ValueError, match=message):
        build_gold_features(trades, FeaturesConfig())


def test_missing_column_raises() -> None:
    with pytest.raises(ValueError, match="required column"):
        build_gold_features(_trades(HAND).drop(columns=["volume"]), FeaturesConfig())


def test_no_look_ahead_in_gold() -> None:
    """Rewriting and adding trades after a bar boundary leaves every earlier bar unchanged."""
    cfg = FeaturesConfig()
    trades = synthetic_trades(n=12_000, seed=11)
    cutoff = pd.Timestamp(trades.ts.iloc[8_000]).floor("1min")
    before = build_gold_features(trades, cfg)
    future = trades.ts >= cutoff
    rng = np.random.default_rng(5)
    changed = trades.copy()
    changed.loc[future, "price"] *= rng.uniform(0.9, 1.1, int(future.sum()))
    changed.loc[future, "volume"] = rng.integers(1, 10_000, int(future.sum())).astype(float)
    extra = changed[future].iloc[::7].assign(trade_id=lambda f: f.trade_id + "-x")
    changed = pd.concat([changed, extra], ignore_index=True)
    after = build_gold_features(changed, cfg)
    past_before = before[before.bar_start < cutoff].reset_index(drop=True)
    past_after = after[after.bar_start < cutoff].reset_index(drop=True)
    assert len(past_before) > 100
    pd.testing.assert_frame_equal(past_before, past_after, check_exact=True)
    assert (
        not before[before.bar_start >= cutoff]
        .close.reset_index(drop=True)
        .equals(after[after.bar_start >= cutoff].close.reset_index(drop=True))
    )


def test_schema_and_feature_columns_follow_config() -> None:
    default = FeaturesConfig()
    assert gold_schema_ddl(default) == GOLD_SCHEMA
    assert feature_columns(default) == FEATURE_COLUMNS
    gold = build_gold_features(synthetic_trades(n=1500), default)
    names = set(gold.columns)
    assert set(FEATURE_COLUMNS) <= names
    assert "sma_10" in names and "ema_26_dev" in names
    # model inputs are scale-free: no price levels
    assert not {"open", "high", "low", "close", "vwap", "sma_10", "bb_upper", "atr", "session_vwap"} & set(
        FEATURE_COLUMNS
    )
    custom = FeaturesConfig(sma_windows=[5], ema_windows=[8, 21], bar_interval="30s")
    out = build_gold_features(synthetic_trades(n=1500), custom)
    assert [c for c in out.columns if c.startswith(("sma_", "ema_"))] == [
        "sma_5",
        "sma_5_dev",
        "ema_8",
        "ema_8_dev",
        "ema_21",
        "ema_21_dev",
    ]
    assert (out.bar_end - out.bar_start == pd.Timedelta(seconds=30)).all()
    assert {"sma_5_dev", "ema_21_dev"} <= set(feature_columns(custom))


def test_spark_apply_in_pandas_equals_pandas(spark: Any) -> None:
    from pyspark.sql.types import StructType

    cfg = FeaturesConfig()
    trades = pd.concat(
        [
            synthetic_trades("AAPL", 3000, seed=1),
            synthetic_trades("MSFT", 2500, seed=2, price0=410.0),
            synthetic_trades("ETHUSDT", 3000, seed=3, asset_class="crypto", price0=3200.0),
        ],
        ignore_index=True,
    )
    sdf = spark.createDataFrame(trades.sample(frac=1.0, random_state=0))  # type: ignore[attr-defined]
    gold_sdf = gold_features_spark(sdf, cfg)
    assert gold_sdf.schema == StructType.fromDDL(GOLD_SCHEMA)
    from_spark = gold_sdf.toPandas().sort_values(GOLD_KEYS).reset_index(drop=True)
    expected = build_gold_features(trades, cfg)
    for col in ("bar_start", "bar_end"):  # Spark hands back naive UTC (session time zone UTC)
        from_spark[col] = pd.to_datetime(from_spark[col]).dt.tz_localize("UTC").dt.as_unit("us")
    pd.testing.assert_frame_equal(from_spark, expected, check_exact=False, rtol=1e-12, atol=0)


def test_timestamps_in_any_unit_or_zone_mean_the_same_instant() -> None:
    from financial_transactions.features.bars import ts_to_ns

    utc = pd.Series(pd.to_datetime(["2025-03-07 14:30:00.123", "2025-03-07 14:30:01"], utc=True, format="ISO8601"))
    expected = np.array([1741357800123000000, 1741357801000000000])
    np.testing.assert_array_equal(ts_to_ns(utc), expected)
    np.testing.assert_array_equal(ts_to_ns(utc.dt.tz_convert("America/New_York")), expected)
    np.testing.assert_array_equal(ts_to_ns(utc.dt.tz_localize(None)), expected)  # naive = UTC (Spark)
    np.testing.assert_array_equal(ts_to_ns(utc.dt.as_unit("us")), expected)
    np.testing.assert_array_equal(ts_to_ns(pd.Series(expected // 1_000_000)), expected)  # epoch ms
    with pytest.raises(ValueError, match="null"):
        ts_to_ns(pd.Series([utc[0], pd.NaT]))


@pytest.mark.parametrize("interval", ["1h", "45min", "7min", "4min", "2h"])
def test_bar_intervals_that_could_straddle_a_session_are_refused(interval: str) -> None:
    with pytest.raises(ValueError, match="does not divide 30 minutes"):
        FeaturesConfig(bar_interval=interval)


def test_session_aligned_bars_never_straddle_a_session_or_a_day() -> None:
    """Every divisor of 30 minutes puts a bar edge on 04:00, 09:30, 16:00, 20:00 New York and on New York
    midnight, in winter and summer time; a 1-hour bar (now refused) would mix pre-market and regular."""
    from financial_transactions.config.bar_interval import SESSION_GRID_NS, check_session_aligned
    from financial_transactions.market.calendar import classify_sessions, session_date

    for day in ("2025-03-07", "2025-03-10"):  # the Friday before and the Monday after the DST change
        ts = pd.Series(pd.date_range(f"{day} 03:00", f"{day} 23:59", freq="7s", tz="America/New_York"))
        ts = ts.dt.tz_convert("UTC")
        for asset in ("equity", "crypto"):
            trades = pd.DataFrame(
                {"symbol": "X", "price": 10.0 + np.arange(len(ts)) % 7 * 0.01, "volume": 1.0, "ts": ts,
                 "asset_class": asset}
            )  # fmt: skip
            session = classify_sessions(ts, asset).to_numpy()
            trade_day = session_date(ts).to_numpy()
            for interval in ("1min", "5min", "15min", "30min", "10s"):
                bar_ns = check_session_aligned(interval)
                assert SESSION_GRID_NS % bar_ns == 0
                gold = build_gold_features(trades, FeaturesConfig(bar_interval=interval))
                bar_of_trade = ts_ns(ts) // bar_ns
                frame = pd.DataFrame({"bar": bar_of_trade, "session": session, "day": trade_day})
                mixed = frame.groupby("bar")[["session", "day"]].nunique()
                assert (mixed == 1).all().all(), (day, asset, interval)
                assert len(gold) == frame.bar.nunique()
    hour = (ts_ns(ts) // 3_600_000_000_000).astype(np.int64)  # the refused 1-hour bars on the equity tape
    equity = classify_sessions(ts, "equity").to_numpy()
    assert (pd.DataFrame({"bar": hour, "s": equity}).groupby("bar").s.nunique() > 1).any()


def ts_ns(ts: pd.Series) -> np.ndarray:
    from financial_transactions.features.bars import ts_to_ns

    return ts_to_ns(ts)
