"""Collection health: every stream collector's connect/disconnect events, and the gaps they leave.

A Finnhub WebSocket has no replay: a trade sent while no collector is connected is lost for
good. So each collector run appends its connection events to
``<landing>/_collection/<feed>/<run_id>.ndjson`` (``_``: never bronze input), one JSON line
per event, written with one ``write`` on an ``O_APPEND`` file (a crash leaves at most a torn
last line, which the reader skips and counts):

* ``start`` - the run took the feed's lease;
* ``connect`` / ``disconnect`` - a connection opened / ended without being asked to
  (``reason``: what ended it);
* ``heartbeat`` - every ``heartbeat_seconds`` while connected: the last proof of life of
  a run that is then killed (SIGKILL, a lost node) and writes nothing more;
* ``stop`` - the run ended (``clean``: a requested stop, SIGTERM or duration; false when it
  gave up with an error).

:func:`collection_health` turns the events of every run of a feed into one row per
``(feed, UTC day)`` for the ``collector_gaps`` table: seconds not connected, disconnects,
the longest gap, runs and trades landed. What counts as down (the rules, in one place):

* between a connection's end (disconnect, an unclean stop, or a crash's last event) and
  the feed's next connect, by any run: down, also across a process restart;
* after a crash or an unclean stop with no later connect: down until ``now`` (an outage
  that is still going on);
* after a clean stop: down only until a later run connects (a redeploy's restart counts);
  with no later run, collection was stopped on purpose and nothing is counted;
* a run that wrote no ``stop`` is a crash when another run of the feed started after its
  last event (the lease had passed on) or when that event is older than three of its
  heartbeats (``stale_after`` when its ``start`` event does not say); otherwise it is live
  and connected until ``now``.

A crash's gap starts at its last heartbeat, so it is over-stated by at most one heartbeat
interval (the process died somewhere after it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

#: ``<landing>/_collection/<feed>/<run_id>.ndjson``.
EVENTS_DIR = "_collection"
EVENT_KINDS = ("start", "connect", "disconnect", "heartbeat", "stop")
#: The table key of the per-day rows (``lakehouse.catalog``).
TABLE_KEY = "collector_gaps"


def events_dir(landing: Path, feed: str) -> Path:
    return Path(landing) / EVENTS_DIR / feed


class CollectionLog:
    """Appends one collector run's connection events; thread-safe, never raises into the receive loop."""

    def __init__(self, landing: Path, feed: str, run_id: str, *, fsync: bool = True) -> None:
        self.path = events_dir(landing, feed) / f"{run_id}.ndjson"
        self.feed = feed
        self.run_id = run_id
        self.fsync = fsync
        self.written = 0
        self.failed = 0
        self._lock = threading.Lock()

    def event(self, kind: str, **fields: Any) -> None:
        """Append ``kind`` stamped now; a failed write is logged and counted, never raised (collection goes on)."""
        line = orjson.dumps(
            {"event": kind, "feed": self.feed, "run_id": self.run_id, "at": time.time(), **fields},
            option=orjson.OPT_APPEND_NEWLINE,
        )
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    os.write(fd, line)
                    if self.fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                self.written += 1
            except OSError as exc:
                self.failed += 1
                log.warning("%s: could not record the %s event in %s: %s", self.feed, kind, self.path, exc)


@dataclass
class RunEvents:
    """One collector run's events in time order."""

    run_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_at(self) -> float:
        return float(self.events[-1]["at"])

    @property
    def stop(self) -> dict[str, Any] | None:
        last = self.events[-1]
        return last if last["event"] == "stop" else None


@dataclass
class FeedEvents:
    feed: str
    runs: list[RunEvents]
    torn_lines: int = 0  # unparseable lines skipped (a crash mid-write)


def read_events(landing: Path, feed: str) -> FeedEvents:
    """Every run's events of ``feed``; lines that are not a whole event are skipped and counted."""
    runs: list[RunEvents] = []
    torn = 0
    for path in sorted(events_dir(landing, feed).glob("*.ndjson")):
        run = RunEvents(path.stem)
        for raw in path.read_bytes().splitlines():
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                torn += 1
                continue
            if not isinstance(doc, dict) or doc.get("event") not in EVENT_KINDS or not _is_time(doc.get("at")):
                torn += 1
                continue
            run.events.append(doc)
        if run.events:
            run.events.sort(key=lambda e: float(e["at"]))
            runs.append(run)
    if torn:
        log.warning("%s: skipped %d torn or unknown event line(s) under %s", feed, torn, events_dir(landing, feed))
    return FeedEvents(feed, runs, torn)


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    #: why the connection ended: ``disconnect`` (counted), ``crash`` / ``error`` (counted), ``stop`` (not), ``live``
    ended_by: str
    run: RunEvents = field(compare=False, repr=False)


def _started_at(run: RunEvents) -> float:
    return float(run.events[0]["at"])


def _stale_after(run: RunEvents, default: float) -> float:
    beat = run.events[0].get("heartbeat_seconds") if run.events[0]["event"] == "start" else None
    return 3 * float(beat) if beat is not None and _is_time(beat) else default


