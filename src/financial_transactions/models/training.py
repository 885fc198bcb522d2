"""Training end to end: features -> tournament -> validator -> registry -> gate.

The tournament picks its winner on the validation slice; the test slice is the
held-out figure (``TrainingOutcome.summary()`` shows both) and the gate's holdout.

``run_training(platform)`` is the one entry point used by the ``train`` stage of
``fin-mlops run``, by ``fin-mlops train``, by ``scripts/financial/train_tournament.py``
and by the monitoring retraining trigger. It never promotes a model that failed
validation, and a gate that cannot reach the registry rejects (see
:mod:`champion_challenger`).
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from financial_transactions.features.feature_store_manager import FeatureStoreManager
from financial_transactions.features.labels import LABEL_COLUMN, LABEL_SOURCE_COLUMN
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.models.champion_challenger import (
    FEATURE_TABLE_KEYS,
    AlertCallback,
    ChampionChallenger,
    GateDecision,
)
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.tournament import ModelTournament, TournamentResult
from financial_transactions.models.validator import ModelValidator, ValidationReport
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint
from financial_transactions.runtime.journal import remembered, scoped_id

log = logging.getLogger(__name__)


class TrainingFailed(RuntimeError):
    """Nothing to train on, or every model of the tournament failed: nothing to validate or register.

    An expected condition of real data (a quiet regime, no labels yet): ``remedy`` says what to do.
    """

    def __init__(self, message: str, remedy: str = "") -> None:
        super().__init__(message)
        self.remedy = remedy


#: What to do when the labelled positives are too few to train or to measure a model.
FEW_LABELS_REMEDY = (
    "add labels: record analyst verdicts on flagged bars (`fin-mlops feedback confirm|dismiss`, which outrank "
    "every other label source), supply ground truth (an anomaly_type column in a --csv file), or replay a "
    "longer history"
)


@dataclass
class TrainingOutcome:
    tournament: TournamentResult
    validation: ValidationReport | None
    registered_version: int | None
    decision: GateDecision | None
    data_sizes: dict[str, int]

    @property
    def status(self) -> str:
        """promoted | rejected | validation_failed."""
        if self.validation is not None and not self.validation.passed:
            return "validation_failed"
        if self.decision is not None and self.decision.promoted:
            return "promoted"
        return "rejected"

    def summary(self) -> dict[str, Any]:
        """Winner, its validation figure (what picked it) and held-out test figure (what is reported), decision."""
        winner = self.tournament.winner
        primary = self.tournament.primary_metric
        out: dict[str, Any] = {
            "winner": winner.name if winner else None,
            f"validation_{primary}": round(winner.selection_metric(primary), 4) if winner else None,
            f"test_{primary}": round(winner.metric(primary), 4) if winner else None,
            "failed_models": len(self.tournament.failed),
            "validation": "pass" if self.validation and self.validation.passed else "fail",
            "version": self.registered_version,
            "decision": self.decision.decision if self.decision else "NOT_REGISTERED",
        }
        if self.decision is not None:
            out.update(self.decision.figures())  # the gain with its lower bound, recall at the matched cut
        return out


def git_sha_of(path: Path) -> str:
    """The commit of the checkout at ``path``; "unknown" outside a git checkout (e.g. a wheel)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def feature_table_versions(platform: Platform) -> dict[str, int]:
    """Current Delta versions of the feature tables that exist (the gate's rollback snapshot)."""
    out = {}
    for key in FEATURE_TABLE_KEYS:
        fqn = platform.config.table(key)
        if platform.store.exists(fqn):
            out[fqn] = platform.store.version(fqn)
    return out


