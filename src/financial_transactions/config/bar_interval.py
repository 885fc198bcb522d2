"""What ``features.bar_interval`` may be: ``<n>s``, ``<n>min`` or ``<n>h``, dividing 30 minutes.

The grammar lives with the settings, so that validating a config needs no feature code
(numpy, pandas); the bar builder (:mod:`financial_transactions.features.bars`), the labels
and the backtester read the interval through :func:`interval_ns`.

Only divisors of 30 minutes put a bar edge on every US equity session boundary (04:00, 09:30,
16:00, 20:00 New York) and on every New York midnight: New York's UTC offset is a whole number
of hours, so each of those instants is a whole half hour of epoch time.
"""

from __future__ import annotations

import re

_INTERVAL = re.compile(r"^(\d+)(s|min|h)$")
_UNIT_NS = {"s": 1_000_000_000, "min": 60_000_000_000, "h": 3_600_000_000_000}


SESSION_GRID_NS = 30 * 60_000_000_000
"""Every session boundary and New York midnight is a multiple of this in epoch time (see the module doc)."""


def interval_ns(bar_interval: str) -> int:
    """``"1min"`` -> 60e9. Accepts ``<n>s``, ``<n>min``, ``<n>h`` (n >= 1)."""
    match = _INTERVAL.match(bar_interval)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"bar interval must look like '30s', '1min' or '1h', got {bar_interval!r}")
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def check_session_aligned(bar_interval: str) -> int:
    """``interval_ns(bar_interval)``, refusing an interval whose bars could straddle a session.

    Only divisors of 30 minutes put a bar edge on every session boundary and every
    New York midnight (see the module doc); the error lists the nearest valid choices.
    """
    ns = interval_ns(bar_interval)
    if SESSION_GRID_NS % ns:
        raise ValueError(
            f"bar interval {bar_interval!r} does not divide 30 minutes, so its bars would straddle session "
            "boundaries (04:00, 09:30, 16:00, 20:00 New York) and trading dates; use a divisor of 30 minutes "
            "such as 1s, 5s, 10s, 15s, 30s, 1min, 2min, 3min, 5min, 10min, 15min or 30min"
        )
    return ns
