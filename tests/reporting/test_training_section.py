"""The champion panel's ``training`` section: why the latest attempt did or did not train, from ``training_runs``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from financial_transactions.lakehouse.catalog import spec
from financial_transactions.reporting.documents.champion import training_attempts
from financial_transactions.reporting.sources import Sources
from financial_transactions.runtime import Platform


def _attempt(at: datetime, status: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in spec("training_runs").schema.names}
    row.update(run_id=f"r-{at.hour}", started_at=at, status=status, **extra)
    return row


def test_the_latest_attempt_comes_first_with_its_reason_remedy_and_label_sources(platform: Platform) -> None:
    assert training_attempts(Sources(platform)).status == "missing"
    rows = [
        _attempt(
            datetime(2026, 3, 9, 10, tzinfo=UTC),
            "promoted",
            winner="lightgbm",
            test_pr_auc=0.6,
            label_sources=json.dumps({"rule": 120}),
        ),
        _attempt(
            datetime(2026, 3, 9, 11, tzinfo=UTC),
            "not_trained",
            reason="cannot train: the test slice has 0 anomalous row(s) out of 446",
            remedy="supply more history or turn on labelled injection",
            label_sources=json.dumps({"rule": 446}),
        ),
    ]
    platform.store.append(
        platform.config.table("training_runs"), pa.Table.from_pylist(rows, schema=spec("training_runs").schema)
    )
    section = training_attempts(Sources(platform))
    assert section.status == "ok"
    latest, earlier = section.data
    assert latest["status"] == "not_trained" and latest["at"] == "2026-03-09T11:00:00Z"
    assert latest["reason"].startswith("cannot train: the test slice has 0 anomalous")
    assert latest["remedy"] == "supply more history or turn on labelled injection"
    assert latest["label_sources"] == {"rule": 446}
    assert earlier["winner"] == "lightgbm" and earlier["test_pr_auc"] == 0.6


def test_the_feedback_counts_are_the_latest_verdict_per_bar(platform: Platform) -> None:
    from financial_transactions.features.feedback import record_feedback
    from financial_transactions.reporting.documents.champion import feedback_verdicts

    assert feedback_verdicts(Sources(platform)).data == {"confirmed": 0, "dismissed": 0}
    bar = datetime(2018, 12, 24, tzinfo=UTC)
    record_feedback(platform, symbol="SPX", bar_start=bar, verdict="confirmed", analyst="ana")
    record_feedback(platform, symbol="SPX", bar_start=bar, verdict="dismissed", analyst="bo")
    record_feedback(platform, symbol="NDX", bar_start=bar, verdict="confirmed", analyst="ana")
    section = feedback_verdicts(Sources(platform))
    assert section.status == "ok" and section.data == {"confirmed": 1, "dismissed": 1}
