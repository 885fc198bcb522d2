#!/usr/bin/env bash
# Install headless Chromium + chromedriver from Debian's packages for the dashboard browser test
# (tests/reporting/test_dashboard_browser.py). Called by .ci/run; safe to run again.
# Exits 0 whether or not it managed: the browser test itself skips loudly when no Chromium is found.
set -uo pipefail

have_browser() {
    { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } &&
        command -v chromedriver >/dev/null 2>&1
}

if have_browser; then
    echo "install-browser: chromium and chromedriver already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-browser: WARNING: not root and no passwordless sudo; cannot apt-get install chromium." >&2
        echo "install-browser: the dashboard browser test will be SKIPPED. Run: sudo apt-get install -y chromium chromium-driver" >&2
        exit 0
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: WARNING: no apt-get on this machine; install Chromium + chromedriver yourself." >&2
    echo "install-browser: the dashboard browser test will be SKIPPED." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "install-browser: apt-get update failed; trying the cached package lists" >&2
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; then
    echo "install-browser: WARNING: apt-get install chromium chromium-driver failed." >&2
    echo "install-browser: the dashboard browser test will be SKIPPED." >&2
    exit 0
fi

if have_browser; then
    echo "install-browser: installed $(chromium --version 2>/dev/null || chromium-browser --version 2>/dev/null)"
else
    echo "install-browser: WARNING: packages installed but chromium/chromedriver not on PATH." >&2
fi
exit 0
