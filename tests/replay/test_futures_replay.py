"""Futures through the replay: a user's futures file is played on the Finnhub trade feed (real protocol,
real collector), gets no Alpha Vantage bars, and each window records the file's declared asset class."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from financial_transactions.config import ProjectConfig
from financial_transactions.config.core import ConfigError
from financial_transactions.lakehouse.paths import ASSET_CLASSES_FILE, ground_truth_dir
from financial_transactions.pipeline.silver_transform import asset_classes
from financial_transactions.replay.market import recorded_asset_classes
from financial_transactions.replay.window import ingest_window
from financial_transactions.runtime import Platform
from tests.support.futures import TAPE, WINDOW_TRADES, tape_ms, write_es_file
from tests.support.ingest import read_landing, small_replay, with_replay
from tests.support.lakehouse import PROJECT_ROOT


def _platform(config: ProjectConfig, root: Path, **replay: object) -> Platform:
    cfg = with_replay(config, small_replay(start_grace_seconds=0.5, **replay))  # type: ignore[arg-type]
    return Platform.create(cfg, lakehouse_root=root)


def test_a_futures_file_is_played_on_the_finnhub_feed_and_recorded_as_future(
    config: ProjectConfig, lakehouse_root: Path, tmp_path: Path
) -> None:
    es = write_es_file(tmp_path / "es.csv")
    platform = _platform(config, lakehouse_root, csv_path=str(es), csv_symbol="ES", csv_asset_class="future")
    landing = platform.paths.landing
    assert recorded_asset_classes(landing) == {}  # nothing replayed yet: silver knows only the config
    first = ingest_window(platform, 1)
    assert first.summary["finnhub_trades"] == WINDOW_TRADES[0] == 11
    assert "alphavantage_bars" not in first.summary and "binance_trades" not in first.summary
    second = ingest_window(platform, 2)
    assert second.summary["finnhub_trades"] == WINDOW_TRADES[1] == 9

    landed = read_landing(landing, "finnhub")
    assert len(landed) == len(TAPE) == 20
    assert {r["symbol"] for r in landed} == {"ES"} and {r["source"] for r in landed} == {"finnhub"}
    assert sorted(r["ts"] for r in landed) == sorted(tape_ms())  # every print, identical ones twice
    assert [r["conditions"] for r in landed] == [[]] * 20  # no NYSE sale conditions on a future
    assert not (landing / "alphavantage").exists()  # no bars for a future
    for window in ("window1", "window2"):
        record = orjson.loads((ground_truth_dir(landing, window) / ASSET_CLASSES_FILE).read_bytes())
        assert record == {"ES": "future"}
    assert recorded_asset_classes(landing) == {"ES": "future"}
    # what silver classifies by: the configured crypto pairs plus the file's declaration
    assert asset_classes(platform.config.symbols, landing) == {
        "BTCUSDT": "crypto",
        "ETHUSDT": "crypto",
        "SOLUSDT": "crypto",
        "ES": "future",
    }


def test_equities_and_futures_share_the_finnhub_feed_and_only_equities_get_bars(
    config: ProjectConfig, lakehouse_root: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "symbol,ts,price,volume,asset_class\n"
        "AAPL,2026-03-09T14:30:00.100Z,227.5,100,equity\n"
        "ES,2026-03-09T14:30:00.100Z,5750.25,2,future\n"
        "ES,2026-03-09T03:00:00.000Z,5741.00,1,future\n"  # 22:00 CDT Sunday: Globex is open, NYSE is not
        "AAPL,2026-03-09T14:31:10.000Z,227.6,300,equity\n"
        "ES,2026-03-09T14:31:10.000Z,5750.50,4,future\n"
    )
    platform = _platform(config, lakehouse_root, csv_path=str(path), csv_window2="regime_shift")
    result = ingest_window(platform, 1)
    assert result.summary["finnhub_trades"] == 5
    assert result.summary["alphavantage_bars"] == 3  # AAPL's two 1-minute bars and its day; none for ES
    landed = read_landing(platform.paths.landing, "finnhub")
    assert sorted((r["symbol"], r["conditions"]) for r in landed) == [
        ("AAPL", ["1"]),
        ("AAPL", ["1"]),
        ("ES", []),
        ("ES", []),
        ("ES", []),
    ]
    bars = read_landing(platform.paths.landing, "alphavantage")
    assert sorted((r["symbol"], r["interval"]) for r in bars) == [("AAPL", "1min"), ("AAPL", "1min"), ("AAPL", "daily")]
    assert recorded_asset_classes(platform.paths.landing) == {"AAPL": "equity", "ES": "future"}


def test_symbols_futures_is_one_rule_with_the_recorded_declarations() -> None:
    symbols = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev").symbols
    assert symbols.futures == []
    cfg = symbols.model_copy(update={"futures": ["NQ"]})
    assert [cfg.asset_class(s) for s in ("NQ", "BTCUSDT", "AAPL", "ES")] == ["future", "crypto", "equity", "equity"]
    # a replayed file's declaration outranks the lists, per symbol
    declared = {"ES": "future", "NQ": "equity"}
    assert [cfg.asset_class(s, declared) for s in ("NQ", "ES", "AAPL")] == ["equity", "future", "equity"]
    assert cfg.asset_classes(declared) == {
        "BTCUSDT": "crypto",
        "ETHUSDT": "crypto",
        "SOLUSDT": "crypto",
        "ES": "future",
    }
    assert "NQ" in cfg.all


def test_a_symbol_in_two_class_lists_is_a_config_error(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "project_config.yml").read_text()
    bad = tmp_path / "project_config.yml"
    bad.write_text(text.replace("  futures: []", "  futures: [ES, BTCUSDT]", 1))
    with pytest.raises(ConfigError, match=r"'BTCUSDT' is listed under both crypto and futures"):
        ProjectConfig.from_yaml(bad, "dev")


def test_a_damaged_record_is_an_error_naming_the_file(tmp_path: Path) -> None:
    folder = ground_truth_dir(tmp_path, "window1")
    folder.mkdir(parents=True)
    (folder / ASSET_CLASSES_FILE).write_bytes(b'{"ES": "commodity"}')
    with pytest.raises(ValueError, match=r"window1/asset_classes.json: symbol 'ES': asset class 'commodity'"):
        recorded_asset_classes(tmp_path)
