"""AlertManager against a real webhook server on 127.0.0.1 that fails, then succeeds."""

from __future__ import annotations

import logging
import socket

from financial_transactions.lakehouse import LakehouseError, LocalDeltaStore
from financial_transactions.monitoring.alerting import AlertManager, slack_payload, teams_payload
from tests.support.http_peer import WebhookPeer

SECRET_PATH = "/hook"


def _manager(platform, **cfg_update) -> tuple[AlertManager, list[float]]:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    cfg = platform.config.alerting.model_copy(update={"backoff_seconds": 0.01, "timeout_seconds": 2.0, **cfg_update})
    manager = AlertManager(
        cfg,
        store=platform.store,
        audit_table=platform.config.table("alerts_audit"),
        env="dev",
        sleep=sleeps.append,
    )
    return manager, sleeps


def test_retries_then_delivers_and_audits(platform, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    with WebhookPeer(fail_first=2, fail_status=503) as peer:
        monkeypatch.setenv("FIN_MLOPS_ALERT_WEBHOOK_URL", peer.url)
        manager, sleeps = _manager(platform, max_retries=3)
        result = manager.send("Drift detected", "5/20 features drifted", "critical", "drift", {"max_psi": 0.91})
        assert peer.attempts == 3
        assert len(peer.received) == 1
        body = peer.received[0]
    assert result.status == "delivered" and result.attempts == 3 and result.http_status == 200
    assert sleeps == [0.01, 0.02]  # exponential backoff between the three attempts
    assert body["text"] == "[CRITICAL] Drift detected: 5/20 features drifted"
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Drift detected"}}
    audit = platform.store.read(platform.config.table("alerts_audit"))
    row = audit.iloc[0]
    assert (row["status"], row["attempts"], row["http_status"], row["source"]) == ("delivered", 3, 200, "drift")
    assert row["destination"].startswith("env:FIN_MLOPS_ALERT_WEBHOOK_URL")
    assert peer.url not in caplog.text and peer.url not in audit.to_json()


def test_retries_exhausted_fail_without_raising(platform, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    with WebhookPeer(fail_first=100, fail_status=500) as peer:
        monkeypatch.setenv("FIN_MLOPS_ALERT_WEBHOOK_URL", peer.url + "?token=s3cr3t")
        manager, sleeps = _manager(platform, max_retries=2)
        result = manager.send("Retraining failed", "the job could not start", "critical")
        assert peer.attempts == 3 and peer.received == []
    assert result.status == "failed" and result.attempts == 3 and result.http_status == 500
    assert "HTTP 500" in (result.error or "")
    assert len(sleeps) == 2
    row = platform.store.read(platform.config.table("alerts_audit")).iloc[0]
    assert row["status"] == "failed" and row["attempts"] == 3
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(row.to_dict())
    assert peer.url not in caplog.text


def test_client_error_is_not_retried(platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with WebhookPeer(fail_first=5, fail_status=404) as peer:
        monkeypatch.setenv("FIN_MLOPS_ALERT_WEBHOOK_URL", peer.url)
        manager, sleeps = _manager(platform, max_retries=3)
        result = manager.send("t", "m")
        assert peer.attempts == 1
    assert result.status == "failed" and result.http_status == 404 and sleeps == []


def test_unreachable_webhook_never_breaks_the_caller(platform, caplog) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T000/B000/very-secret"
    manager, _sleeps = _manager(platform, max_retries=1)
    manager._url = url
    caplog.set_level(logging.DEBUG)
    result = manager.send("t", "m")
    assert result.status == "failed" and result.attempts == 2 and "ConnectionError" in (result.error or "")
    assert "very-secret" not in caplog.text and "very-secret" not in (result.error or "")


def test_missing_webhook_is_audited_as_not_configured(platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FIN_MLOPS_ALERT_WEBHOOK_URL", raising=False)
    manager, _ = _manager(platform)
    result = manager.send("t", "m", "info")
    assert result.status == "not_configured" and result.attempts == 0
    assert platform.store.read(platform.config.table("alerts_audit")).iloc[0]["status"] == "not_configured"


def test_unwritable_audit_is_logged_not_raised(platform, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    class BrokenStore(LocalDeltaStore):
        def append(self, fqn, data, *, schema_mode="merge"):  # type: ignore[no-untyped-def]
            raise LakehouseError(f"{fqn}: disk full")

    monkeypatch.delenv("FIN_MLOPS_ALERT_WEBHOOK_URL", raising=False)
    manager, _ = _manager(platform)
    manager.store = BrokenStore(platform.lakehouse_root)
    result = manager.send("t", "m")
    assert result.status == "not_configured"
    assert "disk full" in caplog.text


def test_teams_payload_is_an_adaptive_card(platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with WebhookPeer() as peer:
        monkeypatch.setenv("FIN_MLOPS_ALERT_WEBHOOK_URL", peer.url)
        manager, _ = _manager(platform, payload_format="teams")
        assert manager.send("Rollback", "champion -> v3", "warning", "rollback", {"from": 4, "to": 3}).delivered
        body = peer.received[0]
    card = body["attachments"][0]
    assert body["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["from"] == "4" and facts["to"] == "3" and facts["severity"] == "warning"


def test_slack_payload_respects_block_limits() -> None:
    from financial_transactions.monitoring.alerting import Alert

    alert = Alert("x" * 400, "m", "info", context={f"k{i}": i for i in range(15)})
    payload = slack_payload(alert)
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert len(payload["blocks"][2]["fields"]) == 10
    assert teams_payload(alert)["attachments"][0]["content"]["type"] == "AdaptiveCard"
