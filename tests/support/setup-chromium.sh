#!/usr/bin/env sh
# What the report's browser tests need from Debian: Chromium (tests/support/browser.py drives it with
# Playwright; no browser download). Installed once, as root (CI); elsewhere it says what to install,
# and those tests are skipped with the same instruction.
set -eu
if command -v chromium >/dev/null 2>&1 || [ -n "${CVDSR_CHROMIUM:-}" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "report.html browser tests will be skipped: sudo apt-get install chromium" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q chromium >/dev/null
}
