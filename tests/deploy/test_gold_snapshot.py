"""Gold as the jobs read it on Databricks: the pipeline's materialized view is snapshotted into a job-owned Delta
table whose versions the jobs pin (a materialized view has no time travel)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from financial_transactions.pipeline.declarative import MV_SUFFIX, SNAPSHOT_KEYS, published_name
from financial_transactions.pipeline.snapshot import snapshot_published
from financial_transactions.runtime import Platform


def test_gold_is_published_under_another_name_than_the_jobs_read(platform: Platform) -> None:
    cfg = platform.config
    assert SNAPSHOT_KEYS == ("gold_trade_features",)
    assert published_name(cfg, "gold_trade_features") == "gold_trade_features" + MV_SUFFIX
    assert published_name(cfg, "silver_trades") == "silver_trades"


def _bars(closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["AAPL"] * len(closes),
            "bar_start": pd.date_range("2026-03-06 14:30", periods=len(closes), freq="min", tz="UTC"),
            "close": closes,
        }
    )


@pytest.mark.timeout(300)
def test_each_snapshot_is_a_version_the_jobs_can_pin(platform: Platform, spark: Any) -> None:
    store, gold = platform.store, platform.table("gold_trade_features")
    view = gold + MV_SUFFIX
    store.overwrite(view, _bars([1.0, 2.0]))
    (first,) = snapshot_published(platform)
    assert (first.source, first.target, first.inserted) == (view, gold, 2)
    store.overwrite(view, _bars([1.0, 2.5, 3.0]))  # the next pipeline update: one bar revised, one new
    (second,) = snapshot_published(platform)
    assert second.version > first.version and (second.inserted, second.updated) == (1, 2)
    assert store.read(gold, version=first.version)["close"].tolist() == [1.0, 2.0]
    assert sorted(store.read(gold)["close"].tolist()) == [1.0, 2.5, 3.0]


def test_on_the_embedded_engine_the_runner_writes_gold_itself(platform: Platform) -> None:
    with pytest.raises(LookupError, match="run the pipeline first"):
        snapshot_published(platform)
    platform.store.overwrite(platform.table("gold_trade_features"), _bars([1.0]))
    (snap,) = snapshot_published(platform)
    assert snap.source is None and snap.version == platform.store.version(platform.table("gold_trade_features"))
