"""Status tells the truth (issue 20): an undelivered alert warns, and diagnostic drift runs neither alert nor record."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.reporting.documents.manifest import alerting_workflow
from financial_transactions.runtime import Platform

from .test_stage import _gold_windows


def test_an_alert_that_reached_nobody_is_a_warning_never_ok() -> None:
    unconfigured = alerting_workflow([{"status": "not_configured"}] * 4, "2026-03-07T00:00:00Z")
    assert unconfigured["status"] == "warn"
    assert unconfigured["detail"] == "4 alert(s), 4 undelivered (4 with no webhook configured)"
    failed = alerting_workflow([{"status": "delivered"}, {"status": "failed"}], None)
    assert failed["status"] == "warn" and failed["detail"] == "2 alert(s), 1 undelivered"
    assert alerting_workflow([{"status": "delivered"}], None)["status"] == "ok"


def _rows(platform: Platform, key: str) -> int:
    fqn = platform.config.table(key)
    return len(platform.store.read(fqn)) if platform.store.exists(fqn) else 0


def test_drift_no_trigger_is_a_diagnostic_run_unless_asked_to_record(platform: Platform, project_root: Path) -> None:
    _gold_windows(platform)
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    runner = CliRunner()
    for _ in range(2):  # investigating twice pages nobody and adds no heatmap column
        result = runner.invoke(app, [*base, "drift", "--no-trigger"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "drift decision: drift" in result.output and "nothing recorded, no alert sent" in result.output
    assert _rows(platform, "drift_monitoring") == 0 and _rows(platform, "alerts_audit") == 0
    assert _rows(platform, "retraining_audit") == 0

    result = runner.invoke(app, [*base, "drift", "--no-trigger", "--record"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert _rows(platform, "drift_monitoring") == 5 and _rows(platform, "alerts_audit") == 1
    assert "WARNING: 1 of 1 not delivered" in result.output  # no webhook: the CLI summary says so


def _judged(degraded: bool, at: str) -> dict[str, object]:
    return {
        "event_type": "decision",
        "at": at,
        "performance_degraded": degraded,
        "performance_metric": "pr_auc",
        "performance_current": 0.243,
        "performance_baseline": 0.884,
        "performance_lower": 0.2,
        "performance_upper": 0.29,
        "performance_positives": 41,
    }


def test_a_degraded_champion_is_an_alert_on_the_overview_until_a_promotion_replaces_it() -> None:
    from financial_transactions.reporting.documents.manifest import champion_performance

    launch = {"event_type": "launch", "at": "2026-03-07T02:00:00Z", "performance_current": None}
    degraded = champion_performance([launch, _judged(True, "2026-03-07T01:00:00Z")], [], "1")
    assert degraded["status"] == "alert"
    assert degraded["detail"] == (
        "degraded: champion v1 pr_auc 0.243 [0.200, 0.290] vs baseline 0.884 on 41 positive(s)"
    )
    promote = [{"decision": "PROMOTE", "at": "2026-03-07T03:00:00Z"}]
    replaced = champion_performance([_judged(True, "2026-03-07T01:00:00Z")], promote, "2")
    assert replaced["status"] == "ok" and "replaced by the promotion at 2026-03-07T03:00:00Z" in replaced["detail"]
    earlier = [{"decision": "PROMOTE", "at": "2026-03-07T00:00:00Z"}]
    assert champion_performance([_judged(True, "2026-03-07T01:00:00Z")], earlier, "1")["status"] == "alert"
    assert champion_performance([_judged(False, "2026-03-07T01:00:00Z")], [], "1")["status"] == "ok"
    assert champion_performance([launch], [], "1")["status"] == "missing"
