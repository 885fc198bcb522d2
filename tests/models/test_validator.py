"""ModelValidator on real logged pyfuncs: a pass, and each way to fail."""

from __future__ import annotations

import logging

import mlflow
import pyarrow as pa
import pytest
from mlflow.tracking import MlflowClient

from financial_transactions.config.ml import ValidatorConfig
from financial_transactions.models.data import TrainingData
from financial_transactions.models.tournament import log_pyfunc
from financial_transactions.models.validator import ModelValidator
from financial_transactions.runtime import Platform
from tests.support.models import fit, lightgbm
from tests.support.training_data import FEATURES, training_data


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return training_data(1000, seed=11, shift=3.0)


def logged(platform: Platform, data: TrainingData, *, noise: bool = False) -> tuple[str, str]:
    platform.configure_mlflow()
    train_on = training_data(1000, seed=12, shift=0.0) if noise else data
    model = fit(lightgbm(), train_on)
    with mlflow.start_run() as run:
        uri = log_pyfunc(model, data, metadata={"run_id": run.info.run_id}, input_example_rows=3)
    return uri, run.info.run_id


def schema(data: TrainingData) -> pa.Schema:
    return pa.Schema.from_pandas(data.train[FEATURES], preserve_index=False)


def validator(data: TrainingData, **cfg: float) -> ModelValidator:
    return ModelValidator(ValidatorConfig(**cfg), feature_columns=FEATURES, feature_schema=schema(data))


def test_good_model_passes_and_report_is_logged(platform: Platform, data: TrainingData) -> None:
    uri, run_id = logged(platform, data)
    report = validator(data, sample_rows=50, latency_batch_rows=5000).validate(uri, data.test, run_id=run_id)
    assert report.passed, report.to_text()
    assert [c.name for c in report.checks] == [
        "loads",
        "signature",
        "no_nan_predictions",
        "min_pr_auc",
        "min_roc_auc",
        "latency",
    ]
    run = MlflowClient().get_run(run_id)
    assert run.data.metrics["validation_passed"] == 1.0 and run.data.tags["validation"] == "pass"
    assert "PASS" in report.to_text()


def test_validation_hands_the_model_its_inputs_only(platform: Platform, data: TrainingData) -> None:
    """A feature table's keys and labels beside the inputs: no MLflow "extra inputs" warning per predict
    (eight of them, each listing every extra column, printed on every `fin-mlops train`)."""
    uri, run_id = logged(platform, data)
    holdout = data.test.assign(symbol="AAPL", session_type="regular", label_source="injected")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("mlflow")
    logger.addHandler(handler)
    try:
        report = validator(data, sample_rows=50, latency_batch_rows=500).validate(uri, holdout, run_id=run_id)
    finally:
        logger.removeHandler(handler)
    assert report.passed, report.to_text()
    assert [m for m in seen if "extra inputs" in m] == []


def test_nan_features_still_give_finite_scores(platform: Platform, data: TrainingData) -> None:
    uri, _ = logged(platform, data)
    holdout = data.test.copy()
    holdout.loc[:20, "ret_1"] = float("nan")
    holdout.loc[21:30, "dup_print_ratio"] = float("inf")
    report = validator(data).validate(uri, holdout)
    check = next(c for c in report.checks if c.name == "no_nan_predictions")
    assert check.passed, check.detail


def test_metric_floor_fails_a_noise_model(platform: Platform, data: TrainingData) -> None:
    uri, _ = logged(platform, data, noise=True)
    report = validator(data, min_pr_auc=0.6).validate(uri, data.test)
    assert not report.passed
    failed = {c.name for c in report.failures}
    assert "min_pr_auc" in failed and "loads" not in failed


def test_signature_mismatch_fails(platform: Platform, data: TrainingData) -> None:
    uri, _ = logged(platform, data)
    table_schema = schema(data).set(FEATURES.index("trade_count"), pa.field("trade_count", pa.float64()))
    report = ModelValidator(ValidatorConfig(), feature_columns=FEATURES, feature_schema=table_schema).validate(
        uri, data.test
    )
    sig = next(c for c in report.checks if c.name == "signature")
    assert not sig.passed and "trade_count is long in the signature but double in the feature table" in sig.detail
    other = ModelValidator(ValidatorConfig(), feature_columns=[*FEATURES, "extra"], feature_schema=schema(data))
    sig2 = next(c for c in other.validate(uri, data.test).checks if c.name == "signature")
    assert not sig2.passed and "missing ['extra']" in sig2.detail


def test_latency_budget_fails_when_exceeded(platform: Platform, data: TrainingData) -> None:
    uri, _ = logged(platform, data)
    report = validator(data, latency_budget_ms=0.001, latency_batch_rows=20000).validate(uri, data.test)
    latency = next(c for c in report.checks if c.name == "latency")
    assert not latency.passed and latency.value is not None and latency.value > 0.001


def test_unloadable_model_fails_cleanly(platform: Platform, data: TrainingData) -> None:
    platform.configure_mlflow()
    report = validator(data).validate("models:/m-doesnotexist", data.test)
    assert not report.passed and [c.name for c in report.checks] == ["loads"]
