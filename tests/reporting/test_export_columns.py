"""The export reads tables by their real column names: the catalogue's, which are the writers'.

A renamed column must fail loudly (an ``error`` section naming the table and the column),
never be guessed around by trying other names.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from financial_transactions.lakehouse.catalog import LAYER_TABLES, spec
from financial_transactions.reporting.export import build_documents, export_context
from financial_transactions.reporting.sources import ColumnError, Sources
from financial_transactions.runtime import Platform
from tests.support.writer_schemas import real_columns

from .lakehouse_fixture import write_platform_tables

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)

#: Every table the documents read by column name.
READ_BY_NAME = {
    "silver_trades",
    "silver_trades_quarantine",
    "silver_bars",
    "gold_trade_features",
    "pipeline_runs",
    "synthesized_predictions",
    "tournament_results",
    "champion_challenger_audit",
    "drift_monitoring",
    "model_monitoring",
    "retraining_audit",
    "alerts_audit",
    "rollback_audit",
    "decision_matrix",
    "backtest_results",
    "training_runs",
    "analyst_feedback",
    "collector_gaps",
    "anomaly_alerts",
}


def test_every_column_the_export_reads_is_in_the_catalogue_and_the_writers_output(platform: Platform) -> None:
    write_platform_tables(platform)
    ctx = export_context(platform, now=NOW)
    docs = build_documents(ctx)
    errors = {
        f"{k}.{n}": s["message"] for k, d in docs.items() for n, s in d["sections"].items() if s["status"] == "error"
    }
    assert not errors
    read = ctx.sources.columns_read
    assert set(read) == READ_BY_NAME
    for key, columns in read.items():
        assert columns, key
        catalogue = set(spec(key).schema_for(platform.config).names)
        assert columns <= catalogue, f"{key}: {sorted(columns - catalogue)} not in the catalogue"
        writer = set(real_columns(key))
        assert columns <= writer, f"{key}: {sorted(columns - writer)} not written by the real writer"


def test_a_column_outside_the_catalogue_is_refused_before_any_read(platform: Platform) -> None:
    write_platform_tables(platform)
    with pytest.raises(ColumnError, match=r"reads prediction from synthesized_predictions, which its catalogue spec"):
        Sources(platform).read("synthesized_predictions", ["symbol", "prediction"])
    with pytest.raises(ColumnError, match=r"reads winner from tournament_results"):
        Sources(platform).read("tournament_results", require=["winner"])


def test_a_renamed_column_is_an_error_section_not_a_guess(platform: Platform) -> None:
    """Predictions whose ``label`` became ``prediction``: the market panel says so instead of reading another name."""
    write_platform_tables(platform)
    fqn = platform.config.table("synthesized_predictions")
    renamed = platform.store.read(fqn).rename(columns={"label": "prediction"})
    platform.store.overwrite(fqn, renamed)
    docs = build_documents(export_context(platform, now=NOW))
    for name in ("bars", "top_anomalies"):
        sec = docs["market"]["sections"][name]
        assert sec["status"] == "error"
        assert "synthesized_predictions lacks column(s) label" in sec["message"]
        assert "prediction" in sec["message"]  # the stored columns are listed
    assert docs["leaderboard"]["sections"]["runs"]["status"] == "ok"  # the other documents are unaffected


def test_rows_per_layer_lists_the_catalogue_layers_then_features_and_predictions(platform: Platform) -> None:
    write_platform_tables(platform)
    docs = build_documents(export_context(platform, now=NOW))
    keys = [row["key"] for row in docs["pipeline_health"]["sections"]["layers"]["data"]]
    assert keys == [*LAYER_TABLES, "trade_features", "train_set", "test_set", "synthesized_predictions"]
    assert LAYER_TABLES == (
        "bronze_trades",
        "silver_trades",
        "silver_trades_quarantine",
        "silver_bars",
        "gold_trade_features",
    )
