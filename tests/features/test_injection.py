"""Labelled anomaly injection: reproducible, honours its rates and types, and ranks below feedback and
ground truth but above the rule, per row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.bar_interval import interval_ns
from financial_transactions.config.ml import FeaturesConfig, InjectionConfig, LabelsConfig
from financial_transactions.features.bars import ts_to_ns
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.features.injection import excluded_bars, inject, recall_by_type
from financial_transactions.features.labels import FEEDBACK, GROUND_TRUTH, INJECTED, RULE, label_bars
from tests.features.trades import synthetic_trades

BAR = "1min"


def _trades(n: int = 6000) -> pd.DataFrame:
    return pd.concat(
        [synthetic_trades("AAPL", n, seed=3), synthetic_trades("MSFT", n, seed=4, price0=410.0)],
        ignore_index=True,
    )


def _bars(frame: pd.DataFrame) -> pd.DataFrame:
    ns = interval_ns(BAR)
    return pd.DataFrame(
        {"symbol": frame["symbol"].astype(str).to_numpy(), "bar_ns": (ts_to_ns(frame["ts"]) // ns) * ns}
    ).drop_duplicates()


def _eligible(trades: pd.DataFrame, symbol: str) -> int:
    """Bars of ``symbol`` an injection may use: all but the first."""
    return int((_bars(trades)["symbol"] == symbol).sum()) - 1


def test_same_seed_same_injections_other_seed_other_injections() -> None:
    trades = _trades()
    cfg = InjectionConfig(enabled=True, seed=11)
    first, again = inject(trades, cfg, BAR), inject(trades, cfg, BAR)
    pd.testing.assert_frame_equal(first.trades, again.trades)
    pd.testing.assert_frame_equal(first.events, again.events)
    other = inject(trades, cfg.model_copy(update={"seed": 12}), BAR)
    assert not first.events["ts"].reset_index(drop=True).equals(other.events["ts"].reset_index(drop=True))
    assert set(_bars(first.events).itertuples(index=False)) != set(_bars(other.events).itertuples(index=False))
    # the training and the monitoring stream of one seed are independent too
    monitor = inject(trades, cfg, BAR, salt="monitor")
    assert set(_bars(first.events).itertuples(index=False)) != set(_bars(monitor.events).itertuples(index=False))


def test_rates_and_types_are_honoured_and_the_input_is_not_changed() -> None:
    trades = _trades()
    before = trades.copy()
    cfg = InjectionConfig(enabled=True, seed=5, rate=0.1, subtlety=0.5)
    result = inject(trades, cfg, BAR)
    pd.testing.assert_frame_equal(trades, before)  # a copy is injected into, never the real trades
    expected = sum(round(0.1 * _eligible(trades, s)) for s in ("AAPL", "MSFT"))
    assert sum(result.anomalies.values()) == expected == 8 + 8  # 84 eligible bars per symbol
    assert result.eligible_bars == _eligible(trades, "AAPL") + _eligible(trades, "MSFT")
    # balanced over the four types: per symbol the counts differ by at most one
    assert set(result.anomalies) == {"price_spike", "volume_burst", "wash_trade", "stale_price"}
    assert max(result.anomalies.values()) - min(result.anomalies.values()) <= 2
    # one anomaly per chosen bar: the events sit in exactly that many (first) bars, stale runs excepted
    starts = _bars(result.events[result.events["anomaly_type"] != "stale_price"])
    assert len(starts) == expected - result.anomalies["stale_price"]
    added = len(result.trades) - len(trades)
    altered = int((result.events["anomaly_type"] == "stale_price").sum()) - (
        added - int((result.events["anomaly_type"] != "stale_price").sum())
    )
    assert added == len(result.events) - altered and altered > 0
    new_ids = result.trades["trade_id"][~result.trades["trade_id"].isin(trades["trade_id"])]
    assert len(new_ids) == added and new_ids.is_unique  # every injected trade has an id of its own

    only = inject(trades, cfg.model_copy(update={"types": ["wash_trade"], "subtlety": 1.0}), BAR)
    assert only.anomalies == {"wash_trade": expected} and only.subtle == expected
    washes = _washes(only.events)
    assert len(washes) == expected and washes["n"].between(3, 8).all()  # subtle: 3-8 prints of one (price, size)
    assert washes["legs"].between(2, 4).all()  # over 2-4 legs at distinct times


def _washes(events: pd.DataFrame) -> pd.DataFrame:
    """Per injected wash trade (symbol, bar): prints, legs (distinct times), prices, sizes, smallest leg."""
    frame = events.assign(bar=(ts_to_ns(events["ts"]) // interval_ns(BAR)))
    legs = frame.groupby(["symbol", "bar", "ts"]).size().rename("copies").reset_index()
    per = frame.groupby(["symbol", "bar"]).agg(
        n=("price", "size"), legs=("ts", "nunique"), prices=("price", "nunique"), sizes=("volume", "nunique")
    )
    per["smallest_leg"] = legs.groupby(["symbol", "bar"])["copies"].min()
    assert per["prices"].eq(1).all() and per["sizes"].eq(1).all()  # one (price, size) per wash trade
    return per


def test_injected_wash_trades_are_legs_at_distinct_real_times_never_one_same_time_group() -> None:
    """The platform's wash trade (replay/synthetic.py): one (price, size) at distinct timestamps of the bar.
    One same-time group of identical prints is a normal order filling resting orders, so never a wash."""
    trades = _trades()
    cfg = InjectionConfig(enabled=True, seed=5, rate=0.1, types=["wash_trade"])
    subtle = _washes(inject(trades, cfg.model_copy(update={"subtlety": 1.0}), BAR).events)
    assert len(subtle) == 16 and subtle["n"].between(3, 8).all() and subtle["legs"].between(2, 4).all()
    assert subtle["smallest_leg"].min() == 1
    blatant_injection = inject(trades, cfg.model_copy(update={"subtlety": 0.0}), BAR)
    blatant = _washes(blatant_injection.events)
    assert len(blatant) == 16 and blatant["n"].between(20, 50).all() and blatant["legs"].between(3, 6).all()
    assert blatant["smallest_leg"].min() >= 2
    # every leg time is a real bar start plus a within-bar offset a real print of the symbol has
    ns = interval_ns(BAR)
    for symbol in ("AAPL", "MSFT"):
        real = ts_to_ns(trades.loc[trades["symbol"] == symbol, "ts"])
        events = blatant_injection.events[blatant_injection.events["symbol"] == symbol]
        assert set((ts_to_ns(events["ts"]) % ns).tolist()) <= set((real % ns).tolist())


def test_excluded_bars_are_never_injected_into() -> None:
    trades = _trades()
    gold = build_gold_features(trades, FeaturesConfig())
    excluded = gold[gold["symbol"] == "AAPL"][["symbol", "bar_start"]]  # e.g. all of AAPL covered by ground truth
    result = inject(trades, InjectionConfig(enabled=True, rate=0.2), BAR, excluded=excluded)
    assert set(result.events["symbol"]) == {"MSFT"} and list(result.coverage["symbol"]) == ["MSFT"]
    assert result.eligible_bars == _eligible(trades, "MSFT")


def test_precedence_per_row_feedback_then_ground_truth_then_injection_then_rule() -> None:
    trades = _trades(16_000)  # ~240 bars per symbol
    labels = LabelsConfig(source="auto", injection=InjectionConfig(enabled=True, rate=0.1, seed=3))
    real_gold = build_gold_features(trades, FeaturesConfig())
    aapl = real_gold[real_gold["symbol"] == "AAPL"].sort_values("bar_start").reset_index(drop=True)
    # ground truth covers AAPL's first 100 bars and lists one trade in bar 50
    truth_bar = aapl.loc[50, "bar_start"]
    truth = pd.DataFrame(
        {
            "window": ["w1"],
            "source": ["finnhub"],
            "symbol": ["AAPL"],
            "ts": [truth_bar + pd.Timedelta(seconds=1)],
            "price": [1.0],
            "volume": [1.0],
            "anomaly_type": ["price_spike"],
        }
    )
    coverage = pd.DataFrame(
        {"window": ["w1"], "symbol": ["AAPL"], "start": [aapl.loc[0, "bar_start"]], "end": [aapl.loc[99, "bar_start"]]}
    )
    # an analyst reviewed one covered bar (dismissed) and one later AAPL bar (confirmed)
    reviewed = [aapl.loc[50, "bar_start"], aapl.loc[150, "bar_start"]]
    feedback = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL"],
            "bar_start": reviewed,
            "verdict": ["dismissed", "confirmed"],
            "decided_at": [datetime(2026, 1, 1, tzinfo=UTC)] * 2,
        }
    )
    excluded = excluded_bars(real_gold, coverage, truth, feedback, BAR)
    assert len(excluded) == 101  # 100 covered bars (the listed trade's among them) + one reviewed later bar
    # MSFT is left to the rule: inject into AAPL only
    aapl_trades = trades[trades["symbol"] == "AAPL"]
    injection = inject(aapl_trades, labels.injection, BAR, excluded=excluded)
    copy_gold = pd.concat(
        [build_gold_features(injection.trades, FeaturesConfig()), real_gold[real_gold["symbol"] == "MSFT"]],
        ignore_index=True,
    )
    out, report = label_bars(
        copy_gold, labels, FeaturesConfig(), truth, coverage, feedback, injection.events, injection.coverage
    )
    a = out[out["symbol"] == "AAPL"].set_index("bar_start")
    m = out[out["symbol"] == "MSFT"]
    assert (a.loc[reviewed[0], "label_source"], a.loc[reviewed[0], "label"]) == (FEEDBACK, 0)  # over ground truth
    assert (a.loc[reviewed[1], "label_source"], a.loc[reviewed[1], "label"]) == (FEEDBACK, 1)  # over injection
    covered = a.loc[aapl.loc[0, "bar_start"] : aapl.loc[99, "bar_start"]]
    assert (covered.drop(index=reviewed[0])["label_source"] == GROUND_TRUTH).all() and len(covered) == 100
    later = a.loc[a.index > aapl.loc[99, "bar_start"]].drop(index=reviewed[1])
    assert (later["label_source"] == INJECTED).all()
    injected_bars = _bars(injection.events)
    assert int(later["label"].sum()) == len(injected_bars)  # exactly the bars holding an injected trade
    assert (m["label_source"] == RULE).all()
    assert report.by_source == {
        FEEDBACK: 2,
        GROUND_TRUTH: 99,
        INJECTED: len(later),
        RULE: len(m),
    }
    assert report.summary()["injected_bars"] == len(later) and report.injected_trades == len(injection.events)
    assert sum(report.by_type[k] for k in injection.anomalies) >= sum(injection.anomalies.values())

    # source "injected": only the injected bars (and feedback) are labelled
    only, only_report = label_bars(
        copy_gold,
        labels.model_copy(update={"source": "injected"}),
        FeaturesConfig(),
        truth,
        coverage,
        feedback,
        injection.events,
        injection.coverage,
    )
    assert set(only["label_source"]) == {INJECTED, FEEDBACK} and only_report.by_source[INJECTED] == len(later) + 99
    with pytest.raises(ValueError, match=r"labels\.source is injected but nothing was injected"):
        label_bars(copy_gold, labels.model_copy(update={"source": "injected"}), FeaturesConfig(), None)


def test_recall_by_type_counts_each_type_of_a_bar() -> None:
    frame = pd.DataFrame(
        {
            "label": [1, 1, 1, 1, 0],
            "label_source": [INJECTED, INJECTED, INJECTED, GROUND_TRUTH, INJECTED],
            "anomaly_types": ["price_spike", "price_spike,wash_trade", "wash_trade", "stale_price", ""],
        }
    )
    got = recall_by_type(frame, np.array([1, 0, 1, 1, 1]))
    assert got == {
        INJECTED: {
            "price_spike": {"bars": 2, "flagged": 1, "recall": 0.5},
            "wash_trade": {"bars": 2, "flagged": 1, "recall": 0.5},
        },
        GROUND_TRUTH: {"stale_price": {"bars": 1, "flagged": 1, "recall": 1.0}},
    }
