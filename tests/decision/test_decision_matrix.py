"""Decision matrix: a hand-computed matrix, the rule that risk and quality only lower a recommendation
(and a bearish or losing symbol is never Buy), boundary rules, the missing-criterion policies."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from financial_transactions.config import ConfigError, ProjectConfig
from financial_transactions.config.decision import (
    DIRECTION_CRITERIA,
    RISK_CRITERIA,
    DecisionConfig,
    RecommendationThresholds,
)
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
        {"upper": -0.95, "score": 1, "label": "Losing"},
        {"lower": -0.95, "upper": 0.95, "score": 3, "label": "Inconclusive"},
        {"lower": 0.95, "score": 5, "label": "Profitable"},
    ],
}
VOLATILITY = {
    "weight": 1,
    "bands": [
        {"upper": 0.33, "score": 5, "label": "Calm"},
        {"lower": 0.33, "upper": 0.66, "score": 3, "label": "Normal"},
        {"lower": 0.66, "score": 1, "label": "Turbulent"},
    ],
}


def decision_config(**extra: Any) -> DecisionConfig:
    criteria = {"trend": TREND, "momentum": MOMENTUM, "backtest": BACKTEST, "volatility": VOLATILITY}
    return DecisionConfig.model_validate({"min_criteria": 2, "criteria": criteria, **extra})


def four_symbols() -> pd.DataFrame:
    # AAA sits on band boundaries: trend 0.5 -> Bullish, RSI 70 -> Overbought, volatility 0.33 -> Normal.
    # DDD is the JPM: Bearish trend, every risk criterion benign; the old weighted mean said Buy (3.2).
    return pd.DataFrame(
        {
            "symbol": ["BBB", "AAA", "CCC", "DDD"],
            "asset_class": ["equity", "equity", "crypto", "equity"],
            "trend": [-0.5, 0.5, math.nan, -0.5],
            "momentum": [50.0, 70.0, 30.0, 50.0],
            "backtest": [-0.99, 0.97, 0.95, 0.99],
            "volatility": [0.1, 0.33, 0.9, 0.1],
        }
    )


def test_hand_computed_matrix() -> None:
    m = score_matrix(four_symbols(), decision_config()).set_index("symbol")
    # normalised weights: trend 2/5, momentum, backtest and volatility 1/5 each
    # AAA: direction (0.4*5 + 0.2*2 + 0.2*5) / 0.8 = 4.25; volatility Normal takes 0.2*(5-3) = 0.4 -> 3.85
    # BBB: direction (0.4*1 + 0.2*4 + 0.2*1) / 0.8 = 1.75; Calm takes nothing -> 1.75
    # CCC: trend missing -> weights 1/3 each; direction (4 + 5) / 2 = 4.5; Turbulent takes (1/3)*4 -> 3.1666...
    # DDD: direction (0.4*1 + 0.2*4 + 0.2*5) / 0.8 = 2.75, but a Bearish trend caps it at (2 + 3) / 2 = 2.5
    assert m.loc["AAA", ["direction_score", "risk_penalty", "final_score"]].tolist() == [4.25, 0.4, 3.85]
    assert m.loc["BBB", ["direction_score", "risk_penalty", "final_score"]].tolist() == [1.75, 0.0, 1.75]
    assert m.loc["CCC", "direction_score"] == 4.5 and m.loc["CCC", "risk_penalty"] == round(4 / 3, 9)
    assert m.loc["CCC", "final_score"] == round(4.5 - 4 / 3, 9)
    assert m.loc["DDD", ["direction_score", "risk_penalty", "final_score"]].tolist() == [2.75, 0.0, 2.5]
    assert m["recommendation"].to_dict() == {"AAA": BUY, "CCC": BUY, "DDD": HOLD, "BBB": SELL}
    assert m["rank"].to_dict() == {"AAA": 1, "CCC": 2, "DDD": 3, "BBB": 4}

    # per-criterion raw value, score, label and the weight actually used
    names = ["trend", "momentum", "backtest", "volatility"]
    aaa = m.loc["AAA"]
    assert [aaa[f"{n}_score"] for n in names] == [5, 2, 5, 3]
    assert [aaa[f"{n}_label"] for n in names] == ["Bullish", "Overbought", "Profitable", "Normal"]
    assert [aaa[f"{n}_weight"] for n in names] == [0.4, 0.2, 0.2, 0.2]
    assert m.loc["AAA", "momentum_raw"] == 70.0

    # the missing criterion is flagged and carries no score and no weight (never a silent 0)
    assert m.loc["CCC", "trend_label"] == "missing"
    assert pd.isna(m.loc["CCC", "trend_score"]) and pd.isna(m.loc["CCC", "trend_weight"])
    assert pd.isna(m.loc["CCC", "trend_raw"])
    assert m.loc["CCC", "coverage"] == 0.6 and m.loc["AAA", "coverage"] == 1.0
    assert m.loc["CCC", "flags"] == "missing:trend;renormalized"
    assert m.loc["DDD", "flags"] == "capped:trend" and m.loc["AAA", "flags"] == ""
    # one sentence per row: where the direction came from, what lowered it, what capped it, what is missing
    assert m["explanation"].to_dict() == {
        "AAA": "Buy at 3.85: direction 4.25 from trend Bullish, backtest Profitable, momentum Overbought, "
        "lowered 0.40 by volatility Normal.",
        "BBB": "Sell at 1.75: direction 1.75 from trend Bearish, backtest Losing, momentum Healthy, no risk concern.",
        "CCC": "Buy at 3.17: direction 4.50 from backtest Profitable, momentum Healthy, lowered 1.33 by volatility "
        "Turbulent; trend missing (weights re-normalised).",
        "DDD": "Hold at 2.50: direction 2.75 from trend Bearish, backtest Profitable, momentum Healthy, "
        "no risk concern, capped at Hold by trend Bearish.",
    }
    assert all(e.endswith(".") and ". " not in e for e in m["explanation"])  # one sentence each
    # rows come out in rank order
    assert list(m.index) == ["AAA", "CCC", "DDD", "BBB"]


def _random_raw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Raw values across every band of the shipped criteria (about 5% missing)."""
    raw = pd.DataFrame(
        {
            "symbol": [f"S{i:04d}" for i in range(n)],
            "trend": rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], n),
            "momentum": rng.uniform(0, 100, n),
            "backtest": rng.choice([-0.99, -0.5, 0.0, 0.5, 0.99], n),  # deflated edge: Losing .. Profitable
            "volatility": rng.uniform(0, 1, n),
            "model_confidence": rng.uniform(0, 0.1, n),
            "drift": rng.uniform(0, 0.6, n),
        }
    )
    for col in raw.columns[1:]:
        raw.loc[rng.random(n) < 0.05, col] = math.nan
    return raw


