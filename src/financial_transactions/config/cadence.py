"""When the medallion pipeline refreshes: continuously while a market is in session, on a timer outside.

Collection is always on (the collectors' continuous job); the pipeline turns landing files into
gold. During an equity session (NYSE pre-market 04:00 to after-hours 20:00 New York, trading
days only) analysts and the anomaly scoring want every new minute, so the driver starts the
next incremental update as soon as the last one finished (at most every
``in_session_interval_seconds``). Outside sessions only crypto (and futures) trade, so one
update every ``off_session_interval_seconds`` keeps gold fresh without keeping compute busy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from financial_transactions.config.core import StrictModel


class CadenceConfig(StrictModel):
    """The pipeline driver's schedule (``pipeline.cadence``), read by ``pipeline.cadence``."""

    session_markets: list[Literal["equity", "future"]] = Field(
        default=["equity"],
        min_length=1,
        description="markets whose open sessions make the pipeline keep up continuously: equity = NYSE 04:00-20:00 "
        "New York on trading days, future = CME Globex hours",
    )
    in_session_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="in session: the next update starts this long after the previous one started (0 = back to back)",
    )
    off_session_interval_seconds: float = Field(
        default=900.0,
        ge=30,
        le=86_400,
        description="outside sessions: one update this often (crypto trades 24/7); the first update of a session "
        "starts at its open",
    )
    max_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="the driver re-reads the calendar (and notices SIGTERM) at least this often while it waits",
    )

    @model_validator(mode="after")
    def _off_session_is_the_slower_cadence(self) -> CadenceConfig:
        if self.off_session_interval_seconds < self.in_session_interval_seconds:
            raise ValueError(
                f"pipeline.cadence.off_session_interval_seconds ({self.off_session_interval_seconds:g}) must not be "
                f"shorter than in_session_interval_seconds ({self.in_session_interval_seconds:g})"
            )
        return self
