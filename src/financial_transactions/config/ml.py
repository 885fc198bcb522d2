"""Features, labels, the time split, the model tournament, the gate and the validator."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from financial_transactions.config.bar_interval import check_session_aligned
from financial_transactions.config.core import StrictModel


class MacdConfig(StrictModel):
    fast: int = Field(default=12, ge=2, le=500)
    slow: int = Field(default=26, ge=3, le=1000)
    signal: int = Field(default=9, ge=2, le=500)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MacdConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


class BollingerConfig(StrictModel):
    period: int = Field(default=20, ge=2, le=1000)
    num_std: float = Field(default=2.0, gt=0, le=10)


class FeaturesConfig(StrictModel):
    bar_interval: str = Field(
        default="1min",
        pattern=r"^\d+(s|min|h)$",
        description="bar width; must divide 30 minutes so no bar straddles a session boundary or a trading date",
    )
    sma_windows: list[int] = Field(default_factory=lambda: [10, 30], min_length=1)
    ema_windows: list[int] = Field(default_factory=lambda: [12, 26], min_length=1)
    rsi_period: int = Field(default=14, ge=2, le=500)
    macd: MacdConfig = MacdConfig()
    bollinger: BollingerConfig = BollingerConfig()
    atr_period: int = Field(default=14, ge=2, le=500)
    volatility_window: int = Field(default=20, ge=2, le=5000)
    volume_zscore_window: int = Field(default=50, ge=2, le=5000)
    trade_rate_window: int = Field(default=5, ge=1, le=5000)

    @field_validator("bar_interval")
    @classmethod
    def _session_aligned(cls, value: str) -> str:
        check_session_aligned(value)
        return value

    @model_validator(mode="after")
    def _window_bounds(self) -> FeaturesConfig:
        for name in ("sma_windows", "ema_windows"):
            for w in getattr(self, name):
                if not 2 <= w <= 5000:
                    raise ValueError(f"{name} entry {w} must be within [2, 5000]")
        return self

    @property
    def lookback_bars(self) -> int:
        """How many earlier bars the longest finite feature window reads (default 50: the volume z-score).

        A window of ``n`` values ending at bar t reads ``n - 1`` earlier bars; the z-scores,
        trade-rate ratio and RSI read ``n`` (their baseline or first difference precedes the
        window), ``range_atr`` reads ``atr_period + 1``; MACD reads ``slow + signal - 2``.
        EMA, RSI and ATR smoothing and the flat-run counters have unbounded memory; their
        nominal windows are what counts here.
        """
        return max(
            max(self.sma_windows) - 1,
            max(self.ema_windows) - 1,
            self.rsi_period,
            self.macd.slow + self.macd.signal - 2,
            self.bollinger.period - 1,
            self.atr_period + 1,  # range_atr divides by the previous bar's ATR
            self.volatility_window,
            self.volume_zscore_window,
            self.trade_rate_window,
        )


InjectedType = Literal["price_spike", "volume_burst", "wash_trade", "stale_price"]


class InjectionConfig(StrictModel):
    """Labelled anomalies injected into a *copy* of the real trades, for training and evaluation only.

    Real feeds carry no anomaly labels; injected ones give the tournament, the gate and the
    performance monitor a ground truth on real market microstructure. Injected trades never
    reach silver_trades, the backtest or a decision (see :mod:`financial_transactions.features.injection`).
    """

    enabled: bool = Field(
        default=False,
        description="inject labelled anomalies into a copy of silver's trades for the bars no analyst verdict or "
        "replay ground truth labels (labels.source auto or injected)",
    )
    seed: int = Field(default=20_240_601, ge=0, le=2**32 - 1, description="same seed and trades, same injections")
    rate: float = Field(
        default=0.02,
        gt=0.0,
        le=0.2,
        description="share of each symbol's eligible bars that get one injected anomaly (types balanced)",
    )
    subtlety: float = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="share of injected anomalies sized like normal trading (3-8 sigma spikes, 2-5x bursts, 3-8-print "
        "wash groups, 1-2-bar unpadded stale runs); 0 = every one is blatant",
    )
    types: list[InjectedType] = Field(
        default=["price_spike", "volume_burst", "wash_trade", "stale_price"],
        min_length=1,
        max_length=4,
        description="anomaly types to inject",
    )

    @field_validator("types")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"types lists an anomaly type twice: {value}")
        return value


class LabelsConfig(StrictModel):
    source: Literal["ground_truth", "injected", "rule", "auto"] = Field(
        default="auto",
        description="per bar, analyst feedback first, then: auto: the replay's ground truth where it covers the bar, "
        "injected anomalies where labels.injection is enabled, the rule elsewhere; ground_truth: covered bars "
        "only; injected: injected bars only; rule: the rule everywhere",
    )
    injection: InjectionConfig = InjectionConfig()
    rule_forward_bars: int = Field(
        default=5, ge=1, le=1000, description="k: the rule compares a bar with the k bars before and after it"
    )
    rule_zscore: float = Field(default=4.0, gt=0, le=100, description="how many robust stds make a dislocation")
    rule_scale_bars: int = Field(
        default=240,
        ge=30,
        le=100_000,
        description="trailing bars (before t, never after) whose return and volume changes give the rule its scale",
    )


class SplitConfig(StrictModel):
    test_fraction: float = Field(default=0.2, gt=0, lt=0.9, description="the last share of rows, held out for test")
    validation_fraction: float = Field(
        default=0.2, gt=0, lt=0.9, description="share of the pre-test rows used for thresholds and model selection"
    )
    embargo_minutes: int = Field(
        default=30, ge=0, le=100_000, description="wall-clock gap dropped before each slice start, all symbols"
    )
    embargo_bars: int | Literal["auto"] = Field(
        default="auto",
        description="each symbol's own last N bars dropped before each slice start; auto = the larger of "
        "labels.rule_forward_bars and the longest feature look-back; an explicit N must be >= "
        "labels.rule_forward_bars",
    )

    @field_validator("embargo_bars")
    @classmethod
    def _embargo_bars_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 100_000:
            raise ValueError("embargo_bars must be 'auto' or within [0, 100000]")
        return value


def embargo_bars(split: SplitConfig, labels: LabelsConfig, features: FeaturesConfig) -> int:
    """Per-symbol bars dropped before each slice start (``split.embargo_bars`` resolved).

    ``auto`` covers both directions of contamination: the last training row's rule label
    looks ``rule_forward_bars`` ahead, and the first validation/test row's features look
    ``features.lookback_bars`` back; neither then reaches a row of the other slice.
    """
    if split.embargo_bars == "auto":
        return max(labels.rule_forward_bars, features.lookback_bars)
    return split.embargo_bars


def check_embargo(split: SplitConfig, labels: LabelsConfig) -> None:
    """An explicit ``split.embargo_bars`` must cover the rule label's forward horizon.

    A smaller embargo lets the labels of the last training bars be computed from
    validation (or test) bars, a leak no later check could see.
    """
    if split.embargo_bars != "auto" and split.embargo_bars < labels.rule_forward_bars:
        raise ValueError(
            f"split.embargo_bars ({split.embargo_bars}) must be at least labels.rule_forward_bars "
            f"({labels.rule_forward_bars}), the rule label's forward horizon; use 'auto' or a larger value"
        )


ImbalanceWeight = float | Literal["balanced", "none"]
"""``balanced`` = n_negative / n_positive of the training rows; ``none`` = 1.0; a float is used as given."""


class LightGBMParams(StrictModel):
    n_estimators: int = Field(default=200, ge=1, le=10_000)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    num_leaves: int = Field(default=31, ge=2, le=4096)
    min_child_samples: int = Field(default=20, ge=1, le=100_000)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    max_bin: int = Field(default=255, ge=7, le=4096)
    scale_pos_weight: ImbalanceWeight = "balanced"

    @field_validator("scale_pos_weight")
    @classmethod
    def _positive_weight(cls, value: ImbalanceWeight) -> ImbalanceWeight:
        return _check_weight(value)


class XGBoostParams(StrictModel):
    n_estimators: int = Field(default=200, ge=1, le=10_000)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    max_depth: int = Field(default=6, ge=1, le=32)
    subsample: float = Field(default=0.9, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    max_bin: int = Field(default=256, ge=8, le=4096)
    tree_method: Literal["hist", "approx", "exact"] = "hist"
    scale_pos_weight: ImbalanceWeight = "balanced"

    @field_validator("scale_pos_weight")
    @classmethod
    def _positive_weight(cls, value: ImbalanceWeight) -> ImbalanceWeight:
        return _check_weight(value)


class RandomForestParams(StrictModel):
    n_estimators: int = Field(default=100, ge=1, le=10_000)
    max_depth: int | None = Field(default=12, ge=1, le=200)
    min_samples_leaf: int = Field(default=2, ge=1, le=100_000)
    max_features: float | Literal["sqrt", "log2"] = "sqrt"
    max_samples: int | float | None = 50_000  # rows per tree (capped at the train size) or a fraction
    class_weight: Literal["balanced", "balanced_subsample", "none"] = "balanced_subsample"

    @field_validator("max_features")
    @classmethod
    def _fraction(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError("max_features as a number is a fraction in (0, 1]")
        return value

    @field_validator("max_samples")
    @classmethod
    def _samples(cls, value: int | float | None) -> int | float | None:
        if isinstance(value, int) and not 1 <= value <= 100_000_000:
            raise ValueError("max_samples as a row count must be within [1, 100000000]")
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError("max_samples as a fraction must be within (0, 1]")
        return value


class IsolationForestParams(StrictModel):
    n_estimators: int = Field(default=200, ge=1, le=10_000)
    contamination: float | Literal["auto"] = "auto"
    max_samples: int | Literal["auto"] = "auto"
    max_features: float = Field(default=1.0, gt=0, le=1)
    # "normal": fit on training rows labelled normal (novelty detection, the labels exist);
    # "all": classic unsupervised fit on every training row.
    fit_on: Literal["normal", "all"] = "normal"

    @field_validator("contamination")
    @classmethod
    def _contamination_range(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 < value <= 0.5:
            raise ValueError("contamination must be 'auto' or within (0, 0.5]")
        return value

    @field_validator("max_samples")
    @classmethod
    def _samples_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 2 <= value <= 10_000_000:
            raise ValueError("max_samples must be 'auto' or within [2, 10000000]")
        return value


def _check_weight(value: ImbalanceWeight) -> ImbalanceWeight:
    if isinstance(value, float) and not 0 < value <= 100_000:
        raise ValueError("scale_pos_weight must be 'balanced', 'none' or a number within (0, 100000]")
    return value


class ModelsConfig(StrictModel):
    """The tournament. Ranked on the *validation* slice: ``primary_metric`` in tiers of ``tie_tolerance``
    below the best, then ``tie_break`` metrics the same way, then name (see ``models.tournament.rank_results``);
    the test slice stays held out for the reported figures."""

    registered_model: str = Field(default="anomaly_model", pattern=r"^[a-z][a-z0-9_]{0,127}$")
    experiment_name: str = Field(default="financial-anomaly-tournament", min_length=1)
    primary_metric: Literal["pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr"] = "pr_auc"
    tie_break: list[Literal["pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr", "inference_rows_per_s"]] = (
        Field(default=["roc_auc", "recall_at_fpr", "f1"], max_length=6)
    )
    tie_tolerance: float = Field(
        default=1e-9,
        ge=0,
        le=0.1,
        description="models within this of the best remaining value of a metric share a tier; "
        "the next tie_break metric orders the tier",
    )
    precision_at_k: int = Field(default=100, ge=1, le=1_000_000)
    fixed_fpr: float = Field(default=0.01, gt=0, lt=1)
    random_state: int = Field(default=42, ge=0, le=2**32 - 1)
    n_jobs: int = Field(default=2, ge=1, le=256)
    input_example_rows: int = Field(default=5, ge=1, le=1000)
    enabled: list[Literal["lightgbm", "xgboost", "random_forest", "isolation_forest"]] = Field(
        default=["lightgbm", "xgboost", "random_forest", "isolation_forest"],
        min_length=1,
    )
    lightgbm: LightGBMParams = LightGBMParams()
    xgboost: XGBoostParams = XGBoostParams()
    random_forest: RandomForestParams = RandomForestParams()
    isolation_forest: IsolationForestParams = IsolationForestParams()

    @field_validator("enabled")
    @classmethod
    def _unique_models(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("enabled lists a model twice")
        return value


class GuardrailsConfig(StrictModel):
    """What a challenger may not regress: recall at the matched operating point, and the latency objective."""

    recall_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="recall the challenger may lose against the champion at the matched operating point (absolute)",
    )
    latency_objective_ms: float = Field(
        default=2000.0,
        gt=0,
        le=600_000,
        description="service objective: the median time to score one batch of latency_batch_rows rows",
    )
    latency_batch_rows: int = Field(
        default=10_000, ge=1, le=10_000_000, description="rows per timed batch (holdout rows repeated to this size)"
    )


class GateConfig(StrictModel):
    """The promotion gate (``models.champion_challenger``): a paired test on the same holdout, matched cuts."""

    margin: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="the lower confidence bound of the primary-metric gain (challenger - champion) must reach this",
    )
    confidence: float = Field(
        default=0.95, ge=0.5, lt=1, description="one-sided level of the bounds on the primary-metric gain"
    )
    bootstrap_resamples: int = Field(
        default=1000, ge=100, le=100_000, description="class-stratified paired bootstrap resamples of the holdout"
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="seed of the bootstrap (same holdout, same bounds)")
    operating_point: Literal["fpr", "alert_rate"] = Field(
        default="fpr",
        description="how the two models' cuts are matched for the recall guardrail: the same false-positive rate, "
        "or the same share of rows flagged (alert budget); never each model's own threshold",
    )
    operating_value: float = Field(
        default=0.01, gt=0, lt=1, description="the FPR, or the alert rate, both models are cut at"
    )
    guardrails: GuardrailsConfig = GuardrailsConfig()
    latency_repeats: int = Field(
        default=5, ge=1, le=100, description="timed batches per model; the median is judged (one warm call first)"
    )
    pending_promotion_timeout_seconds: float = Field(
        default=900.0,
        ge=0,
        le=86_400,
        description="a recorded PROMOTE whose aliases have not moved after this long was interrupted: the "
        "next gate cancels it; younger ones block promotions (another gate is moving the aliases)",
    )


class ValidatorConfig(StrictModel):
    min_pr_auc: float = Field(default=0.5, ge=0, le=1)
    min_roc_auc: float = Field(default=0.7, ge=0, le=1)
    latency_budget_ms: float = Field(default=2000.0, gt=0, le=600_000)
    latency_batch_rows: int = Field(default=10_000, ge=1, le=10_000_000)
    latency_repeats: int = Field(
        default=5, ge=1, le=100, description="timed batches; the median is judged against latency_budget_ms"
    )
    sample_rows: int = Field(default=1000, ge=1, le=10_000_000)
