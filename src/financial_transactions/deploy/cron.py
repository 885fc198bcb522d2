"""Quartz cron validation, as Databricks job schedules use it.

Quartz differs from Unix cron: six or seven fields (seconds first, optional
year), and exactly one of day-of-month / day-of-week must be ``?``. A Unix
five-field expression is the usual mistake, so it gets its own message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i


_FIELDS = (
    _Field("seconds", 0, 59),
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, tuple(_MONTHS)),
    _Field("day-of-week", 1, 7, tuple(_DAYS)),
    _Field("year", 1970, 2099),
)

_DOM_SPECIAL = re.compile(r"^(L(-\d{1,2})?|LW|\d{1,2}W)$")
_DOW_SPECIAL = re.compile(r"^(?P<day>[0-9A-Z]+)(L|#(?P<nth>\d))$")


class CronError(ValueError):
    """A Quartz expression that Databricks would reject; the message names the field."""


def _value(token: str, field: _Field) -> int:
    upper = token.upper()
    if field.names and upper in field.names:
        return field.low + field.names.index(upper)
    if not token.isdigit():
        allowed = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise CronError(f"{field.name} value {token!r} is not a number{allowed}")
    number = int(token)
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name} value {number} is outside {field.low}-{field.high}")
    return number


def _check_item(item: str, field: _Field) -> None:
    if item == "":
        raise CronError(f"{field.name} has an empty list element")
    base, _, step = item.partition("/")
    if step:
        if not step.isdigit() or int(step) == 0:
            raise CronError(f"{field.name} step {step!r} must be a positive integer")
        if int(step) > field.high - field.low + 1 and field.name != "year":
            raise CronError(f"{field.name} step {step} is larger than the field's range")
    if base == "*":
        return
    if "-" in base:
        lo, _, hi = base.partition("-")
        low, high = _value(lo, field), _value(hi, field)
        if low > high and field.name in ("year",):
            raise CronError(f"{field.name} range {base!r} runs backwards")
        return
    _value(base, field)


def _check_field(text: str, field: _Field) -> None:
    if text == "?":
        if field.name not in ("day-of-month", "day-of-week"):
            raise CronError(f"'?' is only allowed in day-of-month or day-of-week, not in {field.name}")
        return
    if field.name == "day-of-month" and _DOM_SPECIAL.match(text.upper()):
        match = re.match(r"^(\d{1,2})W$", text.upper())
        if match:
            _value(match.group(1), field)
        offset = re.match(r"^L-(\d{1,2})$", text.upper())
        if offset and int(offset.group(1)) > 30:
            raise CronError(f"day-of-month offset {text!r} must be L-0..L-30")
        return
    if field.name == "day-of-week":
        special = _DOW_SPECIAL.match(text.upper())
        if special and text.upper() != "L":
            _value(special.group("day"), field)
            nth = special.group("nth")
            if nth is not None and not 1 <= int(nth) <= 5:
                raise CronError(f"day-of-week '#{nth}' must be #1..#5")
            return
        if text.upper() == "L":
            return
    for item in text.split(","):
        _check_item(item, field)


def validate_quartz(expression: str) -> None:
    """Raise :class:`CronError` unless ``expression`` is a valid Quartz cron expression."""
    if not isinstance(expression, str) or not expression.strip():
        raise CronError("the expression is empty")
    parts = expression.split()
    if len(parts) == 5:
        raise CronError(
            f"{expression!r} has 5 fields (Unix cron); Quartz needs 6-7: "
            "seconds minutes hours day-of-month month day-of-week [year], e.g. '0 0 0 * * ?'"
        )
    if len(parts) not in (6, 7):
        raise CronError(
            f"{expression!r} has {len(parts)} fields; Quartz needs 6 or 7 "
            "(seconds minutes hours day-of-month month day-of-week [year])"
        )
    for text, field in zip(parts, _FIELDS, strict=False):
        _check_field(text, field)
    dom, dow = parts[3], parts[5]
    if (dom == "?") == (dow == "?"):
        raise CronError(f"{expression!r}: exactly one of day-of-month ({dom!r}) and day-of-week ({dow!r}) must be '?'")
