"""Injected trades carry no artefact: on every raw trade attribute (price decimals and last digit, size
decimals and last digit, timestamp sub-second digits and precision, id length and digits) the best single
threshold tells injected from real rows no better than flagging every row (the check the models benchmark
uses, :func:`financial_transactions.features.labels.best_single_feature_f1`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from financial_transactions.config.ml import InjectionConfig
from financial_transactions.features.injection import ARTEFACT_ATTRIBUTES, Injection, inject, trade_attributes
from financial_transactions.features.labels import best_single_feature_f1
from tests.features.trades import synthetic_trades

#: Best single-attribute F1 may exceed the flag-everything F1 by this much: bursts draw sizes from the upper
#: part of the symbol's sizes (that is the anomaly), which moves the last digit of a size a little.
MARGIN = 0.03


def _separability(injection: Injection) -> tuple[float, dict[str, float]]:
    """(F1 of flagging every row, best single-attribute F1 per attribute) for injected vs real rows."""
    attrs = trade_attributes(injection.trades)
    attrs["label"] = injection.trades["trade_id"].isin(set(injection.events["trade_id"])).astype(int).to_numpy()
    share = float(attrs["label"].mean())
    return 2 * share / (1 + share), best_single_feature_f1(attrs, list(ARTEFACT_ATTRIBUTES))


def _assert_inseparable(injection: Injection) -> None:
    """Per symbol: an artefact is an injected trade unlike its *own symbol's* real trades. Pooled, an
    attribute that differs between symbols (an id's length is its symbol's) would only measure which
    symbol happened to get more injected rows (bursts scale with a bar's trades), not an artefact."""
    assert len(injection.events) > 200
    for symbol in sorted(set(injection.events["symbol"].astype(str))):
        rows = (injection.trades["symbol"].astype(str) == symbol).to_numpy()
        events = injection.events[injection.events["symbol"].astype(str) == symbol]
        flag_all, scores = _separability(Injection(injection.trades[rows], events, injection.coverage))
        over = {k: round(v, 4) for k, v in scores.items() if v > flag_all + MARGIN}
        assert not over, f"{symbol}: attributes that give injected trades away (flag-all F1 {flag_all:.4f}): {over}"


def test_no_attribute_separates_injected_from_real_trades_on_a_tick_grid_tape() -> None:
    trades = pd.concat(
        [synthetic_trades("AAPL", 20_000, seed=1), synthetic_trades("BTCUSDT", 20_000, seed=2, asset_class="crypto")],
        ignore_index=True,
    )
    trades["trade_id"] = trades["symbol"] + "-" + trades["trade_id"]
    _assert_inseparable(inject(trades, InjectionConfig(enabled=True, rate=0.05), "1min"))


def test_no_attribute_separates_injected_from_real_trades_on_real_daily_bars(tmp_path: Path) -> None:
    pytest.importorskip("arch.data", reason="the real S&P 500 / NASDAQ daily bars ship with arch (the test extra)")
    from arch.data import nasdaq, sp500

    from financial_transactions.replay.csv_source import load_csv_market

    frames = []
    for symbol, module in (("SPX", sp500), ("NDX", nasdaq)):
        bars = module.load().tail(1260).reset_index()[["Date", "Open", "High", "Low", "Close", "Volume"]]
        bars.columns = ["date", "open", "high", "low", "close", "volume"]
        bars.insert(0, "symbol", symbol)
        frames.append(bars)
    path = tmp_path / "daily.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    silver = load_csv_market(path).silver_frame()  # the prints the replay plays for these real bars
    _assert_inseparable(inject(silver, InjectionConfig(enabled=True), "1min"))


def test_the_check_catches_an_injector_with_artefacts() -> None:
    """The check can fail: an injector that rounds prices and names its ids differently is found at once."""
    trades = synthetic_trades("AAPL", 20_000, seed=1)
    injection = inject(trades, InjectionConfig(enabled=True, rate=0.05), "1min")
    marked = injection.trades["trade_id"].isin(set(injection.events["trade_id"])).to_numpy()
    new = ~injection.trades["trade_id"].isin(trades["trade_id"]).to_numpy()
    tampered = injection.trades.copy()
    tampered.loc[new, "trade_id"] = [f"inj-{i}" for i in range(int(new.sum()))]
    flag_all, scores = _separability(
        Injection(
            tampered, injection.events.assign(trade_id=tampered.loc[marked, "trade_id"].to_numpy()), injection.coverage
        )
    )
    assert scores["id_length"] > flag_all + 0.2 and scores["id_digits"] > flag_all + 0.2
