"""The pipeline driver: keep up continuously in market sessions, refresh on a timer outside them.

The collectors run always (a continuous job); this loop decides, from the market calendar
(:mod:`financial_transactions.market.calendar`), when the next incremental pipeline update
starts (``pipeline.cadence``):

* while a configured market is in session: as soon as the previous update finished, at most
  every ``in_session_interval_seconds``: each update is an ``availableNow`` pass over the
  landing files that arrived meanwhile, so gold trails the feed by about one update;
* outside sessions: every ``off_session_interval_seconds``, and at the next session's open.

One loop on both platforms: on Databricks the update is the Lakeflow pipeline's (started
through the Pipelines API, one at a time, from a continuous job), locally the embedded
runner's (:meth:`Runtime.pipeline_refresher` decides). SIGTERM ends the wait or lets the
running update finish, then the loop exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from financial_transactions.config.cadence import CadenceConfig
from financial_transactions.market.calendar import CLOSED, classify_sessions

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

#: How far ahead the driver looks for the next session open (a long weekend plus a holiday).
LOOKAHEAD_MINUTES = 5 * 24 * 60


def in_session(now: datetime, markets: Sequence[str]) -> bool:
    """Is any of ``markets`` (equity, future) in an open session at ``now``."""
    ts = pd.Series([pd.Timestamp(now).tz_convert(UTC)])
    return any(classify_sessions(ts, market).iloc[0] != CLOSED for market in markets)


def next_open(now: datetime, markets: Sequence[str]) -> datetime | None:
    """The first minute after ``now`` at which a closed market opens (None: none within five days)."""
    start = pd.Timestamp(now).tz_convert(UTC).floor("min") + pd.Timedelta(minutes=1)
    minutes = pd.Series(pd.date_range(start, periods=LOOKAHEAD_MINUTES, freq="min"))
    open_ = np.zeros(len(minutes), dtype=bool)
    for market in markets:
        open_ |= (classify_sessions(minutes, market) != CLOSED).to_numpy()
    hits = np.flatnonzero(open_)
    return None if len(hits) == 0 else minutes.iloc[int(hits[0])].to_pydatetime()


@dataclass(frozen=True)
class Decision:
    """What the driver does now: ``wait`` seconds (0 = start an update now), and why."""

    in_session: bool
    wait: float
    reason: str


def decide(now: datetime, cfg: CadenceConfig, last_start: datetime | None) -> Decision:
    """The next step at ``now``, given when the previous update started (None: none yet)."""
    markets: list[str] = list(cfg.session_markets)
    if in_session(now, markets):
        interval = cfg.in_session_interval_seconds
        due = 0.0 if last_start is None else interval - (now - last_start).total_seconds()
        return Decision(True, max(0.0, due), f"in session: an update every {interval:g}s at most")
    interval = cfg.off_session_interval_seconds
    due = 0.0 if last_start is None else interval - (now - last_start).total_seconds()
    opens = next_open(now, markets)
    if opens is not None:
        due = min(due, (opens - now).total_seconds())
        return Decision(False, max(0.0, due), f"off session: every {interval:g}s, next open {opens:%Y-%m-%d %H:%M}Z")
    return Decision(False, max(0.0, due), f"off session: every {interval:g}s")


@dataclass
class FollowResult:
    updates: int = 0
    in_session_updates: int = 0
    failures: int = 0
    last_summary: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


def follow(
    update: Callable[[], dict[str, Any]],
    cfg: CadenceConfig,
    *,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_updates: int | None = None,
    handle_signals: bool = False,
    on_update: Callable[[Decision, dict[str, Any]], None] | None = None,
) -> FollowResult:
    """Run ``update`` on the cadence until ``stop`` is set (SIGTERM/SIGINT set it with ``handle_signals``).

    A failed update is logged and retried at the next due time (the job's restart would only
    lose the schedule); ``max_updates`` bounds the loop for tests and one-off catch-ups.
    """
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    result = FollowResult()
    last_start: datetime | None = None
    try:
        while not stop.is_set() and (max_updates is None or result.updates < max_updates):
            now = clock()
            decision = decide(now, cfg, last_start)
            if decision.wait > 0:
                stop.wait(min(decision.wait, cfg.max_wait_seconds))
                continue
            last_start = now
            started = time.monotonic()
            try:
                summary = update()
            except Exception as exc:  # the next due update retries; the error stays visible
                result.failures += 1
                result.last_error = f"{type(exc).__name__}: {exc}"
                log.error("pipeline update failed (%s); retrying at the next due time", result.last_error)
                summary = {"error": result.last_error}
            else:
                result.updates += 1
                result.in_session_updates += int(decision.in_session)
                result.last_summary = summary
            log.info(
                "pipeline update %s in %.1fs (%s)",
                "failed" if "error" in summary else "done",
                time.monotonic() - started,
                decision.reason,
            )
            if on_update is not None:
                on_update(decision, summary)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return result


def drive(
    platform: Platform,
    *,
    pipeline_id: str | None = None,
    stop: threading.Event | None = None,
    max_updates: int | None = None,
    handle_signals: bool = True,
    on_update: Callable[[Decision, dict[str, Any]], None] | None = None,
) -> FollowResult:
    """The pipeline driver on ``platform``: the embedded runner locally, ``pipeline_id`` on Databricks."""
    from financial_transactions.pipeline.batch import PipelineRunner

    def embedded() -> dict[str, Any]:
        return PipelineRunner(platform).run().summary()

    update = platform.runtime.pipeline_refresher(pipeline_id, in_process=embedded)
    return follow(
        update,
        platform.config.pipeline.cadence,
        stop=stop,
        max_updates=max_updates,
        handle_signals=handle_signals,
        on_update=on_update,
    )
