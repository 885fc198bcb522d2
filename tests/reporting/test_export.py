"""The dashboard export, checked field by field against the tables the test writes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from financial_transactions.reporting.export import DOCUMENTS, SCHEMA_VERSION, export_dashboard
from financial_transactions.runtime import Platform
from tests.support.writer_schemas import conform, real_columns

from .lakehouse_fixture import FEATURES, XSS_SYMBOL, WrittenTables, write_platform_tables

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


@pytest.fixture
def exported(platform: Platform, tmp_path: Path) -> tuple[WrittenTables, dict[str, Any], Path]:
    written = write_platform_tables(platform)
    result = export_dashboard(platform, now=NOW, top_anomalies=10)
    return written, result.documents, result.out_dir


def section(docs: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return docs[kind]["sections"][name]


def test_every_file_carries_the_versioned_header(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    _, docs, out = exported
    assert list(docs) == list(DOCUMENTS)
    for kind in DOCUMENTS:
        on_disk = json.loads((out / f"{kind}.json").read_text())
        assert on_disk == docs[kind]
        assert on_disk["schema_version"] == SCHEMA_VERSION
        assert on_disk["kind"] == kind
        assert on_disk["generated_at"] == "2026-03-06T18:00:00Z"
        assert on_disk["env"] == "dev"
        assert on_disk["catalog"] == "mlops_dev"
        assert on_disk["model_name"] == "mlops_dev.financial_transactions.anomaly_model"
        # no registry in this lakehouse: the version that scored the predictions (latest of "1", "2")
        assert on_disk["model_version"] == "2"
    # data.js holds the very same documents for file:// pages
    text = (out / "data.js").read_text()
    prefix = "window.FIN_MLOPS_DATA = "
    payload = text[text.index(prefix) + len(prefix) :].rstrip().rstrip(";")
    assert json.loads(payload) == docs
    # the static page was copied next to the data
    for name in ("index.html", "app.js", "styles.css", "vendor/lightweight-charts/LICENSE"):
        assert (out / name).is_file(), name


def test_pipeline_health_matches_tables(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    written, docs, _ = exported
    layers = {row["key"]: row for row in section(docs, "pipeline_health", "layers")["data"]}
    assert layers["silver_trades"]["rows"] == len(written.frames["silver_trades"]) == 960
    assert layers["gold_trade_features"]["rows"] == len(written.frames["gold_trade_features"]) == 360
    assert layers["silver_trades_quarantine"]["rows"] == 4
    assert layers["silver_bars"]["exists"] is False and layers["silver_bars"]["rows"] is None
    assert layers["silver_trades"]["version"] == 0

    q = section(docs, "pipeline_health", "quarantine")
    assert q["status"] == "ok"
    assert q["data"]["total"] == 4
    assert q["data"]["by_rule"] == [
        {"rule": "price_positive", "rows": 2},
        {"rule": "symbol_valid", "rows": 1},
        {"rule": "ts_in_bounds", "rows": 1},
        {"rule": "volume_non_negative", "rows": 1},
    ]
    assert q["data"]["by_source"] == [{"source": "binance", "rows": 1}, {"source": "finnhub", "rows": 3}]
    assert q["data"]["share"] == pytest.approx(4 / (4 + 960))
    latest = q["data"]["latest"]
    assert [r["ts"] for r in latest] == [f"2026-03-06T14:3{m}:00Z" for m in (4, 3, 2, 1)]  # newest first
    assert latest[2] == {
        "source": "finnhub",
        "symbol": XSS_SYMBOL,
        "price": -1.0,
        "volume": None,
        "ts": "2026-03-06T14:32:00Z",
        "rules": ["symbol_valid", "price_positive"],
    }

    cq = section(docs, "pipeline_health", "collector_quarantine")
    assert cq["data"] == [
        {"source": "finnhub", "reason": "malformed_json", "rows": 2},
        {"source": "finnhub", "reason": "unknown_type", "rows": 1},
    ]

    fresh = {r["source"]: r for r in section(docs, "pipeline_health", "freshness")["data"]}
    silver = written.frames["silver_trades"]
    for source in ("finnhub", "binance"):
        sub = silver[silver["source"] == source]
        assert fresh[source]["rows"] == len(sub)
        assert fresh[source]["latest_event"] == sub["ts"].max().strftime("%Y-%m-%dT%H:%M:%SZ")
        age = (NOW - sub["ingested_at"].max().to_pydatetime()).total_seconds() / 3600
        assert fresh[source]["ingest_age_hours"] == pytest.approx(age, abs=1e-3)
        assert fresh[source]["status"] == "ok"
    collectors = {r["source"]: r for r in section(docs, "pipeline_health", "collectors")["data"]}
    assert list(collectors) == ["alphavantage", "binance", "finnhub"]
    assert collectors["finnhub"]["trades"] == 480 and collectors["finnhub"]["reconnects"] == 1
    assert collectors["finnhub"]["quarantined"] == 3 and collectors["finnhub"]["window"] == "window-1"
    assert collectors["alphavantage"]["rate_limited"] == 2 and collectors["alphavantage"]["bars"] == 0
    runs = section(docs, "pipeline_health", "runs")["data"]
    assert [r["run_id"] for r in runs] == ["p2", "p1"]  # newest first
    assert runs[1]["silver_inserted"] == 960 and runs[1]["quarantine_by_rule"] == {"price_positive": 2}


def test_market_bars_and_anomaly_markers(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    written, docs, _ = exported
    bars = section(docs, "market", "bars")
    assert bars["status"] == "ok"
    symbols = {s["symbol"]: s for s in bars["data"]["symbols"]}
    assert list(symbols) == ["AAPL", "BTCUSDT", XSS_SYMBOL]  # configured order first, then the rest
    gold = written.frames["gold_trade_features"]
    preds = written.frames["synthesized_predictions"]
    for name, sym in symbols.items():
        g = gold[gold["symbol"] == name].sort_values("bar_start")
        assert sym["bars"]["t"] == [int(t.timestamp()) for t in g["bar_start"]]
        np.testing.assert_allclose(sym["bars"]["c"], g["close"], rtol=1e-9)
        np.testing.assert_allclose(sym["bars"]["h"], g["high"], rtol=1e-9)
        np.testing.assert_allclose(sym["bars"]["v"], g["volume"], rtol=1e-9)
        flagged = preds[(preds["symbol"] == name) & (preds["model_version"] == "2") & (preds["label"] == 1)]
        assert [f["t"] for f in sym["model_flags"]] == sorted(int(t.timestamp()) for t in flagged["bar_start"])
        # AAPL's first bar was re-scored later (flagged, 0.95): the newest prediction of a bar wins
        assert len(sym["model_flags"]) == (8 if name == "AAPL" else 7)
    assert symbols["AAPL"]["model_flags"][0] == {"t": symbols["AAPL"]["bars"]["t"][0], "score": 0.95}
    gt = symbols["AAPL"]["ground_truth"]
    t0 = int(gold["bar_start"].min().timestamp())
    assert gt == [
        {"t": t0 + 5 * 60, "types": ["price_spike", "volume_burst"], "trades": 2},
        {"t": t0 + 40 * 60, "types": ["wash_trade"], "trades": 1},
    ]
    assert symbols["BTCUSDT"]["ground_truth"] == []


def test_market_keeps_only_the_latest_bars(platform: Platform) -> None:
    write_platform_tables(platform)
    docs = export_dashboard(platform, now=NOW, max_bars_per_symbol=50).documents
    aapl = section(docs, "market", "bars")["data"]["symbols"][0]
    assert aapl["bars_total"] == 120 and aapl["truncated"] is True and len(aapl["bars"]["t"]) == 50
    assert all(f["t"] >= aapl["bars"]["t"][0] for f in aapl["model_flags"])
    assert aapl["ground_truth"] == []  # both true anomalies are older than the kept window


def test_top_anomalies_ranked_with_ground_truth(
    exported: tuple[WrittenTables, dict[str, Any], Path], platform: Platform
) -> None:
    written, docs, _ = exported
    top = section(docs, "market", "top_anomalies")["data"]
    preds = written.frames["synthesized_predictions"]
    v2 = preds[preds["model_version"] == "2"].sort_values("score", ascending=False).head(10)
    assert [r["score"] for r in top] == pytest.approx(list(v2["score"]))
    assert all(r["model_version"] == "2" and r["flagged"] is True for r in top)
    aapl_bar5 = [r for r in section(docs, "market", "top_anomalies")["data"] if r["symbol"] == "AAPL"]
    assert all(r["ground_truth"] is False for r in aapl_bar5)  # bar 5 scores lowest of the flagged bars
    # with every flag listed, the one matching a ground-truth bar says so
    docs_all = export_dashboard(platform, now=NOW, top_anomalies=100).documents
    rows = section(docs_all, "market", "top_anomalies")["data"]
    hit = [r for r in rows if r["symbol"] == "AAPL" and r["bar_start"] == "2026-03-06T14:35:00Z"]
    assert hit and hit[0]["ground_truth"] is True and hit[0]["anomaly_types"] == ["price_spike", "volume_burst"]


def test_leaderboard_and_champion_history(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    _, docs, _ = exported
    runs = section(docs, "leaderboard", "runs")["data"]
    assert [r["run_id"] for r in runs] == ["t2", "t1"]
    latest = runs[0]
    assert latest["winner"] == "lightgbm"
    by_model = {m["model"]: m for m in latest["models"]}
    assert by_model["lightgbm"]["rank"] == 1 and by_model["lightgbm"]["metrics"]["pr_auc"] == 0.88
    assert by_model["xgboost"]["rank"] == 2 and by_model["isolation_forest"]["rank"] == 3
    failed = by_model["random_forest"]
    assert failed["status"] == "failed" and failed["rank"] is None
    assert failed["error"] == "MemoryError: forced failure" and "pr_auc" not in failed["metrics"]
    assert runs[1]["winner"] == "xgboost"

    champ = docs["champion"]["sections"]
    assert champ["registry"]["status"] == "missing"
    decisions = champ["decisions"]["data"]
    assert [d["decision"] for d in decisions] == ["PROMOTE", "REJECT"]
    assert decisions[1]["reason"] == "margin 0.004 below required 0.01 on pr_auc"
    assert decisions[1]["at"] == "2026-03-09T11:00:00Z"
    assert decisions[1]["challenger_version"] == 3 and decisions[0]["champion_version"] is None
    assert decisions[1]["champion_score"] == 0.88 and decisions[1]["challenger_score"] == 0.884
    assert decisions[1]["state_before"] == {"champion": 2, "latest-model": 3, "challenger": 3}
    assert [d["superseded"] for d in decisions] == [False, False]
    rollback = champ["rollbacks"]["data"][0]
    assert rollback["at"] == "2026-03-09T11:30:00Z" and rollback["to_version"] == 2 and rollback["status"] == "done"


def test_drift_audit_matrix_backtest(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    written, docs, _ = exported
    drift = section(docs, "drift", "psi_js")["data"]
    assert [r["run_id"] for r in drift["runs"]] == ["dr1", "dr2"]
    assert [r["drifted_features"] for r in drift["runs"]] == [0, 2]  # the detector's stored count, not a recount
    assert [r["overall"] for r in drift["runs"]] == ["no_drift", "drift"]
    assert (
        drift["runs"][1]["drifted_share"] == pytest.approx(0.6667)
        and drift["runs"][1]["reason"] == "2/3 features drifted"
    )
    assert drift["runs"][0]["reference"]["version"] == 3 and drift["runs"][0]["current"]["version"] == 5
    assert drift["features"] == FEATURES == ["max_abs_trade_return", "rsi", "volume_zscore"]
    frame = written.frames["drift_monitoring"]
    cells = {(c["run_id"], c["feature"]): c for c in drift["cells"]}
    for row in frame.itertuples(index=False):
        assert cells[(row.run_id, row.feature)]["psi"] == pytest.approx(row.psi)
        assert cells[(row.run_id, row.feature)]["js"] == pytest.approx(row.js)
        assert cells[(row.run_id, row.feature)]["status"] == row.status
    assert docs["drift"]["thresholds"]["psi_alert"] == 0.25
    assert docs["drift"]["thresholds"]["js_warn"] == 0.134 and docs["drift"]["thresholds"]["js_alert"] == 0.212
    assert len(section(docs, "drift", "performance")["data"]) == 2

    audit = docs["audit"]["sections"]
    assert [e["decision"] for e in audit["retraining"]["data"]] == ["triggered", "no_drift"]  # newest first
    alert = audit["alerts"]["data"][0]
    assert alert["title"] == f"Drift on {XSS_SYMBOL}" and alert["status"] == "failed" and alert["attempts"] == 4

    matrix = section(docs, "decision_matrix", "matrix")["data"]
    assert matrix["run_id"] == "dm1"
    assert [r["symbol"] for r in matrix["rows"]] == ["AAPL", "BTCUSDT", XSS_SYMBOL]
    assert [r["recommendation"] for r in matrix["rows"]] == ["Strong Buy", "Hold", "Sell"]
    dm = written.frames["decision_matrix"].set_index("symbol")
    for row in matrix["rows"]:
        for name, crit in row["criteria"].items():
            assert crit["score"] == dm.loc[row["symbol"], f"{name}_score"]
            assert crit["weight"] == dm.loc[row["symbol"], f"{name}_weight"]
    assert matrix["criteria"] == list(docs["decision_matrix"]["criteria"][i]["name"] for i in range(6))

    bt = section(docs, "backtest", "results")["data"]
    assert bt["run_id"] == "bt1" and bt["runs"] == 1
    assert [(r["strategy"], r["symbol"]) for r in bt["rows"]] == [
        ("sma_cross", "AAPL"),
        ("sma_cross", "BTCUSDT"),
        ("macd", "AAPL"),
    ]
    aapl = next(r for r in bt["rows"] if r["symbol"] == "AAPL")
    assert aapl["metrics"]["total_return"] == 0.04 and aapl["metrics"]["sharpe"] == 1.5
    assert aapl["metrics"]["cagr"] is None  # not stored: never invented
    assert aapl["equity"]["v"] == pytest.approx([1.0, 1.01, 1.02, 1.03, 1.04])
    assert aapl["equity"]["t"][0] == "2026-03-06T14:30:00Z"


def test_importance_and_correlation(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    written, docs, _ = exported
    imp = section(docs, "feature_importance", "features")["data"]
    assert [i["feature"] for i in imp] == ["volume_zscore", "rsi", "max_abs_trade_return"]
    assert [i["share"] for i in imp] == pytest.approx([0.5, 0.3, 0.2])

    corr = section(docs, "correlation", "returns")["data"]
    gold = written.frames["gold_trade_features"]
    wide = gold.pivot(index="bar_start", columns="symbol", values="returns")[corr["symbols"]]
    expected = wide.corr()
    for i, a in enumerate(corr["symbols"]):
        for j, b in enumerate(corr["symbols"]):
            assert corr["matrix"][i][j] == pytest.approx(expected.loc[a, b], abs=5e-5)
            assert corr["n_obs"][i][j] == 119  # the first bar has no return


def test_overview_workflows_and_dataflow(exported: tuple[WrittenTables, dict[str, Any], Path]) -> None:
    _, docs, _ = exported
    wf = {w["workflow"]: w for w in section(docs, "manifest", "workflows")["data"]}
    assert wf["pipeline"]["status"] == "ok"  # 0.41 % quarantined < 1 %
    assert wf["training"]["status"] == "warn" and "random_forest" in wf["training"]["detail"]
    assert wf["drift monitoring"]["status"] == "alert"
    assert wf["alerting"]["status"] == "warn" and "1 undelivered" in wf["alerting"]["detail"]
    assert wf["decision matrix"]["detail"] == "1 Hold, 1 Sell, 1 Strong Buy"
    assert wf["champion performance"]["status"] == "alert"
    assert wf["champion performance"]["detail"].startswith("degraded: champion")
    assert wf["champion performance"]["detail"].endswith(
        "pr_auc 0.620 [0.520, 0.710] vs baseline 0.880 on 36 positive(s)"
    )
    assert all(w["last_run"] for w in wf.values())
    flow = section(docs, "manifest", "dataflow")["data"]
    nodes = {n["id"]: n for n in flow["nodes"]}
    assert nodes["silver_trades"]["rows"] == 960 and nodes["train_set"]["exists"] is False
    assert {"from": "silver_trades", "to": "gold_trade_features"} in flow["edges"]
    files = {f["kind"]: f for f in docs["manifest"]["files"]}
    assert files["market"]["sections"] == {"bars": "ok", "top_anomalies": "ok"}


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


def test_empty_lakehouse_gives_explicit_empty_sections(platform: Platform) -> None:
    result = export_dashboard(platform, now=NOW)
    statuses = result.section_statuses
    assert set(statuses.values()) <= {"missing", "empty"}, statuses
    docs = result.documents
    assert section(docs, "market", "bars")["data"] == {"symbols": []}
    assert section(docs, "drift", "psi_js")["data"] == {"runs": [], "features": [], "cells": []}
    assert section(docs, "decision_matrix", "matrix")["data"]["rows"] == []
    assert "fin-mlops train" in section(docs, "leaderboard", "runs")["message"]
    assert docs["manifest"]["model_version"] is None
    # looking at the registry must not create one
    assert not Path(platform.mlflow.tracking_uri.removeprefix("sqlite:///")).exists()
    assert all(math.isfinite(f) for doc in docs.values() for f in _floats(doc))


def test_a_broken_table_is_an_error_section_not_a_crash(platform: Platform) -> None:
    write_platform_tables(platform)
    cfg = platform.config
    platform.store.overwrite(cfg.table("drift_monitoring"), pd.DataFrame({"run_id": ["x"], "value": [1.0]}))
    docs = export_dashboard(platform, now=NOW).documents
    broken = section(docs, "drift", "psi_js")
    assert broken["status"] == "error"
    # the message names the table, the writer's columns it lacks and the columns it has
    assert "drift_monitoring lacks column(s) computed_at, feature, psi" in broken["message"]
    assert "DriftDetector" in broken["message"] and "the stored table has: run_id, value" in broken["message"]
    assert broken["data"] == {"runs": [], "features": [], "cells": []}
    assert section(docs, "leaderboard", "runs")["status"] == "ok"
    wf = {w["workflow"]: w for w in section(docs, "manifest", "workflows")["data"]}
    assert wf["drift monitoring"]["status"] == "missing"


def test_no_quarantine_table_after_a_clean_pipeline_is_zero_not_missing(platform: Platform) -> None:
    cfg = platform.config
    silver = pd.DataFrame(
        {
            "trade_id": ["a"],
            "source": ["finnhub"],
            "symbol": ["AAPL"],
            "ts": [pd.Timestamp(NOW)],
            "ingested_at": [pd.Timestamp(NOW)],
        }
    )
    platform.store.append(cfg.table("silver_trades"), silver)
    q = section(export_dashboard(platform, now=NOW).documents, "pipeline_health", "quarantine")
    assert q["status"] == "empty" and q["data"]["total"] == 0 and q["data"]["share"] == 0.0
    assert q["data"]["silver_rows"] == 1


def test_fixture_tables_have_the_real_writers_columns(platform: Platform) -> None:
    """The export tests read tables shaped by the real writers; an invented or renamed column fails."""
    written = write_platform_tables(platform)
    store, cfg = platform.store, platform.config
    for key in ("tournament_results", "champion_challenger_audit", "drift_monitoring", "model_monitoring",
                "retraining_audit", "alerts_audit", "rollback_audit", "synthesized_predictions", "backtest_results",
                "decision_matrix", "gold_trade_features"):  # fmt: skip
        assert store.read_arrow(cfg.table(key)).schema.names == real_columns(key), key
    for key in ("silver_trades", "bronze_trades", "silver_trades_quarantine", "pipeline_runs"):
        assert set(written.frames[key].columns) <= set(real_columns(key)), key
    gold = written.frames["gold_trade_features"]
    with pytest.raises(AssertionError, match=r"writes \['rsi_14'\] to gold_trade_features, which the real writer does"):
        conform("gold_trade_features", gold.rename(columns={"rsi": "rsi_14"}))


def test_backtest_panel_shows_the_latest_current_run_not_a_newer_replay(platform: Platform) -> None:
    """``fin-mlops backtest --as-of-version N`` writes a run too; the panel keeps today's view."""
    written = write_platform_tables(platform)
    fqn = platform.config.table("backtest_results")
    current = written.frames["backtest_results"]
    replay = current.assign(
        run_id="bt-replay",
        created_at=pd.Timestamp(NOW),  # newer than bt1
        run_kind="as_of",
        as_of_timestamp=pd.Timestamp("2026-03-06T15:00:00Z"),
        total_return=-0.5,
    )
    platform.store.append(fqn, replay, schema_mode="merge")
    bt = export_dashboard(platform, now=NOW).documents["backtest"]["sections"]["results"]["data"]
    assert bt["run_id"] == "bt1" and bt["runs"] == 2 and bt["as_of_replay"] is False
    assert {r["metrics"]["total_return"] for r in bt["rows"]} == {0.04, -0.02, 0.01}
