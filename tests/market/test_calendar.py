"""NYSE calendar: holidays by rule, DST-correct sessions, crypto always continuous."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from financial_transactions.market.calendar import (
    classify_sessions,
    is_early_close,
    nyse_early_closes,
    nyse_holidays,
    regular_close_minute,
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
        close, after = (780, 1020) if ny.date() in nyse_early_closes(ny.year) else (960, 1200)
        bounds = [(240, 570, "pre_market"), (570, close, "regular"), (close, after, "after_hours")]
        return next((name for lo, hi, name in bounds if lo <= m < hi), "closed")

    # Dense around the 2025/2026 early closes too, so the early-close branch is exercised.
    early = [pd.Timestamp(f"{d}T{h:02d}:{m:02d}:00", tz="America/New_York") for d in
             ("2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24") for h in range(3, 21)
             for m in (0, 59)]  # fmt: skip
    ts = pd.concat([ts, pd.Series(early).dt.tz_convert("UTC")], ignore_index=True)
    got = classify_sessions(ts, "equity").tolist()
    assert got == [reference(t) for t in ts]
    assert set(got) == {"pre_market", "regular", "after_hours", "closed"}


def test_early_closes_match_the_published_nyse_calendars() -> None:
    assert sorted(nyse_early_closes(2025)) == [date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24)]
    # 2026: Friday July 3 is the observed Independence Day holiday, so July has no early close.
    assert sorted(nyse_early_closes(2026)) == [date(2026, 11, 27), date(2026, 12, 24)]
    assert sorted(nyse_early_closes(2024)) == [date(2024, 7, 3), date(2024, 11, 29), date(2024, 12, 24)]
    assert sorted(nyse_early_closes(2023)) == [date(2023, 7, 3), date(2023, 11, 24)]  # Dec 24 is a Sunday
    # 2021 and 2027: Friday December 24 is the observed Christmas holiday; July 3 is a Saturday.
    assert sorted(nyse_early_closes(2021)) == [date(2021, 11, 26)]
    assert sorted(nyse_early_closes(2027)) == [date(2027, 11, 26)]
    assert sorted(nyse_early_closes(2020)) == [date(2020, 11, 27), date(2020, 12, 24)]  # Jul 3 is the holiday
    for year in range(2000, 2040):
        assert not nyse_early_closes(year) & nyse_holidays(year)
        assert all(d.weekday() < 5 for d in nyse_early_closes(year))
    assert is_early_close(date(2026, 11, 27)) and not is_early_close(date(2026, 11, 26))
    assert (regular_close_minute(date(2026, 12, 24)), regular_close_minute(date(2026, 12, 23))) == (780, 960)


def test_sessions_around_13_00_on_early_close_days() -> None:
    ts = pd.Series(
        pd.to_datetime(
            [
                # 2025-07-03 (EDT, UTC-4): regular ends 13:00 = 17:00Z, after-hours ends 17:00 = 21:00Z
                "2025-07-03T13:29:59.999Z",  # 09:29:59.999 -> pre
                "2025-07-03T16:59:59.999Z",  # 12:59:59.999 -> regular
                "2025-07-03T17:00:00.000Z",  # 13:00 -> after-hours
                "2025-07-03T20:59:59.999Z",  # 16:59:59.999 -> after-hours
                "2025-07-03T21:00:00.000Z",  # 17:00 -> closed (on a normal day: after-hours)
                # 2026-11-27, the day after Thanksgiving (EST, UTC-5): 13:00 = 18:00Z
                "2026-11-27T17:59:59.999Z",
                "2026-11-27T18:00:00.000Z",
                "2026-11-27T21:59:59.999Z",
                "2026-11-27T22:00:00.000Z",
                # 2026-12-24, Christmas Eve on a Thursday (EST)
                "2026-12-24T17:59:00.000Z",
                "2026-12-24T18:00:00.000Z",
                # the same wall-clock times on ordinary days stay regular / after-hours
                "2026-07-02T17:00:00.000Z",  # Thursday before the July 3 holiday: 13:00 EDT -> regular
                "2026-07-03T17:00:00.000Z",  # the observed holiday itself -> closed
                "2026-11-30T18:00:00.000Z",  # Monday 13:00 EST -> regular
                "2026-11-30T22:00:00.000Z",  # Monday 17:00 EST -> after-hours
            ]
        )
    )
    assert classify_sessions(ts, "equity").tolist() == [
        "pre_market",
        "regular",
        "after_hours",
        "after_hours",
        "closed",
        "regular",
        "after_hours",
        "after_hours",
        "closed",
        "regular",
        "after_hours",
        "regular",
        "closed",
        "regular",
        "after_hours",
    ]
    assert classify_sessions(ts, "crypto").tolist() == ["continuous"] * len(ts)
    bounds = session_bounds_utc(date(2026, 11, 27))
    assert bounds["regular"] == (pd.Timestamp("2026-11-27T14:30:00Z"), pd.Timestamp("2026-11-27T18:00:00Z"))
    assert bounds["after_hours"] == (pd.Timestamp("2026-11-27T18:00:00Z"), pd.Timestamp("2026-11-27T22:00:00Z"))
    summer = session_bounds_utc(date(2025, 7, 3))
    assert summer["regular"][1] == pd.Timestamp("2025-07-03T17:00:00Z")
    assert session_bounds_utc(date(2026, 11, 30))["regular"][1] == pd.Timestamp("2026-11-30T21:00:00Z")
