"""Analyst feedback outranks every other label source, in training and in monitoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from financial_transactions.config.ml import FeaturesConfig, LabelsConfig
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.features.feedback import load_feedback, record_feedback
from financial_transactions.features.labels import FEEDBACK, RULE, label_bars
from financial_transactions.runtime import Platform
from tests.features.trades import synthetic_trades, with_transient_and_persistent_events


def _verdicts(rows: list[tuple[str, pd.Timestamp, str, int]]) -> pd.DataFrame:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        [{"symbol": s, "bar_start": b, "verdict": v, "decided_at": base + timedelta(minutes=m)} for s, b, v, m in rows]
    )


def test_feedback_overrides_the_rule_and_the_latest_verdict_wins() -> None:
    trades, _events = with_transient_and_persistent_events(synthetic_trades("AAPL", 20_000, seed=3), seed=13)
    gold = build_gold_features(trades, FeaturesConfig())
    plain, plain_report = label_bars(gold, LabelsConfig(source="auto"), FeaturesConfig(), None)
    positive = plain[plain["label"] == 1].iloc[0]
    negative = plain[plain["label"] == 0].iloc[0]
    first_bar = gold.sort_values(["symbol", "bar_start"]).iloc[0]  # too young for the rule: unlabelled without feedback
    assert not ((plain["symbol"] == first_bar["symbol"]) & (plain["bar_start"] == first_bar["bar_start"])).any()
    feedback = _verdicts(
        [
            (positive["symbol"], positive["bar_start"], "confirmed", 0),
            (positive["symbol"], positive["bar_start"], "dismissed", 5),  # the analyst changed their mind
            (negative["symbol"], negative["bar_start"], "confirmed", 1),
            (first_bar["symbol"], first_bar["bar_start"], "confirmed", 2),
        ]
    )
    labelled, report = label_bars(gold, LabelsConfig(source="auto"), FeaturesConfig(), None, feedback=feedback)

    def row(bar: pd.Series) -> pd.Series:
        hit = labelled[(labelled["symbol"] == bar["symbol"]) & (labelled["bar_start"] == bar["bar_start"])]
        assert len(hit) == 1
        return hit.iloc[0]

    assert (row(positive)["label"], row(positive)["label_source"]) == (0, FEEDBACK)
    assert (row(negative)["label"], row(negative)["label_source"]) == (1, FEEDBACK)
    assert (row(first_bar)["label"], row(first_bar)["label_source"]) == (1, FEEDBACK)
    assert report.by_source[FEEDBACK] == 3
    assert report.labelled == plain_report.labelled + 1
    assert report.positives == plain_report.positives - 1 + 2  # one rule positive dismissed, two bars confirmed
    assert report.by_source[RULE] == plain_report.labelled - 2
    assert report.source == "mixed" and report.summary()["feedback_bars"] == 3


def test_recorded_feedback_is_read_back_as_the_latest_verdict_per_bar(platform: Platform) -> None:
    bar = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
    record_feedback(platform, symbol="AAPL", bar_start=bar, verdict="confirmed", analyst="ana")
    record_feedback(platform, symbol="AAPL", bar_start=bar, verdict="dismissed", analyst="bo", note="news")
    latest = load_feedback(platform)
    assert len(latest) == 1
    assert (latest.iloc[0]["verdict"], latest.iloc[0]["analyst"]) == ("dismissed", "bo")
