"""``AlertManager``: webhook alerts (Slack or Teams) that are audited and never break the caller.

* **Where to.** The webhook URL is a secret (a Slack/Teams webhook URL *is* the
  credential), resolved through ``alerting.webhook`` (:class:`CredentialRef`:
  env var first, then the Databricks secret scope). It is never logged, never
  written to the audit table and is scrubbed from error messages; the audit
  records only *where it came from* (``env:FIN_MLOPS_ALERT_WEBHOOK_URL``).
* **Payload.** ``alerting.payload_format``: ``slack`` = ``text`` (fallback,
  also what Teams' legacy connectors read) + Block Kit ``blocks``; ``teams`` =
  a Workflows message carrying an Adaptive Card.
* **Delivery.** ``POST`` with ``alerting.timeout_seconds``; connection errors,
  timeouts, HTTP 408/429 and 5xx are retried up to ``alerting.max_retries``
  times with exponential backoff (``backoff_seconds · 2^(attempt-1)``, capped at
  ``max_backoff_seconds``; a 429's ``Retry-After`` is honoured within the cap).
  Other 4xx are permanent (a bad URL does not get better) and fail at once.
* **Audit.** Every alert, delivered or not, becomes one row of ``alerts_audit``
  (``status`` = delivered | failed | not_configured, attempts, last HTTP status,
  scrubbed error).
* **Never raises.** :meth:`AlertManager.send` returns a :class:`DeliveryResult`;
  a failing webhook, a missing secret or an unwritable audit table is logged at
  ERROR/WARNING and the caller carries on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlparse

import pyarrow as pa
import requests

from financial_transactions.config.core import SecretReader, redact
from financial_transactions.config.monitoring import AlertingConfig
from financial_transactions.lakehouse import DeltaStore
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.runtime import Platform
from financial_transactions.runtime.journal import scoped_id

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
DeliveryStatus = Literal["delivered", "failed", "not_configured"]
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SLACK_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_TEAMS_COLOUR = {"info": "Default", "warning": "Warning", "critical": "Attention"}


@dataclass(frozen=True)
class Alert:
    title: str
    message: str
    severity: Severity = "warning"
    source: str = "monitoring"
    context: Mapping[str, Any] = field(default_factory=dict)
    env: str | None = None
    #: run-scoped inside ``fin-mlops run`` (runtime.journal): a resumed run audits a re-sent alert once
    alert_id: str = field(default_factory=lambda: scoped_id("alert"))
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class DeliveryResult:
    alert_id: str
    status: DeliveryStatus
    attempts: int
    http_status: int | None = None
    error: str | None = None
    latency_ms: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


# -- payloads -------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value) or "-"
    return str(value)


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Slack incoming-webhook JSON: ``text`` fallback plus Block Kit blocks (Slack's size limits applied)."""
    facts = list(alert.context.items())[:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{_SLACK_EMOJI[alert.severity]} {alert.message}"[:3000]},
        },
    ]
    if facts:
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_fmt(v)}"[:2000]} for k, v in facts]}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{alert.severity} · {alert.source} · env {alert.env or '-'} · "
                    f"alert {alert.alert_id} · {alert.created_at.isoformat(timespec='seconds')}",
                }
            ],
        }
    )
    return {"text": f"[{alert.severity.upper()}] {alert.title}: {alert.message}", "blocks": blocks}


