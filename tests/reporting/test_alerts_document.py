"""``alerts.json``: the streaming scorer's alerts, newest first, with delivery state and the analyst's verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from financial_transactions.features.feedback import record_feedback
from financial_transactions.reporting.documents import alerts
from financial_transactions.reporting.export import export_context
from financial_transactions.runtime import Platform
from tests.support.writer_schemas import conform

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
BAR = pd.Timestamp("2026-03-10 15:02", tz="UTC")


def _row(symbol: str, bar: pd.Timestamp, status: str, **extra: object) -> dict[str, object]:
    return {
        "alert_id": f"id-{symbol}-{bar:%H%M}",
        "symbol": symbol,
        "bar_start": bar,
        "model_version": "3",
        "score": 0.91,
        "threshold": 0.6,
        "trade_at": bar + pd.Timedelta(seconds=46),
        "scored_at": bar + pd.Timedelta(seconds=52),
        "delivery_status": status,
        **extra,
    }


def test_missing_table_says_which_command_writes_it(platform: Platform) -> None:
    sec = alerts.build(export_context(platform, now=NOW))["sections"]["recent"]
    assert sec["status"] == "missing" and "fin-mlops pipeline --stream writes it" in sec["message"]


def test_alerts_carry_delivery_state_verdict_and_the_commands_to_record_one(platform: Platform) -> None:
    rows = pd.DataFrame(
        [
            _row("AAPL", BAR, "delivered", delivered_at=BAR + pd.Timedelta(seconds=53), trade_to_alert_seconds=7.0),
            _row("MSFT", BAR + pd.Timedelta(minutes=5), "failed", delivery_error="HTTP 400: bad hook", http_status=400),
        ]
    )
    platform.store.append(platform.config.table("anomaly_alerts"), conform("anomaly_alerts", rows))
    record_feedback(platform, symbol="AAPL", bar_start=BAR.to_pydatetime(), verdict="confirmed", analyst="ana")

    sec = alerts.build(export_context(platform, now=NOW))["sections"]["recent"]
    assert sec["status"] == "ok" and len(sec["sources"]) == 2
    msft, aapl = sec["data"]  # newest bar first
    assert (msft["symbol"], msft["delivery_status"], msft["http_status"], msft["feedback"]) == (
        "MSFT",
        "failed",
        400,
        "open",
    )
    assert msft["delivery_error"] == "HTTP 400: bad hook"
    assert (aapl["feedback"], aapl["feedback_by"], aapl["bar_start"]) == ("confirmed", "ana", "2026-03-10T15:02:00Z")
    assert aapl["trade_to_alert_seconds"] == 7.0
    assert (
        aapl["confirm_command"] == "fin-mlops feedback confirm --symbol AAPL --bar-start 2026-03-10T15:02:00 --by <you>"
    )
    assert (
        aapl["dismiss_command"] == "fin-mlops feedback dismiss --symbol AAPL --bar-start 2026-03-10T15:02:00 --by <you>"
    )
    assert aapl["api_call"] == {
        "method": "POST",
        "path": "/v1/feedback",
        "body": {
            "symbol": "AAPL",
            "bar_start": "2026-03-10T15:02:00Z",
            "verdict": "confirmed|dismissed",
            "analyst": "<you>",
        },
    }
