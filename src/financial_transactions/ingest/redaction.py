"""Keep API keys out of logs and exceptions.

Keys travel in URLs (Finnhub ``?token=``, Alpha Vantage ``&apikey=``), and
URLs end up in log lines (urllib3 logs every request line at DEBUG) and in
exception messages (requests puts the URL in ``ConnectionError``). A logging
filter rewrites every record before any handler sees it, and
:func:`safe_error` turns a library exception into one whose text is redacted
and which carries no chained original (a traceback would print the key).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from financial_transactions.config.core import redact

#: Loggers that print request URLs on their own.
URL_LOGGERS = ("urllib3.connectionpool", "websocket", "requests", "financial_transactions")

_lock = threading.Lock()
_known_secrets: set[str] = set()
#: Values shorter than this are only masked where they follow ``token=``/``apikey=``: masking every
#: occurrence of a 2-character "key" would shred every log line (real vendor keys are far longer).
MIN_SECRET_LENGTH = 6


class RedactingFilter(logging.Filter):
    """Rewrites ``msg``/``args`` (and any exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = list(_known_secrets)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message, secrets)  # type: ignore[arg-type]
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, secrets)  # type: ignore[arg-type]
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Register secret values and attach the filter to the URL-printing loggers and root handlers.

    Logger filters only see records created on that logger, so the filter is
    also put on every root handler (records from any child logger pass there).
    Idempotent.
    """
    with _lock:
        _known_secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
        for name in URL_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        for handler in logging.getLogger().handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


def redact_text(text: str) -> str:
    """``redact`` with every secret registered so far."""
    return redact(text, list(_known_secrets))  # type: ignore[arg-type]


class CollectorError(RuntimeError):
    """A collector failure whose message is already redacted."""


def safe_error(exc: BaseException, context: str = "") -> CollectorError:
    """A redacted CollectorError for ``exc``; raise it ``from None`` so no original is chained."""
    text = f"{type(exc).__name__}: {exc}"
    return CollectorError(redact_text(f"{context}: {text}" if context else text))
