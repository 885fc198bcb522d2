"""NYSE trading calendar and session classification, vectorised.

US equities trade pre-market 04:00-09:30, regular 09:30-16:00 and after-hours
16:00-20:00 in America/New_York. Converting UTC through the tz database makes
the DST switches exact (the regular open is 14:30 UTC in winter, 13:30 UTC in
summer). Holidays and early closes are computed by NYSE's rules for any year,
so there is no list to go stale. On an early-close day the regular session ends
at 13:00 and after-hours runs 13:00-17:00. Crypto trades 24/7 and is always
``continuous``.

Futures (asset class ``future``, e.g. E-mini S&P 500) trade on CME Globex nearly
around the clock: Sunday 17:00 to Friday 16:00 America/Chicago, with a daily
60-minute maintenance break 16:00-17:00 Chicago. An open minute is
``continuous`` (never an NYSE pre/regular/after-hours session), the break and the
weekend are ``closed``; Chicago wall-clock time makes it DST-correct. A future's
trading date is the Chicago date of the session's close: trades from 17:00
Chicago belong to the next day (:func:`future_trading_date`). Exchange holidays of
CME (abbreviated or closed sessions) are not modelled beyond the weekend.

The replay (to schedule trades), the silver layer (``session_type``,
``trade_date``) and the features (session-anchored VWAP) all call this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

NEW_YORK = "America/New_York"
CHICAGO = "America/Chicago"
#: CME Globex, Chicago minutes after midnight: the daily maintenance break 16:00-17:00.
GLOBEX_BREAK_START, GLOBEX_BREAK_END = 16 * 60, 17 * 60
PRE_MARKET, REGULAR, AFTER_HOURS, CLOSED, CONTINUOUS = (
    "pre_market",
    "regular",
    "after_hours",
    "closed",
    "continuous",
)
SESSION_TYPES = (PRE_MARKET, REGULAR, AFTER_HOURS, CLOSED, CONTINUOUS)

# Minutes after New York midnight.
PRE_OPEN, REGULAR_OPEN, REGULAR_CLOSE, AFTER_CLOSE = 4 * 60, 9 * 60 + 30, 16 * 60, 20 * 60
# On an early-close day: regular 09:30-13:00, after-hours 13:00-17:00.
EARLY_REGULAR_CLOSE, EARLY_AFTER_CLOSE = 13 * 60, 17 * 60


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month = (h + el - 7 * m + 114) // 31
    day = (h + el - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _observed(day: date) -> date:
    """NYSE observance: Saturday holidays move to Friday, Sunday ones to Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def nyse_holidays(year: int) -> frozenset[date]:
    """Full-day NYSE closures of ``year`` by rule.

    New Year's Day (not moved back into December), Martin Luther King Jr. Day
    (from 1998),
    Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from 2022),
    Independence Day, Labor Day, Thanksgiving and Christmas.
    """
    days = {
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday (third Monday since 1971)
        _easter(year) - timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year is not observed on Dec 31
        days.add(_observed(new_year))
    if year >= 1998:  # NYSE first closed for Martin Luther King Jr. Day in 1998
        days.add(_nth_weekday(year, 1, 0, 3))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    return frozenset(d for d in days if d.year == year)


@lru_cache(maxsize=256)
def nyse_early_closes(year: int) -> frozenset[date]:
    """Trading days of ``year`` on which NYSE's regular session ends at 13:00 New York time.

    The day after Thanksgiving always; Christmas Eve and July 3 when they fall on a
    weekday that is not itself a (observed) holiday. So a Saturday July 4 makes
    Friday July 3 the holiday, not an early close, and a Saturday Christmas makes
    Friday December 24 the holiday.
    """
    holidays = nyse_holidays(year)
    days = {_nth_weekday(year, 11, 3, 4) + timedelta(days=1)}  # Friday after Thanksgiving
    for candidate in (date(year, 7, 3), date(year, 12, 24)):
        if candidate.weekday() < 5 and candidate not in holidays:
            days.add(candidate)
    return frozenset(days)


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in nyse_holidays(day.year)


def is_early_close(day: date) -> bool:
    """Does the regular session of New York ``day`` end at 13:00 (see :func:`nyse_early_closes`)?"""
    return day in nyse_early_closes(day.year)


def regular_close_minute(day: date) -> int:
    """Minutes after New York midnight at which the regular session of ``day`` ends."""
    return EARLY_REGULAR_CLOSE if is_early_close(day) else REGULAR_CLOSE


def trading_days(start: date, count: int) -> list[date]:
    """The first ``count`` NYSE trading days on or after ``start``."""
    out: list[date] = []
    day = start
    while len(out) < count:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def _to_new_york(ts_utc: pd.Series) -> pd.Series:
    # cache=False: pandas' cache heuristic builds Timestamp objects to look for repeats, which
    # cost more than the whole vectorised classification of a 10k-row batch (measured).
    ts = pd.to_datetime(ts_utc, utc=True, cache=False)
    return ts.dt.tz_convert(NEW_YORK)


_NS_PER_MINUTE = 60 * 1_000_000_000
_NS_PER_DAY = 24 * 60 * _NS_PER_MINUTE
_EPOCH = date(1970, 1, 1)


def _local_day_and_minute(ts_utc: pd.Series, zone: str = NEW_YORK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall-clock day number (days since 1970-01-01) in ``zone``, minute of day, and a NaT mask.

    Integer arithmetic on the wall-clock nanoseconds: no per-row Python objects,
    so a million trades classify in milliseconds.
    """
    local = pd.to_datetime(ts_utc, utc=True, cache=False).dt.tz_convert(zone)
    wall = local.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(wall)
    ns = wall.view("int64")
    day = np.floor_divide(ns, _NS_PER_DAY)
    minute = np.floor_divide(ns - day * _NS_PER_DAY, _NS_PER_MINUTE)
    return day, minute, missing


def _day_numbers(days: np.ndarray, rule: Callable[[int], frozenset[date]]) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of ``rule(year)`` for every year ``days`` spans."""
    if days.size == 0:
        return np.empty(0, dtype="int64")
    first = _EPOCH + timedelta(days=int(days.min()))
    last = _EPOCH + timedelta(days=int(days.max()))
    return np.array(
        sorted((h - _EPOCH).days for y in range(first.year, last.year + 1) for h in rule(y)),
        dtype="int64",
    )


def session_date(ts_utc: pd.Series, asset_class: pd.Series | str | None = None) -> pd.Series:
    """The trading date each trade belongs to: the New York calendar date, or for a future
    (``asset_class`` "future", per row or for all) :func:`future_trading_date`, so a Globex session's
    VWAP runs 17:00 to 16:00 Chicago instead of restarting at New York midnight mid-session."""
    dates = _to_new_york(ts_utc).dt.date
    if asset_class is None:
        return dates
    future = (
        np.full(len(ts_utc), asset_class == "future")
        if isinstance(asset_class, str)
        else np.asarray(asset_class, dtype=object) == "future"
    )
    if future.any():
        dates = dates.copy()
        dates[future] = future_trading_date(ts_utc[future]).to_numpy(dtype=object)
    return dates


def classify_sessions(ts_utc: pd.Series, asset_class: pd.Series | str) -> pd.Series:
    """Session type per trade: pre_market, regular, after_hours or closed; crypto is continuous.

    Early-close days (:func:`nyse_early_closes`) end the regular session at 13:00
    and after-hours at 17:00 New York time.

    ``ts_utc`` is any datetime-like Series (tz-naive values are taken as UTC).
    ``asset_class`` is "equity"/"crypto", per row or for all rows. Missing
    timestamps give ``None`` (the silver expectations quarantine them).
    """
    day, minutes, missing = _local_day_and_minute(ts_utc)
    valid_days = day[~missing]
    early = np.isin(day, _day_numbers(valid_days, nyse_early_closes))
    regular_close = np.where(early, EARLY_REGULAR_CLOSE, REGULAR_CLOSE)
    after_close = np.where(early, EARLY_AFTER_CLOSE, AFTER_CLOSE)
    session = np.select(
        [
            (minutes >= PRE_OPEN) & (minutes < REGULAR_OPEN),
            (minutes >= REGULAR_OPEN) & (minutes < regular_close),
            (minutes >= regular_close) & (minutes < after_close),
        ],
        [PRE_MARKET, REGULAR, AFTER_HOURS],
        default=CLOSED,
    ).astype(object)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    non_trading = (weekday >= 5) | np.isin(day, _day_numbers(valid_days, nyse_holidays))
    session[non_trading] = CLOSED
    if isinstance(asset_class, str):
        classes = np.full(len(session), asset_class, dtype=object)
    else:
        classes = asset_class.to_numpy()
    session[classes == "crypto"] = CONTINUOUS
    future = classes == "future"
    if future.any():
        session[future] = globex_sessions(ts_utc[future]).to_numpy()
    session[missing] = None
    return pd.Series(session, index=ts_utc.index, dtype=object)


def globex_open(ts_utc: pd.Series) -> np.ndarray:
    """Is CME Globex open at each time: Sunday 17:00 to Friday 16:00 Chicago, less the 16:00-17:00 break."""
    day, minute, missing = _local_day_and_minute(ts_utc, CHICAGO)
    weekday = (day + 3) % 7  # Monday = 0
    in_break = (minute >= GLOBEX_BREAK_START) & (minute < GLOBEX_BREAK_END)
    weekend = (weekday == 5) | ((weekday == 4) & (minute >= GLOBEX_BREAK_START))
    weekend |= (weekday == 6) & (minute < GLOBEX_BREAK_END)
    return ~(in_break | weekend | missing)


def globex_sessions(ts_utc: pd.Series) -> pd.Series:
    """``continuous`` while Globex is open, else ``closed`` (None for a missing time)."""
    _, _, missing = _local_day_and_minute(ts_utc, CHICAGO)
    out = np.where(globex_open(ts_utc), CONTINUOUS, CLOSED).astype(object)
    out[missing] = None
    return pd.Series(out, index=ts_utc.index, dtype=object)


def future_trading_date(ts_utc: pd.Series) -> pd.Series:
    """A future's trading date: the Chicago date of its session's close (17:00 onwards is the next day)."""
    local = pd.to_datetime(ts_utc, utc=True, cache=False).dt.tz_convert(CHICAGO)
    return (local + pd.Timedelta(hours=24 - GLOBEX_BREAK_END // 60)).dt.date


def session_bounds_utc(day: date) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """UTC start/end of each equity session on a New York ``day`` (DST- and early-close-aware)."""
    midnight = pd.Timestamp(day).tz_localize(NEW_YORK)

    def at(minutes: int) -> pd.Timestamp:
        return (midnight + pd.Timedelta(minutes=minutes)).tz_convert("UTC")

    close = regular_close_minute(day)
    after = EARLY_AFTER_CLOSE if close == EARLY_REGULAR_CLOSE else AFTER_CLOSE
    return {
        PRE_MARKET: (at(PRE_OPEN), at(REGULAR_OPEN)),
        REGULAR: (at(REGULAR_OPEN), at(close)),
        AFTER_HOURS: (at(close), at(after)),
    }