def connected_intervals(feed: FeedEvents, *, now: float, stale_after: float) -> list[Interval]:
    """Every connection of every run as ``[connect, end)``, in start order (see the module rules)."""
    out: list[Interval] = []
    starts = [_started_at(r) for r in feed.runs]
    for run in feed.runs:
        open_at: float | None = None
        for ev in run.events:
            kind, at = ev["event"], float(ev["at"])
            if kind == "connect":
                if open_at is not None:  # a connect without its disconnect: the previous one ended here
                    out.append(Interval(open_at, at, "disconnect", run))
                open_at = at
            elif kind == "disconnect" and open_at is not None:
                out.append(Interval(open_at, at, "disconnect", run))
                open_at = None
            elif kind == "stop" and open_at is not None:
                out.append(Interval(open_at, at, "stop" if ev.get("clean", True) else "error", run))
                open_at = None
        if open_at is None:
            continue
        succeeded = any(start > run.last_at for start in starts)
        if not succeeded and now - run.last_at <= _stale_after(run, stale_after):
            out.append(Interval(open_at, max(now, run.last_at), "live", run))
        else:
            out.append(Interval(open_at, run.last_at, "crash", run))
    return sorted(out, key=lambda i: (i.start, i.end))


@dataclass(frozen=True)
class Gap:
    start: float
    end: float


def gaps(feed: FeedEvents, *, now: float, stale_after: float) -> tuple[list[Gap], list[Interval]]:
    """The down periods of ``feed`` and the connections they lie between (see the module rules)."""
    intervals = connected_intervals(feed, now=now, stale_after=stale_after)
    out: list[Gap] = []
    if not intervals:
        return out, intervals
    # merged coverage: overlapping connections (a takeover's handover) leave no gap
    cover_end = intervals[0].end
    last = intervals[0]
    for iv in intervals[1:]:
        if iv.start > cover_end:
            out.append(Gap(cover_end, iv.start))
        if iv.end >= cover_end:
            cover_end, last = iv.end, iv
    if last.ended_by in ("crash", "error", "disconnect") and now > cover_end:
        out.append(Gap(cover_end, _trailing_end(last, now)))  # no run has connected since
    return out, intervals


def _trailing_end(last: Interval, now: float) -> float:
    """Where the down time after the feed's last connection ends: a clean stop of its run ends it
    (collection was stopped on purpose), anything else is an outage still going on at ``now``."""
    stop = last.run.stop
    if last.ended_by == "disconnect" and stop is not None and stop.get("clean", True):
        return max(last.end, float(stop["at"]))
    return now


def _day_bounds(day: date) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return start, start + 86_400.0


def _days(start: float, end: float) -> Iterable[date]:
    day = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(max(start, end - 1e-9), UTC).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def collection_health(
    landing: Path, feeds: Iterable[str], *, now: float | None = None, stale_after: float = 30.0
) -> list[dict[str, Any]]:
    """One row per ``(feed, UTC day)`` with events: the ``collector_gaps`` columns (see the module docstring).

    ``disconnects`` counts connection ends that were not asked for (server closes, dead
    connections, crashes, errors) on the day they happened; ``trades_landed`` is the growth
    of each run's landed counter between its events, on the day of the later event.
    """
    clock = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    for name in feeds:
        feed = read_events(landing, name)
        if not feed.runs:
            continue
        down, intervals = gaps(feed, now=clock, stale_after=stale_after)
        per_day: dict[date, dict[str, Any]] = {}

        def day_row(day: date, per_day: dict[date, dict[str, Any]] = per_day, feed_name: str = name) -> dict[str, Any]:
            row = per_day.get(day)
            if row is None:
                row = per_day[day] = {
                    "feed": feed_name,
                    "day": day,
                    "downtime_seconds": 0.0,
                    "connected_seconds": 0.0,
                    "disconnects": 0,
                    "longest_gap_seconds": 0.0,
                    "runs": set(),
                    "trades_landed": 0,
                }
            return row

        for run in feed.runs:
            landed = 0
            for ev in run.events:
                row = day_row(datetime.fromtimestamp(float(ev["at"]), UTC).date())
                row["runs"].add(run.run_id)
                value = ev.get("landed")
                if isinstance(value, int) and not isinstance(value, bool) and value >= landed:
                    row["trades_landed"] += value - landed
                    landed = value
        for iv in intervals:
            for day in _days(iv.start, iv.end):
                lo, hi = _day_bounds(day)
                day_row(day)["connected_seconds"] += _overlap(iv.start, iv.end, lo, hi)
            if iv.ended_by in ("disconnect", "crash", "error"):
                day_row(datetime.fromtimestamp(iv.end, UTC).date())["disconnects"] += 1
        for gap in down:
            for day in _days(gap.start, gap.end):
                lo, hi = _day_bounds(day)
                part = _overlap(gap.start, gap.end, lo, hi)
                row = day_row(day)
                row["downtime_seconds"] += part
                row["longest_gap_seconds"] = max(row["longest_gap_seconds"], part)
        for day in sorted(per_day):
            row = per_day[day]
            rows.append(
                {
                    **row,
                    "downtime_seconds": round(row["downtime_seconds"], 3),
                    "connected_seconds": round(row["connected_seconds"], 3),
                    "longest_gap_seconds": round(row["longest_gap_seconds"], 3),
                    "runs": len(row["runs"]),
                    "computed_at": datetime.fromtimestamp(clock, UTC),
                }
            )
    return rows
