"""Rich tables of a backtest report and of a decision matrix (shared by the CLI and the run stages)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table

from financial_transactions.config.decision import CriterionConfig
from financial_transactions.decision.backtester import BacktestReport
from financial_transactions.decision.decision_matrix import BUY, HOLD, INSUFFICIENT, SELL, STRONG_BUY

COLOURS = {STRONG_BUY: "bold green", BUY: "green", HOLD: "yellow", SELL: "red", INSUFFICIENT: "dim"}


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    if value is None or value is pd.NA:
        return "–"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "–" if not math.isfinite(f) else fmt.format(f)


def backtest_table(report: BacktestReport, criterion: CriterionConfig | None = None) -> Table:
    """One row per (symbol, strategy); ``criterion`` (the decision's backtest bands) labels the deflated edge."""
    inputs = report.inputs
    title = (
        f"backtest {report.run_id} · predictions v{inputs.predictions_version} · gold v{inputs.gold_version}"
        + (f" · model v{inputs.champion}" if inputs.champion is not None else "")
        + (f" · as of {inputs.as_of_timestamp.isoformat()}" if inputs.as_of_timestamp else "")
    )
    n_trials = next((int(r.metrics["n_trials"]) for r in report.results), 0)
    table = Table(title=title, caption=f"DSR and edge deflated for {n_trials} strategy x symbol trials")
    for col, justify in (
        ("symbol", "left"),
        ("strategy", "left"),
        ("mode", "left"),
        ("bars", "right"),
        ("total", "right"),
        ("CAGR", "right"),
        ("vol", "right"),
        ("Sharpe", "right"),
        ("± SE", "right"),
        ("t", "right"),
        ("PSR", "right"),
        ("DSR", "right"),
        ("edge", "right"),
        ("Sortino", "right"),
        ("max DD", "right"),
        ("Calmar", "right"),
        ("win", "right"),
        ("trades", "right"),
        ("exposure", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for res in sorted(report.results, key=lambda r: (r.symbol, r.strategy)):
        m = res.metrics
        edge = m["deflated_edge"]
        label = ""
        if criterion is not None and isinstance(edge, float) and math.isfinite(edge):
            band = criterion.band_for(edge)
            colour = "green" if band.score >= 4 else "red" if band.score <= 2 else ""
            label = f"[{colour}]{_num(edge)} {band.label}[/]" if colour else f"{_num(edge)} {band.label}"
        table.add_row(
            res.symbol,
            res.strategy,
            res.mode,
            str(res.n_bars),
            _num(m["total_return"], "{:+.2%}"),
            _num(m["cagr"], "{:+.1%}"),
            _num(m["annual_volatility"], "{:.1%}"),
            _num(m["sharpe"]),
            _num(m["sharpe_se"]),
            _num(m["sharpe_tstat"]),
            _num(m["psr"]),
            _num(m["dsr"]),
            label or _num(edge),
            _num(m["sortino"]),
            _num(m["max_drawdown"], "{:.2%}"),
            _num(m["calmar"]),
            _num(m["win_rate"], "{:.0%}"),
            str(m["n_trades"]),
            _num(m["exposure"], "{:.0%}"),
        )
    return table


def decision_table(matrix: pd.DataFrame, criteria: list[str]) -> Table:
    """Ranked rows: recommendation, score, each criterion's score and label, and the one-sentence reason."""
    table = Table(title="decision matrix", caption="risk criteria (volatility, model, drift) only lower a score")
    table.add_column("rank", justify="right")
    table.add_column("symbol", style="bold")
    table.add_column("recommendation")
    table.add_column("score", justify="right")
    for name in criteria:
        table.add_column(name, justify="center")
    table.add_column("why")
    for rec in matrix.to_dict("records"):
        colour = COLOURS.get(str(rec["recommendation"]), "")
        cells = []
        for name in criteria:
            score = rec.get(f"{name}_score")
            missing = score is None or pd.isna(score)
            cells.append("[dim]missing[/]" if missing else f"{int(score or 0)} {rec[f'{name}_label']}")
        table.add_row(
            _num(rec.get("rank"), "{:.0f}"),
            str(rec["symbol"]),
            f"[{colour}]{rec['recommendation']}[/]",
            _num(rec.get("final_score")),
            *cells,
            str(rec.get("explanation") or ""),
        )
    return table
