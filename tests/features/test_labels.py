"""The label: ground-truth join per (symbol, bar), the documented rule, and leakage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from financial_transactions.config.collectors import ReplayConfig
from financial_transactions.config.ml import FeaturesConfig, LabelsConfig
from financial_transactions.features.feature_engineering import FEATURE_COLUMNS, build_gold_features
from financial_transactions.features.labels import (
    best_single_feature_f1,
    ground_truth_files,
    label_bars,
    load_coverage,
    load_ground_truth,
    rule_flags,
    rule_labels,
)
from financial_transactions.replay.market import MarketData
from financial_transactions.replay.synthetic import build_synthetic_market
from tests.features.trades import synthetic_trades, with_transient_and_persistent_events


def _ms(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value // 1_000_000


def _write_truth(
    landing: Path, window: str, records: list[dict[str, object]], coverage: dict[str, tuple[str, str]] | None = None
) -> Path:
    """A replay-style ground-truth file, plus ``coverage.json`` (symbol -> (start, end)) when given."""
    path = landing / "_ground_truth" / window / "anomalies.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if coverage is not None:
        entries = [{"symbol": s, "start_ms": _ms(a), "end_ms": _ms(b)} for s, (a, b) in coverage.items()]
        (path.parent / "coverage.json").write_text(json.dumps({"window": window, "symbols": entries}), "utf-8")
    return path


def _rec(symbol: str, ts: str, kind: str) -> dict[str, object]:
    return {"source": "finnhub", "symbol": symbol, "ts": _ms(ts), "price": 1.0, "volume": 1.0, "anomaly_type": kind}


def test_ground_truth_marks_exactly_the_bars_holding_an_anomalous_trade(tmp_path: Path) -> None:
    trades = synthetic_trades("AAPL", 600, seed=4, start="2025-03-07 15:00:00", mean_gap_ms=500)
    gold = build_gold_features(trades, FeaturesConfig())
    assert len(gold) >= 4
    starts = list(gold.bar_start)
    t1 = (starts[1] + pd.Timedelta(seconds=5)).isoformat()
    t3a = (starts[3] + pd.Timedelta(seconds=59, milliseconds=999)).isoformat()  # last ms of the bar
    t3b = starts[3].isoformat()
    _write_truth(
        tmp_path,
        "w1",
        [
            _rec("AAPL", t1, "price_spike"),
            _rec("AAPL", t3a, "wash_trade"),
            _rec("AAPL", t3b, "volume_burst"),
            _rec("AAPL", t3b, "wash_trade"),
            _rec("AAPL", "2031-01-02 15:00:00", "stale_price"),  # no such bar: unmatched
            _rec("MSFT", t1, "price_spike"),  # other symbol: not AAPL's bar
        ],
        coverage={"AAPL": ("2025-03-07 14:00:00", "2025-03-07 20:00:00"), "MSFT": ("2025-03-07", "2025-03-08")},
    )
    truth = load_ground_truth(tmp_path)
    assert len(truth) == 6 and set(truth.window) == {"w1"}
    coverage = load_coverage(tmp_path)
    assert list(coverage.symbol) == ["AAPL", "MSFT"]
    assert coverage.start[0] == pd.Timestamp("2025-03-07 14:00", tz="UTC")
    labelled, report = label_bars(gold, LabelsConfig(source="auto"), FeaturesConfig(), truth, coverage)
    assert report.source == "ground_truth" and set(labelled.label_source) == {"ground_truth"}
    assert list(labelled.index[labelled.label == 1]) == [1, 3]
    assert labelled.anomaly_types[1] == "price_spike"
    assert labelled.anomaly_types[3] == "volume_burst,wash_trade"
    assert (labelled.anomaly_types[labelled.label == 0] == "").all()
    assert report.positives == 2 and report.labelled == len(gold)
    assert report.truth_unmatched == 2
    assert report.by_type == {"price_spike": 1, "volume_burst": 1, "wash_trade": 1, "stale_price": 0}
    assert report.by_source == {"ground_truth": len(gold)}
    # the same file found from the window folder or the file itself; windows filter
    assert ground_truth_files(tmp_path / "_ground_truth" / "w1") == ground_truth_files(tmp_path)
    assert len(load_ground_truth(tmp_path / "_ground_truth" / "w1" / "anomalies.ndjson")) == 6
    assert load_ground_truth(tmp_path, windows=["other"]).empty


def test_malformed_ground_truth_raises_with_location(tmp_path: Path) -> None:
    path = _write_truth(tmp_path, "w1", [_rec("AAPL", "2025-03-07 15:00:00", "price_spike")])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"symbol": "AAPL", "ts": 1}\n')
    with pytest.raises(ValueError, match=r"anomalies.ndjson:2"):
        load_ground_truth(tmp_path)
    _write_truth(tmp_path, "w2", [_rec("AAPL", "2025-03-07 15:00:00", "meteor")])
    with pytest.raises(ValueError, match="unknown anomaly_type"):
        load_ground_truth(tmp_path, windows=["w2"])
    folder = tmp_path / "_ground_truth" / "w3"
    _write_truth(tmp_path, "w3", [], coverage={"AAPL": ("2025-03-07", "2025-03-08")})
    (folder / "coverage.json").write_text('{"window": "w3", "symbols": [{"symbol": "AAPL", "start_ms": 5}]}')
    with pytest.raises(ValueError, match=r"w3/coverage.json: symbols\[0\] is not a coverage entry"):
        load_coverage(tmp_path, windows=["w3"])
    (folder / "coverage.json").write_text('{"window": "w3", "symbols": [{"symbol": "A", "start_ms": 9, "end_ms": 1}]}')
    with pytest.raises(ValueError, match="ends before it starts"):
        load_coverage(tmp_path, windows=["w3"])
    (folder / "coverage.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a ground-truth coverage file"):
        load_coverage(tmp_path, windows=["w3"])


def test_label_source_selection() -> None:
    gold = build_gold_features(synthetic_trades(n=3000), FeaturesConfig())
    _, auto = label_bars(gold, LabelsConfig(source="auto"), FeaturesConfig(), None)
    assert auto.source == "rule"
    with pytest.raises(ValueError, match="no ground-truth"):
        label_bars(gold, LabelsConfig(source="ground_truth"), FeaturesConfig(), pd.DataFrame())
    elsewhere = pd.DataFrame(
        {
            "symbol": ["MSFT"],
            "start": [pd.Timestamp("2020-01-01", tz="UTC")],
            "end": [pd.Timestamp("2020-01-02", tz="UTC")],
        }
    )
    with pytest.raises(ValueError, match="covers no gold bar"):
        label_bars(gold, LabelsConfig(source="ground_truth"), FeaturesConfig(), None, elsewhere)


def _market(seed: int) -> MarketData:
    """One trading day of the synthetic replay market: AAPL and BTCUSDT, ~2% anomalous minutes."""
    cfg = ReplayConfig(
        seed=seed, trading_days=1, equity_trades_per_day=6000, crypto_trades_per_day=6000, anomaly_rate=0.02
    )
    return build_synthetic_market(cfg, ["AAPL"], ["BTCUSDT"])


def test_ground_truth_where_covered_rule_elsewhere(tmp_path: Path) -> None:
    """A replay window (with ground truth and coverage) mixed with live-vendor bars that have none.

    Covered bars are labelled from the ground truth; MSFT (a live symbol the replay never
    produced) and AAPL bars after the replay window are labelled by the rule, so a transient
    fat-finger print in them is an anomaly, not a ground-truth negative.
    """
    market = _market(seed=5)
    market.write_ground_truth(tmp_path)
    replay = market.silver_frame()
    window_end = pd.Timestamp(int(market.ts[-1]), unit="ms", tz="UTC")
    live_msft, events = with_transient_and_persistent_events(
        synthetic_trades("MSFT", 12_000, seed=3, start=str(window_end.tz_localize(None)), price0=410.0), seed=8
    )
    live_aapl = synthetic_trades("AAPL", 3000, seed=4, start=str((window_end + pd.Timedelta(days=3)).tz_localize(None)))
    silver = pd.concat([replay, live_msft.drop(columns=["trade_date", "session_type"]),
                        live_aapl.drop(columns=["trade_date", "session_type"])], ignore_index=True)  # fmt: skip
    gold = build_gold_features(silver, FeaturesConfig())
    truth, coverage = load_ground_truth(tmp_path), load_coverage(tmp_path)
    assert set(coverage.symbol) == {"AAPL", "BTCUSDT"} and len(truth) > 0

    labelled, report = label_bars(gold, LabelsConfig(source="auto"), FeaturesConfig(), truth, coverage)

    assert report.source == "mixed"
    by = labelled.groupby(["symbol", "label_source"]).size().to_dict()
    in_window = labelled.bar_start <= window_end
    assert set(labelled[labelled.symbol == "MSFT"].label_source) == {"rule"}
    assert set(labelled[(labelled.symbol == "AAPL") & in_window].label_source) == {"ground_truth"}
    assert set(labelled[(labelled.symbol == "AAPL") & ~in_window].label_source) == {"rule"}
    assert set(labelled[labelled.symbol == "BTCUSDT"].label_source) == {"ground_truth"}
    assert report.by_source == {"ground_truth": by[("AAPL", "ground_truth")] + by[("BTCUSDT", "ground_truth")],
                                "rule": by[("AAPL", "rule")] + by[("MSFT", "rule")]}  # fmt: skip
    # ground-truth rows: label 1 exactly on the bars holding a listed trade
    truth_bars = {(s, t.floor("1min")) for s, t in zip(truth.symbol, truth.ts, strict=True)}
    gt = labelled[labelled.label_source == "ground_truth"]
    assert {(s, t) for s, t in zip(gt.symbol, gt.bar_start, strict=True) if (s, t) in truth_bars} == {
        (s, t) for s, t, y in zip(gt.symbol, gt.bar_start, gt.label, strict=True) if y == 1
    }
    assert report.positives == int(labelled.label.sum()) > 0
    # the live fat-finger prints are anomalies under the rule (a global ground-truth choice made them negatives)
    spikes = events[events.kind == "spike"].assign(bar_start=lambda f: f.ts.dt.floor("1min"))
    hit = labelled.merge(spikes[["symbol", "bar_start"]], on=["symbol", "bar_start"])
    assert len(hit) >= 3 and hit.label.mean() >= 0.6 and set(hit.anomaly_types) <= {"rule", ""}

    gt_only, gt_report = label_bars(gold, LabelsConfig(source="ground_truth"), FeaturesConfig(), truth, coverage)
    assert set(gt_only.label_source) == {"ground_truth"} and len(gt_only) == len(gt)
    assert gt_report.unlabelled == len(gold) - len(gt)
    rule_only, rule_report = label_bars(gold, LabelsConfig(source="rule"), FeaturesConfig(), truth, coverage)
    assert set(rule_only.label_source) == {"rule"} and rule_report.source == "rule"


def test_truth_without_coverage_gives_positives_only(tmp_path: Path) -> None:
    """An old ground-truth file (no coverage.json): its trades are positives, no bar becomes a negative."""
    market = _market(seed=6)
    market.write_ground_truth(tmp_path)
    (tmp_path / "_ground_truth" / market.window / "coverage.json").unlink()
    gold = build_gold_features(market.silver_frame(), FeaturesConfig())
    truth = load_ground_truth(tmp_path)
    labelled, report = label_bars(gold, LabelsConfig(), FeaturesConfig(), truth, load_coverage(tmp_path))
    gt = labelled[labelled.label_source == "ground_truth"]
    assert len(gt) > 0 and (gt.label == 1).all()
    assert len(gt) == len({(s, t.floor("1min")) for s, t in zip(truth.symbol, truth.ts, strict=True)})
    assert report.source == "mixed" and report.by_source["rule"] == len(labelled) - len(gt)


def test_csv_market_without_labels_writes_no_coverage(tmp_path: Path) -> None:
    market = _market(seed=7)
    market.has_ground_truth = False
    folder = tmp_path / "_ground_truth" / market.window
    folder.mkdir(parents=True)
    (folder / "coverage.json").write_text('{"window": "window1", "symbols": []}')  # from an earlier run
    market.write_ground_truth(tmp_path)
    assert not (folder / "coverage.json").exists() and load_coverage(tmp_path).empty


@pytest.fixture(scope="module")
def rule_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    parts, events = [], []
    for i, symbol in enumerate(["AAPL", "MSFT"]):
        trades, ev = with_transient_and_persistent_events(synthetic_trades(symbol, 40_000, seed=i), seed=10 + i)
        parts.append(trades)
        events.append(ev)
    gold = build_gold_features(pd.concat(parts, ignore_index=True), FeaturesConfig())
    return gold, pd.concat(events, ignore_index=True)


def test_rule_flags_transient_events_not_persistent_ones(rule_case: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    gold, events = rule_case
    labelled, report = rule_labels(gold, LabelsConfig(rule_forward_bars=5, rule_zscore=4.0))
    # the rule needs 5 bars after a bar and, before it, 30 returns for its scale (31 bars):
    # the first 31 and the last 5 bars of each symbol are dropped
    assert report.unlabelled == 2 * (31 + 5) and len(labelled) == len(gold) - 72
    assert set(labelled.label_source) == {"rule"}
    events = events.assign(bar_start=events.ts.dt.floor("1min").dt.as_unit("us"))
    # judge events alone in their +/- k-bar neighbourhood: a burst right before a volume
    # regime *is* confirmed by what follows, and the rule rightly lets it pass
    edges = pd.concat(
        [
            events[["symbol", "bar_start"]],
            events[events.kind == "regime"][["symbol", "bar_start"]].assign(
                bar_start=lambda f: f.bar_start + pd.Timedelta(minutes=30)
            ),
        ]
    )

    def isolated(row: pd.Series) -> bool:
        others = edges[(edges.symbol == row.symbol)].bar_start
        gaps = (others - row.bar_start).abs()
        return bool((gaps[gaps > pd.Timedelta(0)] > pd.Timedelta(minutes=6)).all())

    events = events[events.apply(isolated, axis=1)]
    assert len(events) >= 16
    hit = labelled.merge(events, on=["symbol", "bar_start"])
    rate = hit.groupby("kind").label.mean()
    assert rate["spike"] >= 0.9 and rate["burst"] >= 0.9
    assert rate["jump"] <= 0.1 and rate["regime"] <= 0.1


def test_no_single_feature_reproduces_the_rule_label(rule_case: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Leakage check: the best threshold on any one model input stays far from F1 = 1."""
    gold, _ = rule_case
    labelled, report = rule_labels(gold, LabelsConfig())
    assert report.positives >= 20
    scores = best_single_feature_f1(labelled, FEATURE_COLUMNS)
    assert set(scores) == set(FEATURE_COLUMNS)
    assert max(scores.values()) < 0.75, sorted(scores.items(), key=lambda kv: -kv[1])[:3]
    # the check itself works: a column that *is* the label scores 1
    assert best_single_feature_f1(labelled.assign(leak=labelled.label * 3.0), ["leak"])["leak"] == 1.0
    noisy = labelled.assign(x=np.where(labelled.label == 1, 1.0, 0.0) + np.arange(len(labelled)) * 1e-9)
    assert best_single_feature_f1(noisy, ["x"])["x"] == 1.0


