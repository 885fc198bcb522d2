"""The AI/BI monitoring dashboard: deployed with the bundle, over the tables the static dashboard exports, and every
query names real tables and columns of the table catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from financial_transactions.deploy.bundle_check import check_bundle
from financial_transactions.deploy.rules.dashboards import known_columns, query_problems
from financial_transactions.reporting.documents.manifest import FLOW_NODES

from .bundle_fixture import PROJECT_ROOT

SQL = PROJECT_ROOT / "setup_uc_infrastructure.sql"
RESOURCE = PROJECT_ROOT / "resources" / "dashboard.yml"


def _document() -> dict:  # type: ignore[type-arg]
    spec = yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))["resources"]["dashboards"]["financial_monitoring"]
    return json.loads((RESOURCE.parent / spec["file_path"]).read_text(encoding="utf-8"))


def _tables() -> dict[str, set[str]]:
    return known_columns(PROJECT_ROOT / "project_config.yml", SQL.read_text(encoding="utf-8"))


def test_every_query_names_real_tables_and_columns() -> None:
    tables = _tables()
    for dataset in _document()["datasets"]:
        assert query_problems("".join(dataset["queryLines"]), tables) == [], dataset["name"]


def test_it_covers_the_tables_of_the_static_dashboard() -> None:
    exported = {node for node, _label, kind in FLOW_NODES if kind == "table"}
    queried = {t for d in _document()["datasets"] for t in _tables() if f" FROM {t} " in "".join(d["queryLines"]) + " "}
    # predictions are shown only through their masked view; train_set and bronze only as counts
    assert exported - queried == {"bronze_trades", "silver_trades", "train_set", "synthesized_predictions"}


def test_a_renamed_column_or_table_is_reported() -> None:
    tables = _tables()
    assert query_problems("SELECT psi, jsd FROM drift_monitoring", tables) == [
        "selects 'jsd', which drift_monitoring does not have; did you mean 'js'?"
    ]
    assert query_problems("SELECT * FROM drift_monitorin", tables)[0].startswith("reads 'drift_monitorin'")
    assert "qualified" in query_problems("SELECT psi FROM mlops_prd.financial_transactions.drift_monitoring", tables)[0]
    assert query_problems("SELECT count(*) AS n FROM decision_matrix ORDER BY n", tables) == []
    assert query_problems("SELECT score FROM synthesized_predictions_v", tables) == []  # the masked view
    assert query_problems("SELECT psi FROM drift_monitoring WHERE (", tables)[0].startswith("does not parse")


def test_bundle_check_reports_a_broken_dashboard(bundle_copy: Path) -> None:
    path = bundle_copy / "resources" / "financial_monitoring.lvdash.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["datasets"][0]["queryLines"] = ["SELECT symbol, closing FROM gold_trade_features"]
    document["pages"][0]["layout"][1]["widget"]["queries"][0]["query"]["datasetName"] = "nope"
    path.write_text(json.dumps(document), encoding="utf-8")
    report = check_bundle(bundle_copy, sql=False, workflows=False, sops=False)
    messages = sorted(e.message for e in report.errors)
    assert [e.check for e in report.errors] == ["dashboards", "dashboards"]
    assert messages[0] == (
        "dashboard 'financial_monitoring' dataset 'market' selects 'closing', which gold_trade_features does not have;"
        " did you mean 'close'?"
    )
    assert "uses dataset 'nope'" in messages[1]