def train_and_gate(
    platform: Platform,
    data: TrainingData,
    *,
    git_sha: str | None = None,
    feature_versions_before: Mapping[str, int] | None = None,
    feature_schema: pa.Schema | None = None,
    tournament: ModelTournament | None = None,
    alert: AlertCallback | None = None,
    registry: ModelRegistry | None = None,
) -> TrainingOutcome:
    """Tournament -> validator -> register the winner as ``challenger`` -> gate."""
    cfg = platform.config
    sha = git_sha or "unknown"
    platform.configure_mlflow()
    result = (tournament or ModelTournament(platform, git_sha=sha)).run(data)
    crashpoint("train.after_tournament")
    winner = result.winner
    if winner is None or winner.model_uri is None:
        errors = "; ".join(f"{r.name}: {r.error}" for r in result.failed)
        raise TrainingFailed(
            f"all {len(result.results)} models failed: {errors}",
            "see the tournament's MLflow runs for each model's error; the current champion stays",
        )

    schema = feature_schema or pa.Schema.from_pandas(data.train[data.feature_columns], preserve_index=False)
    validator = ModelValidator(
        cfg.validator,
        feature_columns=data.feature_columns,
        feature_schema=schema,
        label_column=data.label_column,
        k=cfg.models.precision_at_k,
        fixed_fpr=cfg.models.fixed_fpr,
    )
    report = validator.validate(winner.model_uri, data.test, run_id=winner.run_id)
    if not report.passed:
        log.error("training: %s failed validation; not registered", winner.name)
        return TrainingOutcome(result, report, None, None, data.sizes)

    registry = registry or ModelRegistry.from_platform(platform)
    version = registry.register(
        winner.model_uri,
        tags={
            "algorithm": winner.name,
            "tournament_id": result.tournament_id,
            "git_sha": sha,
            "env": cfg.env,
            "config_hash": cfg.config_hash,
            cfg.models.primary_metric: f"{winner.metric(cfg.models.primary_metric):.6f}",  # held-out test
            f"validation_{cfg.models.primary_metric}": f"{winner.selection_metric(cfg.models.primary_metric):.6f}",
        },
        description=f"{winner.name} from tournament {result.tournament_id}",
        registration_key=scoped_id("registry.registration"),
    )
    gate = ChampionChallenger(platform, registry=registry, alert=alert, git_sha=sha)
    decision = gate.evaluate(
        version,
        data.test,
        label_column=data.label_column,
        feature_versions_before=feature_versions_before,
        challenger_feature_versions=data.feature_table_versions,
    )
    return TrainingOutcome(result, report, version, decision, data.sizes)


# -- features -> data ---------------------------------------------------------------------
@dataclass
class PreparedData:
    data: TrainingData
    feature_versions_before: dict[str, int]
    feature_schema: pa.Schema


def prepare_training_data(platform: Platform) -> PreparedData:
    """Refresh the feature tables from gold and read the time-split slices back from Delta.

    The versions of the feature tables *before* the refresh are kept: they are
    the promotion snapshot a rollback restores (see :mod:`champion_challenger`).
    """
    gold = platform.config.table("gold_trade_features")
    if not platform.store.exists(gold):
        raise TrainingFailed(
            f"{gold} does not exist yet", "run `fin-mlops pipeline` (or `fin-mlops run`) to build it first"
        )
    # a resumed run's refresh comes after its killed attempt's: the snapshot is what that attempt saw
    before = remembered("training.feature_versions_before", lambda: feature_table_versions(platform))
    try:
        data, schema = _feature_store_slices(platform)
        crashpoint("train.after_features")
        data.check()
    except TrainingFailed:
        raise
    except ValueError as exc:  # too few labelled rows or positives in a slice (UndefinedMetric is one)
        raise TrainingFailed(f"cannot train: {exc}", FEW_LABELS_REMEDY) from exc
    return PreparedData(data, before, schema)


def run_training(
    platform: Platform, *, git_sha: str | None = None, alert: AlertCallback | None = None
) -> TrainingOutcome:
    """features -> tournament -> validator -> registry -> gate; the retraining trigger's entry point too."""
    sha = git_sha or git_sha_of(Path(platform.config.source_path or ".").resolve().parent)
    prepared = prepare_training_data(platform)
    log.info("training on %s (feature tables %s)", prepared.data.sizes, prepared.data.feature_table_versions)
    return train_and_gate(
        platform,
        prepared.data,
        git_sha=sha,
        feature_versions_before=prepared.feature_versions_before,
        feature_schema=prepared.feature_schema,
        alert=alert,
    )


def _feature_store_slices(platform: Platform) -> tuple[TrainingData, pa.Schema]:
    """FeatureStoreManager: gold + ground truth -> labelled, embargoed time split -> Delta -> slices."""
    manager = FeatureStoreManager(platform)
    result = manager.run()
    log.info("features: %s", result.summary())
    data = TrainingData.from_slices(manager.training_data(versions=result.versions))
    train_fqn = platform.config.table("train_set")
    schema = platform.store.read_arrow(
        train_fqn, version=data.feature_table_versions.get(train_fqn), columns=data.feature_columns
    ).schema
    return data, schema


def load_holdout(platform: Platform) -> tuple[pd.DataFrame, str]:
    """The current ``test_set`` rows (features + label), for a gate or deploy outside training."""
    fqn = platform.config.table("test_set")
    if not platform.store.exists(fqn):
        raise FileNotFoundError(f"{fqn} does not exist: run fin-mlops train first")
    return platform.store.read(fqn), LABEL_COLUMN


# -- one attempt, recorded -------------------------------------------------------------------
@dataclass
class TrainingAttempt:
    """One training attempt: the outcome, or why it did not train (the champion stays)."""

    run_id: str
    outcome: TrainingOutcome | None
    reason: str | None = None
    remedy: str | None = None
    label_sources: dict[str, int] | None = None
    #: the champion's recall per anomaly type on the held-out slice, per label source (injected, ground truth)
    recall_by_type: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return self.outcome.status if self.outcome is not None else "not_trained"


