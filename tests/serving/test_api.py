"""The FastAPI service through TestClient with real registered champions, plus one real uvicorn."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from financial_transactions.config import ProjectConfig
from financial_transactions.decision.decision_matrix import DecisionMatrix
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.runtime import Platform
from financial_transactions.serving.api import create_app
from financial_transactions.serving.schemas import MAX_TS_MS, MIN_TS_MS, ScoreResponse

from .support import KEY, OTHER_KEY, Served, uvicorn_on_loopback
from .support import rows_of as _rows


def _client(platform: Platform, **kwargs: Any) -> TestClient:
    """A client of the app with the two test keys configured, sending ``KEY`` on every request."""
    kwargs.setdefault("api_keys", [KEY, OTHER_KEY])
    kwargs.setdefault("watch", False)
    return TestClient(create_app(platform, **kwargs), raise_server_exceptions=False, headers={"X-API-Key": KEY})


def _expected(served: Served, version: int, frame: pd.DataFrame) -> pd.DataFrame:
    return served.registry.load(version).predict(frame.reset_index(drop=True))


def test_feature_rows_are_scored_by_the_champion(served: Served) -> None:
    with _client(served.platform) as client:
        body = {"rows": _rows(served.gold, 25)}
        resp = client.post("/v1/anomaly/score", json=body)
        assert resp.status_code == 200, resp.text
        data = resp.json()
    expected = _expected(served, served.v1, served.gold.iloc[40:65])
    assert data["model_version"] == str(served.v1) and data["kind"] == "rows" and data["count"] == 25
    assert data["model_name"] == served.platform.config.model_name
    np.testing.assert_allclose([r["score"] for r in data["results"]], expected["score"], rtol=0, atol=1e-12)
    assert [r["label"] for r in data["results"]] == expected["label"].tolist()
    assert data["anomalies"] == int(expected["label"].sum())
    assert data["results"][0]["symbol"] == served.gold.iloc[40]["symbol"]
    assert pd.Timestamp(data["results"][0]["bar_start"]) == served.gold.iloc[40]["bar_start"]
    # bar_start as epoch milliseconds is echoed as the same UTC instant
    rows = _rows(served.gold, 2)
    ms = [int(pd.Timestamp(r["bar_start"]).value // 1_000_000) for r in rows]
    body = {"rows": [{**r, "bar_start": m} for r, m in zip(rows, ms, strict=True)]}
    with _client(served.platform) as client:
        by_ms = client.post("/v1/anomaly/score", json=body)
    assert by_ms.status_code == 200, by_ms.text
    echoed = [r["bar_start"] for r in by_ms.json()["results"]]
    assert echoed == [served.gold.iloc[40 + i]["bar_start"].isoformat() for i in range(2)]
    assert [r["score"] for r in by_ms.json()["results"]] == [r["score"] for r in data["results"][:2]]


def test_large_batches_bypass_the_micro_batcher(served: Served) -> None:
    with _client(served.platform) as client:
        resp = client.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 200, start=0)})
    assert resp.status_code == 200
    expected = _expected(served, served.v1, served.gold.iloc[0:200])
    np.testing.assert_allclose([r["score"] for r in resp.json()["results"]], expected["score"], atol=1e-12)


def test_raw_trades_become_bars_then_scores(served: Served) -> None:
    trades = served.trades[served.trades["symbol"] == "AAPL"].iloc[:300]
    body = {
        "trades": [
            {
                "symbol": t.symbol,
                "price": t.price,
                "volume": t.volume,
                "ts": int(t.ts.value // 1_000_000),
                "trade_id": t.trade_id,
            }
            for t in trades.itertuples()
        ]
    }
    with _client(served.platform) as client:
        resp = client.post("/v1/anomaly/score", json=body)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    cols = ["trade_id", "symbol", "price", "volume", "ts", "asset_class", "source"]
    gold = build_gold_features(trades[cols], served.platform.config.features)
    expected = _expected(served, served.v1, gold)
    assert data["kind"] == "trades" and data["count"] == len(gold) > 10
    np.testing.assert_allclose([r["score"] for r in data["results"]], expected["score"], atol=1e-12)
    assert [pd.Timestamp(r["bar_start"]) for r in data["results"]] == list(gold["bar_start"])
    # ISO timestamps with a zone are accepted too
    iso = {"trades": [{"symbol": "BTCUSDT", "price": 90000.5, "volume": 0.25, "ts": "2026-03-09T15:00:00.250Z"}]}
    with _client(served.platform) as client:
        one = client.post("/v1/anomaly/score", json=iso)
    assert one.status_code == 200 and one.json()["results"][0]["symbol"] == "BTCUSDT"


BAD_BODIES = [
    ({"trades": [{"symbol": "AAPL", "price": -1, "volume": 1, "ts": 1773066600000}]}, "trades.0.price"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1}]}, "trades.0.ts"),
    ({"trades": [{"symbol": "aapl!", "price": 1, "volume": 1, "ts": 1773066600000}]}, "trades.0.symbol"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "2026-03-09T15:00:00"}]}, "ts needs a time zone"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 5}]}, "outside 2000-01-01"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 1773066600000, "px": 2}]}, "trades.0.px"),
    ({"trades": []}, "body.trades"),
    ({}, "exactly one of 'trades'"),
    ({"trades": [], "rows": []}, "body"),
    ({"trades": None, "rows": [{"rsi": 1.0}]}, "body.trades: Value error, must be a non-empty list"),
    ({"rows": None}, "body.rows: Value error, must be a non-empty list"),
    ({"rows": [{"symbol": "AAPL", "rsi": True}]}, "rows.0.rsi"),
    # strict types: no bool for a number, no numeric string for a number or a timestamp
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": False, "ts": 1773066600000}]}, "trades.0.volume"),
    ({"trades": [{"symbol": "AAPL", "price": "187.5", "volume": 1, "ts": 1773066600000}]}, "trades.0.price"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "1773066600000"}]}, "ts is not an RFC 3339"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": True}]}, "ts must be epoch milliseconds"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 1.77e12 + 0.25}]}, "ts must be epoch millis"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "2026-02-30T15:00:00Z"}]}, "ts is not an RFC"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "2026-03-09 15:00:00Z"}]}, "must be written as"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 1773066600000, "trade_id": 7}]}, "trade_id"),
    ({"rows": "nope"}, "body.rows"),
    ([1, 2, 3], "body"),
    # every timestamp and number is bounded: nothing accepted can overflow later (this one used to be a 500)
    (
        {"rows": [{"symbol": "AAPL", "bar_start": 100000000000000000000}]},
        "rows[0].bar_start 100000000000000000000 is outside 2000-01-01 .. 2100-01-01",
    ),
    ({"rows": [{"bar_start": -1000000000000000}]}, "rows[0].bar_start -1000000000000000 is outside 2000-01-01"),
    ({"rows": [{"bar_start": 1.7e12 + 0.5}]}, "rows[0].bar_start must be epoch milliseconds (an integer) or an"),
    ({"rows": [{"bar_start": "2026-03-09T15:00:00"}]}, "rows[0].bar_start needs a time zone"),
    ({"rows": [{"bar_start": "9999-01-01T00:00:00Z"}]}, "rows[0].bar_start '9999-01-01T00:00:00Z' is outside"),
    ({"rows": [{"bar_start": "yesterday"}]}, "rows[0].bar_start is not an RFC 3339 instant (like 2026-03-09T15:"),
    ({"rows": [{"bar_start": True}]}, "rows[0].bar_start must be epoch milliseconds (an integer) or an RFC 3339"),
    ({"rows": [{"symbol": 10**30}]}, "rows[0].symbol must be a ticker like 'AAPL', got 1000000000000000000000"),
    ({"rows": [{"rsi": 10**30}]}, "rows[0].rsi must be a finite number within ±1e+15 or null, got 1000000000"),
    ({"rows": [{"rsi": -2e15}]}, "rows[0].rsi must be a finite number within ±1e+15 or null, got -2000000"),
    ({"rows": [{"session_type": "x" * 201}]}, "rows[0].session_type is text of 201 characters; at most 200 are"),
    ({"trades": [{"symbol": "AAPL", "price": 1e-12, "volume": 1, "ts": 1773066600000}]}, "trades.0.price"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1e13, "ts": 1773066600000}]}, "trades.0.volume"),
    (
        {"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "9999-12-31T23:59:59Z"}]},
        "ts '9999-12-31T23:59:59Z' is outside 2000-01-01 .. 2100-01-01",
    ),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
def test_bad_input_is_a_clear_422(served: Served, body: Any, needle: str) -> None:
    with _client(served.platform) as client:
        resp = client.post("/v1/anomaly/score", json=body)
    assert resp.status_code == 422, resp.text
    assert needle in resp.json()["message"], resp.json()["message"]


def test_unscorable_rows_and_malformed_json_are_422(served: Served) -> None:
    rows = _rows(served.gold, 2)
    del rows[1]["rsi"]
    with _client(served.platform) as client:
        missing = client.post("/v1/anomaly/score", json={"rows": rows})
        assert missing.status_code == 422
        assert "rows[1] lacks model feature column(s) ['rsi']" in missing.json()["message"]
        rows = _rows(served.gold, 1)
        rows[0]["rsi"] = "high"
        text = client.post("/v1/anomaly/score", json={"rows": rows})
        assert text.status_code == 422 and "rows[0].rsi must be a number or null" in text.json()["message"]
        broken = client.post("/v1/anomaly/score", content=b'{"trades": [', headers={"Content-Type": "application/json"})
        assert broken.status_code == 422 and "json_invalid" in broken.text
        nan = client.post(
            "/v1/anomaly/score",
            content=b'{"trades": [{"symbol": "AAPL", "price": NaN, "volume": 1, "ts": 1773066600000}]}',
            headers={"Content-Type": "application/json"},
        )
        assert nan.status_code == 422 and "trades.0.price" in nan.json()["message"]
        rows = _rows(served.gold, 1)
        for literal in ("NaN", "Infinity", "-Infinity"):  # JSON extensions Python clients send
            text = json.dumps({"rows": rows}).replace('"rsi": ' + json.dumps(rows[0]["rsi"]), f'"rsi": {literal}')
            bad = client.post("/v1/anomaly/score", content=text.encode(), headers={"Content-Type": "application/json"})
            assert bad.status_code == 422, literal
            assert "rows[0].rsi must be a finite number within ±1e+15 or null" in bad.json()["message"], literal
        # null features are fine: the model fills them like training did
        rows = _rows(served.gold, 1)
        rows[0]["rsi"] = None
        assert client.post("/v1/anomaly/score", json={"rows": rows}).status_code == 200


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e16, max_value=1e16),
    st.integers(min_value=MIN_TS_MS - 10, max_value=MAX_TS_MS + 10),
    st.text(max_size=12),
    st.sampled_from(["", "AAPL", "BTCUSDT", "2026-03-09T15:00:00Z", "2026-03-09T15:00:00", "0001-01-01T00:00:00Z"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_TRADE = {"symbol": "AAPL", "price": 187.5, "volume": 10.0, "ts": 1773066600000, "trade_id": "t-1"}


@st.composite
def _near_valid_bodies(draw: st.DrawFn, templates: list[dict[str, Any]]) -> Any:
    """Valid rows/trades with a few fields replaced, dropped or added, or any JSON at all."""
    kind = draw(st.sampled_from(["rows", "trades", "json"]))
    if kind == "json":
        return draw(_JSON)
    template = templates if kind == "rows" else [_TRADE]
    items = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        item = dict(draw(st.sampled_from(template)))
        echoed = ["bar_start", "symbol", "ts", "price", "volume", "asset_class", "extra"]  # the riskiest fields
        key_choice = st.one_of(st.sampled_from(echoed), st.sampled_from(sorted(item)))
        for key in draw(st.lists(key_choice, max_size=3)):
            item[key] = draw(_JSON)
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            item.pop(draw(st.sampled_from(sorted(item))), None)
        items.append(item)
    return {kind: items}


def test_fuzzed_requests_never_get_a_5xx(served: Served) -> None:
    """Whatever a client sends, the answer is a 2xx or 4xx (validated models, bounded values)."""
    templates = _rows(served.gold, 3)
    seen: dict[int, int] = {}
    with _client(served.platform) as client:

        @settings(max_examples=400, deadline=None, database=None, derandomize=True)
        @given(_near_valid_bodies(templates))
        def check(body: Any) -> None:
            content = json.dumps(body).encode()  # allow_nan: NaN / Infinity literals are sent as-is
            resp = client.post("/v1/anomaly/score", content=content, headers={"Content-Type": "application/json"})
            seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
            assert resp.status_code < 500, (body, resp.text)
            if resp.status_code == 200:
                ScoreResponse.model_validate(resp.json())
            else:
                assert resp.status_code in (413, 422), (body, resp.text)

        check()
        for params in ({"limit": "x"}, {"limit": 10**30}, {"recommendation": "\x00"}, {"limit": -1}):
            assert client.get("/v1/decision-matrix", params=params).status_code == 422
    assert seen.get(200, 0) > 20 and seen.get(422, 0) > 100  # both the model and the validation were exercised


def test_oversize_batches_and_bodies_get_413(served: Served) -> None:
    cfg = served.platform.config
    small = cfg.model_copy(
        update={"serving": cfg.serving.model_copy(update={"max_batch_rows": 5, "max_body_bytes": 4096})}
    )
    platform = Platform.create(small, lakehouse_root=served.platform.lakehouse_root)
    with _client(platform) as client:
        resp = client.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 6)[:6]})
        assert resp.status_code == 413
        trade = {"symbol": "AAPL", "price": 1.0, "volume": 1.0, "ts": 1773066600000}
        assert client.post("/v1/anomaly/score", json={"trades": [trade] * 6}).status_code == 413
        assert client.post("/v1/anomaly/score", json={"trades": [trade] * 5}).status_code == 200
        big = client.post("/v1/anomaly/score", content=b"x" * 5000, headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and "exceeds the limit of 4096 bytes" in big.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: cut while streaming
            for _ in range(10):
                yield b" " * 1000

        streamed = client.post("/v1/anomaly/score", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413


def test_api_key_protects_v1_only(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    body = {"rows": _rows(served.gold, 1)}
    with _client(served.platform) as client, caplog.at_level(logging.WARNING, "financial_transactions.serving"):
        missing = client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": ""})
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
        del client.headers["X-API-Key"]
        assert client.post("/v1/anomaly/score", json=body).status_code == 401
        near_miss = KEY[:-1] + "X"  # the right key but its last character
        wrong = client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": near_miss})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "missing or invalid X-API-Key"}
        # both keys of a rotation are accepted, each its own identity
        for key in (KEY, OTHER_KEY):
            assert client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": key}).status_code == 200
        assert client.get("/v1/decision-matrix").status_code == 401
        assert client.get("/v1/decision-matrix", params={"limit": 0}).status_code == 401  # auth before validation
        for open_path in ("/health", "/ready", "/metrics", "/openapi.json"):
            assert client.get(open_path).status_code == 200, open_path
        text = client.get("/metrics").text
    assert 'fin_mlops_auth_failures_total{reason="invalid"} 2' in text
    assert 'fin_mlops_auth_failures_total{reason="missing"} 3' in text
    # failures are logged (condensed per client and second), never with the key or any part of it
    lines = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert lines and lines[0].startswith("authentication failed: invalid X-API-Key from testclient on POST")
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in (KEY, OTHER_KEY, near_miss, KEY[:4], near_miss[:4]):
        assert secret not in logged


def test_an_app_without_keys_needs_the_explicit_insecure_flag(served: Served) -> None:
    with pytest.raises(ValueError, match="no API key configured: set an API key of at least 16 characters in env"):
        create_app(served.platform, api_keys=[])
    with pytest.raises(ValueError, match="--insecure-no-auth contradicts the 1 configured API key"):
        create_app(served.platform, api_keys=[KEY], insecure_no_auth=True)
    with pytest.raises(ValueError, match="has 6 characters; at least 16 are required"):
        create_app(served.platform, api_keys=["s3cret"])
    app = create_app(served.platform, api_keys=[], insecure_no_auth=True, watch=False)
    with TestClient(app) as client:
        assert client.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 1)}).status_code == 200


def test_rate_limit_per_key_is_429_with_retry_after(served: Served) -> None:
    cfg = served.platform.config
    slow = cfg.serving.model_copy(update={"rate_limit_per_second": 0.2, "rate_limit_burst": 3})
    platform = Platform.create(cfg.model_copy(update={"serving": slow}), lakehouse_root=served.platform.lakehouse_root)
    body = {"rows": _rows(served.gold, 1)}
    with _client(platform) as client:
        codes = [client.post("/v1/anomaly/score", json=body).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.post("/v1/anomaly/score", json=body)
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 5
        assert "over the rate limit of 0.2 requests/s per API key (burst 3)" in limited.json()["detail"]
        assert client.get("/v1/decision-matrix").status_code == 429  # one bucket per key, across routes
        # the other key of the rotation has its own bucket
        assert client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": OTHER_KEY}).status_code == 200
        assert "fin_mlops_rate_limited_total 3" in client.get("/metrics").text
        # a wrong key is a 401, not a 429, and does not spend a key's tokens
        assert client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": "x" * 20}).status_code == 401


def test_not_ready_without_a_champion(tmp_path: Path, config: ProjectConfig) -> None:
    empty = Platform.create(config, lakehouse_root=tmp_path / "empty")
    with _client(empty) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "no champion" in ready.json()["reason"]
        trade = {"symbol": "AAPL", "price": 1.0, "volume": 1.0, "ts": 1773066600000}
        resp = client.post("/v1/anomaly/score", json={"trades": [trade]})
        assert resp.status_code == 503 and "no champion loaded yet" in resp.json()["detail"]
        assert client.get("/v1/decision-matrix").status_code == 404
        assert "fin_mlops_model_loaded 0" in client.get("/metrics").text


def test_decision_matrix_endpoint(served: Served) -> None:
    dm = DecisionMatrix(served.platform)
    result = dm.build()
    dm.write(result)
    with _client(served.platform) as client:
        data = client.get("/v1/decision-matrix").json()
        assert data["run_id"] == result.run_id
        assert [r["symbol"] for r in data["rows"]] == result.matrix["symbol"].tolist()
        aapl = next(r for r in data["rows"] if r["symbol"] == "AAPL")
        src = result.matrix.set_index("symbol").loc["AAPL"]
        rank = None if pd.isna(src["rank"]) else int(src["rank"])  # "Insufficient data" rows are unranked
        assert aapl["recommendation"] == src["recommendation"] and aapl["rank"] == rank
        assert aapl["criteria"]["momentum"]["raw"] == pytest.approx(src["momentum_raw"], nan_ok=True)
        assert set(aapl["criteria"]) == set(served.platform.config.decision.normalized_weights())
        insufficient = client.get("/v1/decision-matrix", params={"recommendation": "Insufficient data"}).json()
        assert {r["recommendation"] for r in insufficient["rows"]} == {"Insufficient data"}
        assert len(client.get("/v1/decision-matrix", params={"limit": 2}).json()["rows"]) == 2
        assert client.get("/v1/decision-matrix", params={"limit": 0}).status_code == 422
        assert client.get("/v1/decision-matrix", params={"recommendation": "YOLO"}).status_code == 422


def test_metrics_and_openapi(served: Served) -> None:
    with _client(served.platform) as client:
        for _ in range(3):
            client.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 2)})
        client.post("/v1/anomaly/score", json={"trades": []})
        text = client.get("/metrics").text
        docs = client.get("/docs")
        spec = client.get("/openapi.json").json()
    assert 'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="200"} 3' in text
    assert 'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="422"} 1' in text
    assert "fin_mlops_rows_scored_total 6" in text
    assert f'fin_mlops_model_info{{model="{served.platform.config.model_name}",version="{served.v1}"}} 1' in text
    assert 'fin_mlops_http_request_duration_seconds_count{route="/v1/anomaly/score"} 4' in text
    assert 'fin_mlops_http_request_duration_seconds_bucket{route="/v1/anomaly/score",le="+Inf"} 4' in text
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"/v1/anomaly/score", "/v1/decision-matrix", "/health", "/ready", "/metrics"} <= set(spec["paths"])
    # the score route parses its body itself; the document still describes it exactly: one of two kinds
    post = spec["paths"]["/v1/anomaly/score"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScoreRequest"}
    schemas = spec["components"]["schemas"]
    assert schemas["ScoreRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/TradesRequest"},
        {"$ref": "#/components/schemas/RowsRequest"},
    ]
    for kind, item in (("trades", "Trade"), ("rows", "FeatureRow")):
        request = schemas[f"{kind.title()}Request"]
        assert request["required"] == [kind] and request["additionalProperties"] is False
        assert request["properties"][kind]["items"] == {"$ref": f"#/components/schemas/{item}"}
        assert request["properties"][kind]["maxItems"] == served.platform.config.serving.max_batch_rows
    # a row requires exactly the served champion's feature columns
    columns = served.registry.load(served.v1).metadata.get_input_schema().input_names()
    assert schemas["FeatureRow"]["required"] == list(columns) and len(columns) > 20
    assert schemas["Trade"]["properties"]["volume"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1e12,
        "title": "Volume",
        "examples": [100.0],
    }
    assert post["security"] == [{"APIKeyHeader": []}]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "one of the keys in serving.api_key / serving.api_keys",
    }
    # every status each route can answer is documented, with its body schema
    statuses = {
        ("/v1/anomaly/score", "post"): {"200", "401", "413", "422", "429", "503"},
        ("/v1/decision-matrix", "get"): {"200", "401", "404", "422", "429"},
        ("/health", "get"): {"200"},
        ("/ready", "get"): {"200", "503"},
        ("/metrics", "get"): {"200"},
    }
    for (path, method), codes in statuses.items():
        responses = spec["paths"][path][method]["responses"]
        assert set(responses) == codes, (path, sorted(responses))
        for code, response in responses.items():
            assert response["content"], (path, code)
    assert post["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert post["responses"]["413"]["content"]["application/json"]["schema"] == error
    assert post["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationErrorBody"
    }


def test_champion_reload_drops_no_request(served: Served) -> None:
    rows = _rows(served.gold, 3)
    frame = served.gold.iloc[40:43]
    want = {str(v): _expected(served, v, frame)["score"].tolist() for v in (served.v1, served.v2)}
    results: list[tuple[int, dict[str, Any]]] = []
    try:
        with _client(served.platform) as client:
            holder = client.app.state.holder  # type: ignore[attr-defined]
            assert holder.current.version == str(served.v1)
            stop = threading.Event()

            def hammer() -> None:
                while not stop.is_set():
                    resp = client.post("/v1/anomaly/score", json={"rows": rows})
                    results.append((resp.status_code, resp.json()))

            with ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(hammer) for _ in range(4)]
                time.sleep(0.5)
                served.registry.set_alias("champion", served.v2)  # the alias moves ...
                assert holder.refresh() is True  # ... and the watcher's check publishes v2
                time.sleep(0.5)
                stop.set()
                for f in futures:
                    f.result()
            after = client.post("/v1/anomaly/score", json={"rows": rows}).json()
            assert holder.refresh() is False  # nothing moved since
    finally:
        served.registry.set_alias("champion", served.v1)
    assert after["model_version"] == str(served.v2)
    assert results and all(code == 200 for code, _ in results)
    versions = [body["model_version"] for _, body in results]
    assert set(versions) == {str(served.v1), str(served.v2)}
    assert versions.index(str(served.v2)) > 0 and str(served.v1) not in versions[versions.index(str(served.v2)) + 8 :]
    for _, body in results:  # every response is entirely from the version it names
        np.testing.assert_allclose([r["score"] for r in body["results"]], want[body["model_version"]], atol=1e-12)


def test_watcher_follows_the_alias(served: Served) -> None:
    cfg = served.platform.config
    fast = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"reload_interval_seconds": 0.1})})
    platform = Platform.create(fast, lakehouse_root=served.platform.lakehouse_root)
    try:
        with _client(platform, watch=True) as client:
            assert client.get("/ready").json()["model_version"] == str(served.v1)
            served.registry.set_alias("champion", served.v2)
            deadline = time.monotonic() + 10
            while client.get("/ready").json()["model_version"] != str(served.v2):
                assert time.monotonic() < deadline, "the watcher did not pick up the new champion"
                time.sleep(0.05)
            assert "fin_mlops_model_reloads_total 2" in client.get("/metrics").text
    finally:
        served.registry.set_alias("champion", served.v1)


def test_real_uvicorn_on_loopback(served: Served) -> None:
    app = create_app(served.platform, api_keys=[KEY], watch=False)
    with uvicorn_on_loopback(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 4)}).status_code == 401
        http.headers["X-API-Key"] = KEY
        resp = http.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 4)})
        assert resp.status_code == 200 and resp.json()["model_version"] == str(served.v1)
        assert http.post("/v1/anomaly/score", json={"rows": [{"rsi": "x"}]}).status_code == 422
        assert "fin_mlops_http_requests_total" in http.get("/metrics").text


def test_the_score_lane_answers_exactly_as_the_routed_path(
    served: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``POST /v1/anomaly/score`` skips the router (``RouteLane``): every outcome equals the routed path's."""
    from financial_transactions.serving.api import RouteLane
    from financial_transactions.serving.champion import LoadedModel

    cfg = served.platform.config
    small = cfg.model_copy(
        update={"serving": cfg.serving.model_copy(update={"max_batch_rows": 5, "max_body_bytes": 8192})}
    )
    platform = Platform.create(small, lakehouse_root=served.platform.lakehouse_root)
    rows = _rows(served.gold, 3)
    trade = {"symbol": "AAPL", "price": 1.0, "volume": 1.0, "ts": 1773066600000}
    cases: list[tuple[dict[str, str], bytes]] = [
        ({"X-API-Key": KEY}, json.dumps({"rows": rows}).encode()),  # 200
        ({}, json.dumps({"rows": rows}).encode()),  # 401, missing
        ({"X-API-Key": "not-a-key-of-this-app"}, b"{}"),  # 401, invalid
        ({"X-API-Key": KEY}, b"{"),  # 422, malformed JSON
        ({"X-API-Key": KEY}, json.dumps({"rows": [{"symbol": "AAPL"}]}).encode()),  # 422, BadRows
        ({"X-API-Key": KEY}, json.dumps({"trades": [trade] * 6}).encode()),  # 413, batch
        ({"X-API-Key": KEY}, b"x" * 9000),  # 413, body
    ]

    def answers(lane: bool) -> tuple[list[Any], list[str]]:
        app = create_app(platform, api_keys=[KEY, OTHER_KEY], watch=False)
        assert any(m.cls is RouteLane for m in app.user_middleware)
        if not lane:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not RouteLane]
        got: list[Any] = []
        with TestClient(app, raise_server_exceptions=False) as client:
            for headers, body in cases:
                resp = client.post(
                    "/v1/anomaly/score", content=body, headers={"Content-Type": "application/json", **headers}
                )
                got.append((resp.status_code, resp.json(), resp.headers.get("www-authenticate")))
            resp = client.get("/v1/anomaly/score", headers={"X-API-Key": KEY})
            got.append((resp.status_code, resp.json(), resp.headers.get("allow")))
            with monkeypatch.context() as m:  # an unhandled failure is the server-error middleware's plain 500

                def broken(self: LoadedModel, rows: list[dict[str, Any]]) -> Any:
                    raise RuntimeError("model call failed")

                m.setattr(LoadedModel, "score_rows", broken)
                resp = client.post("/v1/anomaly/score", json={"rows": rows}, headers={"X-API-Key": KEY})
                got.append((resp.status_code, resp.text))
            text = client.get("/metrics").text
        metrics = [line for line in text.splitlines() if line.startswith("fin_mlops_http_requests_total{")]
        return got, metrics

    with caplog.at_level(logging.WARNING):
        lane, routed = answers(True), answers(False)
    assert lane == routed
    assert [g[0] for g in lane[0]] == [200, 401, 401, 422, 422, 413, 413, 405, 500]
    assert lane[0][1][1] == {"detail": "missing or invalid X-API-Key"}
    assert lane[0][5][1] == {"detail": "batch of 6 rows exceeds serving.max_batch_rows=5"}
    assert lane[0][8] == (500, "Internal Server Error")
    assert lane[1] == [
        'fin_mlops_http_requests_total{method="GET",route="/v1/anomaly/score",status="405"} 1',
        'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="200"} 1',
        'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="401"} 2',
        'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="413"} 1',
        'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="422"} 2',
        'fin_mlops_http_requests_total{method="POST",route="/v1/anomaly/score",status="500"} 1',
        'fin_mlops_http_requests_total{method="POST",route="unmatched",status="413"} 1',  # refused before routing
    ]
