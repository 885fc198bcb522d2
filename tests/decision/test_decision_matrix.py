"""Decision matrix: a hand-computed three-symbol matrix, boundary rules, the missing-criterion policies."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from financial_transactions.config import ConfigError, ProjectConfig
from financial_transactions.config.decision import DecisionConfig, RecommendationThresholds
from financial_transactions.decision.decision_matrix import (
    BUY,
    HOLD,
    INSUFFICIENT,
    SELL,
    STRONG_BUY,
    recommend,
    score_matrix,
)

TREND = {
    "weight": 2,
    "bands": [
        {"upper": 0, "score": 1, "label": "Bearish"},
        {"lower": 0, "upper": 0.5, "score": 3, "label": "Neutral"},
        {"lower": 0.5, "score": 5, "label": "Bullish"},
    ],
}
MOMENTUM = {
    "weight": 1,
    "bands": [
        {"upper": 30, "score": 2, "label": "Oversold"},
        {"lower": 30, "upper": 70, "score": 4, "label": "Healthy"},
        {"lower": 70, "score": 2, "label": "Overbought"},
    ],
}
BACKTEST = {
    "weight": 1,
    "bands": [
        {"upper": 0, "score": 1, "label": "Losing"},
        {"lower": 0, "upper": 1, "score": 3, "label": "Modest"},
        {"lower": 1, "score": 5, "label": "Strong"},
    ],
}


def decision_config(**extra: Any) -> DecisionConfig:
    return DecisionConfig.model_validate(
        {"min_criteria": 2, "criteria": {"trend": TREND, "momentum": MOMENTUM, "backtest": BACKTEST}, **extra}
    )


def three_symbols() -> pd.DataFrame:
    # AAA sits on band boundaries: trend 0.5 -> Bullish, RSI 70 -> Overbought, Sharpe 1.0 -> Strong.
    return pd.DataFrame(
        {
            "symbol": ["BBB", "AAA", "CCC"],
            "asset_class": ["equity", "equity", "crypto"],
            "trend": [0.0, 0.5, math.nan],
            "momentum": [50.0, 70.0, 30.0],
            "backtest": [-0.2, 1.0, 0.99],
        }
    )


def test_hand_computed_matrix_on_three_symbols() -> None:
    m = score_matrix(three_symbols(), decision_config()).set_index("symbol")
    # normalised weights: trend 2/4, momentum 1/4, backtest 1/4
    # AAA: 0.5*5 + 0.25*2 + 0.25*5 = 4.25
    # BBB: 0.5*3 + 0.25*4 + 0.25*1 = 2.75
    # CCC: trend missing -> re-normalised over momentum and backtest (0.5 each): 0.5*4 + 0.5*3 = 3.5
    assert m.loc["AAA", "final_score"] == 4.25
    assert m.loc["BBB", "final_score"] == 2.75
    assert m.loc["CCC", "final_score"] == 3.5
    assert m.loc["AAA", "recommendation"] == STRONG_BUY
    assert m.loc["CCC", "recommendation"] == BUY
    assert m.loc["BBB", "recommendation"] == HOLD
    assert m["rank"].to_dict() == {"AAA": 1, "CCC": 2, "BBB": 3}

    # per-criterion raw value, score, label and the weight actually used
    assert m.loc["AAA", ["trend_score", "momentum_score", "backtest_score"]].tolist() == [5, 2, 5]
    assert m.loc["AAA", ["trend_label", "momentum_label", "backtest_label"]].tolist() == [
        "Bullish",
        "Overbought",
        "Strong",
    ]
    assert m.loc["BBB", ["trend_score", "momentum_score", "backtest_score"]].tolist() == [3, 4, 1]
    assert m.loc["AAA", ["trend_weight", "momentum_weight", "backtest_weight"]].tolist() == [0.5, 0.25, 0.25]
    assert m.loc["AAA", "momentum_raw"] == 70.0

    # the missing criterion is flagged and carries no score and no weight (never a silent 0)
    assert m.loc["CCC", "trend_label"] == "missing"
    assert pd.isna(m.loc["CCC", "trend_score"]) and pd.isna(m.loc["CCC", "trend_weight"])
    assert pd.isna(m.loc["CCC", "trend_raw"])
    assert m.loc["CCC", ["momentum_weight", "backtest_weight"]].tolist() == [0.5, 0.5]
    assert m.loc["CCC", "coverage"] == 0.5 and m.loc["AAA", "coverage"] == 1.0
    assert m.loc["CCC", "flags"] == "missing:trend;renormalized"
    assert m.loc["AAA", "flags"] == ""
    # explanation: the two biggest contributions, the weakest one, what is missing
    assert m.loc["AAA", "explanation"] == (
        "Strong Buy 4.25: led by trend Bullish (5×0.50), backtest Strong (5×0.25); weakest momentum Overbought (2)"
    )
    assert m.loc["CCC", "explanation"] == (
        "Buy 3.50: led by momentum Healthy (4×0.50), backtest Modest (3×0.50); missing trend (weights re-normalised)"
    )
    # rows come out in rank order
    assert list(m.index) == ["AAA", "CCC", "BBB"]


def test_insufficient_policy_marks_any_missing_row() -> None:
    m = score_matrix(three_symbols(), decision_config(missing_policy="insufficient")).set_index("symbol")
    assert m.loc["CCC", "recommendation"] == INSUFFICIENT
    assert pd.isna(m.loc["CCC", "final_score"])
    assert pd.isna(m.loc["CCC", "rank"])
    assert m.loc["CCC", "flags"] == "missing:trend;insufficient"
    assert m.loc["CCC", "explanation"].startswith("Insufficient data: 2 of 3 criteria scored (needs all criteria)")
    # the complete rows are unaffected and ranked among themselves
    assert m.loc["AAA", "final_score"] == 4.25 and m.loc["AAA", "rank"] == 1
    assert m.loc["BBB", "rank"] == 2
    assert list(m.index)[-1] == "CCC"


def test_too_few_criteria_is_insufficient_under_renormalize() -> None:
    raw = pd.DataFrame({"symbol": ["X"], "trend": [math.nan], "momentum": [50.0], "backtest": [None]})
    m = score_matrix(raw, decision_config()).set_index("symbol")
    assert m.loc["X", "recommendation"] == INSUFFICIENT
    assert m.loc["X", "criteria_scored"] == 1
    assert "missing trend, backtest" in m.loc["X", "explanation"]
    # non-finite raw values count as missing too
    raw = pd.DataFrame({"symbol": ["Y"], "trend": [math.inf], "momentum": [50.0], "backtest": [0.5]})
    m = score_matrix(raw, decision_config()).set_index("symbol")
    assert m.loc["Y", "trend_label"] == "missing" and m.loc["Y", "final_score"] == 3.5


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (5.0, STRONG_BUY),
        (4.000001, STRONG_BUY),
        (4.0, BUY),  # the upper boundary belongs to Buy ("> 4.0 Strong Buy")
        (3.5, BUY),
        (3.0, BUY),  # 3.0-4.0 is Buy, lower bound inclusive
        (2.9999999999999996, BUY),  # float noise of a weighted mean is rounded away
        (2.999, HOLD),
        (2.0, HOLD),
        (1.9999, SELL),
        (1.0, SELL),
        (math.nan, INSUFFICIENT),
    ],
)
def test_recommendation_boundaries(score: float, expected: str) -> None:
    assert recommend(score, RecommendationThresholds()) == expected


FIVE_BANDS = {
    "weight": 1,
    "bands": [
        {"upper": 1, "score": 1},
        {"lower": 1, "upper": 2, "score": 2},
        {"lower": 2, "upper": 3, "score": 3},
        {"lower": 3, "upper": 4, "score": 4},
        {"lower": 4, "score": 5},
    ],
}


def test_boundary_scores_through_the_matrix() -> None:
    # equal weights of 1/3: raw x.5 scores x+1, so each row's final score is the mean of its three scores
    cfg = DecisionConfig.model_validate(
        {"min_criteria": 3, "criteria": {"trend": FIVE_BANDS, "momentum": FIVE_BANDS, "backtest": FIVE_BANDS}}
    )
    raw = pd.DataFrame(
        {
            "symbol": ["THREE", "FOUR", "TWO", "LOW", "FOUR2"],
            "trend": [1.5, 4.5, 1.5, 1.5, 4.5],  # 2, 5, 2, 2, 5
            "momentum": [4.5, 4.5, 2.5, 1.5, 4.5],  # 5, 5, 3, 2, 5
            "backtest": [1.5, 1.5, 0.5, 0.5, 1.5],  # 2, 2, 1, 1, 2
        }
    )
    # in floating point these weighted means miss the boundary by one ulp; the 9-decimal rounding restores it
    third = 1 / 3
    assert third * 2 + third * 5 + third * 2 == 2.9999999999999996
    assert third * 2 + third * 3 + third * 1 == 1.9999999999999998
    m = score_matrix(raw, cfg).set_index("symbol")
    assert m.loc["THREE", "final_score"] == 3.0 and m.loc["THREE", "recommendation"] == BUY
    assert m.loc["FOUR", "final_score"] == 4.0 and m.loc["FOUR", "recommendation"] == BUY
    assert m.loc["TWO", "final_score"] == 2.0 and m.loc["TWO", "recommendation"] == HOLD
    assert m.loc["LOW", "final_score"] == pytest.approx(5 / 3) and m.loc["LOW", "recommendation"] == SELL
    # raw values exactly on a band edge take the band that starts there
    edge = score_matrix(pd.DataFrame({"symbol": ["E"], "trend": [4.0], "momentum": [1.0], "backtest": [3.0]}), cfg)
    assert edge[["trend_score", "momentum_score", "backtest_score"]].iloc[0].tolist() == [5, 2, 4]
    # ties share a rank (competition ranking) and are listed by symbol
    assert m["rank"].to_dict() == {"FOUR": 1, "FOUR2": 1, "THREE": 3, "TWO": 4, "LOW": 5}
    assert list(m.index) == ["FOUR", "FOUR2", "THREE", "TWO", "LOW"]


def test_config_validation_rejects_bad_scoring() -> None:
    with pytest.raises(ValidationError, match="contiguous"):
        DecisionConfig.model_validate(
            {"criteria": {"trend": {"weight": 1, "bands": [{"upper": 0, "score": 1}, {"lower": 1, "score": 5}]}}}
        )
    with pytest.raises(ValidationError, match="open below"):
        DecisionConfig.model_validate({"criteria": {"trend": {"weight": 1, "bands": [{"lower": 0, "score": 1}]}}})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        DecisionConfig.model_validate({"criteria": {"trend": {**TREND, "weight": -1}}})
    with pytest.raises(ValidationError, match="positive weight"):
        DecisionConfig.model_validate({"min_criteria": 1, "criteria": {"trend": {**TREND, "weight": 0}}})
    with pytest.raises(ValidationError, match="score"):
        DecisionConfig.model_validate({"criteria": {"trend": {"weight": 1, "bands": [{"score": 6}]}}})
    with pytest.raises(ValidationError, match="sentiment_table"):
        DecisionConfig.model_validate({"min_criteria": 1, "criteria": {"sentiment": TREND}})
    with pytest.raises(ValidationError, match="Input should be"):
        DecisionConfig.model_validate({"min_criteria": 1, "criteria": {"vibes": TREND}})
    with pytest.raises(ValidationError, match="hold <= buy <= strong_buy"):
        RecommendationThresholds(strong_buy=3.0, buy=3.5, hold=2.0)


def test_project_config_weights_are_normalised(config: ProjectConfig, project_root: Any) -> None:
    weights = config.decision.normalized_weights()
    assert math.isclose(sum(weights.values()), 1.0)
    assert weights["trend"] == pytest.approx(0.25)
    import yaml

    raw = yaml.safe_load((project_root / "project_config.yml").read_text())
    raw["decision"]["criteria"]["trend"]["weight"] = -0.5
    with pytest.raises(ConfigError, match=r"decision\.criteria\.trend\.weight"):
        ProjectConfig.from_dict(raw, "dev")
