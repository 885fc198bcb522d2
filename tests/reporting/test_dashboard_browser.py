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

#: What a `fin-mlops run` export shows: every panel filled, but no stream alerts and no continuous collection
#: (those panels are filled by `pipeline --stream` and `ingest --continuous`, not by a run).
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
RUN_PANELS = {**dict.fromkeys(PANELS, "data"), "alerts": "empty", "collection": "empty"}


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
    assert panel_states(driver) == RUN_PANELS
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
  const ours = /\/(app|alerts|collection|data|lightweight-charts[.\w]*)\.js$/;
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
    assert panel_states(driver) == RUN_PANELS
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
        assert panel_states(driver) == RUN_PANELS
        assert severe_logs(driver, ignore=("favicon.ico",)) == []
    finally:
        server.shutdown()
        server.server_close()


def test_empty_export_shows_empty_states(driver: Any, empty_export: Path, screenshot_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, (empty_export / "index.html").as_uri())
    assert panel_states(driver) == dict.fromkeys([*PANELS, "alerts", "collection"], "empty")
    for name in [*PANELS, "alerts", "collection"]:
        assert driver.find_elements(By.CSS_SELECTOR, f"#panel-{name} .empty"), name
    assert "fin-mlops" in driver.find_element(By.ID, "panel-leaderboard").text
    assert severe_logs(driver) == []
    full_page_screenshot(driver, str(screenshot_dir / "dashboard-empty.png"), 1400)


def test_page_without_data_explains_itself(driver: Any, project_root: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, (project_root / "dashboard" / "index.html").as_uri())
    banner = driver.find_element(By.ID, "banner")
    assert banner.is_displayed() and "fin-mlops dashboard" in banner.text
    # every panel, the alerts and collection panels (drawn by their own scripts) too: none stays "loading"
    assert panel_states(driver) == dict.fromkeys([*PANELS, "alerts", "collection"], "empty")
    for name in ("alerts", "collection"):
        empty = driver.find_element(By.CSS_SELECTOR, f"#panel-{name} .panel-body .empty[data-empty='missing']")
        assert empty.text.splitlines() == ["No data yet", "no data.js next to this page", "– missing"], name
    # the only error is the data.js that does not exist in the source folder
    assert severe_logs(driver, ignore=("data.js",)) == []


# -- charts a quant can use (issue 20): measured on the rendered page ---------------------------------------------

#: Pairs of elements whose rendered boxes intersect (by more than half a pixel): labels drawn over each other.
OVERLAPS = r"""
const els = [...arguments[0]].filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
const boxes = els.map(e => e.getBoundingClientRect());
const hit = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
    hit.push([els[i].textContent, els[j].textContent]);
}
return hit;
"""


def overlapping(driver: Any, css: str) -> list[list[str]]:
    return list(driver.execute_script(OVERLAPS, driver.find_elements("css selector", css)))


def rgb(css_colour: str) -> tuple[int, int, int]:
    """``rgb(r, g, b)`` or ``#rrggbb`` -> the three channels."""
    text = css_colour.strip()
    if text.startswith("#"):
        return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
    r, g, b = (int(float(v)) for v in text[text.index("(") + 1 : text.index(")")].split(",")[:3])
    return r, g, b