def test_risk_and_quality_only_lower_and_never_make_a_bearish_or_losing_symbol_buy() -> None:
    """The rule, on 3,000 seeded random rows of the shipped configuration."""
    cfg = DecisionConfig()
    rng = np.random.default_rng(2026)
    raw = _random_raw(rng, 3000)
    m = score_matrix(raw, cfg).set_index("symbol")
    scored = m[m["recommendation"] != INSUFFICIENT]
    assert len(scored) > 2500
    # 1. risk never raises: the final score is at most the direction score
    assert (scored["final_score"] <= scored["direction_score"] + 1e-9).all()
    # 2. a direction criterion in its lowest band (Bearish trend, Losing backtest) is never Buy or Strong Buy
    bottom = np.zeros(len(scored), dtype=bool)
    for name in DIRECTION_CRITERIA:
        if name in cfg.criteria:
            bottom |= (scored[f"{name}_score"] == 1).fillna(False).to_numpy()
    assert bottom.sum() > 500
    assert not scored.loc[bottom, "recommendation"].isin([BUY, STRONG_BUY]).any()
    # 3. the direction comes from direction criteria alone: the best risk values change no direction score,
    #    and never lower a final score
    calm = raw.assign(volatility=0.0, model_confidence=0.0, drift=0.0)
    best = score_matrix(calm, cfg).set_index("symbol").loc[scored.index]
    np.testing.assert_array_equal(best["direction_score"], scored["direction_score"])
    assert (best["final_score"] >= scored["final_score"] - 1e-9).all()
    assert (best["final_score"] > scored["final_score"]).any()
    # 4. risk criteria alone give no direction
    only_risk = pd.DataFrame({"symbol": ["R"], "volatility": [0.1], "model_confidence": [0.0], "drift": [0.0]})
    r = score_matrix(only_risk, cfg).iloc[0]
    assert r["recommendation"] == INSUFFICIENT and "direction criterion" in r["explanation"]
    assert set(DIRECTION_CRITERIA).isdisjoint(RISK_CRITERIA)


def test_insufficient_policy_marks_any_missing_row() -> None:
    m = score_matrix(four_symbols(), decision_config(missing_policy="insufficient")).set_index("symbol")
    assert m.loc["CCC", "recommendation"] == INSUFFICIENT
    assert pd.isna(m.loc["CCC", "final_score"])
    assert pd.isna(m.loc["CCC", "rank"])
    assert m.loc["CCC", "flags"] == "missing:trend;insufficient"
    assert m.loc["CCC", "explanation"].startswith("Insufficient data: 3 of 4 criteria scored (needs all criteria)")
    # the complete rows are unaffected and ranked among themselves
    assert m.loc["AAA", "final_score"] == 3.85 and m.loc["AAA", "rank"] == 1
    assert m.loc["BBB", "rank"] == 3
    assert list(m.index)[-1] == "CCC"


def test_too_few_criteria_is_insufficient_under_renormalize() -> None:
    raw = pd.DataFrame({"symbol": ["X"], "trend": [math.nan], "momentum": [50.0], "backtest": [None]})
    m = score_matrix(raw, decision_config()).set_index("symbol")
    assert m.loc["X", "recommendation"] == INSUFFICIENT
    assert m.loc["X", "criteria_scored"] == 1
    assert "missing trend, backtest, volatility" in m.loc["X", "explanation"]
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
