"""A futures file through the real replay servers, the collectors and the pipeline: silver and gold carry
asset_class ``future`` with CME Globex sessions, DST-correct on both 2026 switches, never an NYSE session,
and the weekend and the daily break leave gaps (no invented bars, no invented returns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.pipeline.batch import PipelineRunner
from financial_transactions.replay.window import ingest_window
from financial_transactions.runtime import Platform
from tests.support.futures import CLOSED, CONTINUOUS, TAPE, expected_bars, sessions, tape_ms, write_es_file
from tests.support.ingest import small_replay, with_replay


def test_a_futures_file_reaches_silver_and_gold_with_globex_sessions(
    config: ProjectConfig, lakehouse_root: Path, tmp_path: Path, spark: Any
) -> None:
    es = write_es_file(tmp_path / "es.csv")
    replay = small_replay(start_grace_seconds=0.5, csv_path=str(es), csv_symbol="ES", csv_asset_class="future")
    platform = Platform.create(with_replay(config, replay), lakehouse_root=lakehouse_root)
    platform._spark = spark
    assert [ingest_window(platform, w).summary["finnhub_trades"] for w in (1, 2)] == [11, 9]
    result = PipelineRunner(platform).run()
    assert result.counts["bronze_trades"] == 20 and result.counts["silver_trades"] == 20
    assert result.counts["silver_trades_quarantine"] == 0

    cfg, store = platform.config, platform.store
    silver = store.read(cfg.table("silver_trades"))
    silver = silver.assign(ms=pd.to_datetime(silver["ts"], utc=True).dt.as_unit("ms").astype("int64"))
    silver = silver.sort_values(["ms", "trade_id"]).reset_index(drop=True)
    assert silver["ms"].tolist() == sorted(tape_ms())
    assert set(silver["asset_class"]) == {"future"} and set(silver["symbol"]) == {"ES"}
    # the print-by-print Globex labels, DST-correct on 2026-03-08 and 2026-11-01 (tests.support.futures)
    by_time = dict(zip(tape_ms(), sessions(), strict=True))
    assert silver["session_type"].tolist() == [by_time[ms] for ms in silver["ms"]]
    assert silver["session_type"].value_counts().to_dict() == {CONTINUOUS: 14, CLOSED: 6}
    assert not set(silver["session_type"]) & {"pre_market", "regular", "after_hours"}
    march = silver[silver["ms"] < pd.Timestamp("2026-06-01", tz="UTC").value // 1_000_000]
    assert march["session_type"].tolist() == [s for t, *_, s, _ in TAPE if t.startswith("2026-03")]
    assert len(march) == 11
    # the Globex trading date: from 17:00 Chicago a print belongs to the next day (New York's date would not)
    day = silver.set_index("ms")["trade_date"].map(str)
    assert day[tape_ms()[5]] == "2026-03-09" and day[tape_ms()[10]] == "2026-03-10"  # Sun / Mon 17:0x CDT
    assert day[tape_ms()[13]] == "2026-11-01" and day[tape_ms()[16]] == "2026-11-02"  # Sun 16:00 / 19:00 CST

    gold = store.read(cfg.table("gold_trade_features")).sort_values("bar_start").reset_index(drop=True)
    starts = pd.to_datetime(gold["bar_start"], utc=True)
    # one bar per minute that has prints: 17, and none in the weekends or the breaks between them
    assert starts.tolist() == expected_bars() and len(gold) == 17
    saturday = starts.dt.tz_convert("America/Chicago").dt.dayofweek == 5
    assert not saturday.any()
    assert set(gold["asset_class"]) == {"future"}
    assert gold["session_type"].value_counts().to_dict() == {CONTINUOUS: 11, CLOSED: 6}
    assert gold["trade_count"].tolist() == [2, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]
    # each return is the change from the bar before it, across any gap: Friday's last print to Sunday's
    # first, never a zero from a filler bar
    close = gold["close"].to_numpy()
    assert np.allclose(gold["returns"].to_numpy()[1:], close[1:] / close[:-1] - 1.0, rtol=0, atol=1e-12)
    assert (gold["returns"].to_numpy()[1:] != 0).sum() == 14  # 2 of the 16 bars repeat the price before them
    sunday_open = gold.index[starts == pd.Timestamp("2026-03-08T22:00:00Z")][0]
    assert gold.loc[sunday_open - 1, "bar_start"] == pd.Timestamp("2026-03-08T21:59:00Z")
    assert gold.loc[sunday_open, "returns"] == pytest.approx(5742.50 / 5740.00 - 1.0, rel=0, abs=1e-12)
    # one session VWAP from Sunday's 17:00 CST open through New York's midnight to Monday morning
    monday = gold.index[starts == pd.Timestamp("2026-11-02T14:30:00Z")][0]
    session_pv = 6816.50 * 4 + 6817.00 * 1 + 6820.00 * 3
    assert gold.loc[monday, "session_vwap"] == pytest.approx(session_pv / 8, rel=1e-12)
