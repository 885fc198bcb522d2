"""Streaming scoring: an injected price spike reaches anomaly_alerts and a real webhook receiver exactly once.

The champion is a real LightGBM pyfunc (``tests.support.gold.train_champion``) registered in the test's
SQLite registry. The trades land as NDJSON files, the stream refines them through gold, and
:class:`LiveScorer` scores the bars each micro-batch touched. The receiver is an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from financial_transactions.monitoring.alerting import AlertManager
from financial_transactions.monitoring.live_scoring import LiveScorer, alert_id
from financial_transactions.pipeline.stream import StreamProcessor
from financial_transactions.runtime import Platform
from tests.support import landing_sample as sample
from tests.support.gold import gold_frame, synthetic_trades, train_champion
from tests.support.http_peer import WebhookPeer

WORKER = Path(__file__).with_name("live_worker.py")
T0 = pd.Timestamp("2026-03-10 14:30", tz="UTC")  # a Tuesday, regular session
SPIKE_MINUTE = 32
SPIKE_BAR = T0 + pd.Timedelta(minutes=SPIKE_MINUTE)


def _trades(minutes: range, *, seed: int = 11) -> list[dict[str, Any]]:
    """AAPL, 6 trades a minute on a quiet random walk; one trade of minute 32 prints 5% above the walk."""
    rng = np.random.default_rng(seed)
    price = 180.0
    out = []
    for m in range(minutes.stop):
        for k in range(6):
            price *= float(np.exp(rng.normal(0, 0.0004)))
            volume = float(rng.integers(1, 300))
            if m not in minutes:
                continue
            px = price * 1.05 if (m, k) == (SPIKE_MINUTE, 3) else price
            ts = int((T0 + pd.Timedelta(seconds=m * 60 + k * 9 + 1)).value // 1_000_000)
            out.append(sample.trade(f"finnhub:AAPL:{m}-{k}", "AAPL", ts, round(px, 4), volume))
    return out


def _land(platform: Platform, name: str, minutes: range) -> None:
    path = platform.paths.landing / f"finnhub/date=2026-03-10/symbol=AAPL/{name}.ndjson"
    sample.write_records(path, _trades(minutes))


def _champion(platform: Platform) -> int:
    """A small real champion: trained on other days' synthetic bars, labelled by the largest intrabar moves."""
    return train_champion(platform, gold_frame(platform, synthetic_trades({"AAPL": 180.0, "MSFT": 400.0}, 480, seed=3)))


def _alerts(platform: Platform) -> pd.DataFrame:
    return platform.store.read(platform.config.table("anomaly_alerts"))


def _stream(platform: Platform, checkpoint: Path, scorer: LiveScorer) -> StreamProcessor:
    processor = StreamProcessor(
        platform, trigger="availableNow", max_files_per_trigger=1, checkpoint=checkpoint, on_gold=scorer
    )
    processor.run()
    return processor


