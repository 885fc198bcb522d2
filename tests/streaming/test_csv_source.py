"""A user's CSV as the replay source: trades kept as given (identical prints too), bars expanded, bad rows named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from financial_transactions.streaming.csv_source import CsvSourceError, load_csv_market, shift_regime


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "market.csv"
    path.write_text(text)
    return path


def test_trades_csv_keeps_identical_prints_and_labels(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Symbol,Timestamp,Price,Volume,anomaly_type\n"
        "AAPL,2026-03-09T13:30:00.120Z,187.1,100,\n"
        "AAPL,2026-03-09T13:30:00.120Z,187.1,100,\n"
        "BTCUSDT,1773063000,85000.5,0.01,\n"
        "AAPL,1773063000500,250.0,5,price_spike\n",
    )
    market = load_csv_market(path, crypto=["BTCUSDT"])
    assert market.symbols == ["AAPL", "BTCUSDT"] and market.asset_classes == ["equity", "crypto"]
    assert market.ts.tolist() == [1773063000000, 1773063000120, 1773063000120, 1773063000500]
    assert market.price.tolist() == [85000.5, 187.1, 187.1, 250.0]  # seconds -> ms; both prints kept
    assert [g["anomaly_type"] for g in market.ground_truth_lines()] == ["price_spike"]
    assert market.cond.tolist()[1:3] == [1, 1]  # 09:30 EDT: regular session


def test_bars_csv_becomes_five_prints_per_bar_with_an_identical_close_run(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "symbol,ts,open,high,low,close,volume\n"
        "MSFT,2026-03-09 14:00:00,10,12,9,11,800\n"
        "MSFT,2026-03-09 14:01:00,11,11.5,10,10.5,400\n",
    )
    market = load_csv_market(path)
    assert len(market) == 10
    assert market.price[:5].tolist() == [10, 9, 12, 11, 11]  # up bar: open, low, high, close x2
    assert market.price[5:].tolist() == [11, 11.5, 10, 10.5, 10.5]  # down bar: open, high, low, close x2
    assert market.volume[:5].tolist() == [200, 200, 200, 100, 100]
    assert market.ts[3] == market.ts[4] and market.ts[1] - market.ts[0] == 15_000
    assert market.minute_bars("MSFT").iloc[0].tolist() == [10, 12, 9, 11, 800]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,ts,price,volume\nAAPL,2026-03-09T13:30:00Z,-1,5\n", "row 2: price must be a number > 0"),
        ("symbol,ts,price,volume\nAAPL,2026-03-09T13:30:00Z,1,5\nAAPL,not-a-time,1,5\n", "row 3: unparseable ts"),
        ("symbol,ts,volume\nAAPL,1,5\n", "trades need a 'price' column"),
        ("symbol,price,volume\nAAPL,1,5\n", "no 'ts' column"),
        ("symbol,ts,open,high,low,close,volume\nX,1773063000,10,9,8,11,1\n", "row 2: low/high do not bound"),
        ("symbol,ts,price,volume,anomaly_type\nA,1773063000,1,1,spoof\n", "row 2: unknown anomaly_type 'spoof'"),
    ],
)
def test_bad_rows_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvSourceError, match=message):
        load_csv_market(_write(tmp_path, text))


def test_regime_shift_of_a_csv_market(tmp_path: Path) -> None:
    rows = "\n".join(f"AAPL,{1773063000000 + i * 60_000},{100 * (1.001 ** (i % 7))},100" for i in range(50))
    market = load_csv_market(_write(tmp_path, "symbol,ts,price,volume\n" + rows + "\n"))
    shifted = shift_regime(market, volatility_multiplier=3.0, annual_drift=0.0, volume_multiplier=2.0)
    assert shifted.window == "window2" and shifted.ts[0] - market.ts[0] == 7 * 86_400_000
    ret = np.diff(np.log(market.price))
    assert np.allclose(np.diff(np.log(shifted.price)), 3 * ret, atol=1e-6)
    assert (shifted.volume == 200).all()