def teams_payload(alert: Alert) -> dict[str, Any]:
    """A Teams Workflows webhook message carrying an Adaptive Card."""
    facts = [{"title": str(k), "value": _fmt(v)} for k, v in alert.context.items()]
    facts += [
        {"title": "severity", "value": alert.severity},
        {"title": "source", "value": alert.source},
        {"title": "env", "value": alert.env or "-"},
        {"title": "alert id", "value": alert.alert_id},
        {"title": "at", "value": alert.created_at.isoformat(timespec="seconds")},
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": alert.title,
                "size": "Large",
                "weight": "Bolder",
                "wrap": True,
                "color": _TEAMS_COLOUR[alert.severity],
            },
            {"type": "TextBlock", "text": alert.message, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    return {
        "type": "message",
        "summary": f"[{alert.severity.upper()}] {alert.title}",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def build_payload(alert: Alert, payload_format: Literal["slack", "teams"]) -> dict[str, Any]:
    return teams_payload(alert) if payload_format == "teams" else slack_payload(alert)


def scrub(text: str, url: str | None) -> str:
    """Remove the webhook URL (and its path/query, which carry the secret) from ``text``."""
    out = text
    if url:
        parsed = urlparse(url)
        for secret in (url, url.rstrip("/"), parsed.path + (f"?{parsed.query}" if parsed.query else "")):
            if secret and len(secret) > 1:
                out = out.replace(secret, "<webhook>")
        if parsed.path and len(parsed.path) > 1:
            out = out.replace(parsed.path, "<webhook-path>")
    return redact(out)


class _SecretLogFilter(logging.Filter):
    """Scrubs webhook URLs from urllib3's DEBUG request lines (``POST /services/T/B/secret``)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls:
            text = record.getMessage()
            clean = text
            for url in list(self.urls):
                clean = scrub(clean, url)
            if clean != text:
                record.msg, record.args = clean, ()
        return True


_LOG_FILTER = _SecretLogFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_LOG_FILTER)


# -- the manager ------------------------------------------------------------------------------
class AlertManager:
    """Send, retry, audit; never raise."""

    def __init__(
        self,
        config: AlertingConfig,
        *,
        store: DeltaStore | None = None,
        audit_table: str | None = None,
        env: str | None = None,
        url: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secrets: SecretReader | None = None,
    ) -> None:
        """``secrets``: the runtime's secret store for ``alerting.webhook`` (``from_platform`` passes it)."""
        self.cfg = config
        self.store = store
        self.audit_table = audit_table
        self.env = env
        self._url = url
        self._session = session
        self._sleep = sleep
        self._secrets = secrets

    @classmethod
    def from_platform(cls, platform: Platform, **kwargs: Any) -> AlertManager:
        cfg = platform.config
        kwargs.setdefault("secrets", platform.runtime.read_secret)
        return cls(cfg.alerting, store=platform.store, audit_table=cfg.table("alerts_audit"), env=cfg.env, **kwargs)

    def _resolve_url(self) -> str | None:
        if self._url is not None:
            return self._url
        return self.cfg.webhook.resolve(self._secrets)

    def send(
        self,
        title: str,
        message: str,
        severity: Severity = "warning",
        source: str = "monitoring",
        context: Mapping[str, Any] | None = None,
        alert_id: str | None = None,
    ) -> DeliveryResult:
        """Deliver one alert (with retries) and audit it; failures are returned, never raised.

        ``alert_id``: the caller's own id (e.g. a streaming alert's key) instead of a random one.
        """
        alert = Alert(title, message, severity, source, dict(context or {}), env=self.env)
        if alert_id is not None:
            alert = replace(alert, alert_id=alert_id)
        try:
            result = self._deliver(alert)
        except Exception as exc:  # a bug in delivery must not break the job raising the alert
            result = DeliveryResult(alert.alert_id, "failed", 0, error=f"{type(exc).__name__}: {scrub(str(exc), None)}")
        self._audit(alert, result)
        return result

    def _deliver(self, alert: Alert) -> DeliveryResult:
        where = self.cfg.webhook.describe()
        try:
            url = self._resolve_url()
        except Exception as exc:
            problem = f"webhook URL could not be resolved from {where}: {type(exc).__name__}: {redact(str(exc))}"
            log.error("alert %s (%s) not sent: %s", alert.alert_id, alert.title, problem)
            return DeliveryResult(alert.alert_id, "failed", 0, error=problem)
        if not url:
            log.warning(
                "alert %s not sent (no webhook configured at %s): [%s] %s: %s",
                alert.alert_id,
                where,
                alert.severity,
                alert.title,
                alert.message,
            )
            return DeliveryResult(alert.alert_id, "not_configured", 0, error=f"no webhook URL at {where}")
        _LOG_FILTER.urls.add(url)
        payload = build_payload(alert, self.cfg.payload_format)
        session = self._session or requests.Session()
        started = time.perf_counter()
        attempts = 0
        http_status: int | None = None
        error: str | None = None
        max_attempts = self.cfg.max_retries + 1
        try:
            while attempts < max_attempts:
                attempts += 1
                retry_after: float | None = None
                try:
                    resp = session.post(url, json=payload, timeout=self.cfg.timeout_seconds)
                    http_status = resp.status_code
                    if 200 <= resp.status_code < 300:
                        latency = (time.perf_counter() - started) * 1000
                        log.info("alert %s delivered after %d attempt(s)", alert.alert_id, attempts)
                        return DeliveryResult(alert.alert_id, "delivered", attempts, http_status, None, latency)
                    error = f"HTTP {resp.status_code}: {scrub(resp.text[:200], url)}"
                    if resp.status_code not in _RETRYABLE_STATUS:
                        break
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                except requests.RequestException as exc:
                    error = f"{type(exc).__name__}: {scrub(str(exc), url)}"
                if attempts < max_attempts:
                    delay = min(self.cfg.max_backoff_seconds, self.cfg.backoff_seconds * 2 ** (attempts - 1))
                    if retry_after is not None:
                        delay = min(self.cfg.max_backoff_seconds, max(delay, retry_after))
                    log.warning(
                        "alert %s attempt %d/%d failed (%s); retrying in %.2fs",
                        alert.alert_id,
                        attempts,
                        max_attempts,
                        error,
                        delay,
                    )
                    self._sleep(delay)
        finally:
            if self._session is None:
                session.close()
        latency = (time.perf_counter() - started) * 1000
        log.error("alert %s (%s) failed after %d attempt(s): %s", alert.alert_id, alert.title, attempts, error)
        return DeliveryResult(alert.alert_id, "failed", attempts, http_status, error, latency)

    def _audit(self, alert: Alert, result: DeliveryResult) -> None:
        if self.store is None or self.audit_table is None:
            return
        row = {
            "alert_id": alert.alert_id,
            "sent_at": alert.created_at,
            "env": alert.env,
            "source": alert.source,
            "severity": alert.severity,
            "title": alert.title,
            "message": alert.message,
            "context": json.dumps(dict(alert.context), sort_keys=True, default=str),
            "status": result.status,
            "attempts": result.attempts,
            "http_status": result.http_status,
            "error": result.error,
            "destination": self.cfg.webhook.describe(),
            "payload_format": self.cfg.payload_format,
            "latency_ms": result.latency_ms,
        }
        try:
            if not self._audited(alert.alert_id):  # a resumed run re-sends its alert, audited once
                self.store.append(self.audit_table, pa.Table.from_pylist([row], schema=spec("alerts_audit").schema))
        except Exception as exc:  # the audit is best effort: the alert itself already went out (or not)
            log.error("alert %s: could not write %s: %s", alert.alert_id, self.audit_table, exc)

    def _audited(self, alert_id: str) -> bool:
        """Whether ``alert_id`` already has its audit row (only a run-scoped id can: see runtime.journal)."""
        if self.store is None or self.audit_table is None or not self.store.exists(self.audit_table):
            return False
        return bool((self.store.read(self.audit_table, columns=["alert_id"])["alert_id"] == alert_id).any())


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
