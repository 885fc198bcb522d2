"""The ``ingest`` stage of ``fin-mlops run`` and the replay half of ``shift``.

:func:`run_ingest` replays window 1 (the base regime); :func:`run_shift_ingest`
replays window 2, the regime-shifted one. Both call
:func:`~financial_transactions.replay.window.ingest_window`, which lands the window
once (a re-run reuses it) and writes its ground truth where the drift stage finds it.
"""

from __future__ import annotations

from typing import Any

from financial_transactions.replay.window import WindowIngest, ingest_window
from financial_transactions.runtime.context import RunContext


def _stage_summary(result: WindowIngest) -> dict[str, Any]:
    """The figures for the run's summary table; the full summary stays in the window's ``_SUCCESS.json``."""
    s = result.summary
    keys = (
        "finnhub_trades", "binance_trades", "alphavantage_bars", "anomalous_trades",
        "finnhub_quarantined", "binance_quarantined", "finnhub_reconnects", "reused",
        "abandoned_files", "abandoned_records",
    )  # fmt: skip
    return {k: s[k] for k in keys if k in s}


def run_ingest(ctx: RunContext) -> dict[str, Any]:
    """Stage ``ingest``: replay window 1 and collect it."""
    return _stage_summary(ingest_window(ctx.platform, 1, ctx.console))


def run_shift_ingest(ctx: RunContext) -> dict[str, Any]:
    """Replay window 2 (higher volatility, drift, bigger sizes) for the ``shift`` stage."""
    return _stage_summary(ingest_window(ctx.platform, 2, ctx.console))
