"""Shared fixtures.

``azurite``: one Azurite per test session on free ports (never the fixed 10000-10002, other runs may be
using them), in a temporary location, started through node_modules/.bin/azurite and stopped at the end.
Its ``.connection_string`` is the standard development account with explicit endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.azurite import AzuriteProcess, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteProcess]:
    process = start_azurite()
    try:
        yield process
    finally:
        process.stop(graceful=False)  # throw-away data: no need to wait for Azurite to save it
