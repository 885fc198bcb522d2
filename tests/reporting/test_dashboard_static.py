"""Static checks of the page: offline (no CDN), data only ever inserted as text, licensed vendor files."""

from __future__ import annotations

import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_page_loads_only_local_files() -> None:
    html = (DASHBOARD / "index.html").read_text()
    srcs = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    links = re.findall(r'<link[^>]*\bhref="([^"]+)"', html)
    assert srcs == [
        "vendor/lightweight-charts/lightweight-charts.standalone.production.js",
        "app.js",
        "collection.js",
        "alerts.js",
    ]
    assert links == ["styles.css"]
    for path in [*srcs, *links]:
        assert (DASHBOARD / path).is_file(), path
    # the one external URL is the attribution link the chart library's licence asks for (never fetched)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls == {"https://www.tradingview.com/"}
    assert "script-src 'self'" in html  # CSP: no inline or remote script can run


def test_app_never_writes_html_from_data() -> None:
    js = "".join((DASHBOARD / name).read_text() for name in ("app.js", "collection.js", "alerts.js"))
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setTimeout("',
        "DOMParser",
        "createContextualFragment",
    ):
        assert sink not in js, sink
    assert "createTextNode" in js and "textContent" in js
    assert "http://" not in js.replace("http://www.w3.org/2000/svg", "") and "https://" not in js


def test_every_panel_of_the_issue_is_on_the_page() -> None:
    html = (DASHBOARD / "index.html").read_text()
    panels = re.findall(r'data-panel="([a-z]+)"', html)
    assert panels == [
        "status",
        "pipeline",
        "collection",
        "alerts",
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
    js = (DASHBOARD / "app.js").read_text()
    for name in panels:
        if name == "collection":  # its own script draws it (dashboard/collection.js)
            assert 'getElementById("panel-collection")' in (DASHBOARD / "collection.js").read_text()
            continue
        if name == "alerts":  # its own script draws it (dashboard/alerts.js)
            assert 'getElementById("panel-alerts")' in (DASHBOARD / "alerts.js").read_text()
            continue
        assert f'["{name}", render' in js, name


def test_vendored_chart_library_is_licensed_and_pinned() -> None:
    vendor = DASHBOARD / "vendor" / "lightweight-charts"
    bundle = (vendor / "lightweight-charts.standalone.production.js").read_text()
    assert bundle.startswith("/*!\n * @license\n * TradingView Lightweight Charts™ v5.2.1")
    assert "Apache License" in (vendor / "LICENSE").read_text()
    assert "5.2.1" in (vendor / "README.md").read_text()
    assert '"license": "MIT"' in (vendor / "fancy-canvas.package.json").read_text()
