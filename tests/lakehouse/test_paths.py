"""Lakehouse paths: ground truth, replay windows and volumes spelled once; writers and readers agree on them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from financial_transactions.config.collectors import ReplayConfig
from financial_transactions.features.labels import ground_truth_files, load_coverage
from financial_transactions.lakehouse.paths import LakehousePaths, window_days, window_name
from financial_transactions.market.calendar import trading_days
from financial_transactions.replay.market import CRYPTO, EQUITY, MarketData


def _paths(root: Path, *, databricks: bool = False) -> LakehousePaths:
    return LakehousePaths(root, "mlops_dev", "financial_transactions", databricks=databricks)


def _market(window: str) -> MarketData:
    ts = np.array([1_772_800_000_000, 1_772_800_060_000, 1_772_800_120_000], dtype=np.int64)
    return MarketData(
        window=window,
        symbols=["AAPL", "BTCUSDT"],
        asset_classes=[EQUITY, CRYPTO],
        sym=np.array([0, 1, 0], dtype=np.int64),
        ts=ts,
        price=np.array([190.0, 65_000.0, 191.5]),
        volume=np.array([10.0, 0.5, 12.0]),
        cond=np.zeros(3, dtype=np.int8),
        anomaly=np.array([0, 0, 1], dtype=np.int8),
        exchange_id=np.array([1, 1, 2], dtype=np.int64),
        buyer_maker=np.zeros(3, dtype=bool),
    )


def test_volumes_and_the_ground_truth_layout(tmp_path: Path) -> None:
    local = _paths(tmp_path)
    landing = tmp_path / "Volumes" / "mlops_dev" / "financial_transactions" / "landing"
    assert local.landing == landing
    assert local.ground_truth(2) == landing / "_ground_truth" / "window2" / "anomalies.ndjson"
    assert local.ground_truth("window2") == local.ground_truth(2)
    assert local.coverage(1) == landing / "_ground_truth" / "window1" / "coverage.json"
    assert local.checkpoint("silver_trades_stream") == local.checkpoints / "silver_trades_stream"
    remote = _paths(tmp_path, databricks=True)
    assert remote.ground_truth(1) == Path(
        "/Volumes/mlops_dev/financial_transactions/landing/_ground_truth/window1/anomalies.ndjson"
    )
    assert remote.exports == Path("/Volumes/mlops_dev/financial_transactions/exports")


def test_replay_windows_are_consecutive_blocks_of_trading_days() -> None:
    cfg = ReplayConfig(start_date=date(2026, 3, 6), trading_days=2)
    assert window_name(3) == "window3" and window_name("window3") == "window3"
    days = trading_days(date(2026, 3, 6), 6)
    assert window_days(cfg, 1) == days[:2]
    assert window_days(cfg, 2) == days[2:4]
    assert window_days(cfg, 3) == days[4:6]


def test_the_replay_writes_ground_truth_where_labels_and_monitoring_read_it(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    assert paths.ground_truth_files() == []
    written = _market(window_name(2)).write_ground_truth(paths.landing)
    assert written == paths.ground_truth(2)
    assert paths.coverage(2).is_file()
    _market(window_name(1)).write_ground_truth(paths.landing)
    (paths.ground_truth_root / "window3").mkdir()  # a window whose labels have not arrived
    assert paths.ground_truth_files() == [paths.ground_truth(1), paths.ground_truth(2)]
    assert ground_truth_files(paths.landing) == paths.ground_truth_files()
    assert ground_truth_files(paths.landing, ["window2"]) == [paths.ground_truth(2)]
    coverage = load_coverage(paths.landing)
    assert sorted(coverage["window"].unique()) == ["window1", "window2"]
    assert paths.ground_truth(2).read_text(encoding="utf-8").count("\n") == 1  # the one anomalous trade
