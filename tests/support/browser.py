"""report.html in a real browser: Debian's Chromium, driven by Playwright (no browser download).

``launch`` starts one headless Chromium (the ``browser`` fixture in tests/conftest.py keeps one per
session) on a thread of its own: sync Playwright keeps an event loop running in the thread that
drives it, which would stop every asyncio test after it on that thread. ``Chromium.inspect`` opens a
downloaded report folder and returns what the tests assert:
which sections show, every request the page made, whether a table is wider than an A4 page, the PDF,
and axe-core's serious and critical violations. Chromium comes from tests/support/setup-chromium.sh
(``make test`` runs it); where it is absent the tests are skipped with that instruction.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
MISSING = "needs Debian's chromium: run `sh tests/support/setup-chromium.sh` as root (or apt-get install chromium)"
# The content box of an A4 page with the report's 15 mm margins (@page), in CSS pixels (96 per inch).
A4_CONTENT_WIDTH = round((210 - 2 * 15) / 25.4 * 96)


def chromium_path() -> str | None:
    return os.environ.get("CVDSR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium, every call made on its own thread."""

    def __init__(self, executable: str) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chromium")
        self._playwright: Any = None
        self._browser: Any = None
        self._thread.submit(self._start, executable).result()

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=executable, headless=True)

    def _stop(self) -> None:
        self._browser.close()
        self._playwright.stop()

    def inspect(self, report: Path) -> Inspection:
        return self._thread.submit(inspect_report, self._browser, report).result()

    def close(self) -> None:
        try:
            self._thread.submit(self._stop).result()
        finally:
            self._thread.shutdown()


@contextmanager
def launch() -> Iterator[Chromium]:
    executable = chromium_path()
    if executable is None or not AXE.exists():
        pytest.skip(f"report.html browser checks {MISSING}" if executable is None else "run make install (axe-core)")
    browser = Chromium(executable)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class Inspection:
    sections: dict[str, bool] = field(default_factory=dict)  # each h2's text: whether it is visible
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    refused: list[str] = field(default_factory=list)  # those outside the report's own folder (aborted)
    too_wide: list[str] = field(default_factory=list)  # print layout: what overflows the A4 content box
    pdf: bytes = b""
    violations: list[dict[str, Any]] = field(default_factory=list)  # axe-core, serious or critical


def inspect_report(browser: Any, report: Path) -> Inspection:
    found = Inspection()
    folder = report.parent.resolve().as_uri() + "/"
    page = browser.new_page()
    try:

        def route(route: Any) -> None:
            url = route.request.url
            found.requests.append(url)
            if url.startswith(folder):
                route.continue_()
            else:
                found.refused.append(url)
                route.abort()

        page.route("**/*", route)
        page.goto(report.resolve().as_uri(), wait_until="load")
        found.sections = {
            heading.inner_text(): heading.is_visible() and heading.locator("xpath=..").is_visible()
            for heading in page.locator("h2").all()
        }
        page.add_script_tag(path=str(AXE))  # inline: the file's text, no request
        results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        found.violations = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"][:5]]}
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        page.emulate_media(media="print")
        page.set_viewport_size({"width": A4_CONTENT_WIDTH, "height": 1000})
        found.too_wide = page.evaluate(
            """() => {
              const width = document.documentElement.clientWidth;
              const wide = [...document.querySelectorAll('table, pre, img, code, a')].filter(e =>
                (e.tagName === 'TABLE' && e.scrollWidth > e.clientWidth + 1)
                || e.getBoundingClientRect().right > width + 1);
              if (document.documentElement.scrollWidth > width + 1) wide.push(document.documentElement);
              return wide.map(e => e.tagName + ': ' + e.outerHTML.slice(0, 120));
            }"""
        )
        found.pdf = page.pdf(format="A4", prefer_css_page_size=True)
    finally:
        page.close()
    return found
