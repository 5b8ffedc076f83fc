"""Shared fixtures.

``azurite``: one Azurite per test session on free ports (never the fixed 10000-10002, other runs may be
using them), in a temporary location, started through node_modules/.bin/azurite and stopped at the end.
Its ``.connection_string`` is the standard development account with explicit endpoints.

``browser``: one headless Chromium per session (tests/support/browser.py), for report.html.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.azurite import AzuriteProcess, start_azurite
from tests.support import browser as browsers


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteProcess]:
    process = start_azurite()
    try:
        yield process
    finally:
        process.stop(graceful=False)  # throw-away data: no need to wait for Azurite to save it


@pytest.fixture(scope="session")
def browser() -> Iterator[browsers.Chromium]:
    with browsers.launch() as running:
        yield running
