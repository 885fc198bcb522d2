"""Who may call the API, how often, and where it may listen (``fin-mlops serve`` is secure by default).

* **Keys.** ``serving.api_key`` and ``serving.api_keys`` each resolve (environment first, then a
  secret scope through the runtime's reader) to one key or several, comma-separated; every key
  is valid at once, so a key is rotated by adding the new one, moving the clients, then removing
  the old one. Only SHA-256 digests are kept, and a supplied key is compared with *every* digest
  in constant time, so neither the answer time nor a memory dump tells which key or prefix
  was close.
* **Rate limit.** A token bucket per key (``serving.rate_limit_per_second`` sustained,
  ``serving.rate_limit_burst`` at once); over it a request gets 429 with ``Retry-After``.
  Without keys (``--insecure-no-auth``) all callers share one bucket.
* **Exposure.** :func:`exposure_error` is the start-up rule: a non-loopback address needs a key;
  loopback without a key needs the explicit ``--insecure-no-auth``.
* **Failed authentications** are logged with the reason, client address and route, never the
  key or any part of it; a flood is condensed to one line per client per second.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from financial_transactions.config import CredentialRef
from financial_transactions.config.serving import ServingConfig

log = logging.getLogger("financial_transactions.serving.auth")

#: The header clients send their key in.
API_KEY_HEADER = "X-API-Key"
#: Characters a key may hold: visible ASCII without the comma (the list separator) and space.
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {","}
#: The rate-limit bucket of callers without a key (``--insecure-no-auth``).
ANONYMOUS = -1


class KeyConfigError(ValueError):
    """A configured key is unusable (too short, or characters a header cannot carry)."""


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (also IPv4-mapped, and ``[::1]``); any other name is not."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False  # a host name could resolve anywhere: never trusted as loopback
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys, as SHA-256 digests only, with where they came from (for messages)."""

    digests: tuple[bytes, ...] = ()
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.digests)

    def __len__(self) -> int:
        return len(self.digests)

    @classmethod
    def of(cls, keys: list[str] | tuple[str, ...], min_chars: int = 16, source: str = "argument") -> ApiKeys:
        """Keys given directly (tests, embedding); each checked like a configured one."""
        digests: list[bytes] = []
        for key in keys:
            _check_key(key, min_chars, source)
            digest = hashlib.sha256(key.encode()).digest()
            if digest not in digests:
                digests.append(digest)
        return cls(tuple(digests), (source,) if digests else ())

    @classmethod
    def from_config(
        cls, serving: ServingConfig, resolve: Callable[[CredentialRef], str | None] | None = None
    ) -> ApiKeys:
        """Every key ``serving.api_key`` and ``serving.api_keys`` resolve to (comma-separated lists split).

        ``resolve`` reads a reference (default: :meth:`CredentialRef.resolve`, the environment);
        the runtime passes its own reader so secret scopes are read on Databricks.
        """
        read = resolve or (lambda ref: ref.resolve())
        digests: list[bytes] = []
        sources: list[str] = []
        for ref in (serving.api_key, serving.api_keys):
            if ref is None:
                continue
            value = read(ref)
            if not value:
                continue
            parts = [p.strip() for p in value.split(",") if p.strip()]
            for key in parts:
                _check_key(key, serving.api_key_min_chars, ref.describe())
                digest = hashlib.sha256(key.encode()).digest()
                if digest not in digests:
                    digests.append(digest)
            if parts:
                sources.append(ref.describe())
        return cls(tuple(digests), tuple(sources))

    def match(self, supplied: str | None) -> int | None:
        """The index of the key ``supplied`` equals, or None; every digest is compared (constant time)."""
        if supplied is None:
            return None
        digest = hashlib.sha256(supplied.encode("utf-8", "surrogateescape")).digest()
        found: int | None = None
        for index, known in enumerate(self.digests):
            if hmac.compare_digest(digest, known) and found is None:
                found = index
        return found


def _check_key(key: str, min_chars: int, source: str) -> None:
    if len(key) < min_chars:
        raise KeyConfigError(
            f"an API key from {source} has {len(key)} characters; at least {min_chars} are required "
            "(serving.api_key_min_chars); generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    if not set(key) <= _KEY_CHARS:
        raise KeyConfigError(
            f"an API key from {source} holds a character an HTTP header cannot carry "
            "(keys are visible ASCII without spaces or commas)"
        )


def how_to_set_a_key(serving: ServingConfig) -> str:
    """The sentence naming where keys come from (no values)."""
    where = [serving.api_key.describe()]
    if serving.api_keys is not None:
        where.append(serving.api_keys.describe() + " (several, comma-separated)")
    return f"set an API key of at least {serving.api_key_min_chars} characters in {' or '.join(where)}"


def exposure_error(host: str, keys: ApiKeys, insecure_no_auth: bool, serving: ServingConfig) -> str | None:
    """Why ``serve`` must not start with these settings (one line), or None when it may."""
    if keys and insecure_no_auth:
        return (
            f"--insecure-no-auth contradicts the {len(keys)} configured API key(s) from "
            f"{', '.join(keys.sources)}: drop the flag (clients send {API_KEY_HEADER}) or unset the keys"
        )
    if keys:
        return None
    if not is_loopback(host):
        return (
            f"refusing to serve on {host} without an API key: {how_to_set_a_key(serving)}, "
            "or bind a loopback address (--host 127.0.0.1)"
        )
    if not insecure_no_auth:
        return (
            f"no API key configured: {how_to_set_a_key(serving)}, or pass --insecure-no-auth to serve "
            f"{host} without authentication"
        )
    return None


@dataclass
class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second up to ``burst``; one request takes one token.

    Called on the event loop only (no lock needed).
    """

    rate: float
    burst: int
    _buckets: dict[int, list[float]] = field(default_factory=dict)

    def wait(self, who: int) -> float:
        """0 when ``who`` may go now (its token is taken), else the seconds until a token is there."""
        now = time.monotonic()
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = [float(self.burst), now]
        tokens = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` is whole seconds (RFC 9110): rounded up, at least 1."""
    return max(1, math.ceil(wait))


@dataclass
class FailureLog:
    """Logs failed authentications without the key: one line per client per ``interval``, counting the rest."""

    interval: float = 1.0
    max_clients: int = 10_000
    _last: dict[str, tuple[float, int]] = field(default_factory=dict)

    def record(self, reason: str, client: str, method: str, route: str) -> None:
        now = time.monotonic()
        last, suppressed = self._last.get(client, (-math.inf, 0))
        if now - last < self.interval:
            self._last[client] = (last, suppressed + 1)
            return
        if len(self._last) >= self.max_clients:
            self._last.clear()  # bounded memory under a spray of client addresses
        self._last[client] = (now, 0)
        more = f" (+{suppressed} more from this client since the last line)" if suppressed else ""
        log.warning(
            "authentication failed: %s %s from %s on %s %s%s", reason, API_KEY_HEADER, client, method, route, more
        )
