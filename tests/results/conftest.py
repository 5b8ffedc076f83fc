from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared.results.store import ResultStore


async def new_container(azurite, prefix: str) -> AsyncIterator[ContainerClient]:
    """A container of its own in the session's Azurite, for one test."""
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        client = service.get_container_client(f"{prefix}{uuid.uuid4().hex[:12]}")
        await client.create_container()
        yield client


@pytest.fixture
async def container(azurite) -> AsyncIterator[ContainerClient]:
    async for client in new_container(azurite, "t"):
        yield client


@pytest.fixture
def store(container: ContainerClient) -> ResultStore:
    return ResultStore(container)
