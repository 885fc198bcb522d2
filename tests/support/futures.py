"""An E-mini S&P 500 (ES) tape across the two 2026 US DST switches, with each print's CME Globex session.

A single-instrument file (``DateTime,Price,Volume``, epoch ms) as a user brings one: 20 prints around the
weekend of Sunday 2026-03-08 (CST -> CDT) and of Sunday 2026-11-01 (CDT -> CST). Several prints sit where a
fixed UTC offset (the wrong side of the switch) would give the other session, so only DST-correct Chicago
time gets every label right; some sit where NYSE would say ``regular`` or ``closed``. Two pairs are identical
prints (same ms, price and size), which stay two trades each.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CONTINUOUS, CLOSED = "continuous", "closed"

#: (UTC time, price, size, Globex session, why)
TAPE: tuple[tuple[str, float, int, str, str], ...] = (
    ("2026-03-06T21:58:30.125Z", 5731.25, 2, CONTINUOUS, "Fri 15:58:30 CST"),
    ("2026-03-06T21:58:30.125Z", 5731.25, 2, CONTINUOUS, "identical print"),
    ("2026-03-06T21:59:59.250Z", 5731.50, 1, CONTINUOUS, "Fri 15:59:59 CST, the last open second"),
    ("2026-03-06T22:00:00.000Z", 5731.50, 5, CLOSED, "Fri 16:00 CST: the weekend closure begins"),
    ("2026-03-08T21:59:59.999Z", 5740.00, 1, CLOSED, "Sun 16:59:59.999 CDT, before the open"),
    ("2026-03-08T22:00:00.000Z", 5742.25, 3, CONTINUOUS, "Sun 17:00 CDT open (16:00 on last week's CST)"),
    ("2026-03-08T22:00:40.500Z", 5742.50, 1, CONTINUOUS, "Sun 17:00:40 CDT"),
    ("2026-03-09T13:30:00.000Z", 5750.00, 4, CONTINUOUS, "Mon 08:30 CDT = NYSE regular open, not 'regular'"),
    ("2026-03-09T20:59:59.000Z", 5751.00, 1, CONTINUOUS, "Mon 15:59:59 CDT"),
    ("2026-03-09T21:15:00.000Z", 5751.00, 1, CLOSED, "Mon 16:15 CDT maintenance break (15:15 on CST)"),
    ("2026-03-09T22:05:00.000Z", 5752.75, 2, CONTINUOUS, "Mon 17:05 CDT, reopened"),
    ("2026-10-30T20:59:00.000Z", 6810.00, 1, CONTINUOUS, "Fri 15:59 CDT"),
    ("2026-10-30T21:00:00.000Z", 6810.25, 1, CLOSED, "Fri 16:00 CDT close (15:00 on CST: open)"),
    ("2026-11-01T22:00:00.000Z", 6815.00, 1, CLOSED, "Sun 16:00 CST, before the open (17:00 on CDT)"),
    ("2026-11-01T23:00:00.250Z", 6816.50, 2, CONTINUOUS, "Sun 17:00 CST open"),
    ("2026-11-01T23:00:00.250Z", 6816.50, 2, CONTINUOUS, "identical print"),
    ("2026-11-02T01:00:00.000Z", 6817.00, 1, CONTINUOUS, "Sun 19:00 CST (NY 20:00: equities closed)"),
    ("2026-11-02T14:30:00.000Z", 6820.00, 3, CONTINUOUS, "Mon 08:30 CST = NYSE regular open, not 'regular'"),
    ("2026-11-02T22:15:00.000Z", 6821.00, 1, CLOSED, "Mon 16:15 CST break (17:15 on CDT: open)"),
    ("2026-11-02T23:01:00.000Z", 6822.25, 1, CONTINUOUS, "Mon 17:01 CST"),
)
#: the prints of each replay window of a 70/30 split in time: March's, then November's
WINDOW_TRADES = (11, 9)


def tape_ms() -> list[int]:
    return [int(pd.Timestamp(t).value // 1_000_000) for t, *_ in TAPE]


def sessions() -> list[str]:
    return [s for _, _, _, s, _ in TAPE]


def write_es_file(path: Path) -> Path:
    """The tape as ``DateTime,Price,Volume`` with epoch-ms times (no symbol column: ``--symbol ES``)."""
    lines = ["DateTime,Price,Volume"]
    lines += [f"{ms},{price},{size}" for ms, (_, price, size, _, _) in zip(tape_ms(), TAPE, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def expected_bars(bar_ms: int = 60_000) -> list[pd.Timestamp]:
    """The bar starts gold must hold: one per interval with a print, none in the gaps."""
    return sorted({pd.Timestamp(ms // bar_ms * bar_ms, unit="ms", tz="UTC") for ms in tape_ms()})
