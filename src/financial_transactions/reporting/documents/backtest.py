"""``backtest.json``: the latest current backtest run, its metrics and equity curve per strategy and symbol.

Each symbol's ``buy_and_hold`` row (``decision.backtester.BENCHMARK``: the same bars and costs) is a row
like the strategies', flagged ``benchmark``; every row carries that benchmark's total return and its
excess over it. ``cagr`` is null when the period is shorter than ``backtest.cagr_min_years`` and the
row's ``cagr_note`` says why (the page and the report print it).

An ``--as-of-version`` replay of the past (``decision.backtester``'s ``run_kind = as_of``) is history,
not today's view: the panel shows the newest *current* run, and a replay only when no current run exists.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.decision.backtester import BENCHMARK, cagr_note, current_runs
from financial_transactions.lakehouse.catalog import BACKTEST_METRICS
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, latest_run, missing
from financial_transactions.reporting.frames import iso, jsonable, maybe_json, num, records, to_utc
from financial_transactions.reporting.sources import Sources

KEY = "backtest_results"
#: The ``decision.backtester.Backtester`` columns the panel shows (``run_kind`` and ``as_of_timestamp`` tell replays).
COLUMNS = (
    "run_id",
    "created_at",
    "strategy",
    "symbol",
    "mode",
    "run_kind",
    "as_of_version",
    "as_of_timestamp",
    "asset_class",
    "n_bars",
    "trading_days",
    "years",
    "benchmark_return",
    "equity_curve",
    "equity_ts",
    *BACKTEST_METRICS,
)
#: Equity curves are thinned evenly (first and last point kept) to this many points for the page.
EQUITY_POINTS = 400
EMPTY_BACKTEST: dict[str, Any] = {"run_id": None, "at": None, "runs": 0, "rows": []}


def build(ctx: ExportContext) -> dict[str, Any]:
    b = ctx.cfg.backtest
    return ctx.document(
        "backtest",
        {"results": guard("results", EMPTY_BACKTEST, lambda: latest_backtest(ctx.sources, ctx.cfg))},
        settings={
            "strategy": b.strategy,
            "mode": b.mode,
            "commission_bps": b.commission_bps,
            "slippage_bps": b.slippage_bps,
            "cagr_min_years": b.cagr_min_years,
            "benchmark": BENCHMARK,
        },
    )


def latest_backtest(src: Sources, cfg: ProjectConfig) -> Section:
    fqn = src.fqn(KEY)
    df = src.read(KEY, COLUMNS)
    if df is None:
        return missing(EMPTY_BACKTEST, [fqn], f"{fqn} does not exist yet (run fin-mlops backtest)")
    if df.empty:
        return Section("empty", EMPTY_BACKTEST, [fqn], "no backtest yet")
    current = current_runs(df)
    run_id = latest_run(current if len(current) else df, "run_id", "created_at")
    latest = df[df["run_id"] == run_id]
    rows = [row(rec, cfg.backtest.cagr_min_years) for rec in records(latest)]
    data = {
        "run_id": jsonable(run_id),
        "at": iso(to_utc(latest["created_at"]).max()),
        "runs": int(df["run_id"].nunique()),
        "as_of_replay": not len(current),
        "rows": rows,
    }
    return Section("ok", data, [fqn])


def row(rec: dict[str, Any], cagr_min_years: float) -> dict[str, Any]:
    """One strategy (or benchmark) row of the panel: metrics, the period it covers, the benchmark, the curve."""
    metrics = {m: num(rec[m], 6) for m in BACKTEST_METRICS}
    total, bench = metrics["total_return"], num(rec["benchmark_return"], 6)
    years = num(rec["years"], 6)
    return {
        "strategy": rec["strategy"],
        "symbol": rec["symbol"],
        "asset_class": rec["asset_class"],
        "mode": rec["mode"],
        "benchmark": rec["strategy"] == BENCHMARK,
        "as_of_version": jsonable(rec["as_of_version"]),
        "n_bars": num(rec["n_bars"]),
        "trading_days": num(rec["trading_days"]),
        "years": years,
        "metrics": metrics,
        "benchmark_return": bench,
        "excess_return": num(total - bench, 6) if total is not None and bench is not None else None,
        "cagr_note": cagr_note(years, cagr_min_years) if metrics["cagr"] is None and years is not None else None,
        "equity": equity(rec["equity_curve"], rec["equity_ts"]),
    }


def equity(curve: Any, stamps: Any) -> dict[str, list[Any]]:
    """The backtester's JSON equity values and their ISO times as ``{t: [...], v: [...]}``, thinned for the page."""
    values = maybe_json(curve) if curve is not None else None
    times = maybe_json(stamps) if stamps else None
    v: list[Any] = list(values) if isinstance(values, list) else []
    t: list[Any] = list(times) if isinstance(values, list) and isinstance(times, list) else []
    n = len(v)
    if n > EQUITY_POINTS:  # thin before converting: curves can hold thousands of points
        keep = sorted({round(i * (n - 1) / (EQUITY_POINTS - 1)) for i in range(EQUITY_POINTS)})
        v = [v[i] for i in keep]
        if len(t) == n:
            t = [t[i] for i in keep]
    utc = to_utc(pd.Series(t)) if t else None
    return {
        "t": [None if pd.isna(x) else x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in utc] if utc is not None else [],
        "v": [num(x, 6) for x in v],
    }
