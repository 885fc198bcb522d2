"""Analyst feedback: an analyst confirms or dismisses a flagged bar, with who and when.

Real feeds carry no anomaly labels; surveillance teams label through review of alerts.
A verdict is one row of ``analyst_feedback`` keyed by ``(symbol, bar_start)``; the latest
verdict per bar wins. :func:`financial_transactions.features.labels.apply_feedback`
makes it the first label source (feedback > ground truth > rule) in training
and in performance monitoring.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pyarrow as pa

from financial_transactions.lakehouse.catalog import spec

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform

KEY = "analyst_feedback"
CONFIRMED, DISMISSED = "confirmed", "dismissed"
VERDICTS = (CONFIRMED, DISMISSED)
Verdict = Literal["confirmed", "dismissed"]


class FeedbackError(ValueError):
    """A verdict that cannot be recorded; the message names the field and value."""


def record_feedback(
    platform: Platform,
    *,
    symbol: str,
    bar_start: datetime,
    verdict: str,
    analyst: str,
    note: str | None = None,
    channel: str = "cli",
    decided_at: datetime | None = None,
) -> dict[str, object]:
    """Append one verdict and return it as written."""
    if verdict not in VERDICTS:
        raise FeedbackError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if not analyst.strip():
        raise FeedbackError("analyst must name who reviewed the bar")
    if not symbol.strip():
        raise FeedbackError("symbol must not be empty")
    start = pd.Timestamp(bar_start)
    start = start.tz_localize(UTC) if start.tzinfo is None else start.tz_convert(UTC)
    row: dict[str, object] = {
        "feedback_id": uuid.uuid4().hex,
        "symbol": symbol.strip(),
        "bar_start": start.to_pydatetime(),
        "verdict": verdict,
        "analyst": analyst.strip(),
        "decided_at": decided_at or datetime.now(tz=UTC),
        "note": note,
        "channel": channel,
    }
    platform.store.append(platform.config.table(KEY), pa.Table.from_pylist([row], schema=spec(KEY).schema))
    return row


def load_feedback(platform: Platform) -> pd.DataFrame:
    """The latest verdict per ``(symbol, bar_start)``; empty (with the columns) before the first verdict."""
    fqn = platform.config.table(KEY)
    if not platform.store.exists(fqn):
        return pd.DataFrame(columns=spec(KEY).columns)
    return latest_verdicts(platform.store.read(fqn))


def latest_verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per bar: its most recent verdict (an analyst may change their mind)."""
    if frame.empty:
        return frame
    ordered = frame.sort_values("decided_at", kind="stable")
    return ordered.drop_duplicates(["symbol", "bar_start"], keep="last").reset_index(drop=True)


def feedback_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Verdicts per kind over the latest verdicts (what the dashboard shows)."""
    latest = latest_verdicts(frame)
    counts = latest["verdict"].value_counts().to_dict() if not latest.empty else {}
    return {v: int(counts.get(v, 0)) for v in VERDICTS}
