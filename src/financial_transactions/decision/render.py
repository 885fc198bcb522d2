"""The backtest report and the decision matrix as width-adaptive tables (shared by the CLI and the run stages)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from rich.markup import escape

from financial_transactions.config.decision import CriterionConfig
from financial_transactions.decision.backtester import BENCHMARK, BacktestReport, cagr_note
from financial_transactions.decision.decision_matrix import BUY, HOLD, INSUFFICIENT, SELL, STRONG_BUY
from financial_transactions.runtime.tables import Column, DataTable

COLOURS = {STRONG_BUY: "bold green", BUY: "green", HOLD: "yellow", SELL: "red", INSUFFICIENT: "dim"}


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    if value is None or value is pd.NA:
        return "–"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "–" if not math.isfinite(f) else fmt.format(f)


def _pct(key: str, fmt: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: _num(row.get(key), fmt)


def backtest_table(
    report: BacktestReport, criterion: CriterionConfig | None = None, *, cagr_min_years: float | None = None
) -> DataTable:
    """One row per (symbol, strategy), each symbol's ``buy_and_hold`` benchmark first (same bars, not a
    trial); ``criterion`` (the decision's backtest bands) labels the deflated edge, ``cagr_min_years``
    (``backtest.cagr_min_years``) explains in the caption why a CAGR is missing."""
    inputs = report.inputs
    title = (
        f"backtest {report.run_id} · predictions {_version(inputs.predictions_version)}"
        f" · gold {_version(inputs.gold_version)}"
        + (f" · model v{inputs.champion}" if inputs.champion is not None else "")
        + (f" · as of {inputs.as_of_timestamp.isoformat()}" if inputs.as_of_timestamp else "")
    )
    n_trials = next((int(r.metrics["n_trials"]) for r in report.results), 0)

    def edge(row: dict[str, Any]) -> str:
        value = row["deflated_edge"]
        if criterion is None or not isinstance(value, float) or not math.isfinite(value):
            return _num(value)
        band = criterion.band_for(value)
        colour = "green" if band.score >= 4 else "red" if band.score <= 2 else ""
        return f"[{colour}]{_num(value)} {band.label}[/]" if colour else f"{_num(value)} {band.label}"

    rows: list[dict[str, Any]] = []
    styles: list[str | None] = []
    short_years: list[float] = []
    bench_of = {b.symbol: b for b in report.benchmarks}
    ordered = [*report.benchmarks, *report.results]
    for res in sorted(ordered, key=lambda r: (r.symbol, r.strategy != BENCHMARK, r.strategy)):
        m = res.metrics
        is_bench = res.strategy == BENCHMARK
        bench = bench_of.get(res.symbol)
        excess = None
        if not is_bench and bench is not None:
            total, held = _float(m.get("total_return")), _float(bench.metrics.get("total_return"))
            excess = None if total is None or held is None else total - held
        rows.append(
            {
                "symbol": res.symbol,
                "strategy": res.strategy,
                "benchmark": is_bench,
                "mode": res.mode,
                "bars": int(res.n_bars),
                "years": _float(res.years),
                **{key: _float(m.get(key)) for key in _BACKTEST_METRICS},
                "excess_return": excess,
                "n_trades": int(m["n_trades"]),
            }
        )
        styles.append("dim" if is_bench else None)
        if rows[-1]["cagr"] is None and (years := _float(res.years)) is not None:
            short_years.append(years)
    columns = [
        Column("symbol", "symbol", ident=True, style="bold"),
        Column("strategy", "strategy", ident=True),
        Column("mode", "mode"),
        Column("bars", "bars", justify="right"),
        Column("total_return", "return", justify="right", fmt=_pct("total_return", "{:+.2%}")),
        Column("excess_return", "vs B&H", short="±B&H", justify="right", fmt=_pct("excess_return", "{:+.2%}")),
        Column("cagr", "CAGR", justify="right", fmt=_pct("cagr", "{:+.1%}")),
        Column("annual_volatility", "vol", justify="right", fmt=_pct("annual_volatility", "{:.1%}")),
        Column("sharpe", "Sharpe", short="Shp", justify="right", fmt=_pct("sharpe", "{:.2f}")),
        Column("sharpe_se", "± SE", justify="right", fmt=_pct("sharpe_se", "{:.2f}")),
        Column("sharpe_tstat", "t", justify="right", fmt=_pct("sharpe_tstat", "{:.2f}")),
        Column("psr", "PSR", justify="right", fmt=_pct("psr", "{:.2f}")),
        Column("dsr", "DSR", justify="right", fmt=_pct("dsr", "{:.2f}")),
        Column("deflated_edge", "edge", justify="right", fmt=edge),
        Column("sortino", "Sortino", short="Sor", justify="right", fmt=_pct("sortino", "{:.2f}")),
        Column("max_drawdown", "max DD", short="DD", justify="right", fmt=_pct("max_drawdown", "{:.2%}")),
        Column("calmar", "Calmar", short="Cal", justify="right", fmt=_pct("calmar", "{:.2f}")),
        Column("win_rate", "win", justify="right", fmt=_pct("win_rate", "{:.0%}")),
        Column("n_trades", "trades", short="#tr", justify="right"),
        Column("exposure", "exposure", short="exp", justify="right", fmt=_pct("exposure", "{:.0%}")),
    ]
    caption = [
        f"return over the period; vs B&H = that return minus the symbol's {BENCHMARK} over the same bars; "
        f"DSR and edge deflated for {n_trials} strategy x symbol trials ({BENCHMARK} is not one)"
    ]
    note = cagr_note(max(short_years), cagr_min_years) if short_years and cagr_min_years is not None else None
    if note:
        caption.append(note)
    return DataTable("backtest", columns, rows, title=title, caption="\n".join(caption), row_styles=styles)


#: The metrics the backtest table shows, by their ``performance`` names.
_BACKTEST_METRICS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sharpe_se",
    "sharpe_tstat",
    "psr",
    "dsr",
    "deflated_edge",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "exposure",
)


def _styled(text: str, style: str | None) -> str:
    return f"[{style}]{escape(text)}[/]" if style else escape(text)


def _version(value: int | str | None) -> str:
    """``v3``, or ``none`` when the table does not exist yet (never ``vNone``)."""
    return "none" if value is None else f"v{value}"


def _float(value: Any) -> float | None:
    """A metric as a float, or None when it is missing or not finite (JSON has no NaN)."""
    if value is None or value is pd.NA:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def decision_table(matrix: pd.DataFrame, criteria: list[str]) -> DataTable:
    """Ranked rows: recommendation, score, each criterion's score and label, and the one-sentence reason."""
    rows = []
    for rec in matrix.to_dict("records"):
        row: dict[str, Any] = {
            "rank": None if (rank := _float(rec.get("rank"))) is None else int(rank),
            "symbol": str(rec["symbol"]),
            "recommendation": str(rec["recommendation"]),
            "final_score": _float(rec.get("final_score")),
        }
        for name in criteria:
            score = _float(rec.get(f"{name}_score"))
            row[f"{name}_score"] = None if score is None else int(score)
            row[f"{name}_label"] = None if score is None else str(rec.get(f"{name}_label"))
        row["explanation"] = str(rec.get("explanation") or "")
        rows.append(row)

    def criterion(name: str) -> Callable[[dict[str, Any]], str]:
        def cell(row: dict[str, Any]) -> str:
            score = row[f"{name}_score"]
            return "[dim]missing[/]" if score is None else f"{score} {escape(str(row[f'{name}_label']))}"

        return cell

    columns = [
        Column("rank", "rank", short="#", justify="right"),
        Column("symbol", "symbol", ident=True, style="bold"),
        Column(
            "recommendation",
            "recommendation",
            short="rec",
            fmt=lambda row: _styled(row["recommendation"], COLOURS.get(row["recommendation"])),
        ),
        Column("final_score", "score", justify="right", fmt=lambda row: _num(row["final_score"])),
        *[Column(f"{name}_score", name, justify="center", fmt=criterion(name)) for name in criteria],
        Column("explanation", "why", wrap=True),
    ]
    return DataTable(
        "decision_matrix",
        columns,
        rows,
        title="decision matrix",
        caption="risk criteria (volatility, model, drift) only lower a score",
    )
