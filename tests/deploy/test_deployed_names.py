"""The names the bundle deploys per target reach the job scripts as flags and win over project_config.yml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.entrypoints import apply_deployed_names, base_parser
from financial_transactions.runtime.databricks import DatabricksRuntime
from financial_transactions.runtime.launchers import DatabricksJobLauncher

from .bundle_fixture import PROJECT_ROOT

EXPERIMENT = "/Workspace/Users/sp-1234/.bundle/financial-ai-mlops/dev/[dev jane] financial-anomaly-tournament"


def _cfg(*flags: str) -> ProjectConfig:
    args = base_parser("test").parse_args(["--env", "dev", *flags])
    return apply_deployed_names(ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev"), args)


def test_the_deployed_names_override_the_file() -> None:
    cfg = _cfg(
        "--schema", "financial_transactions_jane",
        "--experiment", EXPERIMENT,
        "--registered-model", "dev_jane_anomaly_model",
        "--serving-endpoint", "financial-anomaly-endpoint-jane",
        "--retraining-job-id", "42",
    )  # fmt: skip
    assert cfg.table("gold_trade_features") == "mlops_dev.financial_transactions_jane.gold_trade_features"
    assert cfg.model_name == "mlops_dev.financial_transactions_jane.dev_jane_anomaly_model"
    assert cfg.serving.endpoint_name == "financial-anomaly-endpoint-jane"
    assert cfg.retraining.job_id == 42
    assert cfg.source_path is not None  # still the file the pipeline re-reads
    settings = DatabricksRuntime(workspace=lambda: None).mlflow_settings(None, cfg)  # type: ignore[arg-type,return-value]
    assert settings.experiment_name == EXPERIMENT  # the deployed experiment, whose folder exists


def test_without_flags_the_file_wins_and_bad_names_are_refused() -> None:
    plain = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    assert _cfg() == plain
    with pytest.raises(ValueError, match="schema"):
        _cfg("--schema", "Not A Schema")


@dataclass
class _Waiter:
    response: Any


class _Jobs:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def list(self, name: str) -> list[Any]:
        raise AssertionError("looked the job up by name: a target's name prefix makes that fail")

    def run_now(self, **kwargs: Any) -> _Waiter:
        self.started.append(kwargs)
        return _Waiter(type("R", (), {"run_id": 7})())


def test_retraining_starts_by_the_deployed_job_id_without_waiting() -> None:
    jobs = _Jobs()
    client = type("C", (), {"jobs": jobs})()
    cfg = _cfg("--retraining-job-id", "42")
    result = DatabricksJobLauncher(client, cfg.retraining).launch("event-1", "drift")  # type: ignore[arg-type]
    assert (result.status, result.run_id) == ("launched", "7")
    assert jobs.started == [
        {"job_id": 42, "idempotency_token": "event-1", "job_parameters": {"trigger_event_id": "event-1",
                                                                           "trigger_reason": "drift"}}
    ]  # fmt: skip