def test_spike_reaches_alerts_and_webhook_exactly_once_across_a_sigkill(
    platform: Platform, spark: Any, mlflow_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real crash: the driver is SIGKILLed after the alert row is in and before its POST; the restart sends it."""
    version = _champion(platform)
    _land(platform, "run1-000001", range(0, 30))  # micro-batch 0: quiet minutes
    _land(platform, "run1-000002", range(30, 35))  # micro-batch 1: the spike
    checkpoint = platform.paths.checkpoints / "live_kill_test"
    with WebhookPeer() as peer:
        monkeypatch.setenv("FIN_MLOPS_ALERT_WEBHOOK_URL", peer.url)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.run(
            [sys.executable, str(WORKER), str(platform.lakehouse_root), str(checkpoint), "alerts_recorded", "1"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
        assert proc.stdout.splitlines()[-1] == "alerts_recorded 1"
        killed = _alerts(platform)
        assert killed["delivery_status"].tolist() == ["pending"] and peer.received == []

        scorer = LiveScorer(platform)
        _stream(platform, checkpoint, scorer)  # replays micro-batch 1 from the checkpoint
        _stream(platform, checkpoint, LiveScorer(platform))  # nothing new: nothing scored, nothing sent
        assert peer.attempts == 1 and len(peer.received) == 1

    alerts = _alerts(platform)
    assert len(alerts) == 1
    row = alerts.iloc[0]
    assert (row["symbol"], pd.Timestamp(row["bar_start"]), row["model_version"]) == ("AAPL", SPIKE_BAR, str(version))
    assert row["alert_id"] == alert_id("AAPL", SPIKE_BAR, str(version))
    assert (row["delivery_status"], row["delivery_attempts"], row["http_status"]) == ("delivered", 1, 200)
    assert scorer.champion is not None and row["threshold"] == scorer.champion.threshold
    assert row["score"] >= row["threshold"] > 0
    assert pd.Timestamp(row["trade_at"]) == SPIKE_BAR + pd.Timedelta(seconds=5 * 9 + 1)  # the bar's last trade
    assert row["trade_to_alert_seconds"] == pytest.approx(
        (pd.Timestamp(row["delivered_at"]) - pd.Timestamp(row["trade_at"])).total_seconds()
    )
    body = peer.received[0]
    assert row["alert_id"] in str(body["blocks"]) and "AAPL bar 2026-03-10T15:02Z" in body["text"]


class Crash(RuntimeError):
    pass


def test_a_crash_between_the_post_and_its_record_leaves_the_alert_unconfirmed_never_sent_twice(
    platform: Platform, spark: Any, mlflow_registry: None
) -> None:
    """The POST went out, then the batch died before recording it: the restart marks it unconfirmed, no 2nd POST."""
    version = _champion(platform)
    _land(platform, "run1-000001", range(28, 35))
    checkpoint = platform.paths.checkpoints / "live_posted_test"

    def crash(event: str, _batch: int) -> None:
        if event == "posted":
            raise Crash("injected failure after the POST, before its outcome is recorded")

    with WebhookPeer() as peer:
        alerts = AlertManager(platform.config.alerting, url=peer.url)
        with pytest.raises(Exception, match="injected failure"):  # the query fails with the batch's error
            _stream(platform, checkpoint, LiveScorer(platform, alerts=alerts, observer=crash))
        assert _alerts(platform)["delivery_status"].tolist() == ["sending"] and len(peer.received) == 1
        _stream(platform, checkpoint, LiveScorer(platform, alerts=alerts))  # replays the batch
        assert peer.attempts == 1
    row = _alerts(platform).iloc[0]
    assert (row["symbol"], pd.Timestamp(row["bar_start"]), row["model_version"]) == ("AAPL", SPIKE_BAR, str(version))
    assert row["delivery_status"] == "unconfirmed" and pd.isna(row["delivered_at"])
    assert "not re-sent" in row["delivery_error"] and row["alert_id"] in str(peer.received[0]["blocks"])


def test_bars_without_a_champion_wait_in_the_backlog_and_are_scored_once_one_exists(
    platform: Platform, spark: Any, mlflow_registry: None, caplog: pytest.LogCaptureFixture
) -> None:
    _land(platform, "run1-000001", range(25, 35))
    checkpoint = platform.paths.checkpoints / "live_backlog_test"
    with WebhookPeer() as peer:
        alerts = AlertManager(platform.config.alerting, url=peer.url)
        with caplog.at_level(logging.WARNING, logger="financial_transactions.monitoring.live_scoring"):
            first = LiveScorer(platform, alerts=alerts)
            _stream(platform, checkpoint, first)
        said = [r.getMessage() for r in caplog.records if "no champion" in r.getMessage()]
        assert len(said) == 1 and "scored once one is promoted" in said[0]
        assert first.champion is None and first.backlog_path.exists()
        assert not platform.store.exists(platform.config.table("anomaly_alerts")) and peer.received == []

        version = _champion(platform)
        _land(platform, "run1-000002", range(35, 37))  # a later, quiet file: the next micro-batch
        second = LiveScorer(platform, alerts=alerts)
        _stream(platform, checkpoint, second)
        assert not second.backlog_path.exists()
        assert second.totals.bars_scored == 12  # the 10 backlogged bars and the 2 new ones
        assert len(peer.received) == 1
    alerts_table = _alerts(platform)
    assert [
        (s, pd.Timestamp(b), v) for s, b, v in alerts_table[["symbol", "bar_start", "model_version"]].to_numpy()
    ] == [("AAPL", SPIKE_BAR, str(version))]
    assert alerts_table["delivery_status"].tolist() == ["delivered"]
    assert pd.isna(alerts_table["trade_at"].iloc[0])  # a backlogged bar: its trades' times were not kept


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _pending(platform: Platform, scorer: LiveScorer, n: int) -> list[str]:
    """``n`` pending alert rows, scored one second apart, straight into the table (no model needed)."""
    rows = []
    for i in range(n):
        bar = SPIKE_BAR + pd.Timedelta(minutes=i)
        rows.append(
            {
                "alert_id": alert_id("AAPL", bar, "7"),
                "symbol": "AAPL",
                "bar_start": bar,
                "model_version": "7",
                "model_name": "m",
                "score": 0.9,
                "threshold": 0.5,
                "close": 181.0,
                "trade_count": 6,
                "trade_at": bar + pd.Timedelta(seconds=46),
                "ingested_at": bar + pd.Timedelta(seconds=47),
                "scored_at": scorer.clock() + timedelta(seconds=i),
                "stream_batch": "q:0",
                "delivery_status": "pending",
                "delivery_attempts": 0,
                "http_status": None,
                "delivery_error": None,
                "attempted_at": None,
                "delivered_at": None,
                "trade_to_score_seconds": 1.0,
                "trade_to_alert_seconds": np.nan,
                "env": "dev",
            }
        )
    scorer._update(pd.DataFrame(rows))
    return [str(r["alert_id"]) for r in rows]


def test_rate_limit_holds_alerts_visibly_and_sends_them_oldest_first_as_the_window_frees(platform: Platform) -> None:
    clock = _Clock()
    cfg = platform.config.model_copy(
        update={
            "alerting": platform.config.alerting.model_copy(
                update={"live": platform.config.alerting.live.model_copy(update={"max_per_minute": 2})}
            )
        }
    )
    platform = Platform.create(cfg, lakehouse_root=platform.lakehouse_root)
    with WebhookPeer() as peer:
        scorer = LiveScorer(platform, alerts=AlertManager(cfg.alerting, url=peer.url), clock=clock)
        ids = _pending(platform, scorer, 5)
        assert scorer.deliver() == 2
        status = _alerts(platform).set_index("alert_id")["delivery_status"]
        assert status[ids].tolist() == ["delivered", "delivered", "rate_limited", "rate_limited", "rate_limited"]
        clock.now += timedelta(seconds=30)
        assert scorer.deliver() == 0  # both sends are still inside the 60 s window
        clock.now += timedelta(seconds=31)
        assert scorer.deliver() == 2
        clock.now += timedelta(seconds=61)
        assert scorer.deliver() == 1 and scorer.deliver() == 0
        assert [b["blocks"][-1]["elements"][0]["text"].split("alert ")[1].split(" ")[0] for b in peer.received] == ids
    assert set(_alerts(platform)["delivery_status"]) == {"delivered"}


def test_a_refused_webhook_is_recorded_as_failed_and_not_retried_by_later_batches(platform: Platform) -> None:
    with WebhookPeer(fail_first=100, fail_status=400) as peer:
        scorer = LiveScorer(platform, alerts=AlertManager(platform.config.alerting, url=peer.url), clock=_Clock())
        (only,) = _pending(platform, scorer, 1)
        assert scorer.deliver() == 0 and scorer.deliver() == 0
        assert peer.attempts == 1  # a 4xx is permanent: one attempt, and a failed row is not picked up again
    row = _alerts(platform).set_index("alert_id").loc[only]
    assert (row["delivery_status"], row["http_status"], row["delivery_attempts"]) == ("failed", 400, 1)
    assert row["delivery_error"] == "HTTP 400: failing on purpose"
    assert scorer.totals.undelivered == {"failed": 1}
