"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven through Selenium.

No browser is downloaded at test time: the system binaries are used, and the
test skips loudly, naming the install command, only when they are absent.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# No --allow-file-access-from-files: a user's browser does not have it, and the page needs none (its data
# comes from data.js through a <script> tag, which file:// pages may load; fetch() would be refused).

INSTALL_HINT = (
    "Chromium is not installed, so the dashboard browser test is SKIPPED. "
    "Install it with `bash .ci/install-browser.sh` (Debian: apt-get install -y chromium chromium-driver)."
)


def find_chromium() -> tuple[str, str] | None:
    """``(browser, driver)`` paths from PATH, or ``None``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    return None


def announce_skip() -> None:
    bar = "!" * 100
    sys.stderr.write(f"\n{bar}\n{INSTALL_HINT}\n{bar}\n")


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    browser, driver_path = found
    options = Options()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = browser
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def full_page_screenshot(driver: Any, path: str, width: int) -> None:
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height + 120, 800), 16000))
    driver.save_screenshot(path)
