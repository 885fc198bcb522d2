"""Buy-and-hold over the same bars and costs, and CAGR only when the period supports it (issue 20)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.decision import BacktestConfig
from financial_transactions.decision.backtester import (
    BENCHMARK,
    Backtester,
    backtest_bars,
    cagr_note,
    period_years,
)
from financial_transactions.runtime import Platform
from tests.support.gold import gold_frame, synthetic_trades, write_gold

CLOSE = [100.0, 101.0, 102.0, 101.0, 103.0, 104.0, 102.0, 101.0, 103.0, 105.0]
COST = 0.0003  # the shipped 1 bps commission + 2 bps slippage per unit of turnover


def bars(close: list[float], freq: str, start: str = "2026-03-09 14:30") -> pd.DataFrame:
    return pd.DataFrame({"bar_start": pd.date_range(start, periods=len(close), freq=freq, tz="UTC"), "close": close})


def test_buy_and_hold_by_hand(config: ProjectConfig) -> None:
    """Flat on the first bar, long from the second, one unit of entry turnover, no exit cost (as every strategy)."""
    res = backtest_bars(
        bars(CLOSE, "1min"), BENCHMARK, config.backtest, config.features, symbol="X", asset_class="equity"
    )
    assert res.positions.tolist() == [0.0] + [1.0] * 9
    expected = (1 + 0.01 - COST) * (105.0 / 101.0) - 1  # enter at 100 paying the cost, ride to 105
    assert res.metrics["total_return"] == pytest.approx(expected, abs=1e-15)
    assert res.benchmark_return == res.metrics["total_return"]
    assert res.metrics["n_trades"] == 1 and res.metrics["exposure"] == 1.0
    assert res.equity[-1] == pytest.approx(1 + expected, abs=1e-15)


def test_cagr_is_omitted_on_days_of_minute_bars_and_kept_on_years_of_daily_bars(config: ProjectConfig) -> None:
    bt = config.backtest
    assert bt.cagr_min_years == 1.0
    # ten minute bars: 1 trading date of 252 a year; a +4.7% morning would compound to an absurd CAGR
    minute = backtest_bars(bars(CLOSE, "1min"), BENCHMARK, bt, config.features, symbol="X", asset_class="equity")
    assert (minute.trading_days, minute.years) == (1, 1 / 252)
    assert math.isnan(minute.metrics["cagr"]) and math.isnan(minute.metrics["calmar"])
    assert minute.metrics["total_return"] == pytest.approx(0.0496881188, abs=1e-9)  # the figure to read
    assert cagr_note(minute.years, bt.cagr_min_years) == (
        "CAGR omitted: the bars cover 0.00397 years, under backtest.cagr_min_years 1; read the total return "
        "over the period"
    )
    # 400 business days of daily bars: 400 trading dates, 1.587 years of equity -> CAGR and Calmar are shown
    rng = np.random.default_rng(7)
    close = list(100 * np.exp(np.cumsum(rng.normal(0.0004, 0.01, 400))))
    daily = bars(close, "B", "2024-01-02 00:00")
    res = backtest_bars(daily, "sma_cross", bt, config.features, symbol="Y", asset_class="equity")
    assert res.trading_days == 400 and res.years == pytest.approx(400 / 252)
    growth = 1 + res.metrics["total_return"]
    assert res.metrics["cagr"] == pytest.approx(growth ** (res.periods_per_year / 399) - 1, rel=1e-12)
    assert math.isfinite(res.metrics["calmar"])
    assert cagr_note(res.years, bt.cagr_min_years) is None
    # crypto counts 365 trading days a year; a lower threshold admits a shorter period
    assert period_years(365, "crypto", bt) == 1.0 and period_years(252, "equity", bt) == 1.0
    lenient = bt.model_copy(update={"cagr_min_years": 0.0})
    kept = backtest_bars(bars(CLOSE, "1min"), BENCHMARK, lenient, config.features, symbol="X", asset_class="equity")
    assert math.isfinite(kept.metrics["cagr"])
    with pytest.raises(ValueError, match="cagr_min_years"):
        BacktestConfig(cagr_min_years=-1)


def test_the_run_writes_a_benchmark_row_per_symbol_and_every_row_carries_it(
    tmp_path: Path, config: ProjectConfig
) -> None:
    platform = Platform.create(config, lakehouse_root=tmp_path / "lake")
    gold = gold_frame(platform, synthetic_trades({"AAPL": 190.0, "BTCUSDT": 60000.0}, 200, seed=5))
    write_gold(platform, gold)
    backtester = Backtester(platform)
    report = backtester.run(strategies=["sma_cross", "macd"])
    assert [(b.symbol, b.strategy) for b in report.benchmarks] == [("AAPL", BENCHMARK), ("BTCUSDT", BENCHMARK)]
    assert len(report.results) == 4 and all(r.metrics["n_trials"] == 4 for r in report.results)  # not a trial
    assert all(b.metrics["n_trials"] == 1 for b in report.benchmarks)
    version = backtester.write(report)
    stored = platform.store.read(config.table("backtest_results"), version=version)
    assert len(stored) == 6
    for symbol in ("AAPL", "BTCUSDT"):
        rows = stored[stored["symbol"] == symbol].set_index("strategy")
        assert sorted(rows.index) == [BENCHMARK, "macd", "sma_cross"]
        sym_bars = gold[gold["symbol"] == symbol].sort_values("bar_start")
        close = sym_bars["close"].to_numpy()
        by_hand = (close[1] / close[0] - COST) * (close[-1] / close[1])  # 1 + r1 - cost, then hold
        assert rows.loc[BENCHMARK, "total_return"] == pytest.approx(by_hand - 1, rel=1e-9)
        # the same bars for every row, and each strategy row carries its symbol's benchmark
        assert (rows["n_bars"] == len(sym_bars)).all()
        assert (rows["benchmark_return"] == rows.loc[BENCHMARK, "total_return"]).all()
        assert (rows["trading_days"] == 1).all() and rows["cagr"].isna().all() and rows["calmar"].isna().all()


def test_the_backtest_table_shows_each_symbols_benchmark_beside_its_strategies(config: ProjectConfig) -> None:
    from datetime import UTC, datetime

    from rich.console import Console

    from financial_transactions.decision.backtester import BacktestReport, Inputs, deflate
    from financial_transactions.decision.render import backtest_table

    bt, features = config.backtest, config.features
    falling = [105.0, 104.0, 103.0, 104.0, 102.0, 101.0, 102.0, 100.0, 99.0, 98.0]
    report = BacktestReport(
        run_id="r1",
        created_at=datetime(2026, 3, 9, tzinfo=UTC),
        results=[],
        inputs=Inputs(gold=pd.DataFrame(), predictions=None, predictions_version=None, gold_version=3,
                      as_of_timestamp=None),
    )  # fmt: skip
    for symbol, close in (("MSFT", CLOSE), ("AAPL", falling)):
        bench = backtest_bars(bars(close, "1min"), BENCHMARK, bt, features, symbol=symbol, asset_class="equity")
        report.benchmarks.append(bench)
        for strategy in ("sma_cross", "macd"):
            res = backtest_bars(bars(close, "1min"), strategy, bt, features, symbol=symbol, asset_class="equity")
            report.results.append(res)
    deflate(report.results)
    table = backtest_table(report, cagr_min_years=bt.cagr_min_years)
    records = table.records()
    got = [(r["symbol"], r["strategy"], r["benchmark"], r["cagr"]) for r in records]
    assert got == [
        ("AAPL", BENCHMARK, True, None), ("AAPL", "macd", False, None), ("AAPL", "sma_cross", False, None),
        ("MSFT", BENCHMARK, True, None), ("MSFT", "macd", False, None), ("MSFT", "sma_cross", False, None),
    ]  # fmt: skip
    held = {"MSFT": 0.0496881188, "AAPL": (1 - 1 / 105 - COST) * (98.0 / 104.0) - 1}
    for row in records:
        mine = next(
            r.metrics["total_return"]
            for r in [*report.results, *report.benchmarks]
            if (r.symbol, r.strategy) == (row["symbol"], row["strategy"])
        )
        assert row["total_return"] == pytest.approx(mine, abs=1e-15)
        if row["benchmark"]:
            assert row["total_return"] == pytest.approx(held[row["symbol"]], abs=1e-9)
            assert row["excess_return"] is None
        else:
            assert row["excess_return"] == pytest.approx(mine - held[row["symbol"]], abs=1e-9)
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80 and "…" not in text
    headings = [line.strip() for line in lines if line and not line.startswith(" ")]
    assert headings[1:7] == [
        f"AAPL · {BENCHMARK}", "AAPL · macd", "AAPL · sma_cross",
        f"MSFT · {BENCHMARK}", "MSFT · macd", "MSFT · sma_cross",
    ]  # fmt: skip
    assert "CAGR –" in text  # the period (10 minute bars) does not support a CAGR
    assert " ".join(text.split()).endswith(
        "CAGR omitted: the bars cover 0.00397 years, under backtest.cagr_min_years 1; read the total return over "
        "the period"
    )