def test_one_equity_chart_per_strategy_with_buy_and_hold_and_a_legend_clear_of_the_lines(
    driver: Any, run_export: Path, screenshot_dir: Path
) -> None:
    from selenium.webdriver.common.by import By

    rows = json.loads((run_export / "backtest.json").read_text())["sections"]["results"]["data"]["rows"]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows if not r["benchmark"]))
    symbols = list(dict.fromkeys(r["symbol"] for r in rows))
    assert strategies and len(symbols) >= 2
    for width in (1400, 390):
        open_page(driver, (run_export / "index.html").as_uri(), width=width)
        figures = driver.find_elements(By.CSS_SELECTOR, "#equity-charts figure.equity-chart")
        assert [f.get_attribute("data-strategy") for f in figures] == strategies  # one chart per strategy
        for fig in figures:
            curves = int(fig.get_attribute("data-curves"))
            assert curves == len([r for r in rows if r["strategy"] == fig.get_attribute("data-strategy")])
            assert int(fig.get_attribute("data-benchmarks")) == curves  # every symbol beside its buy & hold
            paths = fig.find_elements(By.CSS_SELECTOR, "path.line")
            own = [p for p in paths if not p.get_attribute("data-series").endswith("|benchmark")]
            bench = [p for p in paths if p.get_attribute("data-series").endswith("|benchmark")]
            assert all(p.get_attribute("stroke-dasharray") for p in bench)
            colours = [p.get_attribute("stroke") for p in own]
            assert len(set(colours)) == len(colours) == curves  # a distinct colour per symbol
            assert {p.get_attribute("stroke") for p in bench} == set(colours)  # B&H in its symbol's colour
        # the legend (the symbol picker) is outside every plot area, and no two texts overlap
        legend = driver.find_element(By.ID, "equity-symbols").rect
        for area in driver.find_elements(By.CSS_SELECTOR, "#equity-charts rect.plot-area"):
            a = area.rect
            assert (
                legend["y"] + legend["height"] <= a["y"]
                or a["y"] + a["height"] <= legend["y"]
                or legend["x"] + legend["width"] <= a["x"]
                or a["x"] + a["width"] <= legend["x"]
            ), f"legend {legend} over the plot {a} at width {width}"
        assert overlapping(driver, "#equity-symbols label.pick") == []
        hits = overlapping(driver, "#panel-backtest svg text, #panel-backtest figcaption, #equity-symbols label")
        assert hits == [], f"overlapping labels at width {width}: {hits}"
        for fig in figures:  # axis labels of one chart
            assert (
                overlapping(driver, f"#equity-charts figure[data-strategy='{fig.get_attribute('data-strategy')}'] text")
                == []
            )
        assert overlapping(driver, "#panel-market .legend > span, #panel-drift #drift-scale > span") == []
        assert driver.find_element(By.ID, "cagr-rule").text.startswith("CAGR n/a")  # two days of minute bars
        benchmark_rows = driver.find_elements(By.CSS_SELECTOR, "#panel-backtest tr.benchmark")
        assert len(benchmark_rows) == len(symbols)
        assert severe_logs(driver) == []
        driver.find_element(By.ID, "panel-backtest").screenshot(str(screenshot_dir / f"dashboard-backtest-{width}.png"))
    # symbols are selectable: one off removes its curve and its buy & hold from every chart; "none" empties them
    open_page(driver, (run_export / "index.html").as_uri())
    first = symbols[0]
    driver.find_element(By.CSS_SELECTOR, f"#equity-symbols label.pick[data-symbol='{first}'] input").click()
    for fig in driver.find_elements(By.CSS_SELECTOR, "#equity-charts figure.equity-chart"):
        series = [p.get_attribute("data-series") for p in fig.find_elements(By.CSS_SELECTOR, "path.line")]
        assert series and not any(s.startswith(first + "|") for s in series)
    driver.find_element(By.XPATH, "//section[@id='panel-backtest']//button[text()='none']").click()
    assert driver.find_elements(By.CSS_SELECTOR, "#equity-charts path.line") == []
    driver.find_element(By.XPATH, "//section[@id='panel-backtest']//button[text()='all']").click()
    assert sum(
        int(f.get_attribute("data-curves")) for f in driver.find_elements(By.CSS_SELECTOR, "figure.equity-chart")
    ) == len([r for r in rows if not r["benchmark"]])


def test_drift_alert_reads_as_alert_and_ok_as_calm(driver: Any, run_export: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, (run_export / "index.html").as_uri())
    cells = driver.find_elements(By.CSS_SELECTOR, "#panel-drift rect[data-status]")
    by_status: dict[str, list[tuple[int, int, int]]] = {}
    for cell in cells:
        by_status.setdefault(cell.get_attribute("data-status"), []).append(rgb(cell.get_attribute("fill")))
    assert by_status.get("alert") and by_status.get("ok")  # the run's regime shift drifts some features, not all
    for r, g, b in by_status["alert"]:
        assert r >= 150 and r - g >= 60 and r - b >= 60, (r, g, b)  # red: red dominates
    for r, g, b in by_status.get("warn", []):
        assert r >= 200 and g >= 120 and b <= 190 and r - b >= 60, (r, g, b)  # amber
    for r, g, b in by_status["ok"]:
        assert min(r, g, b) >= 180 and b >= r, (r, g, b)  # pale and blue-leaning: calm, never red or green
    swatch = driver.find_element(By.CSS_SELECTOR, "#drift-scale [data-level='alert'] .sw")
    r, g, b = rgb(swatch.value_of_css_property("background-color"))
    assert r - g >= 60 and r - b >= 60


