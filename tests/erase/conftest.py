from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.storage.blob.aio import ContainerClient

from tests.results.conftest import new_container


@pytest.fixture
async def container(azurite: Any) -> AsyncIterator[ContainerClient]:
    """A results container of its own in the session's Azurite."""
    async for client in new_container(azurite, "sig"):
        yield client
