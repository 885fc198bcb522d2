"""A new local MLflow store starts from the cached, migrated template, and is its own store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from financial_transactions.lakehouse.tracking import (
    MLFLOW_CACHE_ENV,
    configure_mlflow,
    local_mlflow_settings,
    mlflow_template,
)


def test_new_stores_start_from_the_template_with_their_own_default_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MLFLOW_CACHE_ENV, str(tmp_path / "cache"))
    template = mlflow_template()
    with sqlite3.connect(template) as con:
        assert con.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)  # migrated to head
    con.close()
    assert mlflow_template() == template  # built once

    for name in ("a", "b"):
        settings = local_mlflow_settings(state_dir=tmp_path / name, experiment="anomaly")
        exp_id = configure_mlflow(settings)
        client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
        default = client.get_experiment("0")
        assert default.name == "Default"
        # MLflow recreated it as for a store it creates itself, not pointing into the template's build folder
        assert str(tmp_path / "cache") not in default.artifact_location
        assert client.get_experiment(exp_id).artifact_location == settings.artifact_location
        client.create_registered_model(f"model_{name}")  # the registry's tables are there too
        assert [m.name for m in client.search_registered_models()] == [f"model_{name}"]


def test_a_broken_template_cache_falls_back_to_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(MLFLOW_CACHE_ENV, str(blocker))  # the cache cannot be created
    settings = local_mlflow_settings(state_dir=tmp_path / "state", experiment="anomaly")
    exp_id = configure_mlflow(settings)
    assert MlflowClient(tracking_uri=settings.tracking_uri).get_experiment(exp_id).name == "anomaly"
