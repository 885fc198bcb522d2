"""The table catalogue: one spec per configured table, each equal to what its real writer writes."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import financial_transactions
from financial_transactions.config import ProjectConfig
from financial_transactions.config.project import TablesConfig
from financial_transactions.decision.decision_matrix import score_matrix
from financial_transactions.decision.performance import METRICS, summarize
from financial_transactions.deploy.uc_tables import sql_type
from financial_transactions.features.feature_engineering import gold_columns
from financial_transactions.features.feature_store_manager import FeatureStoreManager
from financial_transactions.lakehouse import LocalDeltaStore
from financial_transactions.lakehouse.catalog import (
    BACKTEST_METRICS,
    CATALOG,
    LAYER_TABLES,
    TableKind,
    spec,
    specs_of,
)
from financial_transactions.models.tournament import RESULT_METRICS
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.runtime import Platform
from tests.support import landing_sample
from tests.support.gold import gold_frame, synthetic_trades
from tests.support.writer_schemas import WRITER_TABLES, writer_schemas

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SRC = Path(financial_transactions.__file__).resolve().parent


def _config(**overrides: Any) -> ProjectConfig:
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    return cfg.model_copy(update=overrides) if overrides else cfg


def _written(store: LocalDeltaStore, cfg: ProjectConfig, key: str) -> pa.Schema:
    return store.read_arrow(cfg.table(key)).schema


def test_every_configured_table_has_one_spec_in_config_order() -> None:
    assert list(CATALOG) == list(TablesConfig.model_fields)
    assert all(key == s.key for key, s in CATALOG.items())
    assert LAYER_TABLES == (
        "bronze_trades",
        "silver_trades",
        "silver_trades_quarantine",
        "silver_bars",
        "gold_trade_features",
    )
    assert [s.key for s in specs_of(TableKind.FEATURE)] == ["trade_features", "train_set", "test_set"]
    assert [s.key for s in specs_of(TableKind.LOCAL)] == ["pipeline_runs"]
    assert spec("retraining_audit") is CATALOG["retraining_audit"]


def test_an_unknown_key_names_itself_and_the_known_tables() -> None:
    with pytest.raises(
        KeyError, match=r"no table spec for 'retrain_audit'; known tables: bronze_trades, .*retraining_audit"
    ):
        spec("retrain_audit")


@pytest.mark.parametrize("key", list(CATALOG))
def test_merge_keys_are_columns_of_the_schema(key: str) -> None:
    table = CATALOG[key]
    full = table.schema_for(_config())
    assert set(table.merge_keys) <= set(table.schema.names) <= set(full.names), key
    fixed = set(table.schema.names)
    assert [n for n in full.names if n in fixed] == table.schema.names, f"{key}: the fixed columns keep their order"
    assert len(set(full.names)) == len(full.names), f"{key}: duplicate column"
    assert all(sql_type(f.type) for f in full)  # every column has a Unity Catalog type
    if key != "bronze_trades":  # append-only: each landing file is ingested once
        assert table.merge_keys, key


def test_only_job_tables_carry_table_properties_and_column_comments() -> None:
    for table in CATALOG.values():
        if table.kind is not TableKind.JOB:
            assert not table.properties and not table.column_comments, table.key
        assert set(table.column_comments) <= set(table.schema.names), table.key
    assert spec("synthesized_predictions").properties == {"delta.enableChangeDataFeed": "true"}


# -- owners and readers --------------------------------------------------------------------
def _resolve(dotted: str) -> Any:
    """The module, package, class or function a dotted path names."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _sources(module: ModuleType) -> list[Path]:
    if hasattr(module, "__path__"):
        return sorted(Path(module.__path__[0]).rglob("*.py"))
    return [Path(str(module.__file__))]


