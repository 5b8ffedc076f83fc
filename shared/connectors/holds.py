"""Legal holds: a person whose data must be kept (litigation, an investigation) is not erased until the
hold is removed. Kept in the state container, keyed by a keyed fingerprint of the person's image
selector (the same identifier, mapped the same way, gives the same key whichever platform asks):

- ``holds/{key}/hold.json``: since when, and who placed it (platform and ticket; no personal value);
- ``holds/{key}/waiting/{request_id}.json``: an erasure that arrived during the hold, as it will be
  started when the hold is removed (it holds the selector in clear, as a running request's work blob
  does, and only until then).

An erasure through a connector waits (and the platform is told why) and starts when the hold is
removed; one through the generic intake is refused with the reason, to be sent again after the hold
(``shared.intake``). Removing a hold removes ``hold.json`` first, then starts each waiting erasure
and only then forgets it: a crash in between leaves it waiting for the removal's redelivery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import fingerprints
from shared.connections import created_state_container, state_container


def key(fingerprinter: fingerprints.Fingerprinter, selector: Mapping[str, Any]) -> str:
    """The hold key of a person's image selector (order-free, keyed: it names no one)."""
    canonical = {name: sorted(v) if isinstance(v, list) else v for name, v in selector.items() if v}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return fingerprinter.of(text).removeprefix(fingerprints.PREFIX)


async def place(service: BlobServiceClient, hold_key: str, placed_by: Mapping[str, Any]) -> None:
    container = await created_state_container(service)
    document = {"since": datetime.now(UTC).isoformat(), **placed_by}
    try:
        await container.upload_blob(f"holds/{hold_key}/hold.json", json.dumps(document).encode(), overwrite=False)
    except ResourceExistsError:
        pass  # placed before: the first placement's date stands


async def held(service: BlobServiceClient, hold_key: str) -> dict[str, Any] | None:
    blob = state_container(service).get_blob_client(f"holds/{hold_key}/hold.json")
    try:
        document: dict[str, Any] = json.loads(await (await blob.download_blob()).readall())
    except ResourceNotFoundError:
        return None
    return document


async def wait(service: BlobServiceClient, hold_key: str, request: Mapping[str, Any]) -> None:
    container = await created_state_container(service)
    name = f"holds/{hold_key}/waiting/{request['request_id']}.json"
    await container.upload_blob(name, json.dumps(dict(request)).encode(), overwrite=True)


async def waiting(service: BlobServiceClient, hold_key: str) -> list[tuple[str, dict[str, Any]]]:
    """``(blob name, request)`` of each erasure waiting for the hold."""
    container = state_container(service)
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        async for blob in container.list_blobs(name_starts_with=f"holds/{hold_key}/waiting/"):
            found.append((blob.name, json.loads(await (await container.download_blob(blob.name)).readall())))
    except ResourceNotFoundError:
        pass
    return found


async def lift(service: BlobServiceClient, hold_key: str) -> None:
    """Remove the hold (the waiting erasures stay until each is started: ``started``)."""
    try:
        await state_container(service).delete_blob(f"holds/{hold_key}/hold.json")
    except ResourceNotFoundError:
        pass


async def started(service: BlobServiceClient, blob_name: str) -> None:
    try:
        await state_container(service).delete_blob(blob_name)
    except ResourceNotFoundError:
        pass
