"""Every table-printing command at 80 columns (issue 20): the identifying column whole, --json exactly the records.

The commands here need no trained model: replay, bundle-check's report, the training leaderboard and the
dashboard export. ``rollback`` and ``endpoint status`` are checked beside their fixtures
(tests/monitoring/test_steerable_rollback.py, tests/serving/test_model_serving.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from financial_transactions.cli import app
from financial_transactions.models.base import ModelResult
from financial_transactions.models.report import leaderboard, outcome_tables
from financial_transactions.models.tournament import TournamentResult
from financial_transactions.models.training import TrainingOutcome
from financial_transactions.models.validator import ValidationCheck, ValidationReport
from financial_transactions.runtime.tables import DataTable

NARROW = {"COLUMNS": "80"}


def _cli(project_root: Path, root: Path, *args: str) -> Result:
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root)]
    return CliRunner().invoke(app, [*base, *args], env=NARROW)


def _fits(text: str) -> None:
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80, text
    assert "…" not in text, text


def _render(table: DataTable) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_replay_endpoints_and_status_at_80_columns_and_as_json(project_root: Path, tmp_path: Path) -> None:
    ports = ["--finnhub-port", "0", "--binance-port", "0", "--alphavantage-port", "0", "--duration", "0.5"]
    shown = _cli(project_root, tmp_path / "lake", "replay", *ports)
    assert shown.exit_code == 0, shown.output
    _fits(shown.stdout)
    lines = shown.stdout.splitlines()
    keys = ["Finnhub WebSocket", "Binance stream", "Alpha Vantage", "market", "ground truth"]
    assert [key for line in lines for key in keys if line.startswith(f"{key}  ")] == keys
    status = lines[next(i for i, line in enumerate(lines) if line.strip() == "replay status") :]
    assert [line.strip() for line in status if line and not line.startswith(" ")] == [
        "replay status", "finnhub", "binance", "alphavantage"
    ]  # fmt: skip

    piped = _cli(project_root, tmp_path / "lake2", "replay", *ports, "--json")
    assert piped.exit_code == 0, piped.output
    doc = json.loads(piped.stdout)  # the endpoints, and nothing else on stdout
    assert [row["item"] for row in doc["replay"]] == [
        "Finnhub WebSocket", "Binance stream", "Alpha Vantage", "market", "ground truth"
    ]  # fmt: skip
    assert doc["replay"][0]["value"].startswith("ws://127.0.0.1:")
    truth = tmp_path / "lake2/Volumes/mlops_dev/financial_transactions/landing/_ground_truth/window1/anomalies.ndjson"
    assert doc["replay"][4]["value"] == str(truth)
    assert "replay status" in piped.stderr  # the live status goes to stderr


def _tournament() -> TournamentResult:
    ok = ModelResult(
        name="isolation_forest_contamination_tuned",
        status="ok",
        metrics={"pr_auc": 0.8123, "roc_auc": 0.9, "precision_at_k": 0.5, "recall_at_fpr": 0.4, "f1": 0.61,
                 "inference_rows_per_s": 125000.0},
        validation_metrics={"pr_auc": 0.8},
        threshold=0.37,
        train_seconds=2.5,
        rank=1,
    )  # fmt: skip
    failed = ModelResult(
        name="lightgbm", status="failed", error="forced failure: training diverged after 12 rounds of boosting"
    )
    return TournamentResult("abcdef0123", "run-1", "pr_auc", [ok, failed], table=None)  # type: ignore[arg-type]


def test_the_training_leaderboard_at_80_columns_and_as_json() -> None:
    board = leaderboard(_tournament(), precision_at_k=100, fixed_fpr=0.01)
    text = _render(board)
    _fits(text)
    assert board.layout == "vertical"
    headings = [line.strip() for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings[1:] == ["isolation_forest_contamination_tuned 🏆", "lightgbm"]
    assert "forced failure: training diverged after 12 rounds of boosting" in " ".join(text.split())
    report = ValidationReport("runs:/r/model", [ValidationCheck("leakage", True, "no future bars in training")])
    outcome = TrainingOutcome(_tournament(), report, registered_version=None, decision=None, data_sizes={})
    records = json.loads(json.dumps({t.name: t.records() for t in outcome_tables(outcome, precision_at_k=100,
                                                                                    fixed_fpr=0.01)}))  # fmt: skip
    assert [(r["rank"], r["model"], r["status"], r["pr_auc"]) for r in records["leaderboard"]] == [
        (1, "isolation_forest_contamination_tuned", "ok", 0.8123), (None, "lightgbm", "failed", None)
    ]  # fmt: skip
    assert records["leaderboard"][1]["error"] == "forced failure: training diverged after 12 rounds of boosting"
    assert records["validation"] == [
        {"check": "leakage", "passed": True, "detail": "no future bars in training", "value": None, "limit": None}
    ]
    assert records["decision"] == [{"status": outcome.status, "registered_version": None}]


def test_bundle_check_report_at_80_columns_and_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from financial_transactions.cli.deploy import print_report
    from financial_transactions.deploy.findings import BundleCheckReport, CheckResult, Finding

    where = "resources/financial_transactions_workflows.yml"
    report = BundleCheckReport(
        tmp_path,
        [
            CheckResult("schema", "databricks bundle JSON schema", skipped="no schema file given (--schema)"),
            CheckResult(
                "task_references",
                "every task's script exists and takes its parameters",
                [
                    Finding(
                        "task_references",
                        "error",
                        "scripts/financial/rollback_model.py has no --forse flag",
                        file=where,
                        line=412,
                        path="resources.jobs.financial_drift_monitoring.tasks[3]",
                    )
                ],
            ),
        ],
    )
    monkeypatch.setenv("COLUMNS", "80")
    print_report(report)
    text = capsys.readouterr().out
    _fits(text)
    assert "task_references" in text.split() and "schema" in text.split()
    assert f"{where}:412" in text  # the finding's location is its identifying column: whole
    assert text.rstrip().endswith("1 error(s), 0 warning(s)")

    print_report(report, as_json=True)
    doc = json.loads(capsys.readouterr().out)
    assert doc["checks"] == [
        {"check": "schema", "status": "skipped", "errors": 0, "warnings": 0,
         "detail": "no schema file given (--schema)"},
        {"check": "task_references", "status": "failed", "errors": 1, "warnings": 0,
         "detail": "every task's script exists and takes its parameters"},
    ]  # fmt: skip
    assert doc["findings"] == [
        {"severity": "error", "where": f"{where}:412", "path": "resources.jobs.financial_drift_monitoring.tasks[3]",
         "message": "scripts/financial/rollback_model.py has no --forse flag"}
    ]  # fmt: skip


def test_dashboard_export_table_at_80_columns_and_as_json(project_root: Path, tmp_path: Path) -> None:
    shown = _cli(project_root, tmp_path / "lake", "dashboard", "--out-dir", str(tmp_path / "out"))
    assert shown.exit_code == 0, shown.output
    table, path = shown.stdout.rstrip().rsplit("\n", 1)
    _fits(table)
    assert path == f"dashboard: {tmp_path / 'out' / 'index.html'}"  # a path on a line of its own: never cut
    piped = _cli(project_root, tmp_path / "lake", "dashboard", "--out-dir", str(tmp_path / "out2"), "--json")
    assert piped.exit_code == 0, piped.output
    doc = json.loads(piped.stdout)
    assert doc["dashboard"] == [{"path": str(tmp_path / "out2" / "index.html")}]
    rows = doc["sections"]
    assert {"file": "alerts.json", "section": "recent"} in [{k: r[k] for k in ("file", "section")} for r in rows]
    assert all(r["status"] in ("ok", "empty", "missing") for r in rows)
    text = " ".join(shown.stdout.split())
    for row in rows:  # every file and section named whole (at 80 columns: one block per row)
        assert f"{row['file']} · {row['section']}" in text, row


def test_ingest_alphavantage_tables_at_80_columns_and_as_json(project_root: Path, tmp_path: Path) -> None:
    from financial_transactions.replay.av_server import AlphaVantageReplay
    from financial_transactions.replay.synthetic import build_synthetic_market
    from tests.support.ingest import CRYPTO, EQUITIES, small_replay

    server = AlphaVantageReplay(build_synthetic_market(small_replay(), EQUITIES, CRYPTO), small_replay(), token="k")
    port = server.start("127.0.0.1", 0)
    env = {"ALPHAVANTAGE_API_KEY": "k", "FIN_MLOPS_ALPHAVANTAGE_URL": f"http://127.0.0.1:{port}", **NARROW}
    args = ["ingest", "alphavantage", "--symbols", "AAPL,MSFT", "--calls-per-minute", "10000"]
    base = ["--config", str(project_root / "project_config.yml")]
    try:
        shown = CliRunner().invoke(app, [*base, "--lakehouse-root", str(tmp_path / "a"), *args], env=env)
        piped = CliRunner().invoke(app, [*base, "--lakehouse-root", str(tmp_path / "b"), *args, "--json"], env=env)
    finally:
        server.stop()
    assert shown.exit_code == 0, shown.output
    assert piped.exit_code == 0, piped.output
    doc = json.loads(piped.stdout)
    assert [(r["symbol"], r["errors"]) for r in doc["symbols"]] == [("AAPL", ""), ("MSFT", "")]
    assert all(r["bars"] > 0 for r in doc["symbols"])
    counters = {r["counter"]: r["value"] for r in doc["counters"]}
    table = shown.stdout[shown.stdout.index("alphavantage run") :]
    _fits(table)
    words = table.translate(str.maketrans("│┃", "  ")).split()
    assert "AAPL" in words and "MSFT" in words
    for name, value in counters.items():  # every counter named whole, with its value
        assert f"{name} {value:,}" in " ".join(words)
