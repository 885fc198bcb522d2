"""The gate's and the trigger's figures on the page (headless Chromium): the gain with its lower bound, recall at
the matched cut, and the champion's monitored value inside its bootstrap band against the baseline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from financial_transactions.reporting.export import export_dashboard
from financial_transactions.runtime import Platform

from .browser import announce_skip, chromium, find_chromium
from .lakehouse_fixture import write_platform_tables
from .test_dashboard_browser import open_page, severe_logs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if find_chromium() is None:
        announce_skip()
        pytest.skip("Chromium + chromedriver not installed: run `bash .ci/install-browser.sh` (browser test SKIPPED)")
    with chromium() as d:
        yield d


@pytest.fixture(scope="module")
def fixture_export(platform_factory: Callable[..., Platform]) -> Path:
    platform = platform_factory("gate-trigger")
    write_platform_tables(platform)
    return export_dashboard(platform).out_dir


def _texts(driver: Any, selector: str) -> list[str]:
    return list(driver.execute_script(f"return [...document.querySelectorAll({selector!r})].map(e => e.textContent)"))


def test_gate_decisions_show_the_gain_with_its_bound_and_the_matched_recall(driver: Any, fixture_export: Path) -> None:
    open_page(driver, (fixture_export / "index.html").as_uri())
    headers = _texts(driver, "#panel-champion table th")
    assert {"gain [bound]", "recall at matched cut", "latency"} <= set(headers)
    cells = " ".join(_texts(driver, "#panel-champion table td"))
    # the REJECT row: +0.004 point gain, its 95 % lower bound -0.021, against the 0.01 margin
    assert "+0.004 [≥ -0.021, 95%; margin 0.010]" in cells
    assert "0.710 → 0.720 @ FPR 0.010" in cells
    assert severe_logs(driver) == []


def test_performance_is_drawn_inside_its_band_against_the_baseline(driver: Any, fixture_export: Path) -> None:
    open_page(driver, (fixture_export / "index.html").as_uri())
    bands = driver.execute_script("return document.querySelectorAll('#panel-drift polygon.band').length")
    assert bands == 1  # both windows have an interval: one shaded run
    legend = " ".join(_texts(driver, "#panel-drift .perf-band .legend"))
    assert "95% bootstrap interval" in legend and "baseline 0.880" in legend
    assert "with ≥ 30 labelled anomalies" in legend
    dashed = driver.execute_script(
        "return document.querySelectorAll('#panel-drift .perf-band line[stroke-dasharray]').length"
    )
    assert dashed == 1
    assert severe_logs(driver) == []


def test_a_real_run_shows_the_band_of_its_monitored_champion(driver: Any, run_export: Path) -> None:
    open_page(driver, (run_export / "index.html").as_uri())
    assert driver.execute_script("return document.querySelectorAll('#panel-drift .perf-band svg').length") == 1
    assert driver.execute_script("return document.querySelectorAll('#panel-drift polygon.band').length") >= 1
    assert any("[≥" in c for c in _texts(driver, "#panel-champion table td")) or "first deploy" in " ".join(
        _texts(driver, "#panel-champion table td")
    )
    assert severe_logs(driver) == []
