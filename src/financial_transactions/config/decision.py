"""Decision matrix scoring and backtest settings.

Every criterion maps its raw value to a 1-5 score through *bands*: half-open
ranges ``[lower, upper)`` that must tile the whole real line (first band open
below, last band open above, each band starting exactly where the previous one
ends), so every finite raw value gets exactly one score and a boundary value
always belongs to the band that *starts* there.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from financial_transactions.config.core import StrictModel

#: The criteria the decision matrix knows how to derive from platform data.
CRITERIA = ("trend", "volatility", "momentum", "backtest", "model_confidence", "drift", "sentiment")
#: Criteria that say which way to go: the recommendation's direction comes from these alone.
DIRECTION_CRITERIA = ("trend", "momentum", "backtest", "sentiment")
#: Risk and quality criteria: each can only *lower* the direction's score (5 = no concern), never raise it.
RISK_CRITERIA = ("volatility", "model_confidence", "drift")
CriterionName = Literal["trend", "volatility", "momentum", "backtest", "model_confidence", "drift", "sentiment"]
StrategyName = Literal["sma_cross", "macd", "model"]
_TABLE = r"^([A-Za-z_][A-Za-z0-9_]*\.){1,2}[A-Za-z_][A-Za-z0-9_]*$"


class Band(StrictModel):
    """A half-open band ``[lower, upper)`` of a criterion's raw value mapped to a 1-5 score."""

    lower: float | None = Field(default=None, ge=-1e12, le=1e12, description="inclusive; null = -infinity")
    upper: float | None = Field(default=None, ge=-1e12, le=1e12, description="exclusive; null = +infinity")
    score: int = Field(ge=1, le=5)
    label: str = Field(default="", max_length=40)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise ValueError(f"band lower ({self.lower}) must be below upper ({self.upper})")
        return self


class CriterionConfig(StrictModel):
    weight: float = Field(ge=0, le=1000, description="relative weight; weights are normalised over enabled criteria")
    bands: list[Band] = Field(min_length=1, max_length=20)
    enabled: bool = True

    @field_validator("bands")
    @classmethod
    def _tile_the_real_line(cls, bands: list[Band]) -> list[Band]:
        if bands[0].lower is not None:
            raise ValueError("the first band must be open below (no 'lower')")
        if bands[-1].upper is not None:
            raise ValueError("the last band must be open above (no 'upper')")
        for prev, nxt in itertools.pairwise(bands):
            if prev.upper is None or nxt.lower is None or not math.isclose(prev.upper, nxt.lower, abs_tol=0.0):
                raise ValueError(
                    f"bands must be contiguous and ascending: a band ending at {prev.upper} "
                    f"is followed by one starting at {nxt.lower}"
                )
        return bands

    def band_for(self, value: float) -> Band:
        """The band holding ``value`` (``lower <= value < upper``); ``value`` must be finite."""
        if not math.isfinite(value):
            raise ValueError(f"cannot score a non-finite value {value!r}")
        for band in self.bands:
            if band.upper is None or value < band.upper:
                return band
        return self.bands[-1]  # unreachable: the last band is open above


class RecommendationThresholds(StrictModel):
    """``score > strong_buy`` Strong Buy; ``buy <= score <= strong_buy`` Buy; ``hold <= score < buy`` Hold;
    ``score < hold`` Sell."""

    strong_buy: float = Field(default=4.0, ge=1, le=5)
    buy: float = Field(default=3.0, ge=1, le=5)
    hold: float = Field(default=2.0, ge=1, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> RecommendationThresholds:
        if not self.hold <= self.buy <= self.strong_buy:
            raise ValueError("thresholds must satisfy hold <= buy <= strong_buy")
        return self


def _bands(*spec: tuple[float | None, float | None, int, str]) -> list[Band]:
    return [Band(lower=lo, upper=hi, score=s, label=lab) for lo, hi, s, lab in spec]


def default_criteria() -> dict[CriterionName, CriterionConfig]:
    """The shipped scoring (mirrored in project_config.yml)."""
    return {
        "trend": CriterionConfig(
            weight=0.25, bands=_bands((None, -0.5, 1, "Bearish"), (-0.5, 0.5, 3, "Neutral"), (0.5, None, 5, "Bullish"))
        ),
        "volatility": CriterionConfig(
            weight=0.15, bands=_bands((None, 0.33, 5, "Calm"), (0.33, 0.66, 3, "Normal"), (0.66, None, 1, "Turbulent"))
        ),
        "momentum": CriterionConfig(
            weight=0.2,
            bands=_bands(
                (None, 30, 2, "Oversold"), (30, 45, 3, "Weak"), (45, 70, 4, "Healthy"), (70, None, 2, "Overbought")
            ),
        ),
        "backtest": CriterionConfig(  # deflated_edge in [-1, 1]: dsr of the profits minus dsr of the losses
            weight=0.2,
            bands=_bands((None, -0.95, 1, "Losing"), (-0.95, 0.95, 3, "Inconclusive"), (0.95, None, 5, "Profitable")),
        ),
        "model_confidence": CriterionConfig(
            weight=0.1, bands=_bands((None, 0.02, 5, "Clean"), (0.02, 0.05, 3, "Watch"), (0.05, None, 1, "Anomalous"))
        ),
        "drift": CriterionConfig(  # the symbol's own drifted share of signals (drift.drifted_share_alert: 0.3)
            weight=0.1, bands=_bands((None, 0.1, 5, "Stable"), (0.1, 0.3, 3, "Warning"), (0.3, None, 1, "Drifted"))
        ),
    }


class RegimeConfig(StrictModel):
    """How the volatility criterion judges a symbol's latest bars against its own trailing history.

    The symbol's volatility *now* is the mean ATR% (gold ``natr``) of its last ``window_bars`` bars;
    its history is the same mean over each of the up to ``history_windows`` complete, non-overlapping
    windows before that. The raw value is the share of those windows at or below now (a percentile in
    [0, 1]): after a shift that tripled volatility it is near 1 until the new regime fills the history.
    """

    window_bars: int = Field(
        default=240, ge=2, le=1_000_000, description="bars of the current window (240 = 4 hours of 1-min bars)"
    )
    history_windows: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="trailing windows of window_bars bars the current one is ranked in (30 x 240 = 7200 bars: "
        "5 days of crypto, about 9 extended equity sessions)",
    )
    min_history_windows: int = Field(
        default=5, ge=1, le=10_000, description="fewer complete history windows -> volatility missing (too new)"
    )

    @model_validator(mode="after")
    def _enough(self) -> RegimeConfig:
        if self.min_history_windows > self.history_windows:
            raise ValueError(
                f"min_history_windows ({self.min_history_windows}) exceeds history_windows ({self.history_windows})"
            )
        return self

    @property
    def bars_needed(self) -> int:
        """Bars read per symbol: the current window and its full history."""
        return self.window_bars * (self.history_windows + 1)


