"""A user's CSV as the replay source: trades kept as given (identical prints too), bars expanded, bad rows named,
replayed through the real servers at the chosen speed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from financial_transactions.replay.csv_source import CsvSourceError, load_csv_market, shift_regime
from financial_transactions.replay.servers import ReplayHub
from tests.support.ingest import TOKEN, small_replay


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


def _arrivals(url: str, subscribe: bytes | None, expected: int, timeout: float = 20.0) -> list[tuple[float, int]]:
    """(monotonic arrival time, trade ts) for each trade a raw WebSocket client receives."""
    import time

    import orjson
    import websocket

    ws = websocket.create_connection(url, timeout=timeout)
    try:
        if subscribe is not None:
            ws.send(subscribe)
        out: list[tuple[float, int]] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            msg = orjson.loads(ws.recv())
            now = time.monotonic()
            if msg.get("type") == "trade":  # Finnhub: a batch of trades per frame
                out.extend((now, int(t["t"])) for t in msg["data"])
            elif msg.get("e") == "trade":  # Binance: one trade per frame
                out.append((now, int(msg["T"])))
        return out
    finally:
        ws.close()


def _check_pacing(got: list[tuple[float, int]], speed: float) -> None:
    """Each trade arrives (market offset / speed) after the first: never early, not much late."""
    wall0, ts0 = got[0]
    for wall, ts in got:
        due = (ts - ts0) / 1000.0 / speed
        assert wall - wall0 >= due - 0.03, (ts - ts0, wall - wall0)
        assert wall - wall0 <= due + 0.6, (ts - ts0, wall - wall0)


def test_csv_market_replays_through_the_servers_at_the_chosen_speed(
    tmp_path: Path, hub_factory: Callable[..., ReplayHub]
) -> None:
    """replay.speed = 2: 1.6 s of CSV market time plays in 0.8 s on both WebSocket feeds, identical prints kept."""
    import threading

    rows = [f"AAPL,2026-03-09T14:00:0{i // 10}.{i % 10}00Z,187.{i},100" for i in (0, 4, 8, 12)]
    rows += ["AAPL,2026-03-09T14:00:01.600Z,187.9,100"] * 2  # a run of two identical prints
    rows += [f"BTCUSDT,{1773064800000 + k * 500},85000.{k},0.01" for k in range(4)]  # 14:00:00.000Z + 0.5 s steps
    market = load_csv_market(_write(tmp_path, "symbol,ts,price,volume\n" + "\n".join(rows) + "\n"), crypto=["BTCUSDT"])
    hub = hub_factory(market, small_replay(speed=2.0, start_grace_seconds=0.0))
    urls = hub.urls
    assert urls is not None and hub.finnhub.speed == 2.0 and hub.binance.speed == 2.0
    results: dict[str, list[tuple[float, int]]] = {}
    clients = [
        threading.Thread(
            target=lambda: results.__setitem__(
                "finnhub", _arrivals(f"{urls.finnhub}/?token={TOKEN}", b'{"type":"subscribe","symbol":"AAPL"}', 6)
            )
        ),
        threading.Thread(
            target=lambda: results.__setitem__("binance", _arrivals(f"{urls.binance}/ws/btcusdt@trade", None, 4))
        ),
    ]
    for t in clients:
        t.start()
    for t in clients:
        t.join(30)
    finnhub, binance = results["finnhub"], results["binance"]
    assert [ts for _, ts in finnhub] == market.ts[market.sym == 0].tolist()  # all six, in order
    assert [ts for _, ts in binance] == market.ts[market.sym == 1].tolist()
    _check_pacing(finnhub, 2.0)
    _check_pacing(binance, 2.0)
    assert finnhub[-1][0] - finnhub[0][0] >= 0.77  # 1.6 s of market at 2x
    assert binance[-1][0] - binance[0][0] >= 0.72  # 1.5 s at 2x
    assert hub.finnhub.exhausted.wait(5) and hub.finnhub.stats.trades_sent == 6


def test_csv_market_at_speed_zero_plays_as_fast_as_the_client_reads(
    tmp_path: Path, hub_factory: Callable[..., ReplayHub]
) -> None:
    """Ten hours of CSV market time: paced at even 1000x it would take 36 s; at speed 0 it is immediate."""
    rows = [f"AAPL,{1773064800000 + k * 3_600_000},{187 + k},100" for k in range(11)]
    market = load_csv_market(_write(tmp_path, "symbol,ts,price,volume\n" + "\n".join(rows) + "\n"))
    hub = hub_factory(market, small_replay(speed=0.0, start_grace_seconds=0.0))
    assert hub.urls is not None
    got = _arrivals(f"{hub.urls.finnhub}/?token={TOKEN}", b'{"type":"subscribe","symbol":"AAPL"}', 11)
    assert [ts for _, ts in got] == market.ts.tolist()
    assert got[-1][0] - got[0][0] < 10.0


# 2026-03-09 13:30:00.120 UTC in each unit a vendor uses
MS = 1773063000120


@pytest.mark.parametrize(
    ("name", "text", "instrument"),
    [
        (  # Binance spot trades dump (time in microseconds since 2025)
            "binance-trades",
            "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n"
            f"5001,85000.5,0.01,850.005,{MS * 1000},True,True\n"
            f"5002,85001.0,0.02,1700.02,{MS * 1000 + 400_000},False,True\n",
            "BTCUSDT",
        ),
        (  # Binance aggTrades (milliseconds)
            "binance-aggtrades",
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
            f"9,85000.5,0.01,5001,5001,{MS},True\n9,85001.0,0.02,5002,5003,{MS + 400},False\n",
            "BTCUSDT",
        ),
        (  # Polygon flat file (nanoseconds; sip_timestamp is the consolidated tape's time)
            "polygon",
            "ticker,conditions,correction,exchange,id,participant_timestamp,price,sequence_number,sip_timestamp,"
            "size,tape,trf_id,trf_timestamp\n"
            f"BTCUSDT,12,0,4,1,{MS * 10**6 - 5_000},85000.5,100,{MS * 10**6},0.01,3,,\n"
            f"BTCUSDT,12,0,4,2,{MS * 10**6 + 399_000_000},85001.0,101,{MS * 10**6 + 400_000_000},0.02,3,,\n",
            None,
        ),
        (  # Tardis trades (microseconds; amount is the size)
            "tardis",
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
            f"binance,BTCUSDT,{MS * 1000},{MS * 1000 + 2100},5001,buy,85000.5,0.01\n"
            f"binance,BTCUSDT,{MS * 1000 + 400_000},{MS * 1000 + 402_000},5002,sell,85001.0,0.02\n",
            None,
        ),
    ],
)
def test_vendor_trade_exports_read_as_they_come(tmp_path: Path, name: str, text: str, instrument: str | None) -> None:
    market = load_csv_market(_write(tmp_path, text), crypto=["BTCUSDT"], instrument=instrument)
    assert market.symbols == ["BTCUSDT"] and market.asset_classes == ["crypto"], name
    assert market.ts.tolist() == [MS, MS + 400], name
    assert market.price.tolist() == [85000.5, 85001.0] and market.volume.tolist() == [0.01, 0.02], name


def test_a_file_without_a_header_line_is_refused_with_the_header_it_needs(tmp_path: Path) -> None:
    text = f"5001,85000.5,0.01,850.005,{MS},True,True\n5002,85001.0,0.02,1700.02,{MS + 400},False,True\n"
    with pytest.raises(CsvSourceError, match=r"the first line is data, not a header .*id,price,qty,quote_qty,time"):
        load_csv_market(_write(tmp_path, text), instrument="BTCUSDT")
