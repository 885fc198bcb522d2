"""Charts a quant can use (issue 20): buy-and-hold beside every strategy, CAGR only when the period
supports it, one equity chart per strategy with a colour per symbol and the legend outside the plot."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.decision.backtester import BENCHMARK, Backtester
from financial_transactions.reporting.export import build_documents, export_context
from financial_transactions.reporting.report import (
    SYMBOL_COLOURS,
    equity_figure,
    strategies_of,
    symbol_colours,
    write_report,
)
from financial_transactions.runtime import Platform
from tests.support.gold import gold_frame, synthetic_trades, write_gold

SYMBOLS = {"AAPL": 190.0, "MSFT": 410.0, "BTCUSDT": 60000.0}


@pytest.fixture
def backtested(platform: Platform) -> dict[str, Any]:
    write_gold(platform, gold_frame(platform, synthetic_trades(SYMBOLS, 200, seed=11)))
    backtester = Backtester(platform)
    backtester.write(backtester.run(strategies=["sma_cross", "macd"]))
    return build_documents(export_context(platform))


def test_the_export_carries_the_benchmark_excess_and_why_cagr_is_omitted(backtested: dict[str, Any]) -> None:
    doc = backtested["backtest"]
    assert doc["settings"]["cagr_min_years"] == 1.0 and doc["settings"]["benchmark"] == BENCHMARK
    rows = doc["sections"]["results"]["data"]["rows"]
    assert len(rows) == 3 * 3  # 2 strategies + buy-and-hold, 3 symbols
    bench = {r["symbol"]: r for r in rows if r["benchmark"]}
    assert sorted(bench) == sorted(SYMBOLS) and all(r["strategy"] == BENCHMARK for r in bench.values())
    for r in rows:
        b = bench[r["symbol"]]
        assert r["benchmark_return"] == b["metrics"]["total_return"]
        assert r["excess_return"] == pytest.approx(
            r["metrics"]["total_return"] - b["metrics"]["total_return"], abs=2e-6
        )
        assert r["n_bars"] == b["n_bars"] and r["n_bars"] >= 195  # exactly the same bars (200 minutes, a few empty)
        assert r["trading_days"] == 1 and r["metrics"]["cagr"] is None and r["metrics"]["calmar"] is None
    years = rows[0]["years"]
    assert years == pytest.approx(1 / 252, abs=1e-6) or years == pytest.approx(1 / 365, abs=1e-6)
    equity_row = next(r for r in rows if r["symbol"] == "AAPL")
    assert equity_row["cagr_note"] == (
        "CAGR omitted: the bars cover 0.00397 years, under backtest.cagr_min_years 1; read the total return over "
        "the period"
    )


def test_one_chart_per_strategy_with_the_benchmark_and_the_rule_in_the_report(
    platform: Platform, backtested: dict[str, Any], tmp_path: Path
) -> None:
    result = write_report(platform, tmp_path, report_date=date(2026, 3, 9), documents=backtested, real_markets=False)
    names = sorted(p.name for p in result.charts if p.name.startswith("equity"))
    assert names == ["equity-macd.png", "equity-sma_cross.png"]
    text = result.markdown.read_text()
    for symbol in SYMBOLS:
        assert f"| {BENCHMARK} | {symbol} |" in text
    assert "| strategy | symbol | total return | B&H | excess | CAGR |" in text
    assert "**CAGR and Calmar are n/a**: the bars cover 1 trading day(s), under the 1.0 year(s)" in text
    assert "![equity of sma_cross](2026-03-09-decision-report-charts/equity-sma_cross.png)" in text
    assert "![equity of macd](2026-03-09-decision-report-charts/equity-macd.png)" in text


def test_the_legend_is_outside_the_plot_and_each_symbol_has_its_own_colour(backtested: dict[str, Any]) -> None:
    data = backtested["backtest"]["sections"]["results"]["data"]
    assert strategies_of(data) == ["sma_cross", "macd"]  # the benchmark is drawn inside each, not on its own
    for strategy in strategies_of(data):
        drawn = equity_figure(data, strategy)
        assert drawn is not None
        fig, ax, legend = drawn
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        plot, box = ax.get_window_extent(renderer), legend.get_window_extent(renderer)
        assert box.x0 >= plot.x1  # right of the axes: no curve can be under it
        curves = [ln for ln in ax.get_lines() if ln.get_gid() != "baseline"]
        colours = [ln.get_color() for ln in curves if ln.get_linestyle() == "-"]
        assert len(colours) == len(SYMBOLS) == len(set(colours))  # a strategy curve per symbol, each its own colour
        dashed = [ln for ln in curves if ln.get_linestyle() == "--"]
        assert len(dashed) == len(SYMBOLS)  # one buy-and-hold per symbol, in the symbol's colour
        assert {ln.get_color() for ln in dashed} == set(colours)
        labels = [t.get_text() for t in legend.get_texts()]
        assert len(labels) == len(SYMBOLS) + 1 and labels[-1] == "buy & hold"
        fig.clf()


def test_symbol_colours_are_distinct_before_they_repeat_dotted() -> None:
    symbols = [f"S{i:02d}" for i in range(13)]
    colours = symbol_colours(symbols)
    assert len({colours[s][0] for s in symbols[:12]}) == 12 == len(SYMBOL_COLOURS)
    assert colours["S12"] == (SYMBOL_COLOURS[0], ":") and colours["S00"] == (SYMBOL_COLOURS[0], "-")