def test_rule_label_needs_nothing_beyond_its_forward_horizon() -> None:
    """The label at t is fixed by bars t - rule_scale_bars .. t + k: rewriting every later bar
    (a whole "test period") changes no label at or before t. A whole-series scale failed this."""
    gold = build_gold_features(
        with_transient_and_persistent_events(synthetic_trades(n=40_000, seed=2))[0], FeaturesConfig()
    )
    cfg = LabelsConfig(rule_forward_bars=5)
    before = rule_flags(gold, cfg)
    rng = np.random.default_rng(0)
    for cut in (200, 350, len(gold) - 60):
        later = gold.copy()
        first = cut + cfg.rule_forward_bars + 1  # the first bar beyond t's horizon
        scale = np.ones(len(later))
        scale[first:] = rng.uniform(0.5, 3.0, len(later) - first)  # a wilder, pricier future
        for col in ("close", "high", "low"):
            later[col] = later[col].to_numpy() * scale
        later["volume"] = later["volume"].to_numpy() * scale**3
        after = rule_flags(later, cfg)
        np.testing.assert_array_equal(after[: cut + 1], before[: cut + 1])
        assert not np.array_equal(after[cut + 1 :], before[cut + 1 :], equal_nan=True)
    assert np.isnan(before[:31]).all() and np.isnan(before[-5:]).all() and not np.isnan(before[31:-5]).any()
