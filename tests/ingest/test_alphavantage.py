"""Alpha Vantage collector against the replay's REST server: rate limits, retries, per-symbol errors, redaction."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import requests

from financial_transactions.config.collectors import BackoffConfig
from financial_transactions.ingest.alphavantage import AlphaVantageCollector, RateLimiter
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.servers import ReplayHub
from tests.support.ingest import TOKEN, read_landing, read_quarantine, small_replay

RETRY = BackoffConfig(initial_seconds=0.01, max_seconds=0.05, max_attempts=6)


def _collector(hub: ReplayHub, landing: Path, symbols: list[str], **kw: object) -> AlphaVantageCollector:
    assert hub.urls is not None
    params: dict[str, object] = {
        "base_url": hub.urls.alphavantage, "api_key": TOKEN, "symbols": symbols, "landing": landing,
        "calls_per_minute": 6000, "retry": RETRY, "fsync": False, "outputsize": "full",
    }  # fmt: skip
    params.update(kw)
    return AlphaVantageCollector(**params)  # type: ignore[arg-type]


def test_rate_limit_payloads_are_retried_and_never_written_as_data(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market, small_replay(faults={"av_note_every_n": 2, "av_information_every_n": 3}))
    collector = _collector(hub, tmp_path, ["AAPL", "MSFT"])
    results = collector.run()
    assert all(r.ok for r in results.values())
    stats = hub.alphavantage.stats.as_dict()
    assert stats["note"] + stats["information"] == collector.counters.rate_limited > 0
    assert stats["data"] == 4 and collector.counters.calls == stats["calls"]
    bars = read_landing(tmp_path, "alphavantage")
    assert len(bars) == collector.counters.bars_landed == sum(sum(r.bars.values()) for r in results.values())
    assert {b["record_type"] for b in bars} == {"bar"} and all("Note" not in orjson.dumps(b).decode() for b in bars)
    aapl_1min = [b for b in bars if b["symbol"] == "AAPL" and b["interval"] == "1min"]
    assert len(aapl_1min) == len(small_market.minute_bars("AAPL"))  # outputsize=full: every bar of the window
    daily = sorted((b for b in bars if b["symbol"] == "AAPL" and b["interval"] == "daily"), key=lambda b: b["ts"])
    expected = small_market.daily_bars("AAPL")
    assert len(daily) == len(expected) and daily[-1]["close"] == round(float(expected.close.iloc[-1]), 4)
    assert len({b["trade_id"] for b in bars}) == len(bars)


def test_error_message_for_one_symbol_does_not_stop_the_others(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    hub = hub_factory(small_market)
    collector = _collector(hub, tmp_path, ["AAPL", "NOPE", "MSFT"], outputsize="compact")
    results = collector.run()
    assert results["AAPL"].ok and results["MSFT"].ok and not results["NOPE"].ok
    assert set(results["NOPE"].errors) == {"TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"}
    assert all(e.startswith("Error Message: Invalid API call") for e in results["NOPE"].errors.values())
    assert collector.counters.symbols_ok == 2 and collector.counters.symbols_failed == 1
    landed = {b["symbol"] for b in read_landing(tmp_path, "alphavantage")}
    assert landed == {"AAPL", "MSFT"}
    assert results["AAPL"].bars == {"TIME_SERIES_DAILY": 11, "TIME_SERIES_INTRADAY": 100}  # compact = latest 100


def test_5xx_and_slow_responses_are_retried_up_to_a_bound(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    faults = {"av_server_error_every_n": 2, "av_slow_every_n": 3, "av_slow_seconds": 1.0}
    hub = hub_factory(small_market, small_replay(faults=faults))
    collector = _collector(hub, tmp_path, ["AAPL"], timeout_seconds=0.3)
    results = collector.run()
    assert results["AAPL"].ok
    assert collector.counters.server_errors >= 1 and collector.counters.timeouts >= 1
    assert collector.counters.retries == collector.counters.server_errors + collector.counters.timeouts
    # every call failing: the symbol gives up after max_attempts and says why
    hub2 = hub_factory(small_market, small_replay(faults={"av_server_error_every_n": 1}))
    failing = _collector(hub2, tmp_path / "b", ["AAPL"], functions=["TIME_SERIES_DAILY"])
    (result,) = failing.run().values()
    assert result.errors == {"TIME_SERIES_DAILY": "gave up after 6 attempts: HTTP 503"}
    assert hub2.alphavantage.stats.as_dict()["calls"] == 6


def test_client_limiter_measured_by_the_server(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub]
) -> None:
    """Server limit == client limit: a single call too many in any server window would come back as a Note."""
    limit, window = 4, 1.0  # 4 calls per 1 s window: the vendor's minute, shortened so the test takes ~3 s
    hub = hub_factory(
        small_market, small_replay(alphavantage_calls_per_minute=limit, alphavantage_window_seconds=window)
    )
    collector = _collector(
        hub, tmp_path, ["AAPL", "MSFT", "NVDA"] * 2, calls_per_minute=limit, rate_window_seconds=window,
        outputsize="compact",
    )  # fmt: skip
    results = collector.run()
    stats = hub.alphavantage.stats
    counts = stats.as_dict()
    assert counts["calls"] == counts["data"] == 12 and counts["note"] == counts["information"] == 0
    assert collector.counters.rate_limited == collector.counters.retries == 0 and all(r.ok for r in results.values())
    # the server's own count over its sliding window never exceeded the configured limit ...
    assert stats.max_calls_in_window(window) <= limit
    # ... while the client ran at that limit (so the check above is not vacuous): 1.5 windows hold one call more
    assert stats.max_calls_in_window(1.5 * window) >= limit + 1
    # without the limiter the same client exceeds the server's limit: the server sends Notes
    hub2 = hub_factory(small_market, small_replay(alphavantage_calls_per_minute=limit, alphavantage_window_seconds=60))
    eager = _collector(hub2, tmp_path / "b", ["AAPL", "MSFT", "NVDA"], calls_per_minute=100_000,
                       retry=RETRY.model_copy(update={"max_attempts": 2}))  # fmt: skip
    eager.run()
    assert hub2.alphavantage.stats.max_calls_in_window(60, outcomes=("data",)) == limit
    assert hub2.alphavantage.stats.as_dict()["note"] >= 1 and eager.counters.rate_limited >= 1


def test_rate_limiter_counts_the_window_from_each_response() -> None:
    """A slow response moves the window: the server may see a call as late as its completion."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(3, window_seconds=10.0, clock=lambda: now[0], sleep=sleep)
    starts, ends = [], []
    for latency in (4.0, 0.1, 0.1, 0.1, 0.1, 5.0, 0.1, 0.1, 0.1):
        with limiter.call():
            starts.append(now[0])
            now[0] += latency
            ends.append(now[0])
    # call k+3 starts a full window after call k *ended*: at most 3 per 10 s wherever the server saw each call
    assert all(starts[k + 3] >= ends[k] + 10.0 - 1e-9 for k in range(len(starts) - 3))
    assert starts[3] == pytest.approx(14.0)  # not 10.0: the first call ended at 4.0
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 10.0 / 3 - 1e-9  # still evenly paced
    with pytest.raises(ValueError):
        RateLimiter(3, window_seconds=0)


