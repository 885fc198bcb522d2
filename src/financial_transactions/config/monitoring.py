"""Drift detection, performance monitoring, the retraining trigger and alerting."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, model_validator

from financial_transactions.config.core import CredentialRef, StrictModel

_IDENT = r"^[a-z][a-z0-9_]{0,127}$"
_COLUMN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


#: For a small shift, JS divergence (base 2) ≈ PSI / (8·ln 2), so JS distance ≈ sqrt(PSI / (8·ln 2)).
PSI_PER_JS_SQUARED = 8.0 * math.log(2.0)


def js_equivalent(psi: float) -> float:
    """The JS distance (base 2) that a small shift with this PSI has: ``sqrt(PSI / (8·ln 2))``."""
    return math.sqrt(psi / PSI_PER_JS_SQUARED)


def default_signal_groups() -> dict[str, list[str]]:
    """Near-duplicate model features, one signal each (see :mod:`~financial_transactions.monitoring.drift_detector`).

    ``returns``/``log_return`` are monotone transforms of each other (identical bins, identical
    PSI); the SMA/EMA deviations all measure the close against a recent average (rank
    correlations 0.87-0.98 on the replay); the identical-print share, its largest group and the
    consecutive-repeat share move together (rank correlations >= 0.98: identical prints arrive
    as consecutive runs), and so do the five cross-timestamp repeat columns (share, largest pair,
    re-prints, share of repeats, volume share: rank correlations >= 0.998 over the replay's bars,
    most of which have no pair at two timestamps).
    """
    return {
        "return": ["returns", "log_return"],
        "ma_deviation": ["sma_*_dev", "ema_*_dev"],
        "identical_prints": ["dup_print_ratio", "max_identical_prints", "repeat_print_ratio"],
        "cross_ts_repeats": [
            "cross_ts_repeat_ratio",
            "max_cross_ts_prints",
            "max_cross_ts_reprints",
            "cross_ts_repeat_share",
            "max_cross_ts_volume_share",
        ],
    }


class DriftConfig(StrictModel):
    """PSI and JS thresholds on one scale.

    Both measures see the same bins. For small shifts PSI = Σ(q−p)·ln(q/p) ≈
    Σ(q−p)²/p and JS divergence (base 2) ≈ Σ(q−p)²/p / (8·ln 2), so JS distance
    ≈ sqrt(PSI / 5.545): PSI 0.1 ↔ JS 0.134 and PSI 0.25 ↔ JS 0.212 (the default
    JS pair), while JS 0.1 would already be PSI 0.055. Each measure gets its own
    warn/alert pair, and a feature's status is the worse of the two, so either
    measure can raise a warning and neither decides alone by a lower bar.

    The share rule counts *signals*, not columns: ``signal_groups`` names features that
    carry one signal (fnmatch patterns; a feature in no group is a signal of its own).
    """

    bins: int = Field(default=10, ge=2, le=1000, description="reference-quantile bins per numeric feature")
    epsilon: float = Field(default=1e-4, gt=0, le=0.01, description="share given to empty bins in PSI")
    psi_warn: float = Field(default=0.1, ge=0, le=100, description="PSI that marks a feature warn")
    psi_alert: float = Field(default=0.25, ge=0, le=100, description="PSI that marks a feature drifted (alert)")
    js_warn: float = Field(
        default=0.134, ge=0, le=1, description="JS distance (base 2) that marks a feature warn; ≈ PSI 0.1"
    )
    js_alert: float = Field(
        default=0.212, ge=0, le=1, description="JS distance (base 2) that marks a feature drifted (alert); ≈ PSI 0.25"
    )
    drifted_share_alert: float = Field(default=0.3, ge=0, le=1)
    min_drifted_features: int = Field(
        default=2, ge=1, le=10_000, description="the share rule also needs this many drifted features"
    )
    decision_rule: Literal["share", "critical", "share_or_critical", "share_and_critical"] = Field(
        default="share_or_critical", description="how per-feature alerts become the overall drift decision"
    )
    critical_features: list[str] = Field(default_factory=list)
    signal_groups: dict[str, list[str]] = Field(
        default_factory=default_signal_groups,
        description="features (fnmatch patterns) that carry one signal; drifted_share_alert and "
        "min_drifted_features count signals, a signal drifting when any member does",
    )
    features: list[str] = Field(default_factory=list)  # empty = all model features
    categorical_features: list[str] = Field(
        default_factory=list, description="numeric columns binned by value instead of quantiles"
    )
    nan_policy: Literal["bin", "drop"] = Field(
        default="bin", description="bin: missing values form their own bin; drop: they are ignored"
    )
    min_rows: int = Field(default=50, ge=1, le=100_000_000, description="fewer non-missing rows -> insufficient_data")
    table: str = Field(default="gold_trade_features", pattern=_IDENT, description="table key of the windows")
    time_column: str = Field(default="bar_start", pattern=_COLUMN)
    threads: int = Field(default=2, ge=1, le=64, description="features computed in parallel")
    current_hours: float = Field(
        default=24.0, gt=0, le=24 * 90, description="recent mode: the current window is the latest this many hours"
    )
    reference_hours: float = Field(
        default=120.0, gt=0, le=24 * 365, description="recent mode: the reference is this many hours before it"
    )

    @model_validator(mode="after")
    def _warn_below_alert(self) -> DriftConfig:
        if self.psi_warn > self.psi_alert:
            raise ValueError(f"psi_warn ({self.psi_warn}) must not exceed psi_alert ({self.psi_alert})")
        if self.js_warn > self.js_alert:
            raise ValueError(f"js_warn ({self.js_warn}) must not exceed js_alert ({self.js_alert})")
        if self.features:
            unknown = sorted(set(self.critical_features) - set(self.features))
            if unknown:
                raise ValueError(f"critical_features {unknown} are not in drift.features")
        for name, patterns in self.signal_groups.items():
            if not re.fullmatch(_COLUMN, name) or not patterns or not all(patterns):
                raise ValueError(f"signal group {name!r} needs a column-like name and at least one pattern")
        return self


class PerformanceConfig(StrictModel):
    """Rolling quality of the champion on labelled windows."""

    window_minutes: int = Field(default=60, ge=1, le=10_080, description="length of one evaluation window")
    rolling_windows: int = Field(default=3, ge=1, le=1000, description="windows pooled into the rolling metrics")
    min_labelled_rows: int = Field(
        default=20, ge=1, le=10_000_000, description="fewer rows in a window: its metrics are null"
    )
    metric: Literal["pr_auc", "precision", "recall"] = "pr_auc"
    min_positives: int = Field(
        default=30,
        ge=1,
        le=10_000_000,
        description="labelled anomalies the whole current window needs before a drop can count (PR-AUC from a "
        "handful of anomalies swings by +/-0.3 on a model of constant quality)",
    )
    confidence: float = Field(
        default=0.95, ge=0.5, lt=1, description="two-sided level of the bootstrap intervals (per window, current)"
    )
    bootstrap_resamples: int = Field(
        default=1000, ge=100, le=100_000, description="class-stratified bootstrap resamples per interval"
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="seed of the bootstrap intervals")
    monitor_granularity: str = Field(default="1 day", pattern=r"^\d+ (minute|minutes|hour|hours|day|days|week|weeks)$")
    monitor_assets_dir: str = Field(default="/Workspace/Shared/financial-ai-mlops/lakehouse_monitoring", min_length=1)


class RetrainingConfig(StrictModel):
    cooldown_hours: float = Field(default=6.0, ge=0, le=24 * 30)
    daily_limit: int = Field(default=3, ge=0, le=1000, description="triggered retrains per UTC day")
    performance_drop: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="the smallest drop of the champion's metric (whole current window vs baseline) that counts, "
        "and only with performance.min_positives anomalies and a confidence bound above zero",
    )
    job_name: str = "financial-retraining-workflow"
    job_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="skips the lookup by job_name")
    launch: Literal["run_now", "task_value"] = Field(
        default="run_now",
        description="Databricks: start the job with jobs.run_now, or only set the task value a condition_task reads",
    )
    task_value_key: str = Field(default="retrain", pattern=_COLUMN)
    max_commit_attempts: int = Field(default=50, ge=1, le=10_000, description="optimistic-concurrency retries")
    launch_timeout_minutes: float = Field(
        default=30.0,
        gt=0,
        le=24 * 60,
        description="a triggered decision with no launch record after this long started nothing (its trigger died)",
    )
    performance: PerformanceConfig = PerformanceConfig()


class LiveAlertsConfig(StrictModel):
    """Streaming scoring (:mod:`~financial_transactions.monitoring.live_scoring`): champion checks and the webhook
    rate limit. Alerts over the limit wait as ``rate_limited`` and go out, oldest first, as the window frees."""

    enabled: bool = Field(default=True, description="score gold bars in `fin-mlops pipeline --stream`")
    max_per_minute: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="webhooks per sliding 60 s (counted from anomaly_alerts, so restarts keep it)",
    )
    champion_check_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="how often the champion alias is re-read (0: every micro-batch)"
    )
    severity: Literal["info", "warning", "critical"] = Field(default="warning", description="severity of each webhook")
    backlog_name: str = Field(
        default="live_scoring_backlog",
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="checkpoint file of bars that arrived with no champion (scored once one exists)",
    )


class AlertingConfig(StrictModel):
    webhook: CredentialRef = CredentialRef(
        env="FIN_MLOPS_ALERT_WEBHOOK_URL", secret_scope="financial-mlops", secret_key="alert-webhook-url"
    )
    payload_format: Literal["slack", "teams"] = "slack"
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=600)
    live: LiveAlertsConfig = LiveAlertsConfig()
