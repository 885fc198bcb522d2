"""Feature rows as an Arrow IPC stream: scored exactly as the same rows in JSON, and refused with the JSON
path's status and message for each fault (the two bodies of one batch must not disagree)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from financial_transactions.features.feature_engineering import feature_columns
from financial_transactions.runtime import Platform
from financial_transactions.serving.api import ARROW_STREAM, create_app

from .support import KEY, Served
from .support import rows_of as _rows

JSON = {"Content-Type": "application/json"}
ARROW = {"Content-Type": ARROW_STREAM}


def _client(platform: Platform) -> TestClient:
    platform.configure_mlflow()
    app = create_app(platform, watch=False, api_keys=[KEY])
    return TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY})


def _stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _json_rows(served: Served, n: int) -> list[dict[str, Any]]:
    keep = {*feature_columns(served.platform.config.features), "symbol", "bar_start"}
    return [{k: v for k, v in r.items() if k in keep} for r in _rows(served.gold, n)]


def _table(rows: list[dict[str, Any]], **types: pa.DataType) -> pa.Table:
    """The JSON rows as Arrow columns (numbers float64 unless ``types`` says, bar_start as the JSON text)."""
    frame = pd.DataFrame(rows)
    fields = []
    for name in frame.columns:
        if name in types:
            fields.append(pa.field(name, types[name]))
        elif name in ("symbol", "bar_start"):
            fields.append(pa.field(name, pa.string()))
        else:
            fields.append(pa.field(name, pa.float64()))
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def _both(client: TestClient, rows: list[dict[str, Any]], table: pa.Table) -> tuple[Any, Any]:
    as_json = client.post("/v1/anomaly/score", content=json.dumps({"rows": rows}).encode(), headers=JSON)
    as_arrow = client.post("/v1/anomaly/score", content=_stream(table), headers=ARROW)
    return as_json, as_arrow


def test_arrow_rows_score_exactly_as_the_same_json_rows(served: Served) -> None:
    rows = _json_rows(served, 30)
    rows[3]["rsi"] = None  # a null is missing, filled by the model as in JSON
    table = _table(rows)
    with _client(served.platform) as client:
        as_json, as_arrow = _both(client, rows, table)
        assert as_json.status_code == 200 and as_arrow.status_code == 200, as_arrow.text
        assert as_arrow.json() == as_json.json()
        assert as_arrow.json()["kind"] == "rows" and as_arrow.json()["count"] == 30
        # bar_start as an Arrow timestamp with a zone, or as epoch milliseconds: the same instants echoed
        instants = pd.to_datetime([r["bar_start"] for r in rows], utc=True)
        stamped = table.set_column(
            table.schema.get_field_index("bar_start"), "bar_start", pa.array(instants, pa.timestamp("ms", "UTC"))
        )
        millis = table.set_column(
            table.schema.get_field_index("bar_start"),
            "bar_start",
            pa.array((instants.asi8 // 1_000_000).tolist(), pa.int64()),
        )
        for other in (stamped, millis):
            resp = client.post("/v1/anomaly/score", content=_stream(other), headers=ARROW)
            assert resp.status_code == 200 and resp.json() == as_json.json(), resp.text
        # integer feature columns, and a media type with parameters, are taken as well
        ints = table.set_column(
            table.schema.get_field_index("max_identical_prints"),
            "max_identical_prints",
            pa.array([int(r["max_identical_prints"]) for r in rows], pa.int32()),
        )
        resp = client.post(
            "/v1/anomaly/score", content=_stream(ints), headers={"Content-Type": f"{ARROW_STREAM}; charset=binary"}
        )
        assert resp.status_code == 200 and resp.json() == as_json.json(), resp.text
        # without symbol and bar_start the results echo nulls, as for JSON rows without them
        bare = [{k: v for k, v in r.items() if k not in ("symbol", "bar_start")} for r in rows]
        as_json, as_arrow = _both(client, bare, _table(bare))
        assert as_arrow.status_code == 200 and as_arrow.json() == as_json.json()
        assert as_arrow.json()["results"][0]["symbol"] is None


@pytest.mark.parametrize(
    ("fault", "status", "needle"),
    [
        ("missing column", 422, "rows[0] lacks model feature column(s) ['rsi']"),
        ("text in a feature column", 422, "rows[2].rsi must be a number or null, got str"),
        ("NaN value", 422, "rows[1].rsi must be a finite number within ±1e+15 or null, got nan"),
        ("infinite value", 422, "rows[1].rsi must be a finite number within ±1e+15 or null, got inf"),
        ("beyond 1e15", 422, "rows[1].rsi must be a finite number within ±1e+15 or null, got 2e+16"),
        (
            "a large integer",
            422,
            "rows[1].max_identical_prints must be a finite number within ±1e+15 or null, got 10000000000000001",
        ),
        ("bad symbol", 422, "rows[2].symbol must be a ticker like 'AAPL', got 'aapl'"),
        ("bar_start out of range", 422, "rows[1].bar_start 5 is outside 2000-01-01 .. 2100-01-01"),
        ("bar_start without a zone", 422, "rows[0].bar_start needs a time zone (e.g. Z or +00:00)"),
        ("too many rows", 413, "batch of 6 rows exceeds serving.max_batch_rows=5"),
    ],
)
def test_each_fault_gets_the_json_paths_answer(served: Served, fault: str, status: int, needle: str) -> None:
    rows = _json_rows(served, 6 if fault == "too many rows" else 4)
    types: dict[str, pa.DataType] = {}
    if fault == "missing column":
        for row in rows:
            del row["rsi"]
    elif fault == "text in a feature column":
        rows[2]["rsi"] = "high"
        types["rsi"] = pa.string()
        for row in rows[:2] + rows[3:]:
            row["rsi"] = None
    elif fault in ("NaN value", "infinite value", "beyond 1e15"):
        rows[1]["rsi"] = {"NaN value": float("nan"), "infinite value": float("inf"), "beyond 1e15": 2e16}[fault]
    elif fault == "a large integer":
        for row in rows:
            row["max_identical_prints"] = int(row["max_identical_prints"])
        rows[1]["max_identical_prints"] = 10**16 + 1
        types["max_identical_prints"] = pa.int64()
    elif fault == "bad symbol":
        rows[2]["symbol"] = "aapl"
    elif fault == "bar_start out of range":
        for i, row in enumerate(rows):
            row["bar_start"] = 1773066600000 if i != 1 else 5
        types["bar_start"] = pa.int64()
    elif fault == "bar_start without a zone":
        for row in rows:
            row["bar_start"] = row["bar_start"][:19]
    cfg = served.platform.config
    small = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"max_batch_rows": 5})})
    platform = Platform.create(small, lakehouse_root=served.platform.lakehouse_root)
    with _client(platform) as client:
        text = json.dumps({"rows": rows}, allow_nan=True).encode()  # NaN / Infinity: the extensions Python sends
        as_json = client.post("/v1/anomaly/score", content=text, headers=JSON)
        as_arrow = client.post("/v1/anomaly/score", content=_stream(_table(rows, **types)), headers=ARROW)
    assert as_arrow.status_code == status, as_arrow.text
    if fault == "bar_start without a zone":  # JSON has text; Arrow has text too, and says the same
        assert as_json.status_code == 422 and needle in as_json.json()["message"]
    assert as_arrow.json() == as_json.json()
    assert needle in (as_arrow.json().get("message") or as_arrow.json()["detail"])


def test_what_json_cannot_send_is_refused_with_a_clear_422(served: Served) -> None:
    rows = _json_rows(served, 3)
    table = _table(rows)
    with _client(served.platform) as client:
        junk = client.post("/v1/anomaly/score", content=b"not arrow at all", headers=ARROW)
        assert junk.status_code == 422 and junk.json()["detail"][0]["type"] == "arrow_invalid"
        assert junk.json()["message"].startswith("invalid request: body: Invalid Arrow IPC stream: ")
        empty = client.post("/v1/anomaly/score", content=_stream(table.slice(0, 0)), headers=ARROW)
        assert empty.status_code == 422
        assert empty.json()["detail"][0]["msg"] == "List should have at least 1 item after validation, not 0"
        extra = client.post(
            "/v1/anomaly/score", content=_stream(table.append_column("note", pa.array(["x"] * 3))), headers=ARROW
        )
        assert extra.status_code == 422
        assert extra.json()["detail"][0]["loc"] == ["body", "rows", 0, "note"]
        assert extra.json()["detail"][0]["msg"] == (
            "column 'note' is not a feature column of the served champion: an Arrow body carries symbol, "
            "bar_start and the model's feature columns"
        )
        twice = pa.Table.from_arrays([*table.columns, table.column("rsi")], names=[*table.column_names, "rsi"])
        dup = client.post("/v1/anomaly/score", content=_stream(twice), headers=ARROW)
        assert dup.status_code == 422 and "column 'rsi' appears twice" in dup.json()["message"]
        naive = table.set_column(
            table.schema.get_field_index("bar_start"),
            "bar_start",
            pa.array(pd.to_datetime([r["bar_start"] for r in rows], utc=True).tz_localize(None), pa.timestamp("ms")),
        )
        zone = client.post("/v1/anomaly/score", content=_stream(naive), headers=ARROW)
        assert zone.status_code == 422
        assert "rows[0].bar_start needs a time zone (an Arrow timestamp with tz=, e.g. UTC)" in zone.json()["message"]
        bools = table.set_column(table.schema.get_field_index("rsi"), "rsi", pa.array([True, False, True]))
        flag = client.post("/v1/anomaly/score", content=_stream(bools), headers=ARROW)
        assert flag.status_code == 422 and "rows[0].rsi must be a number or null, got bool" in flag.json()["message"]
        unauthorised = client.post(
            "/v1/anomaly/score", content=_stream(table), headers={**ARROW, "X-API-Key": "not-a-key-of-this-app"}
        )
        assert unauthorised.status_code == 401
