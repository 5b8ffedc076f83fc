"""Result links against Azurite: a link reads exactly the blob it names, whatever the name holds."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from azure.storage.blob.aio import BlobServiceClient

from shared.results.links import read_link
from shared.results.store import ResultStore


@pytest.mark.parametrize("name", ["%41/manifest.json", "a%/manifest.json", "sp ace/é #1.json", "A/manifest.json"])
async def test_a_link_reads_the_blob_it_names(azurite, store: ResultStore, name: str) -> None:
    """Finding 12: names were not URL-encoded, so %41 read another blob (403) and a% gave a 500."""
    await store.put_bytes(name, name.encode(), "text/plain")
    if name != "A/manifest.json":
        await store.put_bytes("A/manifest.json", b"another request's manifest", "text/plain")
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        url, expires_at = await read_link(service, store.container.container_name, name, timedelta(minutes=5))
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == name.encode()
    assert expires_at.endswith("Z")
