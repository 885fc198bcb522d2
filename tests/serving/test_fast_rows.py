"""Large feature-row batches: the fast decoding (msgspec + numpy bounds over the matrix) scores exactly what the
full validation scores, and refuses with exactly the full validation's message and ``loc``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from financial_transactions.features.feature_engineering import feature_columns
from financial_transactions.serving.api import FAST_ROWS_MIN_BYTES, RowsDecoder, create_app
from financial_transactions.serving.schemas import ScoreRequest

from .support import KEY, Served
from .support import rows_of as _rows


def _client(served: Served) -> TestClient:
    served.platform.configure_mlflow()
    app = create_app(served.platform, watch=False, api_keys=[KEY])
    return TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY})


def _big(served: Served, n: int = 600) -> list[dict[str, Any]]:
    """Rows as the fast path takes them: the champion's columns, symbol and bar_start (other keys: full validation)."""
    keep = {*feature_columns(served.platform.config.features), "symbol", "bar_start"}
    rows = [{k: v for k, v in r.items() if k in keep} for r in _rows(served.gold, len(served.gold) - 40)]
    rows = [dict(rows[i % len(rows)]) for i in range(n)]
    for i, row in enumerate(rows):
        row["bar_start"] = rows[i % 7]["bar_start"] if i % 3 else 1773066600000 + 60_000 * (i % 5)
    return rows


def test_a_large_batch_is_decoded_fast_and_scored_as_the_full_validation_scores_it(served: Served) -> None:
    rows = _big(served)
    raw = json.dumps({"rows": rows}).encode()
    assert len(raw) >= FAST_ROWS_MIN_BYTES
    champion = served.registry.load(served.v1)
    columns = list(champion.unwrap_python_model().scorer.columns)
    fast = RowsDecoder(columns).decode(raw, 10_000)
    assert fast is not None
    slow = ScoreRequest.model_validate_json(raw).rows
    assert slow is not None
    expected = np.array([[r[c] for c in columns] for r in slow], dtype=np.float64)
    np.testing.assert_array_equal(fast.matrix, expected)
    assert fast.symbols == [r.get("symbol") for r in slow] and fast.bar_starts == [r.get("bar_start") for r in slow]
    with _client(served) as client:
        got = client.post("/v1/anomaly/score", content=raw, headers={"Content-Type": "application/json"})
        small = client.post("/v1/anomaly/score", json={"rows": rows[:50]})  # the full validation's path
    assert got.status_code == 200 and small.status_code == 200, got.text
    assert got.json()["results"][:50] == small.json()["results"]
    assert got.json()["count"] == 600
    # a row with a key beyond those takes the full validation, with the same result
    extra = json.dumps({"rows": [*rows[:-1], {**rows[-1], "session_type": "regular"}]}).encode()
    assert RowsDecoder(columns).decode(extra, 10_000) is None
    with _client(served) as client:
        full = client.post("/v1/anomaly/score", content=extra, headers={"Content-Type": "application/json"})
    assert full.status_code == 200 and full.json()["results"] == got.json()["results"]


def _mutate(rows: list[dict[str, Any]], at: int, change: dict[str, Any], drop: str | None = None) -> bytes:
    rows = [dict(r) for r in rows]
    rows[at].update(change)
    if drop:
        del rows[at][drop]
    return json.dumps({"rows": rows}).encode()


@pytest.mark.parametrize(
    ("change", "drop"),
    [
        ({"rsi": 1e16}, None),  # out of bounds
        ({"rsi": -1e300}, None),
        ({"rsi": "12.5"}, None),  # a numeric string in a model column
        ({"rsi": True}, None),  # a bool is not a number
        ({"rsi": [1.0]}, None),
        ({}, "rsi"),  # a model column missing
        ({"note": "x" * 201}, None),  # an extra key: long text
        ({"symbol": "aapl!"}, None),
        ({"bar_start": "2026-02-30T00:00:00Z"}, None),
        ({"bar_start": 5}, None),
        ({"bar_start": 1773066600000.5}, None),
    ],
)
def test_a_bad_value_in_a_large_batch_gets_the_full_validations_message_and_loc(
    served: Served, change: dict[str, Any], drop: str | None
) -> None:
    rows = _big(served)
    raw = _mutate(rows, 417, change, drop)
    small = _mutate(rows[400:420], 17, change, drop)  # the same fault, below the fast path's size
    assert len(small) < FAST_ROWS_MIN_BYTES <= len(raw)
    with _client(served) as client:
        big = client.post("/v1/anomaly/score", content=raw, headers={"Content-Type": "application/json"})
        ref = client.post("/v1/anomaly/score", content=small, headers={"Content-Type": "application/json"})
    assert big.status_code == ref.status_code == 422, (big.text, ref.text)
    got, want = big.json()["detail"][0], ref.json()["detail"][0]
    # the same fault at row 417 of the big batch and row 17 of the small one: the same message and loc
    assert [p if p != 417 else "#" for p in got["loc"]] == [p if p != 17 else "#" for p in want["loc"]]
    assert got["msg"].replace("[417]", "[#]") == want["msg"].replace("[17]", "[#]")
    assert "417" in got["msg"] or 417 in got["loc"]


def test_a_thread_count_reaches_only_a_scorer_that_takes_one() -> None:
    """Champions logged before ``Scorer.score_matrix`` took ``threads`` keep serving large batches."""
    from financial_transactions.serving.champion import LoadedModel

    calls: list[tuple[str, Any]] = []

    class Old:
        columns, threshold = ["a"], 0.5

        def score_matrix(self, matrix: np.ndarray) -> np.ndarray:
            calls.append(("old", None))
            return matrix[:, 0]

    class New(Old):
        def score_matrix(self, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:  # type: ignore[override]
            calls.append(("new", threads))
            return matrix[:, 0]

    class Pyfunc:
        def __init__(self, scorer: Any) -> None:
            self.scorer = scorer

        def unwrap_python_model(self) -> Any:
            return self

    matrix = np.array([[0.2], [0.7]])
    for scorer in (Old(), New()):
        model = LoadedModel.from_pyfunc("m", 1, Pyfunc(scorer))
        assert model.scorer_threads is isinstance(scorer, New)
        scores, labels = model.score_matrix(matrix, threads=0)
        np.testing.assert_array_equal(scores, [0.2, 0.7])
        assert labels.tolist() == [0, 1]
    assert calls == [("old", None), ("new", 0)]


def test_score_frame_is_predict_without_its_output_frame(served: Served) -> None:
    from financial_transactions.serving.champion import LoadedModel

    model = LoadedModel.from_pyfunc("m", served.v1, served.registry.load(served.v1))
    gold = served.gold.iloc[10:60].reset_index(drop=True)
    scores, labels = model.score_frame(gold)
    want = model.predict(gold)
    np.testing.assert_array_equal(scores, want["score"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(labels, want["label"].to_numpy(dtype=np.int64))
    assert labels.dtype == np.int64 and len(scores) == 50
