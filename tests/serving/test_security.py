"""Secure by default: keys (rotation, constant-time match), the per-key rate limit, the loopback rule,
failed authentications logged without the key, and ``fin-mlops serve`` refusing unsafe starts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import get_args

import httpx
import pytest
from typer.testing import CliRunner

from financial_transactions.cli import app as cli_app
from financial_transactions.config import CredentialRef
from financial_transactions.config.serving import ServingConfig
from financial_transactions.decision.decision_matrix import RECOMMENDATIONS
from financial_transactions.serving.schemas import Recommendation
from financial_transactions.serving.security import (
    ApiKeys,
    FailureLog,
    KeyConfigError,
    RateLimiter,
    exposure_error,
    is_loopback,
    retry_after_seconds,
)

from .support import KEY, OTHER_KEY, Served, free_port, wait_ready

KEY_VARS = ("FIN_MLOPS_API_KEY", "FIN_MLOPS_API_KEYS")


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("localhost.example.com", False),
        ("my-laptop", False),  # a name could resolve anywhere
    ],
)
def test_loopback_is_127_8_and_ipv6_1_and_localhost_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_keys_from_both_references_split_deduplicated_and_matched_by_index(
    monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    serving = ServingConfig()
    assert not ApiKeys.from_config(serving)
    monkeypatch.setenv("FIN_MLOPS_API_KEY", KEY)
    monkeypatch.setenv("FIN_MLOPS_API_KEYS", f" {OTHER_KEY} ,,{KEY}, ")  # spaces, empties and a repeat
    keys = ApiKeys.from_config(serving)
    assert len(keys) == 2 and keys.sources == ("env:FIN_MLOPS_API_KEY", "env:FIN_MLOPS_API_KEYS")
    assert keys.match(KEY) == 0 and keys.match(OTHER_KEY) == 1
    assert keys.match(None) is None and keys.match("") is None and keys.match(KEY + " ") is None
    assert keys.match(KEY[:-1]) is None and keys.match(KEY.upper()) is None
    assert KEY not in repr(keys) and KEY[:4] not in repr(keys)  # only digests are kept
    # a secret-scope reference goes through the reader the runtime passes (here: a dict of scopes)
    scoped = ServingConfig(
        api_key=CredentialRef(env="NOT_SET_ANYWHERE"),
        api_keys=CredentialRef(env="NOT_SET_EITHER", secret_scope="financial-mlops", secret_key="serving-api-keys"),
    )
    scopes = {("financial-mlops", "serving-api-keys"): f"{KEY},{OTHER_KEY}"}

    def reader(ref: CredentialRef) -> str | None:
        return ref.resolve(lambda scope, key: scopes.get((scope, key)))

    from_scope = ApiKeys.from_config(scoped, reader)
    assert len(from_scope) == 2 and from_scope.sources == (
        "env:NOT_SET_EITHER | secret:financial-mlops/serving-api-keys",
    )
    assert not ApiKeys.from_config(scoped)  # the default reader is the environment only


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("short-key", "has 9 characters; at least 16 are required (serving.api_key_min_chars)"),
        ("sixteen chars ok", "a character an HTTP header cannot carry"),
        ("tab\tin-the-middle-key", "a character an HTTP header cannot carry"),
        ("nön-ascii-key-0123456", "a character an HTTP header cannot carry"),
    ],
)
def test_unusable_keys_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, no_keys: None, key: str, message: str
) -> None:
    monkeypatch.setenv("FIN_MLOPS_API_KEYS", f"{KEY},{key}")
    with pytest.raises(KeyConfigError) as err:
        ApiKeys.from_config(ServingConfig())
    assert message in str(err.value) and "from env:FIN_MLOPS_API_KEYS" in str(err.value)
    assert key not in str(err.value) and KEY not in str(err.value)


def test_exposure_rules() -> None:
    serving = ServingConfig()
    none, some = ApiKeys(), ApiKeys.of([KEY])
    assert exposure_error("0.0.0.0", some, False, serving) is None
    assert exposure_error("127.0.0.1", some, False, serving) is None
    assert exposure_error("127.0.0.1", none, True, serving) is None
    refused = exposure_error("0.0.0.0", none, False, serving)
    assert refused == (
        "refusing to serve on 0.0.0.0 without an API key: set an API key of at least 16 characters in "
        "env:FIN_MLOPS_API_KEY or env:FIN_MLOPS_API_KEYS (several, comma-separated), or bind a loopback address "
        "(--host 127.0.0.1)"
    )
    assert exposure_error("0.0.0.0", none, True, serving) == refused  # the flag never opens a public address
    no_flag = exposure_error("localhost", none, False, serving)
    assert no_flag is not None and no_flag.startswith("no API key configured: set an API key")
    assert no_flag.endswith("or pass --insecure-no-auth to serve localhost without authentication")
    both = exposure_error("127.0.0.1", some, True, serving)
    assert both is not None and both.startswith("--insecure-no-auth contradicts the 1 configured API key(s)")


def test_rate_limiter_token_bucket() -> None:
    limiter = RateLimiter(rate=20.0, burst=2)
    assert limiter.wait(0) == 0.0 and limiter.wait(0) == 0.0
    wait = limiter.wait(0)
    assert 0.04 < wait <= 0.05  # one token comes every 50 ms
    assert limiter.wait(1) == 0.0  # another key has its own bucket
    time.sleep(0.06)
    assert limiter.wait(0) == 0.0
    assert retry_after_seconds(0.001) == 1 and retry_after_seconds(1.0) == 1 and retry_after_seconds(1.2) == 2


def test_failure_log_condenses_a_flood_per_client(caplog: pytest.LogCaptureFixture) -> None:
    failures = FailureLog(interval=0.2)
    with caplog.at_level(logging.WARNING, "financial_transactions.serving.auth"):
        for _ in range(5):
            failures.record("invalid", "10.1.2.3", "POST", "/v1/anomaly/score")
        failures.record("missing", "10.9.9.9", "GET", "/v1/decision-matrix")
        time.sleep(0.25)
        failures.record("invalid", "10.1.2.3", "POST", "/v1/anomaly/score")
    assert [r.getMessage() for r in caplog.records] == [
        "authentication failed: invalid X-API-Key from 10.1.2.3 on POST /v1/anomaly/score",
        "authentication failed: missing X-API-Key from 10.9.9.9 on GET /v1/decision-matrix",
        "authentication failed: invalid X-API-Key from 10.1.2.3 on POST /v1/anomaly/score "
        "(+4 more from this client since the last line)",
    ]


def test_recommendations_documented_are_the_decision_matrix_ones() -> None:
    assert set(get_args(Recommendation)) == set(RECOMMENDATIONS)


# -- fin-mlops serve ------------------------------------------------------------------------------
def _serve_args(served: Served, project_root: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(project_root / "project_config.yml"),
        "--lakehouse-root",
        str(served.platform.lakehouse_root),
        "serve",
        "--no-watch",
        *extra,
    ]


@pytest.mark.parametrize(
    ("env", "extra", "message"),
    [
        ({}, ["--host", "0.0.0.0"], "refusing to serve on 0.0.0.0 without an API key: set an API key of at least 16"),
        ({}, ["--host", "::", "--insecure-no-auth"], "refusing to serve on :: without an API key"),
        ({}, ["--host", "127.0.0.1"], "or pass --insecure-no-auth to serve 127.0.0.1 without authentication"),
        ({"FIN_MLOPS_API_KEY": KEY}, ["--insecure-no-auth"], "--insecure-no-auth contradicts the 1 configured"),
        ({"FIN_MLOPS_API_KEY": "tiny"}, ["--host", "0.0.0.0"], "from env:FIN_MLOPS_API_KEY has 4 characters"),
    ],
)
def test_serve_refuses_unsafe_starts_with_one_line_and_exit_2(
    served: Served,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_keys: None,
    env: dict[str, str],
    extra: list[str],
    message: str,
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    result = CliRunner().invoke(cli_app, _serve_args(served, project_root, *extra))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""  # nothing started
    for value in env.values():
        assert value not in result.stderr


def _start_serve(
    served: Served, project_root: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    cmd = [
        sys.executable,
        "-c",
        "from financial_transactions.cli import app; app(prog_name='fin-mlops')",
        *_serve_args(served, project_root, "--port", str(port), "--log-level", "warning", *extra),
    ]
    proc = subprocess.Popen(cmd, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=90)
    except AssertionError:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"serve did not start:\n{out}\n{err}") from None
    return proc, base


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.terminate()
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def test_serve_with_rotated_keys_on_loopback(served: Served, project_root: Path) -> None:
    proc, base = _start_serve(served, project_root, {"FIN_MLOPS_API_KEYS": f"{KEY},{OTHER_KEY}"})
    try:
        body = {"trades": [{"symbol": "AAPL", "price": 190.5, "volume": 10, "ts": 1773066600000}]}
        assert httpx.post(f"{base}/v1/anomaly/score", json=body).status_code == 401
        for key in (KEY, OTHER_KEY):
            resp = httpx.post(f"{base}/v1/anomaly/score", json=body, headers={"X-API-Key": key})
            assert resp.status_code == 200 and resp.json()["model_version"] == str(served.v1)
        assert httpx.post(f"{base}/v1/anomaly/score", json=body, headers={"X-API-Key": KEY[::-1]}).status_code == 401
    finally:
        out, err = _stop(proc)
    assert "2 API key(s) from env:FIN_MLOPS_API_KEYS (header X-API-Key) · 500 req/s per key (burst 1000)" in out
    assert "authentication failed: missing X-API-Key from 127.0.0.1 on POST /v1/anomaly/score" in err
    for key in (KEY, OTHER_KEY, KEY[::-1]):
        assert key not in out + err and key[:4] not in out + err


def test_serve_insecure_on_loopback_warns_and_answers_without_a_key(served: Served, project_root: Path) -> None:
    proc, base = _start_serve(served, project_root, {}, "--insecure-no-auth")
    try:
        body = {"trades": [{"symbol": "AAPL", "price": 190.5, "volume": 10, "ts": 1773066600000}]}
        assert httpx.post(f"{base}/v1/anomaly/score", json=body).status_code == 200
    finally:
        out, err = _stop(proc)
    assert "WARNING: --insecure-no-auth: /v1/* answers any process that can reach 127.0.0.1" in err
    assert "NO AUTHENTICATION" in out
