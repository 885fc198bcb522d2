"""Bring your own data: a single-instrument file, Parquet, daily bars on trading days, a split in time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.ingest.landing import LandingWriter
from financial_transactions.market.calendar import REGULAR, classify_sessions
from financial_transactions.replay.csv_source import CsvSourceError, load_csv_market, split_in_time


def test_a_single_instrument_file_in_ms_takes_its_symbol_from_the_argument(tmp_path: Path) -> None:
    path = tmp_path / "es.csv"
    path.write_text("DateTime,Price,Volume\n1741612200000,5700.25,3\n1741612200000,5700.25,3\n1741612201500,5700.5,1\n")
    market = load_csv_market(path, instrument="ES", asset_class="future")
    assert market.symbols == ["ES"] and market.asset_classes == ["future"]
    assert market.ts.tolist() == [1741612200000, 1741612200000, 1741612201500]  # identical prints kept
    with pytest.raises(CsvSourceError, match="no 'symbol' column"):
        load_csv_market(path)


def test_parquet_and_a_symbol_column_conflict(tmp_path: Path) -> None:
    frame = pd.DataFrame({"symbol": ["AAPL"] * 2, "ts": [1741612200000, 1741612260000], "p": [1.0, 2.0], "v": [1, 2]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert len(load_csv_market(tmp_path / "t.parquet")) == 2
    with pytest.raises(CsvSourceError, match="has a symbol column"):
        load_csv_market(tmp_path / "t.parquet", instrument="X")


def test_daily_bars_of_1999_play_over_the_regular_session_of_their_trading_day(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(
        "symbol,Date,Open,High,Low,Close,Volume\n"
        "SPX,1999-01-04,1229.2,1248.8,1219.1,1228.1,877000000\n"
        "SPX,1999-01-05,1228.1,1246.1,1225.1,1244.8,775000000\n"
        "SPX,1999-07-06,1391.2,1405.0,1387.8,1388.1,700000000\n"  # summer time: 13:30 UTC open
    )
    market = load_csv_market(path, kind="bars")
    ts = pd.Series(pd.to_datetime(market.ts, unit="ms", utc=True))
    assert (classify_sessions(ts, "equity") == REGULAR).all()
    opens = ts.iloc[::5].dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert opens == ["1999-01-04 14:30", "1999-01-05 14:30", "1999-07-06 13:30"]
    assert market.price[:5].tolist() == [1229.2, 1248.8, 1219.1, 1228.1, 1228.1]  # a down day: high first


def test_a_split_in_time_gives_two_real_windows_that_partition_the_file(tmp_path: Path) -> None:
    days = pd.bdate_range("2017-01-02", periods=100)
    frame = pd.DataFrame(
        {"symbol": "SPX", "ts": days.strftime("%Y-%m-%d"), "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
         "volume": 1000}
    )  # fmt: skip
    frame.to_csv(tmp_path / "d.csv", index=False)
    market = load_csv_market(tmp_path / "d.csv")
    one, two = split_in_time(market, 0.7, 1), split_in_time(market, 0.7, 2)
    assert (one.window, two.window) == ("window1", "window2")
    assert len(one) + len(two) == len(market) and one.ts.max() < two.ts.min()
    assert np.array_equal(np.concatenate([one.price, two.price]), market.price)


def test_a_month_partition_lands_a_long_history_in_few_files(tmp_path: Path) -> None:
    writer = LandingWriter(tmp_path, "finnhub", "run", fsync=False)
    writer.partition = "month"
    day = 86_400_000
    start = 915_408_000_000  # 1999-01-04
    writer.add_many([("SPX", start + i * day, b'{"x":1}\n') for i in range(90)])
    writer.close()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ndjson"))
    assert [f.split("/")[1] for f in files] == ["date=1999-01", "date=1999-02", "date=1999-03", "date=1999-04"]
    assert writer.stats.records == 90
