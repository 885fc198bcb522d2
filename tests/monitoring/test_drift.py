"""DriftDetector: values cross-checked independently, edge cases, Delta windows and the recorded run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from financial_transactions.config.monitoring import PSI_PER_JS_SQUARED, DriftConfig, js_equivalent
from financial_transactions.monitoring.drift_detector import (
    DriftDetector,
    DriftWindow,
    bin_counts,
    compare_numeric,
    exact_quantiles,
    feature_status,
    js_distance,
    level,
    psi,
    quantile_edges,
)

RNG = np.random.default_rng(7)


def cfg(**kw: object) -> DriftConfig:
    return DriftConfig(**{"min_rows": 1, "threads": 1, **kw})  # type: ignore[arg-type]


# -- binning ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        RNG.normal(size=300_000),
        RNG.lognormal(size=250_000),
        RNG.integers(0, 7, size=300_000).astype(float),
        np.where(RNG.random(300_000) < 0.7, 0.0, RNG.random(300_000)),
        np.sort(RNG.normal(size=300_000)),  # ordered input: the strided sample is still representative
    ],
)
def test_exact_quantiles_equal_numpy(values: np.ndarray) -> None:
    probs = np.arange(1, 10) / 10
    assert np.array_equal(exact_quantiles(values, probs), np.quantile(values, probs))


def test_quantile_edges_sit_between_the_reference_quartile_and_the_next_value_with_open_outer_bins() -> None:
    ref = np.arange(100, dtype=float)
    edges = quantile_edges(ref, 4)
    # quartiles 24.75 / 49.5 / 74.25, each moved halfway to the next reference value (25, 50, 75)
    assert edges.tolist() == [24.875, 49.75, 74.625]
    counts, missing = bin_counts(np.array([-1e9, 0, 24.75, 25, 99, 1e9, np.inf, -np.inf, np.nan]), edges)
    # (-inf, 24.875] (24.875, 49.75] (49.75, 74.625] (74.625, +inf): out-of-range values are counted, not dropped
    assert counts.tolist() == [4, 1, 0, 3]
    assert missing == 1


def test_point_mass_at_minimum_gets_its_own_bin_and_values_below_it_another() -> None:
    ref = np.concatenate([np.zeros(700), np.linspace(0.01, 1.0, 300)])
    edges = quantile_edges(ref, 10)
    counts, _ = bin_counts(ref, edges)
    assert counts[0] == 0  # (-inf, just below 0]: empty in the reference
    assert counts[1] == 700  # the zeros
    cur_counts, _ = bin_counts(np.full(50, -0.5), edges)
    assert cur_counts[0] == 50


# -- measures ---------------------------------------------------------------------------------
def test_psi_matches_a_hand_computation() -> None:
    ref = np.arange(100, dtype=float)  # quartile edges 24.875 / 49.75 / 74.625 -> 25 per bin
    cur = np.concatenate([np.full(10, 5.0), np.full(20, 30.0), np.full(30, 60.0), np.full(40, 90.0)])
    result = compare_numeric("x", ref, cur, cfg(bins=4))
    # (0.10-0.25)ln(0.10/0.25) + (0.20-0.25)ln(0.20/0.25) + (0.30-0.25)ln(0.30/0.25) + (0.40-0.25)ln(0.40/0.25)
    # = 0.137444 + 0.011157 + 0.009116 + 0.070501
    assert result.psi == pytest.approx(0.228218, abs=1e-6)
    assert result.js == pytest.approx(float(jensenshannon([0.25] * 4, [0.1, 0.2, 0.3, 0.4], base=2)), abs=1e-12)
    assert result.js == pytest.approx(0.200503, abs=1e-6)
    assert result.bins == 4
    # PSI between warn (0.1) and alert (0.25), JS between its warn (0.134) and alert (0.212): both say warn
    assert result.status == "warn"
    assert compare_numeric("x", ref, cur, cfg(bins=4, psi_alert=0.2)).status == "alert"  # PSI alone escalates
    assert compare_numeric("x", ref, cur, cfg(bins=4, js_alert=0.2)).status == "alert"  # JS alone escalates
    assert compare_numeric("x", ref, cur, cfg(bins=4, psi_warn=0.23, psi_alert=0.3)).status == "warn"  # JS warns


def test_js_thresholds_sit_where_the_psi_thresholds_do() -> None:
    # for small shifts JS divergence (base 2) ~ PSI / (8 ln 2), so JS distance ~ sqrt(PSI / 5.545)
    assert pytest.approx(5.545177, abs=1e-6) == PSI_PER_JS_SQUARED
    defaults = DriftConfig()
    assert (defaults.psi_warn, defaults.psi_alert) == (0.1, 0.25)
    assert defaults.js_warn == pytest.approx(js_equivalent(defaults.psi_warn), abs=5e-4)  # 0.1343
    assert defaults.js_alert == pytest.approx(js_equivalent(defaults.psi_alert), abs=5e-4)  # 0.2123
    assert js_equivalent(0.055452) == pytest.approx(0.1, abs=1e-6)  # the old JS 0.1 was PSI ~0.055
    # measured: normal mean shifts on reference deciles follow the relation within 2 %
    n = 20_000
    ref = norm.ppf((np.arange(n) + 0.5) / n)
    statuses = {}
    for shift in (0.1, 0.2, 0.3, 0.38, 0.45, 0.6):
        r = compare_numeric("x", ref, ref + shift, cfg())
        assert r.psi is not None and r.js is not None
        assert r.js == pytest.approx(js_equivalent(r.psi), rel=0.02)
        statuses[shift] = (r.status, level(r.psi, 0.1, 0.25), level(r.js, defaults.js_warn, defaults.js_alert))
    # the two measures agree on the status at every shift, so neither decides by a lower bar
    assert {k: v[0] for k, v in statuses.items()} == {
        0.1: "ok",
        0.2: "ok",
        0.3: "ok",  # PSI 0.086, JS 0.124: the old JS 0.1 alone made this an alert
        0.38: "warn",
        0.45: "warn",
        0.6: "alert",
    }
    assert all(psi_level == js_level for _, psi_level, js_level in statuses.values())


@pytest.mark.parametrize(
    ("psi_value", "js_value", "status"),
    [
        (0.05, 0.05, "ok"),
        (0.15, 0.05, "warn"),
        (0.05, 0.15, "warn"),
        (0.15, 0.15, "warn"),
        (0.30, 0.15, "alert"),
        (0.05, 0.25, "alert"),
        (0.10, 0.134, "warn"),  # thresholds are inclusive
        (0.25, 0.0, "alert"),
    ],
)
def test_feature_status_is_the_worse_of_the_two_measures(psi_value: float, js_value: float, status: str) -> None:
    assert feature_status(psi_value, js_value, DriftConfig()) == status


def test_js_warn_above_js_alert_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"js_warn \(0.3\) must not exceed js_alert \(0.2\)"):
        DriftConfig(js_warn=0.3, js_alert=0.2)


def test_psi_gives_empty_bins_the_documented_epsilon() -> None:
    ref = np.array([50, 50, 0], dtype=float)
    cur = np.array([50, 0, 50], dtype=float)
    eps = 1e-4
    p = np.array([0.5, 0.5, eps]) / (1 + eps)
    q = np.array([0.5, eps, 0.5]) / (1 + eps)
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi(ref, cur, eps) == pytest.approx(expected, rel=1e-12)


def test_js_distance_equals_scipy_on_the_same_bins() -> None:
    ref = RNG.normal(size=20_000)
    cur = RNG.normal(0.4, 1.3, size=15_000)
    edges = quantile_edges(ref, 10)
    rc, _ = bin_counts(ref, edges)
    cc, _ = bin_counts(cur, edges)
    expected = float(jensenshannon(rc, cc, base=2))
    assert js_distance(rc, cc) == pytest.approx(expected, abs=1e-12)
    result = compare_numeric("x", ref, cur, cfg())
    assert result.js == pytest.approx(expected, abs=1e-12)
    assert result.js is not None and 0.0 <= result.js <= 1.0


def test_identical_distributions_give_about_zero() -> None:
    values = RNG.normal(size=50_000)
    same = compare_numeric("x", values, values.copy(), cfg())
    assert same.psi == pytest.approx(0.0, abs=1e-12)
    assert same.js == pytest.approx(0.0, abs=1e-7)
    other_sample = compare_numeric("x", values, RNG.normal(size=50_000), cfg())
    assert other_sample.psi is not None and other_sample.psi < 0.01
    assert other_sample.status == "ok"


def test_shifted_distribution_is_flagged() -> None:
    ref = RNG.normal(size=50_000)
    result = compare_numeric("x", ref, RNG.normal(1.0, 1.0, size=50_000), cfg())
    assert result.psi is not None and result.psi > 0.25
    assert result.status == "alert"


def test_all_out_of_range_current_is_flagged() -> None:
    ref = RNG.uniform(0, 1, size=10_000)  # deciles: exactly 1000 reference values per bin
    result = compare_numeric("x", ref, RNG.uniform(5, 6, size=10_000), cfg())
    # every current value lands in the open top bin (74.25, +inf) analogue: q = (0, ..., 0, 1)
    js = math.sqrt(0.5 * (0.9 * math.log2(0.1 / 0.05) + 0.1 * math.log2(0.1 / 0.55)) + 0.5 * math.log2(1 / 0.55))
    assert result.js == pytest.approx(js, abs=1e-12)
    eps = 1e-4
    q_empty, q_top = eps / (1 + 9 * eps), 1 / (1 + 9 * eps)
    expected_psi = 9 * (q_empty - 0.1) * math.log(q_empty / 0.1) + (q_top - 0.1) * math.log(q_top / 0.1)
    assert result.psi == pytest.approx(expected_psi, rel=1e-9)
    assert result.status == "alert"


def test_categorical_features_bin_by_category_including_new_ones() -> None:
    ref = pd.Series(["regular"] * 80 + ["pre_market"] * 20)
    cur = pd.Series(["regular"] * 50 + ["pre_market"] * 20 + ["after_hours"] * 30)
    det = DriftDetector(cfg())
    report = det.compare(pd.DataFrame({"session": ref}), pd.DataFrame({"session": cur}))
    f = report.feature("session")
    assert f.kind == "categorical" and f.bins == 3
    expected_js = float(jensenshannon([0, 20, 80], [30, 20, 50], base=2))
    assert f.js == pytest.approx(expected_js, abs=1e-12)
    assert f.status == "alert"


# -- NaN policy ------------------------------------------------------------------------------
def test_nan_policy_bin_counts_missing_values_as_their_own_bin() -> None:
    ref = RNG.normal(size=10_000)
    cur = RNG.normal(size=10_000)
    cur[:3000] = np.nan  # 30 % missing now, none before
    binned = compare_numeric("x", ref, cur, cfg(nan_policy="bin"))
    assert binned.bins == 11 and binned.current_missing == 3000
    assert binned.status == "alert"
    dropped = compare_numeric("x", ref, cur, cfg(nan_policy="drop"))
    assert dropped.bins == 10 and dropped.current_missing == 3000
    assert dropped.status == "ok"  # the remaining values have the reference distribution


def test_nan_in_both_windows_at_the_same_rate_is_not_drift() -> None:
    ref = RNG.normal(size=20_000)
    cur = RNG.normal(size=20_000)
    ref[::10] = np.nan
    cur[::10] = np.nan
    result = compare_numeric("x", ref, cur, cfg())
    assert result.reference_missing == 2000 and result.current_missing == 2000
    assert result.status == "ok"


def test_all_missing_current_is_drift_with_bin_policy_and_insufficient_with_drop() -> None:
    ref = RNG.normal(size=1000)
    cur = np.full(1000, np.nan)
    assert compare_numeric("x", ref, cur, cfg()).status == "alert"
    assert compare_numeric("x", ref, cur, cfg(nan_policy="drop", min_rows=10)).status == "insufficient_data"


def test_reference_without_enough_values_is_insufficient_not_zero() -> None:
    ref = np.full(100, np.nan)
    ref[:5] = 1.0
    result = compare_numeric("x", ref, RNG.normal(size=100), cfg(min_rows=50))
    assert result.status == "insufficient_data" and result.psi is None and result.js is None


# -- the overall decision ---------------------------------------------------------------------
def _frames(n_features: int, shifted: list[int], n: int = 5000) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = pd.DataFrame({f"f{i}": RNG.normal(size=n) for i in range(n_features)})
    cur = pd.DataFrame({f"f{i}": RNG.normal(2.0 if i in shifted else 0.0, 1.0, size=n) for i in range(n_features)})
    return ref, cur


def test_one_noisy_feature_does_not_trigger_but_a_share_does() -> None:
    ref, cur = _frames(10, [3])
    one = DriftDetector(cfg()).compare(ref, cur)
    assert one.drifted_features == ["f3"] and not one.drift_detected and one.overall == "no_drift"
    ref, cur = _frames(10, [1, 4, 7])
    many = DriftDetector(cfg()).compare(ref, cur)
    assert many.drifted_share == pytest.approx(0.3) and many.drift_detected


def _gold_like(n: int, shift: float, rng: np.random.Generator) -> pd.DataFrame:
    """Model-feature columns with the near-duplicates of gold: one return, two MA horizons, three other signals."""
    close = 100 * np.exp(np.cumsum(rng.normal(0.0, 0.001 * (1 + shift), n)))
    log_ret = np.diff(np.log(close), prepend=np.log(close[0]))
    frame = pd.DataFrame({"returns": np.expm1(log_ret), "log_return": log_ret})
    for w in (10, 30):
        sma = pd.Series(close).rolling(w, min_periods=1).mean().to_numpy()
        ema = pd.Series(close).ewm(span=w + 2, adjust=False).mean().to_numpy()
        frame[f"sma_{w}_dev"] = close / sma - 1.0
        frame[f"ema_{w + 2}_dev"] = close / ema - 1.0
    for name in ("rsi", "natr", "trade_rate_ratio"):
        frame[name] = rng.normal(size=n)
    return frame


def test_near_duplicate_features_count_as_one_signal() -> None:
    """Only the volatility of returns changes: returns/log_return and the four MA deviations all drift,
    six columns of 9 (a 0.67 "share") but two signals of five."""
    rng = np.random.default_rng(11)
    ref, cur = _gold_like(6000, 0.0, rng), _gold_like(6000, 2.0, rng)
    grouped = DriftDetector(cfg()).compare(ref, cur)
    assert grouped.feature("returns").psi == pytest.approx(grouped.feature("log_return").psi, abs=1e-12)
    assert set(grouped.drifted_features) == {"returns", "log_return", *[c for c in ref if c.endswith("_dev")]}
    assert grouped.signals == ["return", "ma_deviation", "rsi", "natr", "trade_rate_ratio"]
    assert grouped.drifted_signals == ["return", "ma_deviation"]
    assert grouped.drifted_share == pytest.approx(2 / 5)
    assert grouped.feature("ema_32_dev").signal_name == "ma_deviation" and grouped.feature("rsi").signal_name == "rsi"
    assert "2/5 signals drifted" in grouped.reason and "6/9 features" in grouped.reason
    # counted per column (no groups), the same shift claims two thirds of the model's inputs
    flat = DriftDetector(cfg(signal_groups={})).compare(ref, cur)
    assert flat.drifted_share == pytest.approx(6 / 9)

    # min_drifted_features counts signals: the two faces of one return shift are one signal, not two
    rng = np.random.default_rng(12)
    ref, cur = _gold_like(6000, 0.0, rng), _gold_like(6000, 0.0, rng)
    cur["log_return"] = cur["log_return"] + 0.01
    cur["returns"] = np.expm1(cur["log_return"])
    returns_only = ref[["returns", "log_return", "rsi"]], cur[["returns", "log_return", "rsi"]]
    one = DriftDetector(cfg(drifted_share_alert=0.3)).compare(*returns_only)
    assert one.drifted_features == ["returns", "log_return"] and one.drifted_signals == ["return"]
    assert one.drifted_share == pytest.approx(0.5) and not one.drift_detected  # 1 signal < min_drifted_features 2
    assert DriftDetector(cfg(drifted_share_alert=0.3, signal_groups={})).compare(*returns_only).drift_detected


def test_signal_groups_config() -> None:
    groups = {"a": ["x_*"], "b": ["x_1", "y"]}
    det = DriftDetector(cfg(signal_groups=groups))
    ref = pd.DataFrame({c: RNG.normal(size=500) for c in ("x_1", "x_2", "y", "z")})
    report = det.compare(ref, ref)
    assert [f.signal_name for f in report.features] == ["a", "a", "b", "z"]  # the first matching group wins
    assert report.signals == ["a", "b", "z"] and report.drifted_share == 0.0
    with pytest.raises(ValueError, match="signal group"):
        cfg(signal_groups={"a": []})
    with pytest.raises(ValueError, match="signal group"):
        cfg(signal_groups={"not a name": ["x"]})
    rows = report.to_frame().to_pandas()
    assert rows["signal"].tolist() == ["a", "a", "b", "z"] and set(rows["signals"]) == {3}


def test_critical_feature_rules() -> None:
    ref, cur = _frames(10, [3])
    assert DriftDetector(cfg(critical_features=["f3"])).compare(ref, cur).drift_detected
    assert not DriftDetector(cfg(critical_features=["f3"], decision_rule="share")).compare(ref, cur).drift_detected
    ref, cur = _frames(10, [1, 4, 7])
    both = DriftDetector(cfg(critical_features=["f0"], decision_rule="share_and_critical")).compare(ref, cur)
    assert not both.drift_detected and both.critical_drifted == []
    with pytest.raises(ValueError, match="critical features"):
        DriftDetector(cfg(critical_features=["nope"])).compare(ref, cur)


def test_threads_give_the_same_numbers() -> None:
    ref, cur = _frames(6, [2])
    a = DriftDetector(cfg(threads=1)).compare(ref, cur)
    b = DriftDetector(cfg(threads=4)).compare(ref, cur)
    assert [(f.feature, f.psi, f.js) for f in a.features] == [(f.feature, f.psi, f.js) for f in b.features]


# -- Delta windows -----------------------------------------------------------------------------------
def _gold(start: datetime, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": np.where(np.arange(n) % 2 == 0, "AAPL", "BTCUSDT"),
            "bar_start": [start + timedelta(minutes=i) for i in range(n)],
            "returns": RNG.normal(shift, 1.0 + shift, size=n),
            "volume": RNG.lognormal(1.0 + shift, 1.0, size=n),
            "rsi": RNG.uniform(20 + 10 * shift, 80, size=n),
        }
    )


def test_run_reads_time_windows_and_versions_and_records_the_run(platform) -> None:  # type: ignore[no-untyped-def]
    gold = platform.config.table("gold_trade_features")
    w1 = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
    w2 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    v0 = platform.store.append(gold, _gold(w1, 2000, 0.0))
    platform.store.append(gold, _gold(w2, 2000, 1.0))
    det = DriftDetector(
        platform.config.drift.model_copy(update={"min_rows": 10, "features": ["returns", "volume", "rsi"]})
    )
    ref = DriftWindow("window-1", start=w1, end=w1 + timedelta(days=2))
    cur = DriftWindow("window-2", start=w2, end=w2 + timedelta(days=2))
    report = det.run(platform, ref, cur)
    assert report.extra == {"reference_rows": 2000, "current_rows": 2000}
    assert report.drift_detected and set(report.drifted_features) == {"returns", "volume", "rsi"}
    assert report.reference_version == 1 and report.current_version == 1

    # by version (time travel): version 0 holds window 1 only, so it equals the time-window result
    by_version = det.run(platform, DriftWindow("v0", version=v0), cur, record=False)
    assert by_version.feature("returns").psi == pytest.approx(report.feature("returns").psi, abs=1e-12)

    table = platform.store.read(platform.config.table("drift_monitoring"))
    assert len(table) == 3 and set(table["run_id"]) == {report.run_id}
    row = table.set_index("feature").loc["returns"]
    assert row["status"] == "alert" and row["overall_status"] == "drift"
    assert row["psi"] == pytest.approx(report.feature("returns").psi)
    assert row["reference_window"] == "window-1" and row["current_window"] == "window-2"
    assert (row["psi_warn"], row["psi_alert"], row["js_warn"], row["js_alert"]) == (0.1, 0.25, 0.134, 0.212)
    assert row["reference_start"] == pd.Timestamp(w1)
    assert row["signal"] == "return" and (row["signals"], row["drifted_signals"]) == (3, 3)


def test_empty_window_is_a_clear_error(platform) -> None:  # type: ignore[no-untyped-def]
    gold = platform.config.table("gold_trade_features")
    w1 = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
    platform.store.append(gold, _gold(w1, 100, 0.0))
    det = DriftDetector(platform.config.drift)
    with pytest.raises(ValueError, match=r"current window .* has no rows"):
        det.run(platform, DriftWindow("a", end=w1 + timedelta(days=1)), DriftWindow("b", start=w1 + timedelta(days=9)))