def label_source_counts(data: TrainingData) -> dict[str, int]:
    """Labelled rows per ``label_source`` over the three slices (empty when the slices carry none)."""
    counts: dict[str, int] = {}
    for frame in (data.train, data.validation, data.test):
        if LABEL_SOURCE_COLUMN in frame.columns:
            for source, n in frame[LABEL_SOURCE_COLUMN].value_counts().items():
                counts[str(source)] = counts.get(str(source), 0) + int(n)
    return dict(sorted(counts.items()))


def attempt_training(
    platform: Platform, *, git_sha: str | None = None, alert: AlertCallback | None = None
) -> TrainingAttempt:
    """:func:`run_training`, but an expected reason not to train is a result, not an error.

    The attempt is appended to ``training_runs`` (what the dashboard says about training) and,
    in a Databricks job, set as the task value ``training_status`` so the job's later tasks
    (scoring, decision, export) run on the current champion whatever happened here.
    """
    run_id = scoped_id("training.attempt")
    started = datetime.now(tz=UTC)
    sources: dict[str, int] | None = None
    try:
        sha = git_sha or git_sha_of(Path(platform.config.source_path or ".").resolve().parent)
        prepared = prepare_training_data(platform)
        sources = label_source_counts(prepared.data)
        outcome = train_and_gate(
            platform,
            prepared.data,
            git_sha=sha,
            feature_versions_before=prepared.feature_versions_before,
            feature_schema=prepared.feature_schema,
            alert=alert,
        )
        attempt = TrainingAttempt(run_id, outcome, label_sources=sources)
        attempt.recall_by_type = champion_recall_by_type(platform, prepared.data.test, prepared.data.feature_columns)
        positives = {k: int(frame[LABEL_COLUMN].sum()) for k, frame in _slices(prepared.data)}
    except TrainingFailed as exc:
        log.warning("training did not run: %s", exc)
        attempt = TrainingAttempt(run_id, None, str(exc), exc.remedy or None, sources)
        positives = {}
    crashpoint("train.after_gate")
    _record_attempt(platform, attempt, started, positives)
    platform.runtime.set_task_value("training_status", attempt.status)
    return attempt


def champion_recall_by_type(
    platform: Platform, test: pd.DataFrame, feature_columns: list[str]
) -> dict[str, Any] | None:
    """The champion's recall per anomaly type on the held-out ``test`` rows that carry types
    (injected anomalies, replay ground truth): ``{"model_version", <label_source>: {type: {bars, flagged,
    recall}}}``. None when no row has a type or there is no champion; a model that cannot be loaded
    or scored is logged, never fatal (this is a report on the training, not the training)."""
    from financial_transactions.features.injection import recall_by_type
    from financial_transactions.models.registry import CHAMPION

    if test.empty or "anomaly_types" not in test.columns or LABEL_SOURCE_COLUMN not in test.columns:
        return None
    if not (test["anomaly_types"].fillna("").astype(str) != "").any():
        return None
    try:
        registry = ModelRegistry.from_platform(platform)
        if not registry.exists() or registry.champion_version() is None:
            return None
        version, model = registry.load_alias(CHAMPION)
        flagged = pd.DataFrame(model.predict(test[feature_columns]))["label"].to_numpy()
    except Exception as exc:  # informative only
        log.warning("per-type recall of the champion not computed: %s", exc)
        return None
    return {"model_version": int(version), **recall_by_type(test, flagged)}


def _slices(data: TrainingData) -> list[tuple[str, pd.DataFrame]]:
    return [("train", data.train), ("validation", data.validation), ("test", data.test)]


def _record_attempt(platform: Platform, attempt: TrainingAttempt, started: datetime, positives: dict[str, int]) -> None:
    """Append the attempt to ``training_runs``; a table that cannot be written is logged, never fatal."""
    outcome = attempt.outcome
    winner = outcome.tournament.winner if outcome is not None else None
    row = {
        "run_id": attempt.run_id,
        "started_at": started,
        "status": attempt.status,
        "reason": attempt.reason,
        "remedy": attempt.remedy,
        "winner": winner.name if winner is not None else None,
        "test_pr_auc": float(winner.metric("pr_auc")) if winner is not None else None,
        "label_sources": json.dumps(attempt.label_sources or {}, sort_keys=True),
        "positives": json.dumps(positives, sort_keys=True),
        "sizes": json.dumps(outcome.data_sizes if outcome is not None else {}, sort_keys=True),
        "recall_by_type": json.dumps(attempt.recall_by_type, sort_keys=True) if attempt.recall_by_type else None,
    }
    table = pa.Table.from_pylist([row], schema=spec("training_runs").schema)
    try:  # a resumed run's attempt has its killed attempt's (run-scoped) id: recorded once
        platform.store.merge(platform.config.table("training_runs"), table, ["run_id"], update=False)
    except Exception as exc:  # the attempt's record is a report, not the training itself
        log.warning("training_runs: could not record attempt %s: %s", attempt.run_id, exc)
