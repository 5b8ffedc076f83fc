from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Environment, environment


@pytest.fixture(scope="module")
def env(azurite) -> Iterator[Environment]:
    with environment(azurite) as running:
        yield running
