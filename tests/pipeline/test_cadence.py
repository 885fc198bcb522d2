"""The pipeline driver's cadence: the market calendar decides continuous vs timed updates (exact decisions)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from financial_transactions.config.cadence import CadenceConfig
from financial_transactions.pipeline.cadence import decide, follow, next_open

CFG = CadenceConfig(in_session_interval_seconds=30, off_session_interval_seconds=900)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "last_start", "in_session", "wait"),
    [
        # Monday 2026-03-09 10:00 New York (EDT since 03-08: 14:00 UTC): regular session, first update now
        (_utc(2026, 3, 9, 14, 0), None, True, 0.0),
        # ... the previous update started 12 s ago: the next one in 18 s
        (_utc(2026, 3, 9, 14, 0), _utc(2026, 3, 9, 13, 59, 48), True, 18.0),
        # ... it started 45 s ago (a slow update): the next one at once
        (_utc(2026, 3, 9, 14, 0), _utc(2026, 3, 9, 13, 59, 15), True, 0.0),
        # 03:00 New York (07:00 UTC): closed; the last update 100 s ago, pre-market opens at 04:00 = in 3600 s,
        # the 900 s timer comes first
        (_utc(2026, 3, 9, 7, 0), _utc(2026, 3, 9, 6, 58, 20), False, 800.0),
        # 03:55 New York: the timer is due in 800 s but pre-market opens in 300 s
        (_utc(2026, 3, 9, 7, 55), _utc(2026, 3, 9, 7, 53, 20), False, 300.0),
        # Saturday noon: closed all day, only the timer
        (_utc(2026, 3, 7, 16, 0), _utc(2026, 3, 7, 15, 59, 0), False, 840.0),
        # Good Friday 2026-04-03 (NYSE holiday), 11:00 New York: closed
        (_utc(2026, 4, 3, 15, 0), _utc(2026, 4, 3, 14, 50, 0), False, 300.0),
        # 19:59 New York: after-hours still open
        (_utc(2026, 3, 9, 23, 59), _utc(2026, 3, 9, 23, 58, 50), True, 20.0),
    ],
)
def test_decisions_follow_the_nyse_calendar(
    now: datetime, last_start: datetime | None, in_session: bool, wait: float
) -> None:
    decision = decide(now, CFG, last_start)
    assert (decision.in_session, decision.wait) == (in_session, pytest.approx(wait))


def test_next_open_skips_weekends_holidays_and_follows_dst() -> None:
    # Friday 2026-04-03 is Good Friday: from Thursday evening the next open is Monday 04:00 New York (08:00 UTC)
    assert next_open(_utc(2026, 4, 3, 1, 0), ["equity"]) == _utc(2026, 4, 6, 8, 0)
    # before the DST switch (2026-03-08) pre-market opens at 09:00 UTC, after it at 08:00 UTC
    assert next_open(_utc(2026, 3, 6, 1, 0), ["equity"]) == _utc(2026, 3, 6, 9, 0)
    assert next_open(_utc(2026, 3, 9, 1, 0), ["equity"]) == _utc(2026, 3, 9, 8, 0)
    # futures: CME Globex reopens Sunday 17:00 Chicago (22:00 UTC in CDT)
    assert next_open(_utc(2026, 3, 14, 12, 0), ["future"]) == _utc(2026, 3, 15, 22, 0)


def test_follow_retries_a_failed_update_and_stops_on_request() -> None:
    calls: list[int] = []

    def update() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("pipeline busy")
        return {"bronze_rows_added": len(calls)}

    clock = iter(_utc(2026, 3, 9, 14, 0) + timedelta(seconds=31 * i) for i in range(100))
    result = follow(
        update, CadenceConfig(in_session_interval_seconds=30, off_session_interval_seconds=900),
        clock=lambda: next(clock), max_updates=3,
    )  # fmt: skip
    assert (result.updates, result.in_session_updates, result.failures) == (3, 3, 1)
    assert result.last_error == "RuntimeError: pipeline busy" and result.last_summary == {"bronze_rows_added": 4}
    stop = threading.Event()
    stop.set()
    assert follow(update, CFG, stop=stop).updates == 0 and len(calls) == 4


def test_the_off_session_cadence_cannot_be_faster_than_the_in_session_one() -> None:
    with pytest.raises(ValueError, match=r"off_session_interval_seconds \(60\) must not be shorter"):
        CadenceConfig(in_session_interval_seconds=120, off_session_interval_seconds=60)
