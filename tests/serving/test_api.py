"""The FastAPI service through TestClient with real registered champions, plus one real uvicorn."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform
from financial_transactions.serving.api import create_app
from financial_transactions.serving.schemas import MAX_TS_MS, MIN_TS_MS, ScoreResponse

from ..decision.lakehouse import gold_frame, synthetic_trades, train_champion, write_gold

SYMBOLS = {"AAPL": 190.0, "BTCUSDT": 90_000.0}


@dataclass
class Served:
    platform: Platform
    gold: pd.DataFrame
    trades: pd.DataFrame
    v1: int
    v2: int
    registry: ModelRegistry


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[Served]:
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("serving") / "lakehouse")
    trades = synthetic_trades(SYMBOLS, 150, seed=21)
    gold = gold_frame(platform, trades)
    write_gold(platform, gold)
    v2 = train_champion(platform, gold, n_estimators=40, seed=2)
    v1 = train_champion(platform, gold, n_estimators=10, seed=1)  # registered last: champion is v1
    registry = ModelRegistry.from_platform(platform)
    assert registry.champion_version() == v1
    yield Served(platform, gold, trades, v1, v2, registry)


def _client(platform: Platform, **kwargs: Any) -> TestClient:
    kwargs.setdefault("api_key", None)
    kwargs.setdefault("watch", False)
    return TestClient(create_app(platform, **kwargs), raise_server_exceptions=False)


def _rows(gold: pd.DataFrame, n: int, start: int = 40) -> list[dict[str, Any]]:
    part = gold.iloc[start : start + n].copy()
    part["bar_start"] = part["bar_start"].map(lambda t: t.isoformat())
    part = part.drop(columns=["trade_date", "bar_end"])
    records = json.loads(part.to_json(orient="records"))  # NaN -> null, as a client would send
    return records


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
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "2026-03-09T15:00:00"}]}, "trades.0.ts"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 5}]}, "outside 2000-01-01"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": 1773066600000, "px": 2}]}, "trades.0.px"),
    ({"trades": []}, "body.trades"),
    ({}, "exactly one of 'trades'"),
    ({"trades": [], "rows": []}, "body"),
    ({"rows": [{"symbol": "AAPL", "rsi": True}]}, "rows.0.rsi"),
    ({"rows": "nope"}, "body.rows"),
    ([1, 2, 3], "body"),
    # every timestamp and number is bounded: nothing accepted can overflow later (this one used to be a 500)
    (
        {"rows": [{"symbol": "AAPL", "bar_start": 100000000000000000000}]},
        "rows[0].bar_start 100000000000000000000 is outside 2000-01-01 .. 2100-01-01",
    ),
    ({"rows": [{"bar_start": -1000000000000000}]}, "rows[0].bar_start -1000000000000000 is outside 2000-01-01"),
    ({"rows": [{"bar_start": 1.7e12}]}, "rows[0].bar_start must be epoch milliseconds or an ISO-8601 instant"),
    ({"rows": [{"bar_start": "2026-03-09T15:00:00"}]}, "rows[0].bar_start needs a time zone"),
    ({"rows": [{"bar_start": "9999-01-01T00:00:00Z"}]}, "rows[0].bar_start '9999-01-01T00:00:00Z' is outside"),
    ({"rows": [{"bar_start": "yesterday"}]}, "rows[0].bar_start is not an ISO-8601 instant: 'yesterday'"),
    ({"rows": [{"symbol": 10**30}]}, "rows[0].symbol must be a ticker like 'AAPL', got 1000000000000000000000"),
    ({"rows": [{"rsi": 10**30}]}, "rows[0].rsi must be a finite number within ±1e+15 or null, got 1000000000"),
    ({"rows": [{"rsi": -2e15}]}, "rows[0].rsi must be a finite number within ±1e+15 or null, got -2000000"),
    ({"rows": [{"session_type": "x" * 201}]}, "rows[0].session_type is text of 201 characters; at most 200 are"),
    ({"trades": [{"symbol": "AAPL", "price": 1e-12, "volume": 1, "ts": 1773066600000}]}, "trades.0.price"),
    ({"trades": [{"symbol": "AAPL", "price": 1, "volume": 1e13, "ts": 1773066600000}]}, "trades.0.volume"),
    (
        {"trades": [{"symbol": "AAPL", "price": 1, "volume": 1, "ts": "9999-12-31T23:59:59Z"}]},
        "ts 9999-12-31T23:59:59+00:00 is outside 2000-01-01 .. 2100-01-01",
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


def test_api_key_protects_v1_only(served: Served) -> None:
    with _client(served.platform, api_key="s3cret-key") as client:
        body = {"rows": _rows(served.gold, 1)}
        assert client.post("/v1/anomaly/score", json=body).status_code == 401
        wrong = client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "missing or invalid X-API-Key"
        assert client.post("/v1/anomaly/score", json=body, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert client.get("/v1/decision-matrix").status_code == 401
        for open_path in ("/health", "/ready", "/metrics", "/openapi.json"):
            assert client.get(open_path).status_code == 200, open_path


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
        assert aapl["recommendation"] == src["recommendation"] and aapl["rank"] == src["rank"]
        assert aapl["criteria"]["momentum"]["raw"] == pytest.approx(src["momentum_raw"])
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
    # the score route parses its body itself; the docs still describe it, with its nested models
    body = spec["paths"]["/v1/anomaly/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ScoreRequest"}
    request_schema = spec["components"]["schemas"]["ScoreRequest"]
    assert {"trades", "rows"} <= set(request_schema["properties"]) and "Trade" in spec["components"]["schemas"]
    assert spec["paths"]["/v1/anomaly/score"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert "ScoreRequest" in spec["components"]["schemas"] and "ScoreResponse" in spec["components"]["schemas"]


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_uvicorn_on_loopback(served: Served) -> None:
    import uvicorn

    port = _free_port()
    app = create_app(served.platform, api_key=None, watch=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not become ready"
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as http:
            resp = http.post("/v1/anomaly/score", json={"rows": _rows(served.gold, 4)})
            assert resp.status_code == 200 and resp.json()["model_version"] == str(served.v1)
            assert http.post("/v1/anomaly/score", json={"rows": [{"rsi": "x"}]}).status_code == 422
            assert "fin_mlops_http_requests_total" in http.get("/metrics").text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
