"""``POST /v1/feedback``: an analyst's verdict lands in ``analyst_feedback``; what the document refuses is a 422."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from financial_transactions.features.feedback import load_feedback
from financial_transactions.runtime import Platform
from financial_transactions.serving.api import create_app

KEY = "feedback-test-key"


def test_a_verdict_is_recorded_with_who_and_the_api_channel(platform: Platform) -> None:
    app = create_app(platform, api_keys=[KEY], watch=False)
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY}) as client:
        body = {"symbol": "SPX", "bar_start": "2018-12-24T14:30:00Z", "verdict": "confirmed", "analyst": "ana"}
        created = client.post("/v1/feedback", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["verdict"] == "confirmed" and created.json()["bar_start"].startswith("2018-12-24T14:30")
        blank = client.post("/v1/feedback", json={**body, "analyst": " "})
        assert blank.status_code == 422 and "analyst" in blank.json()["message"]
        unkeyed = client.post("/v1/feedback", json=body, headers={"X-API-Key": "wrong"})
        assert unkeyed.status_code == 401
        spec = client.get("/openapi.json").json()
        assert set(spec["paths"]["/v1/feedback"]["post"]["responses"]) >= {"201", "401", "422", "429"}
    row = load_feedback(platform).iloc[0]
    assert row["analyst"] == "ana" and row["channel"] == "api"
    assert pd.Timestamp(row["bar_start"]) == pd.Timestamp("2018-12-24T14:30:00Z")
