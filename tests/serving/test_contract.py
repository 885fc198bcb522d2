"""The OpenAPI document says exactly what the server does.

* Hand-picked bodies: each one the server refuses is invalid by the document, each one it
  scores is valid (``{}`` included: "exactly one of trades / rows" is a ``oneOf``).
* Schemathesis, with every check and all four phases (examples, coverage, fuzzing, stateful),
  against a real uvicorn on 127.0.0.1 serving a small trained champion with a key and the
  default rate limit: 0 failures. The run is bounded by ``--max-examples`` (about a minute here).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from financial_transactions.decision.decision_matrix import DecisionMatrix
from financial_transactions.runtime import Platform
from financial_transactions.serving.api import create_app

from .support import KEY, Served, rows_of, uvicorn_on_loopback
from .test_api import BAD_BODIES

#: Examples per operation and phase; with the coverage and stateful phases this makes ~1,500 requests.
MAX_EXAMPLES = 100
SEED = 19
MAX_ROWS = 20  # a small serving.max_batch_rows, so the documented maxItems (and its 413) is exercised


def _body_validator(spec: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({"$ref": "#/components/schemas/ScoreRequest", "components": spec["components"]})


def _small_batches(served: Served) -> Platform:
    cfg = served.platform.config
    serving = cfg.serving.model_copy(update={"max_batch_rows": MAX_ROWS})
    return Platform.create(cfg.model_copy(update={"serving": serving}), lakehouse_root=served.platform.lakehouse_root)


def test_the_document_accepts_what_the_server_scores_and_refuses_the_rest(served: Served) -> None:
    app = create_app(_small_batches(served), api_keys=[KEY], watch=False)
    with uvicorn_on_loopback(app) as base, httpx.Client(base_url=base, headers={"X-API-Key": KEY}) as http:
        spec = http.get("/openapi.json").json()
        validator = _body_validator(spec)
        trade = {"symbol": "AAPL", "price": 190.5, "volume": 10, "ts": "2026-03-09T15:00:00.250Z"}
        good: list[Any] = [
            {"rows": rows_of(served.gold, 3)},
            {"trades": [trade, {**trade, "ts": 1773066600000, "trade_id": "t-2", "source": "finnhub"}]},
            {"trades": [{**trade, "ts": 1773066600000.0}]},  # an integral number is an integer (JSON Schema)
            {"trades": [{**trade, "ts": "2028-02-29T23:59:59+05:30"}]},  # a leap day
        ]
        for body in good:
            assert validator.is_valid(body), next(validator.iter_errors(body)).message
            assert http.post("/v1/anomaly/score", json=body).status_code == 200, body
        bad: list[Any] = [body for body, _ in BAD_BODIES]
        bad += [
            {"trades": [trade], "rows": rows_of(served.gold, 1)},
            {"trades": [{**trade, "ts": "2027-02-29T00:00:00Z"}]},  # not a leap year
            {"rows": [{k: v for k, v in rows_of(served.gold, 1)[0].items() if k != "rsi"}]},  # a model column missing
            {"rows": rows_of(served.gold, MAX_ROWS + 1, start=0)},
        ]
        for body in bad:
            assert not validator.is_valid(body), body
            assert http.post("/v1/anomaly/score", json=body).status_code in (413, 422), body


def _requests_by_status(metrics_text: str) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    pattern = re.compile(r'^fin_mlops_http_requests_total\{method="(\w+)",route="([^"]+)",status="(\d+)"\} (\d+)$')
    for line in metrics_text.splitlines():
        m = pattern.match(line)
        if m:
            key = (f"{m[1]} {m[2]}", m[3])
            counts[key] = counts.get(key, 0) + int(m[4])
    return counts


def test_schemathesis_all_checks_all_phases_no_failure(served: Served, tmp_path: Path) -> None:
    dm = DecisionMatrix(served.platform)  # GET /v1/decision-matrix answers rows, and its link is followed
    dm.write(dm.build())
    app = create_app(_small_batches(served), api_keys=[KEY], watch=False)
    report = tmp_path / "schemathesis.json"
    with uvicorn_on_loopback(app) as base:
        before = _requests_by_status(httpx.get(f"{base}/metrics").text)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--header",
                f"X-API-Key: {KEY}",
                "--request-timeout",
                "30",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        after = _requests_by_status(httpx.get(f"{base}/metrics").text)
    output = run.stdout[-20_000:] + run.stderr[-5_000:]
    assert run.returncode == 0, output
    result = json.loads(report.read_text())
    assert result["complete"] and result["exit_code"] == 0
    assert result["failures"] == [] and result["errors"] == [], output
    assert {name: phase["status"] for name, phase in result["phases"].items()} == {
        "examples": "success",
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }
    assert result["operations"]["tested"] == 6  # score, decision matrix, feedback, health, ready, metrics
    cases = result["test_cases"]
    assert cases["with_failures"] == 0 and cases["errored"] == 0 and cases["generated"] > 1000, cases
    received = {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0) > 0}
    requests = sum(received.values())
    by_route: dict[str, dict[str, int]] = {}
    for (route, status), n in sorted(received.items()):
        by_route.setdefault(route if status != "405" else "undeclared methods", {}).setdefault(status, 0)
        by_route[route if status != "405" else "undeclared methods"][status] += n
    print(f"\nschemathesis: {cases['generated']} test cases, {requests} requests received: {by_route}")
    # scored, refused for auth and for invalid input: only documented outcomes (405s are undeclared methods)
    score = {status for (route, status) in received if route == "POST /v1/anomaly/score"}
    assert {"200", "401", "422"} <= score <= {"200", "401", "413", "422", "429", "503"}, received
    assert not any(status.startswith("5") for (_, status) in received), received
    assert requests >= cases["generated"]


@pytest.mark.parametrize("body", [{}, {"trades": []}, {"rows": []}, {"trades": None, "rows": None}])
def test_empty_requests_are_invalid_by_the_document_too(served: Served, body: Any) -> None:
    app = create_app(served.platform, api_keys=[KEY], watch=False)
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"X-API-Key": KEY}) as client:
        spec = client.get("/openapi.json").json()
        assert not _body_validator(spec).is_valid(body)
        assert client.post("/v1/anomaly/score", json=body).status_code == 422
