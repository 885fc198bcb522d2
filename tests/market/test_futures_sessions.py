"""CME Globex sessions of futures: Sunday 17:00 - Friday 16:00 Chicago, daily 16:00-17:00 break, DST-correct."""

from __future__ import annotations

from datetime import date

import pandas as pd

from financial_transactions.market.calendar import (
    CLOSED,
    CONTINUOUS,
    classify_sessions,
    future_trading_date,
    globex_open,
    session_date,
)


def _chicago(*stamps: str) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(list(stamps)).tz_localize("America/Chicago").tz_convert("UTC"))


def test_globex_week_daily_break_and_weekend() -> None:
    ts = _chicago(
        "2026-03-06 15:59",  # Friday before the close: open
        "2026-03-06 16:00",  # Friday close: weekend
        "2026-03-07 12:00",  # Saturday
        "2026-03-08 16:59",  # Sunday before the open
        "2026-03-08 17:00",  # Sunday open (the US DST change was that morning)
        "2026-03-09 03:00",  # overnight: open, not "pre-market"
        "2026-03-09 16:30",  # Monday maintenance break
        "2026-03-09 17:00",  # Monday reopen
    )
    assert globex_open(ts).tolist() == [True, False, False, False, True, True, False, True]
    sessions = classify_sessions(ts, "future").tolist()
    assert sessions == [CONTINUOUS, CLOSED, CLOSED, CLOSED, CONTINUOUS, CONTINUOUS, CLOSED, CONTINUOUS]


def test_globex_is_dst_correct_in_utc() -> None:
    # the Sunday open is 23:00 UTC in winter (CST) and 22:00 UTC in summer (CDT)
    winter = pd.Series(pd.to_datetime(["2026-01-11 22:59Z", "2026-01-11 23:00Z"], utc=True))
    summer = pd.Series(pd.to_datetime(["2026-07-12 21:59Z", "2026-07-12 22:00Z"], utc=True))
    assert globex_open(winter).tolist() == [False, True]
    assert globex_open(summer).tolist() == [False, True]


def test_a_future_is_never_given_an_nyse_session_and_mixes_with_equities_per_row() -> None:
    ts = _chicago("2026-03-09 08:45", "2026-03-09 08:45", "2026-03-09 19:00")
    sessions = classify_sessions(ts, pd.Series(["future", "equity", "future"])).tolist()
    assert sessions == [CONTINUOUS, "regular", CONTINUOUS]


def test_a_future_trades_evening_belongs_to_the_next_trading_date() -> None:
    ts = _chicago("2026-03-08 17:00", "2026-03-09 15:59", "2026-03-09 17:01")
    assert future_trading_date(ts).tolist() == [date(2026, 3, 9), date(2026, 3, 9), date(2026, 3, 10)]


def test_the_trading_date_of_a_future_is_its_globex_sessions_and_of_the_rest_new_yorks() -> None:
    # Sunday 18:00 Chicago is 19:00 New York, still Sunday there; Globex already trades Monday's session
    ts = _chicago("2026-03-08 18:00", "2026-03-08 18:00", "2026-03-09 15:00", "2026-03-09 23:30")
    mixed = session_date(ts, pd.Series(["future", "equity", "future", "crypto"])).tolist()
    assert mixed == [date(2026, 3, 9), date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    assert session_date(ts, "future").tolist() == [date(2026, 3, 9)] * 3 + [date(2026, 3, 10)]
    assert session_date(ts).tolist() == session_date(ts, "equity").tolist()
