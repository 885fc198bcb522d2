"""ProjectConfig: valid files load; every kind of bad value names file, env, field and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from financial_transactions.config import ConfigError, CredentialRef, ProjectConfig, redact


def _write(tmp_path: Path, project_root: Path, mutate: Any) -> Path:
    raw = yaml.safe_load((project_root / "project_config.yml").read_text())
    mutate(raw)
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_every_env_loads_with_its_catalog(project_root: Path) -> None:
    for env, catalog in [("dev", "mlops_dev"), ("acc", "mlops_acc"), ("prd", "mlops_prd")]:
        cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", env)
        assert cfg.catalog == catalog
        assert cfg.table("silver_trades") == f"{catalog}.financial_transactions.silver_trades"
        assert cfg.model_name == f"{catalog}.financial_transactions.anomaly_model"


def test_env_overrides_are_deep_merged(project_root: Path) -> None:
    prd = ProjectConfig.from_yaml(project_root / "project_config.yml", "prd")
    dev = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    assert prd.retraining.daily_limit == 2
    assert dev.retraining.daily_limit == 3
    assert prd.retraining.cooldown_hours == dev.retraining.cooldown_hours == 6


def test_unknown_env_lists_valid_ones(project_root: Path) -> None:
    with pytest.raises(ConfigError) as err:
        ProjectConfig.from_yaml(project_root / "project_config.yml", "staging")
    assert "unknown env 'staging'" in str(err.value)
    assert "acc, dev, prd" in str(err.value)
    assert "project_config.yml" in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "field", "value"),
    [
        (lambda r: r["drift"].__setitem__("bins", 1), "drift.bins", "1"),
        (lambda r: r["retraining"].__setitem__("daily_limit", -1), "retraining.daily_limit", "-1"),
        (lambda r: r["split"].__setitem__("test_fraction", 1.5), "split.test_fraction", "1.5"),
        (lambda r: r["collectors"]["alphavantage"].__setitem__("calls_per_minute", 0), "calls_per_minute", "0"),
        (lambda r: r["models"].__setitem__("primary_metric", "accuracy"), "models.primary_metric", "'accuracy'"),
        (lambda r: r["replay"].__setitem__("colour", "red"), "replay.colour", "'red'"),
        (lambda r: r["serving"].__setitem__("port", "eighty"), "serving.port", "'eighty'"),
        (lambda r: r["symbols"].__setitem__("equities", ["aapl"]), "symbols", "aapl"),
        (lambda r: r["environments"]["dev"].__setitem__("catalog", "Bad-Name"), "environments.dev.catalog", "Bad-Name"),
        (lambda r: r["features"]["macd"].__setitem__("fast", 40), "features.macd", "fast (40)"),
    ],
)
def test_bad_values_name_file_env_field_and_value(
    tmp_path: Path, project_root: Path, mutate: Any, field: str, value: str
) -> None:
    path = _write(tmp_path, project_root, mutate)
    with pytest.raises(ConfigError) as err:
        ProjectConfig.from_yaml(path, "dev")
    text = str(err.value)
    assert str(path) in text
    assert "env 'dev'" in text
    assert field in text
    assert value in text


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path, project_root: Path) -> None:
    path = _write(tmp_path, project_root, lambda r: r.__setitem__("dirft", {"bins": 10}))
    with pytest.raises(ConfigError, match=r"field dirft: unknown key"):
        ProjectConfig.from_yaml(path, "dev")


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        ProjectConfig.from_yaml(tmp_path / "nope.yml", "dev")
    bad = tmp_path / "bad.yml"
    bad.write_text("environments: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        ProjectConfig.from_yaml(bad, "dev")


def test_endpoint_env_overrides(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIN_MLOPS_FINNHUB_WS_URL", "ws://127.0.0.1:9999")
    monkeypatch.setenv("FIN_MLOPS_ALPHAVANTAGE_URL", "http://127.0.0.1:9998")
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    assert cfg.collectors.finnhub.ws_url == "ws://127.0.0.1:9999"
    assert cfg.collectors.alphavantage.base_url == "http://127.0.0.1:9998"


def test_unknown_table_key_lists_valid_keys(config: ProjectConfig) -> None:
    with pytest.raises(ConfigError, match=r"unknown table key 'silver'.*silver_trades"):
        config.table("silver")


def test_credentials_resolve_from_env_only_and_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = CredentialRef(env="FIN_TEST_KEY", secret_scope="s", secret_key="k")
    monkeypatch.delenv("FIN_TEST_KEY", raising=False)
    assert ref.resolve() is None
    monkeypatch.setenv("FIN_TEST_KEY", "sekrit-value")
    assert ref.resolve() == "sekrit-value"
    assert "sekrit" not in ref.describe()
    assert redact("wss://x/?token=abc123&symbol=A") == "wss://x/?token=***&symbol=A"
    assert redact("GET /query?apikey=K1&x=1 failed for sekrit-value", ["sekrit-value"]) == (
        "GET /query?apikey=***&x=1 failed for ***"
    )
    with pytest.raises(ValueError, match="secret_scope and secret_key"):
        CredentialRef(env="X", secret_scope="only-scope")


def test_config_hash_is_stable_and_sensitive(project_root: Path) -> None:
    a = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    b = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    c = ProjectConfig.from_yaml(project_root / "project_config.yml", "prd")
    assert a.config_hash == b.config_hash
    assert a.config_hash != c.config_hash
