"""The page in a real browser (headless Chromium): every panel renders real data, no console error,
hostile strings stay text, empty exports show empty states; screenshots are saved for review."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM_FLAGS, announce_skip, chromium, find_chromium, full_page_screenshot
from .lakehouse_fixture import XSS_SYMBOL, WrittenTables

pytestmark = pytest.mark.browser

PANELS = [
    "status",
    "pipeline",
    "market",
    "leaderboard",
    "champion",
    "drift",
    "audit",
    "decision",
    "backtest",
    "importance",
    "correlation",
    "dataflow",
]


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if find_chromium() is None:
        announce_skip()
        pytest.skip("Chromium + chromedriver not installed: run `bash .ci/install-browser.sh` (browser test SKIPPED)")
    with chromium() as d:
        yield d


@pytest.fixture(scope="module")
def screenshot_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".fin_mlops" / "screenshots"
    path = Path(os.environ.get("FIN_MLOPS_SCREENSHOT_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_page(driver: Any, url: str, width: int = 1400) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop entries of earlier pages
    driver.set_window_size(width, 1000)
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return document.body.getAttribute('data-rendered') === 'true' || !document.getElementById('banner').hidden"
        )
    )


def severe_logs(driver: Any, ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        e for e in driver.get_log("browser") if e["level"] == "SEVERE" and not any(i in e["message"] for i in ignore)
    ]


def panel_states(driver: Any) -> dict[str, str]:
    return dict(
        driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('section.panel')]"
            ".map(s => [s.dataset.panel, s.dataset.state]))"
        )
    )


def test_every_panel_renders_the_export(driver: Any, run_export: Path, screenshot_dir: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    open_page(driver, (run_export / "index.html").as_uri())
    assert panel_states(driver) == dict.fromkeys(PANELS, "data")
    assert severe_logs(driver) == []
    # every panel shows content, not an empty state
    for name in PANELS:
        body = driver.find_element(By.CSS_SELECTOR, f"#panel-{name} .panel-body")
        assert body.text.strip() or body.find_elements(By.CSS_SELECTOR, "svg, canvas"), name
    # candlesticks drawn on canvas, with markers
    candles = driver.find_element(By.ID, "candles")
    assert int(candles.get_attribute("data-bars")) > 0
    assert candles.find_elements(By.TAG_NAME, "canvas")
    assert int(candles.get_attribute("data-markers")) > 0
    # drift heatmap marks follow the detector's stored status per cell (the worse of PSI and JS)
    cells = json.loads((run_export / "drift.json").read_text())["sections"]["psi_js"]["data"]["cells"]
    marks = driver.execute_script(
        "return [...document.querySelectorAll('#panel-drift svg text')].map(t => t.textContent)"
        ".filter(t => /[0-9] (✖|!)$/.test(t)).map(t => t.slice(-1))"
    )
    expected = [{"alert": "✖", "warn": "!"}[c["status"]] for c in cells if c["status"] in ("alert", "warn")]
    assert expected and sorted(marks) == sorted(expected)
    # the data's metadata reached the header
    meta = driver.find_element(By.ID, "meta").text
    assert "dev" in meta and "mlops_dev.financial_transactions" in meta
    full_page_screenshot(driver, str(screenshot_dir / "dashboard-desktop.png"), 1400)
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def test_hostile_symbol_is_shown_as_text(driver: Any, run_export: Path, screenshot_dir: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(driver, (run_export / "index.html").as_uri())
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    # the quarantined hostile record is listed with its symbol, literally
    quarantined = driver.find_elements(By.CSS_SELECTOR, "#panel-pipeline .symbol-name")
    assert XSS_SYMBOL in [e.text for e in quarantined]
    hostile = next(e for e in quarantined if e.text == XSS_SYMBOL)
    assert driver.execute_script("return arguments[0].children.length", hostile) == 0  # a text node, no element
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", hostile)
    driver.find_element(By.ID, "panel-pipeline").screenshot(str(screenshot_dir / "dashboard-hostile-symbol.png"))
    # wherever else the symbol occurs (market selector, decision matrix), it is text too
    select = Select(driver.find_element(By.ID, "symbol-select"))
    labels = [o.text for o in select.options]
    if any(label.startswith(XSS_SYMBOL) for label in labels):
        select.select_by_index(next(i for i, label in enumerate(labels) if label.startswith(XSS_SYMBOL)))
        current = driver.find_element(By.CSS_SELECTOR, "#market-symbol .symbol-name")
        assert current.text == XSS_SYMBOL and current.get_attribute("data-symbol") == XSS_SYMBOL
        assert int(driver.find_element(By.ID, "candles").get_attribute("data-bars")) > 0
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text
    assert severe_logs(driver) == []


#: Elements or attributes that only exist if a data string was inserted as HTML.
INJECTED = r"""
const bad = [];
for (const el of document.querySelectorAll('*')) {
  for (const a of el.attributes) if (/^on/i.test(a.name)) bad.push(el.tagName + '[' + a.name + ']');
  if (['IMG', 'IFRAME', 'OBJECT', 'EMBED', 'FRAME'].includes(el.tagName)) bad.push(el.tagName);
  const ours = /\/(app|data|lightweight-charts[.\w]*)\.js$/;
  if (el.tagName === 'SCRIPT' && !ours.test(el.src)) bad.push('SCRIPT ' + el.src);
  for (const k of ['href', 'src', 'xlink:href', 'action', 'formaction']) {
    if (/^\s*javascript:/i.test(el.getAttribute(k) || '')) bad.push(el.tagName + '[' + k + '=javascript:]');
  }
}
return bad;
"""


def test_every_hostile_string_is_text(
    driver: Any, hostile_export: tuple[Path, WrittenTables], screenshot_dir: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out, written = hostile_export
    assert len(written.hostile) >= 15  # symbols, model/feature names, reasons, errors, alerts, explanations, ...
    assert "--allow-file-access-from-files" not in CHROMIUM_FLAGS  # opened as a user's browser would
    open_page(driver, (out / "index.html").as_uri())
    assert panel_states(driver) == dict.fromkeys(PANELS, "data")
    shown = driver.execute_script("return document.body.textContent")
    missing = {kind: value for kind, value in written.hostile.items() if value not in shown}
    assert missing == {}, "hostile strings not displayed literally"
    assert driver.execute_script(INJECTED) == []
    # every symbol in the market selector renders its chart and its name as text
    select = Select(driver.find_element(By.ID, "symbol-select"))
    for symbol in written.symbols:
        index = next(i for i, o in enumerate(select.options) if o.text.startswith(symbol))
        select.select_by_index(index)
        current = driver.find_element(By.CSS_SELECTOR, "#market-symbol .symbol-name")
        assert current.text == symbol and current.get_attribute("data-symbol") == symbol
        assert driver.execute_script("return arguments[0].children.length", current) == 0
        assert int(driver.find_element(By.ID, "candles").get_attribute("data-bars")) > 0
        assert driver.execute_script(INJECTED) == []
    # hovering and focusing every element fires no injected handler
    driver.execute_script(
        "for (const el of document.querySelectorAll('*')) {"
        " el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); if (el.focus) el.focus(); }"
    )
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text
    assert severe_logs(driver) == []
    full_page_screenshot(driver, str(screenshot_dir / "dashboard-hostile.png"), 1400)


def test_responsive_layout_on_a_phone(driver: Any, run_export: Path, screenshot_dir: Path) -> None:
    open_page(driver, (run_export / "index.html").as_uri(), width=390)
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " ...[...document.querySelectorAll('section.panel')].map(p => p.getBoundingClientRect().width)]"
    )
    page_width, viewport, *panels = widths
    assert page_width <= viewport + 1  # nothing overflows sideways; wide tables scroll inside their panel
    assert all(w <= viewport for w in panels)
    assert severe_logs(driver) == []
    full_page_screenshot(driver, str(screenshot_dir / "dashboard-phone.png"), 390)


def test_served_over_http(driver: Any, run_export: Path) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(run_export)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        open_page(driver, f"http://127.0.0.1:{server.server_address[1]}/index.html")
        assert panel_states(driver) == dict.fromkeys(PANELS, "data")
        assert severe_logs(driver, ignore=("favicon.ico",)) == []
    finally:
        server.shutdown()
        server.server_close()


def test_empty_export_shows_empty_states(driver: Any, empty_export: Path, screenshot_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, (empty_export / "index.html").as_uri())
    assert panel_states(driver) == dict.fromkeys(PANELS, "empty")
    for name in PANELS:
        assert driver.find_elements(By.CSS_SELECTOR, f"#panel-{name} .empty"), name
    assert "fin-mlops" in driver.find_element(By.ID, "panel-leaderboard").text
    assert severe_logs(driver) == []
    full_page_screenshot(driver, str(screenshot_dir / "dashboard-empty.png"), 1400)


def test_page_without_data_explains_itself(driver: Any, project_root: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, (project_root / "dashboard" / "index.html").as_uri())
    banner = driver.find_element(By.ID, "banner")
    assert banner.is_displayed() and "fin-mlops dashboard" in banner.text
    assert panel_states(driver) == dict.fromkeys(PANELS, "empty")
    # the only error is the data.js that does not exist in the source folder
    assert severe_logs(driver, ignore=("data.js",)) == []
