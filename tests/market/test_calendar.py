"""NYSE calendar: holidays by rule, DST-correct sessions, crypto always continuous."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from financial_transactions.market.calendar import (
    classify_sessions,
    nyse_holidays,
    session_bounds_utc,
    session_date,
    trading_days,
)


def test_holidays_2026_match_the_published_nyse_calendar() -> None:
    assert sorted(nyse_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # July 4th is a Saturday
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ]


def test_saturday_new_year_is_not_observed_in_december() -> None:
    assert date(2021, 12, 31) not in nyse_holidays(2021)
    assert date(2022, 1, 1) not in nyse_holidays(2022)  # Saturday, no weekday closure
    assert date(2021, 6, 18) not in nyse_holidays(2021)  # Juneteenth starts in 2022
    assert date(2023, 1, 2) in nyse_holidays(2023)  # Sunday New Year -> Monday


def test_regular_open_moves_with_dst() -> None:
    before = pd.Series(pd.to_datetime(["2026-03-06T14:29:59Z", "2026-03-06T14:30:00Z"]))
    after = pd.Series(pd.to_datetime(["2026-03-09T13:29:59Z", "2026-03-09T13:30:00Z"]))
    assert classify_sessions(before, "equity").tolist() == ["pre_market", "regular"]
    assert classify_sessions(after, "equity").tolist() == ["pre_market", "regular"]
    assert session_bounds_utc(date(2026, 3, 6))["regular"][0] == pd.Timestamp("2026-03-06T14:30:00Z")
    assert session_bounds_utc(date(2026, 3, 9))["regular"][0] == pd.Timestamp("2026-03-09T13:30:00Z")


def test_all_session_edges_weekends_holidays_and_crypto() -> None:
    ts = pd.Series(
        pd.to_datetime(
            [
                "2026-03-09T07:59:00Z",  # 03:59 NY -> closed
                "2026-03-09T08:00:00Z",  # 04:00 -> pre
                "2026-03-09T19:59:59Z",  # 15:59:59 -> regular
                "2026-03-09T20:00:00Z",  # 16:00 -> after
                "2026-03-09T23:59:59Z",  # 19:59:59 -> after
                "2026-03-10T00:00:00Z",  # 20:00 -> closed
                "2026-03-07T15:00:00Z",  # Saturday
                "2026-04-03T15:00:00Z",  # Good Friday
            ]
        )
    )
    assert classify_sessions(ts, "equity").tolist() == [
        "closed",
        "pre_market",
        "regular",
        "after_hours",
        "after_hours",
        "closed",
        "closed",
        "closed",
    ]
    mixed = classify_sessions(ts, pd.Series(["crypto", "equity"] * 4))
    assert mixed.tolist()[::2] == ["continuous"] * 4
    assert mixed.tolist()[1] == "pre_market"


def test_session_date_is_the_new_york_date() -> None:
    ts = pd.Series(pd.to_datetime(["2026-03-10T01:30:00Z", "2026-03-10T05:00:00Z"]))
    assert session_date(ts).tolist() == [date(2026, 3, 9), date(2026, 3, 10)]


def test_trading_days_skip_weekends_and_holidays() -> None:
    assert trading_days(date(2026, 4, 2), 3) == [date(2026, 4, 2), date(2026, 4, 6), date(2026, 4, 7)]


def test_mlk_day_only_from_1998_and_good_friday_by_easter() -> None:
    assert date(1997, 1, 20) not in nyse_holidays(1997)
    assert date(1998, 1, 19) in nyse_holidays(1998)
    assert date(2024, 3, 29) in nyse_holidays(2024)  # Easter 2024-03-31
    assert date(2025, 4, 18) in nyse_holidays(2025)  # Easter 2025-04-20
    assert date(2027, 12, 24) in nyse_holidays(2027)  # Christmas on a Saturday -> Friday
    assert date(2027, 7, 5) in nyse_holidays(2027)  # July 4th on a Sunday -> Monday


def test_fall_back_dst_and_missing_timestamps() -> None:
    ts = pd.Series(pd.to_datetime(["2026-10-30T13:30:00Z", "2026-11-02T13:30:00Z", "2026-11-02T14:30:00Z", None]))
    # EDT before 2026-11-01, EST after: 13:30Z is 09:30 then 08:30 New York time.
    assert classify_sessions(ts, "equity").tolist() == ["regular", "pre_market", "regular", None]


def test_vectorised_result_matches_a_row_by_row_reference() -> None:
    rng = np.random.default_rng(7)
    ms = rng.integers(1_700_000_000_000, 1_800_000_000_000, size=5000)
    ts = pd.Series(pd.to_datetime(ms, unit="ms", utc=True))
    got = classify_sessions(ts, "equity").tolist()

    def reference(t: pd.Timestamp) -> str:
        ny = t.tz_convert("America/New_York")
        if ny.weekday() >= 5 or ny.date() in nyse_holidays(ny.year):
            return "closed"
        m = ny.hour * 60 + ny.minute
        bounds = [(240, 570, "pre_market"), (570, 960, "regular"), (960, 1200, "after_hours")]
        return next((name for lo, hi, name in bounds if lo <= m < hi), "closed")

    assert got == [reference(t) for t in ts]
    assert set(got) == {"pre_market", "regular", "after_hours", "closed"}