def test_candlestick_markers_collapse_when_zoomed_out_and_explain_themselves_on_hover(
    driver: Any, run_export: Path, screenshot_dir: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    market = json.loads((run_export / "market.json").read_text())["sections"]["bars"]["data"]["symbols"]
    busiest = max(range(len(market)), key=lambda i: len(market[i]["model_flags"]) + len(market[i]["ground_truth"]))
    open_page(driver, (run_export / "index.html").as_uri())
    Select(driver.find_element(By.ID, "symbol-select")).select_by_index(busiest)
    candles = driver.find_element(By.ID, "candles")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", candles)
    WebDriverWait(driver, 10).until(lambda d: candles.get_attribute("data-marker-groups"))
    raw = int(candles.get_attribute("data-markers"))
    assert raw >= 10
    # no two labels on the same side of the bars overlap, measured with the chart's own font
    # no two marker labels overlap: x measured on the chart, widths in the chart's own font; the vertical band of
    # a label (28 px beyond its bar's high or low) is the page's estimate, so labels on one side are also checked
    # by x alone
    labels_overlap = r"""
    const m = window.FIN_MLOPS_DEBUG.market, ctx = document.createElement('canvas').getContext('2d');
    ctx.font = m.font;
    const shown = m.shown(), bad = [];
    const boxes = shown.filter(x => x.text && x.x !== null).map(x => {
      const w = ctx.measureText(x.text).width;
      return {text: x.text, side: x.position, x0: x.x - w / 2, x1: x.x + w / 2, y0: x.y0, y1: x.y0 + 28};
    });
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const apart = a.x1 <= b.x0 || b.x1 <= a.x0;
      const stacked = a.side !== b.side && (a.y1 <= b.y0 || b.y1 <= a.y0);
      if (!apart && !stacked) bad.push([a.text, b.text]);
    }
    return [shown.length, shown.filter(x => x.count > 1).length, bad];
    """
    shown, merged, bad = driver.execute_script(labels_overlap)
    assert bad == [] and merged >= 1 and shown < raw  # zoomed out: clusters became counts
    assert int(candles.get_attribute("data-marker-groups")) == shown
    candles.screenshot(str(screenshot_dir / "dashboard-markers-zoomed-out.png"))
    # hovering a count lists what it holds
    target = driver.execute_script(
        "return window.FIN_MLOPS_DEBUG.market.shown().find(x => x.count > 1 && x.x !== null)"
    )
    ActionChains(driver).move_to_element_with_offset(candles, int(target["x"] - candles.rect["width"] / 2), 0).perform()
    tip = driver.find_element(By.CSS_SELECTOR, "#candles .marker-tip")
    WebDriverWait(driver, 5).until(lambda d: tip.is_displayed())
    lines = tip.find_elements(By.CSS_SELECTOR, ".tip-line")
    assert len(lines) >= min(target["count"], 10)
    assert all(("model flag" in ln.text) or ("ground truth" in ln.text) or ln.text.startswith("+ ") for ln in lines)
    # zoomed in around that count, its markers are labelled one by one again
    driver.execute_script(
        "const m = window.FIN_MLOPS_DEBUG.market, ts = m.chart.timeScale();"
        "const i = m.chart.timeScale().coordinateToLogical(arguments[0]);"
        "ts.setVisibleLogicalRange({from: i - 12, to: i + 12});",
        target["x"],
    )
    WebDriverWait(driver, 5).until(lambda d: d.execute_script(labels_overlap)[0] != shown)
    zoomed, _, bad = driver.execute_script(labels_overlap)
    assert bad == [] and zoomed > shown
    assert severe_logs(driver) == []
    candles.screenshot(str(screenshot_dir / "dashboard-markers-zoomed-in.png"))