class DecisionConfig(StrictModel):
    """How the decision matrix derives, scores, weights and ranks its criteria."""

    criteria: dict[CriterionName, CriterionConfig] = Field(default_factory=default_criteria)
    thresholds: RecommendationThresholds = RecommendationThresholds()
    missing_policy: Literal["renormalize", "insufficient"] = Field(
        default="renormalize",
        description="renormalize: score over the criteria present and flag the row; "
        "insufficient: any missing criterion makes the row 'Insufficient data'",
    )
    min_criteria: int = Field(
        default=3, ge=1, le=100, description="fewer scored criteria than this -> 'Insufficient data'"
    )
    sentiment_table: str | None = Field(
        default=None,
        pattern=_TABLE,
        description="table with symbol, score in [-1, 1] (and optional as_of); schema.table is put in the catalog",
    )
    lookback_bars: int = Field(
        default=1440, ge=10, le=10_000_000, description="recent bars per symbol used for trend/momentum"
    )
    regime: RegimeConfig = Field(
        default_factory=RegimeConfig,
        description="volatility against the symbol's own trailing history (a percentile), not an absolute band",
    )
    model_window_bars: int = Field(
        default=390, ge=1, le=10_000_000, description="recent champion predictions per symbol for the anomaly rate"
    )
    min_bars: int = Field(default=35, ge=2, le=100_000, description="fewer gold bars -> market criteria missing")

    @model_validator(mode="after")
    def _usable(self) -> DecisionConfig:
        active = {name: c for name, c in self.criteria.items() if c.enabled}
        if not active or sum(c.weight for c in active.values()) <= 0:
            raise ValueError("enable at least one criterion with a positive weight")
        if self.min_criteria > len(active):
            raise ValueError(f"min_criteria ({self.min_criteria}) exceeds the {len(active)} enabled criteria")
        if "sentiment" in active and not self.sentiment_table:
            raise ValueError("criterion 'sentiment' needs decision.sentiment_table")
        return self

    def normalized_weights(self) -> dict[str, float]:
        """Enabled criteria -> weight / sum of enabled weights (sums to 1)."""
        active = {name: c.weight for name, c in self.criteria.items() if c.enabled}
        total = sum(active.values())
        return {name: w / total for name, w in active.items()}


def _all_strategies() -> list[StrategyName]:
    return ["sma_cross", "macd", "model"]


class BacktestConfig(StrictModel):
    strategy: StrategyName = Field(
        default="sma_cross", description="strategy whose deflated edge (not its raw Sharpe) the decision matrix scores"
    )
    strategies: list[StrategyName] = Field(
        default_factory=_all_strategies, min_length=1, description="strategies each run evaluates"
    )
    mode: Literal["long_flat", "long_short"] = "long_flat"
    commission_bps: float = Field(default=1.0, ge=0, le=1000, description="per unit of turnover")
    slippage_bps: float = Field(default=2.0, ge=0, le=1000, description="per unit of turnover")
    fast_window: int = Field(default=10, ge=1, le=1000)
    slow_window: int = Field(default=30, ge=2, le=5000)
    model_cooldown_bars: int = Field(
        default=5, ge=1, le=10_000, description="bars the model strategy stands aside after a flagged bar"
    )
    min_bars: int = Field(default=40, ge=3, le=1_000_000, description="fewer bars -> the symbol is not backtested")
    equity_session: Literal["extended", "regular"] = Field(
        default="extended",
        description="session equity bars cover: extended 04:00-20:00 New York (960 min; gold keeps pre-market "
        "and after-hours bars) or regular 09:30-16:00 (390 min); caps the observed bars per day of the annualisation",
    )
    risk_free_rate: float = Field(default=0.0, ge=-1, le=1, description="annual; de-annualised per period")
    periods_per_year_equity: int = Field(
        default=252, ge=1, le=1_000_000, description="trading days per year of equities (annualisation)"
    )
    periods_per_year_crypto: int = Field(
        default=365, ge=1, le=1_000_000, description="trading days per year of 24/7 crypto (annualisation)"
    )
    cagr_min_years: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="CAGR and Calmar are reported only when the bars cover at least this many years (trading "
        "dates / trading days per year); shorter periods show their total return: a few days compounded to a "
        "year is noise, not a growth rate",
    )

    @model_validator(mode="after")
    def _windows(self) -> BacktestConfig:
        if self.fast_window >= self.slow_window:
            raise ValueError(f"fast_window ({self.fast_window}) must be below slow_window ({self.slow_window})")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError("strategies must not repeat")
        return self
