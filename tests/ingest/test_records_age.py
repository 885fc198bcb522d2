"""Live-feed event times are checked against the feed's receive clock: more than a day ahead, or more than the
feed's configured age behind, is quarantined with a reason; a replayed history of any age is accepted."""

from __future__ import annotations

from pathlib import Path

import orjson

from financial_transactions.config import ProjectConfig
from financial_transactions.ingest.jobs import build_crypto, build_finnhub
from financial_transactions.ingest.records import FrameContext, parse_binance, parse_finnhub

RECEIVED = 1_772_807_400_456  # 2026-03-06T14:30:00.456Z
DAY = 86_400_000
LIVE = FrameContext("finnhub", "finnhub", "run-a", 1, 1, RECEIVED, max_age_ms=DAY)
REPLAY = FrameContext("finnhub", "finnhub", "run-a", 1, 1, RECEIVED)
Y1999 = 946_598_400_000  # 1999-12-31T00:00:00Z


def _finnhub(*times: int, ctx: FrameContext) -> tuple[list[int], list[str]]:
    data = [{"s": "AAPL", "p": 187.25, "v": 100, "t": t} for t in times]
    parsed = parse_finnhub(orjson.dumps({"type": "trade", "data": data}), ctx)
    landed = [orjson.loads(line)["ts"] for _, line in parsed.landing_lines()]
    return landed, [r.reason for r in parsed.rejects]


def test_a_live_feed_quarantines_trades_older_than_its_age_bound_with_a_reason() -> None:
    landed, reasons = _finnhub(RECEIVED - DAY + 1, RECEIVED - DAY, RECEIVED - DAY - 1, Y1999, ctx=LIVE)
    assert landed == [RECEIVED - DAY + 1, RECEIVED - DAY]  # the bound is inclusive
    age = "timestamp 't' is more than 86,400 s before the receive time (the live feed's age bound)"
    assert reasons == [age, age]
    ahead, why = _finnhub(RECEIVED + DAY, RECEIVED + DAY + 1, ctx=LIVE)
    assert ahead == [RECEIVED + DAY] and why == [
        "missing or out-of-range timestamp 't' (more than a day after the receive time, or before 1970)"
    ]


def test_a_replayed_history_of_any_age_is_accepted() -> None:
    landed, reasons = _finnhub(Y1999, 0, RECEIVED - 30 * 365 * DAY, ctx=REPLAY)
    assert landed == [Y1999, 0, RECEIVED - 30 * 365 * DAY] and reasons == []
    _, future = _finnhub(RECEIVED + DAY + 1, ctx=REPLAY)  # the clock-error bound ahead still holds
    assert len(future) == 1


def test_binance_trade_time_has_the_same_bounds() -> None:
    event = {"e": "trade", "E": RECEIVED, "s": "BTCUSDT", "t": 7, "p": "85000.10", "q": "0.5", "T": RECEIVED - 2 * DAY}
    live = FrameContext("binance", "binance", "run-b", 1, 1, RECEIVED, max_age_ms=DAY)
    parsed = parse_binance(orjson.dumps(event), live)
    assert parsed.kind == "rejected" and parsed.rejects[0].reason == (
        "trade time 'T' is more than 86,400 s before the receive time (the live feed's age bound)"
    )
    replayed = parse_binance(orjson.dumps(event), FrameContext("binance", "binance", "run-b", 1, 1, RECEIVED))
    assert replayed.kind == "trade" and replayed.count == 1


def test_the_bound_is_configured_per_feed_and_never_applied_to_a_replay(project_root: Path, tmp_path: Path) -> None:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    assert cfg.collectors.finnhub.max_age_seconds == 86_400 and cfg.collectors.crypto.max_age_seconds == 86_400
    shorter = cfg.model_copy(
        update={
            "collectors": cfg.collectors.model_copy(
                update={"crypto": cfg.collectors.crypto.model_copy(update={"max_age_seconds": 600.0})}
            )
        }
    )
    live = build_finnhub(shorter, token="t", landing=tmp_path, url="ws://127.0.0.1:1", symbols=["AAPL"], live=True)
    crypto = build_crypto(shorter, landing=tmp_path, url="ws://127.0.0.1:1", symbols=["BTCUSDT"], live=True)
    assert (live.max_age_ms, crypto.max_age_ms) == (86_400_000, 600_000)
    replay = build_finnhub(shorter, token="t", landing=tmp_path, url="ws://127.0.0.1:1", symbols=["AAPL"])
    assert replay.max_age_ms is None  # what replay.window builds: a user's history of any age


def test_a_feed_on_this_machine_plays_history_and_is_never_age_bounded() -> None:
    from financial_transactions.ingest.jobs import is_remote_feed

    assert is_remote_feed("wss://ws.finnhub.io") and is_remote_feed("wss://stream.binance.com:9443/ws")
    assert not is_remote_feed("ws://127.0.0.1:8765") and not is_remote_feed("ws://localhost:9000/ws")
    assert not is_remote_feed("ws://[::1]:8765") and is_remote_feed("ws://10.1.2.3:8765")
