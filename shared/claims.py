"""Which request holds an id, and which requests are still open: cvdsr's own records in the state
container (``CVDSR_STATE_CONTAINER``), beside the fingerprint key.

- ``claims/{request_id}.json`` holds the binding of the request that took the id (written once, with
  ``If-None-Match: *``). Two different requests delivered at the same moment cannot both start: the
  Durable start alone does not decide that (on Azure Storage two concurrent starts of one id can both
  report success). The claim outlives the orchestration history, so a purged history or a new task
  hub does not free the id for another request.
- ``open/{request_id}`` exists from intake until the request's end is announced and its work blobs
  are gone. The sweeper (``shared.endings``) walks these, a bounded list, instead of querying every
  instance of the task hub.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared.connections import created_state_container, state_container

CLAIMS = "claims/"
OPEN = "open/"


async def holder(service: BlobServiceClient, request_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The binding of the request that holds ``request_id`` (None: the id is free)."""
    blob = state_container(service, environ).get_blob_client(f"{CLAIMS}{request_id}.json")
    try:
        document: dict[str, Any] = json.loads(await (await blob.download_blob()).readall())
    except ResourceNotFoundError:
        return None
    return str(document["binding"])


async def claim(
    service: BlobServiceClient, request_id: str, binding: str, environ: Mapping[str, str] | None = None
) -> str:
    """Take ``request_id`` for the request with ``binding``; returns the binding that holds it now
    (``binding`` itself, or the one that got there first)."""
    container = await created_state_container(service, environ)
    body = json.dumps({"request_id": request_id, "binding": binding}).encode()
    try:
        await container.upload_blob(f"{CLAIMS}{request_id}.json", body, overwrite=False)
    except ResourceExistsError:
        held = await holder(service, request_id, environ)
        assert held is not None
        return held
    return binding


async def mark_open(service: BlobServiceClient, request_id: str, environ: Mapping[str, str] | None = None) -> None:
    container = await created_state_container(service, environ)
    await container.upload_blob(f"{OPEN}{request_id}", b"", overwrite=True)


async def mark_closed(service: BlobServiceClient, request_id: str, environ: Mapping[str, str] | None = None) -> None:
    try:
        await state_container(service, environ).delete_blob(f"{OPEN}{request_id}")
    except ResourceNotFoundError:
        pass


async def close_if_unchanged(
    service: BlobServiceClient, request_id: str, since: datetime, environ: Mapping[str, str] | None = None
) -> bool:
    """Close the request only if its marker was not written again after ``since`` (a redelivery
    that is starting it now). Returns whether it was closed."""
    try:
        await state_container(service, environ).delete_blob(f"{OPEN}{request_id}", if_unmodified_since=since)
    except ResourceNotFoundError:
        return True
    except ResourceModifiedError:
        return False
    return True


async def open_requests(
    service: BlobServiceClient, environ: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[str, datetime]]:
    """``(request_id, since)`` of every open request, paged by the storage SDK."""
    container = state_container(service, environ)
    try:
        async for blob in container.list_blobs(name_starts_with=OPEN):
            yield blob.name.removeprefix(OPEN), blob.last_modified
    except ResourceNotFoundError:
        return