def test_rate_limiter_never_exceeds_calls_per_minute_in_any_window() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    times = []
    for i in range(40):
        if i % 7 == 0:
            now[0] += 3.3  # idle gaps must not let a burst through afterwards
        limiter.acquire()
        times.append(now[0])
    assert all(sum(1 for t in times if start <= t < start + 60) <= 5 for start in times)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 12.0 - 1e-9
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_apikey_never_reaches_logs_exceptions_or_files(
    tmp_path: Path, small_market: MarketData, hub_factory: Callable[..., ReplayHub], caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"AVKEY-{uuid.uuid4().hex[:12]}"  # generated: no credential-like literal in git
    hub = hub_factory(small_market, small_replay(faults={"av_note_every_n": 2}), token=secret)
    caplog.set_level("DEBUG")
    collector = _collector(hub, tmp_path, ["AAPL", "BAD"], api_key=secret)
    collector.run()
    down = _collector(hub, tmp_path / "down", ["AAPL"], api_key=secret, base_url="http://127.0.0.1:9",
                      retry=RETRY.model_copy(update={"max_attempts": 2}), timeout_seconds=1)  # fmt: skip
    (result,) = down.run().values()
    assert "ConnectionError" in result.errors["TIME_SERIES_DAILY"]
    text = caplog.text + orjson.dumps({s: r.errors for s, r in down.results.items()}).decode()
    assert "apikey=***" in caplog.text and secret not in text
    assert all(secret.encode() not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert read_quarantine(tmp_path, "alphavantage") == []


def test_server_answers_the_vendor_shape(small_market: MarketData, hub_factory: Callable[..., ReplayHub]) -> None:
    hub = hub_factory(small_market)
    assert hub.urls is not None
    url = hub.urls.alphavantage + "/query"
    body = requests.get(
        url, params={"function": "TIME_SERIES_INTRADAY", "symbol": "AAPL", "interval": "5min", "apikey": TOKEN},
        timeout=5,
    ).json()  # fmt: skip
    meta = body["Meta Data"]
    assert meta["2. Symbol"] == "AAPL" and meta["4. Interval"] == "5min" and meta["6. Time Zone"] == "US/Eastern"
    series = body["Time Series (5min)"]
    labels = list(series)
    assert len(labels) == 100 and labels == sorted(labels, reverse=True)  # compact, newest first
    assert set(series[labels[0]]) == {"1. open", "2. high", "3. low", "4. close", "5. volume"}
    assert all(
        label[-5:-3] in {"00", "05", "10", "15", "20", "25", "30", "35", "40", "45", "50", "55"} for label in labels
    )
    missing_key = requests.get(url, params={"function": "TIME_SERIES_DAILY", "symbol": "AAPL"}, timeout=5).json()
    assert "apikey" in missing_key["Error Message"]
    bad_fn = requests.get(url, params={"function": "NOPE", "symbol": "AAPL", "apikey": TOKEN}, timeout=5).json()
    assert bad_fn == {"Error Message": "This API function (NOPE) does not exist."}
