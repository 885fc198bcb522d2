"""``alerts.json``: the streaming scorer's recent alerts (``anomaly_alerts``) with each one's analyst verdict.

Each row is a bar the champion scored over its operating threshold as the stream landed it, with
the webhook's delivery state (an undelivered alert shows as failed, rate_limited, not_configured or
unconfirmed, never as nothing), the trade-to-alert time, and the analyst's latest verdict from
``analyst_feedback`` (confirmed, dismissed or open) beside the exact command and API call that
records one, so the page can say how to confirm or dismiss it.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing
from financial_transactions.reporting.frames import iso, records

KEY = "anomaly_alerts"
FEEDBACK = "analyst_feedback"
#: Alerts shown, newest bar first.
MAX_ALERTS = 50
COLUMNS = (
    "alert_id",
    "symbol",
    "bar_start",
    "model_version",
    "score",
    "threshold",
    "close",
    "trade_at",
    "scored_at",
    "delivery_status",
    "delivery_attempts",
    "http_status",
    "delivery_error",
    "delivered_at",
    "trade_to_alert_seconds",
)
FEEDBACK_COLUMNS = ("symbol", "bar_start", "verdict", "analyst", "decided_at")


def build(ctx: ExportContext) -> dict[str, Any]:
    return ctx.document("alerts", {"recent": guard("recent", [], lambda: recent_alerts(ctx))})


def recent_alerts(ctx: ExportContext) -> Section:
    """The newest :data:`MAX_ALERTS` alerts, each with its verdict and the commands that record one."""
    src = ctx.sources
    fqn = src.fqn(KEY)
    df = src.read(KEY, list(COLUMNS))
    if df is None:
        return missing([], [fqn], f"{fqn} does not exist yet (fin-mlops pipeline --stream writes it)")
    if df.empty:
        return Section("empty", [], [fqn], "no bar has scored over the champion's threshold yet")
    df = df.assign(bar_start=pd.to_datetime(df["bar_start"], utc=True))
    df = df.sort_values(["bar_start", "symbol"], ascending=[False, True], kind="stable").head(MAX_ALERTS)
    sources = [fqn]
    verdicts: dict[tuple[str, pd.Timestamp], dict[str, Any]] = {}
    feedback = src.read(FEEDBACK, list(FEEDBACK_COLUMNS))
    if feedback is not None and not feedback.empty:
        sources.append(src.fqn(FEEDBACK))
        latest = feedback.assign(bar_start=pd.to_datetime(feedback["bar_start"], utc=True))
        latest = latest.sort_values("decided_at", kind="stable").drop_duplicates(["symbol", "bar_start"], keep="last")
        verdicts = {(r["symbol"], r["bar_start"]): r for r in cast("list[dict[str, Any]]", latest.to_dict("records"))}
    rows = []
    for rec, (symbol, bar) in zip(records(df), zip(df["symbol"], df["bar_start"], strict=True), strict=True):
        verdict = verdicts.get((symbol, bar))
        when = f"{bar:%Y-%m-%dT%H:%M:%S}"  # naive = UTC for the CLI
        rows.append(
            {
                **rec,
                **{c: iso(rec[c]) for c in ("bar_start", "trade_at", "scored_at", "delivered_at")},
                "feedback": verdict["verdict"] if verdict else "open",
                "feedback_by": verdict["analyst"] if verdict else None,
                "feedback_at": iso(verdict["decided_at"]) if verdict else None,
                "confirm_command": f"fin-mlops feedback confirm --symbol {symbol} --bar-start {when} --by <you>",
                "dismiss_command": f"fin-mlops feedback dismiss --symbol {symbol} --bar-start {when} --by <you>",
                "api_call": {
                    "method": "POST",
                    "path": "/v1/feedback",
                    "body": {
                        "symbol": symbol,
                        "bar_start": f"{when}Z",
                        "verdict": "confirmed|dismissed",
                        "analyst": "<you>",
                    },
                },
            }
        )
    return Section("ok", rows, sources)