def _table_calls(path: Path) -> set[str]:
    """The table keys a module names in ``<cfg>.table("<key>")`` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "table"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in CATALOG
    }


def test_owners_and_readers_exist_and_name_their_table() -> None:
    for table in CATALOG.values():
        assert table.owner.startswith("financial_transactions."), table.key
        assert _resolve(table.owner) is not None
        for reader in table.readers:
            module = _resolve(reader)
            assert isinstance(module, ModuleType), f"{table.key}: reader {reader} is not a module or package"
            texts = [p.read_text(encoding="utf-8") for p in _sources(module)]
            # by its key, or through the catalogue (e.g. every table of a kind)
            named = (f'"{table.key}"', f"'{table.key}'", "lakehouse.catalog import")
            assert any(n in text for n in named for text in texts), f"{table.key}: {reader} never names the table"


def test_every_module_that_opens_a_table_is_its_owner_or_a_declared_reader() -> None:
    def covers(path: str, module: str) -> bool:
        return module == path or module.startswith(path + ".") or path.startswith(module + ".")

    missing = []
    for info in pkgutil.walk_packages([str(SRC)], prefix="financial_transactions."):
        path = SRC.joinpath(*info.name.split(".")[1:])
        path = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
        for key in _table_calls(path):
            table = CATALOG[key]
            if not any(covers(p, info.name) for p in (table.owner, *table.readers)):
                missing.append((key, info.name))
    assert missing == [], "declare these readers in lakehouse/catalog.py"


# -- what the real writers write -----------------------------------------------------------
def test_the_real_writers_write_the_catalogue_schemas() -> None:
    """Gold (the shared feature code), champion predictions, backtests and the decision matrix, run for real."""
    cfg = _config()
    written = writer_schemas()
    for key in WRITER_TABLES:
        assert written[key] == spec(key).schema_for(cfg), key


def test_the_job_schemas_survive_the_lakehouse_round_trip(tmp_path: Path) -> None:
    """The monitoring/model writers build their rows with the spec's schema; a reader gets it back unchanged."""
    cfg = _config()
    store = LocalDeltaStore(tmp_path)
    for table in specs_of(TableKind.JOB):
        schema = table.schema_for(cfg)
        store.append(cfg.table(table.key), schema.empty_table())
        assert _written(store, cfg, table.key) == schema, table.key


def test_the_pipeline_and_the_feature_store_write_the_catalogue_schemas(
    platform: Platform, spark: Any, tmp_path: Path
) -> None:
    cfg = platform.config
    landing_sample.build(platform.paths.landing)
    PipelineRunner(platform).run()
    for key in (*LAYER_TABLES, "pipeline_runs"):
        assert _written(platform.store, cfg, key) == spec(key).schema_for(cfg), key

    # the feature tables, from a gold long enough to label and split (the sample's landing has no ground truth)
    features = Platform.create(cfg, lakehouse_root=tmp_path / "features")
    gold = gold_frame(features, synthetic_trades({"AAPL": 190.0, "ETHUSDT": 3_000.0}, 240, seed=5))
    FeatureStoreManager(features).run(gold=gold, leakage_check=False)
    for table in specs_of(TableKind.FEATURE):
        assert _written(features.store, cfg, table.key) == table.schema_for(cfg), table.key


# -- the columns that follow the configuration, and lists spelled once ---------------------
def test_gold_and_feature_columns_follow_the_moving_average_windows() -> None:
    cfg = _config()
    cfg = cfg.model_copy(
        update={"features": cfg.features.model_copy(update={"sma_windows": [20, 5, 5], "ema_windows": [9]})}
    )
    gold = spec("gold_trade_features").schema_for(cfg)
    assert [(f.name, sql_type(f.type)) for f in gold] == gold_columns(cfg.features)
    assert gold.names[-6:] == ["sma_5", "sma_5_dev", "sma_20", "sma_20_dev", "ema_9", "ema_9_dev"]
    features = spec("train_set").schema_for(cfg)
    assert features.names == [*gold.names, "anomaly_types", "label", "label_source", "split"]


def test_decision_matrix_columns_follow_the_enabled_criteria() -> None:
    cfg = _config()
    criteria = dict(cfg.decision.criteria)
    criteria["drift"] = criteria["drift"].model_copy(update={"enabled": False})
    cfg = cfg.model_copy(update={"decision": cfg.decision.model_copy(update={"criteria": criteria})})
    raw = pd.DataFrame({"symbol": ["AAPL"], "asset_class": ["equity"], "trend": [0.8], "momentum": [50.0]})
    scored = score_matrix(raw, cfg.decision)
    schema = spec("decision_matrix").schema_for(cfg)
    per_criterion = [c for c in scored.columns if c not in ("symbol", "asset_class")][: 4 * (len(criteria) - 1)]
    assert schema.names[4 : 4 + len(per_criterion)] == per_criterion
    assert "drift_raw" not in schema.names and "backtest_weight" in schema.names
    assert set(scored.columns) <= set(schema.names)


def test_backtest_and_tournament_metric_columns_are_the_computed_metrics() -> None:
    returns = np.array([0.01, -0.02, 0.015, 0.0])
    assert tuple(summarize(returns, np.array([1.0, 1.0, 0.0, 1.0]), periods=252)) == BACKTEST_METRICS == METRICS
    names = spec("backtest_results").schema.names
    assert names[names.index(BACKTEST_METRICS[0]) : names.index(BACKTEST_METRICS[-1]) + 1] == list(BACKTEST_METRICS)
    tournament = spec("tournament_results").schema.names
    for prefix in ("", "validation_"):
        start = tournament.index(f"{prefix}{RESULT_METRICS[0]}")
        assert tournament[start : start + len(RESULT_METRICS)] == [f"{prefix}{m}" for m in RESULT_METRICS]
