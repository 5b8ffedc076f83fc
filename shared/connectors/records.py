"""What a connector keeps between a platform's webhook and the report of its outcome, in the state
container (``CVDSR_STATE_CONTAINER``) beside the claims, never in orchestration history:

- ``connectors/{platform}/requests/{request_id}.json``: how to answer the platform for this request
  (Transcend: its nonce). Only a connector's own receiver writes one, so a request that merely says
  ``ticket.system: transcend`` never makes cvdsr call Transcend. ``reported`` records how the report
  went (``sent`` or ``not_modifiable``), so a repeat of the request through another channel does not
  report twice.
- ``connectors/{platform}/tokens/{digest}``: a token seen once (written with ``If-None-Match: *``),
  so that a replayed one is refused even when two arrive at the same moment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared.connections import blob_service, created_state_container, state_container

from .outbound import NotModifiable, PlatformError

logger = logging.getLogger(__name__)


def _request_blob(platform: str, request_id: str) -> str:
    return f"connectors/{platform}/requests/{request_id}.json"


def _token_blob(platform: str, token_id: str) -> str:
    return f"connectors/{platform}/tokens/{hashlib.sha256(token_id.encode()).hexdigest()}"


async def save(service: BlobServiceClient, platform: str, request_id: str, record: Mapping[str, Any]) -> None:
    """Keep how to answer the platform. A redelivered webhook replaces the record (its nonce may be new)
    and clears ``reported``: the platform asking again means it has no answer, so it gets one again."""
    container = await created_state_container(service)
    document = {**record, "reported": None}
    await container.upload_blob(_request_blob(platform, request_id), json.dumps(document).encode(), overwrite=True)


async def load(service: BlobServiceClient, platform: str, request_id: str) -> dict[str, Any] | None:
    blob = state_container(service).get_blob_client(_request_blob(platform, request_id))
    try:
        document: dict[str, Any] = json.loads(await (await blob.download_blob()).readall())
    except ResourceNotFoundError:
        return None
    return document


CREDENTIALS = "credentials"  # a record's short-lived credentials for its answer: dropped once it is final


async def mark_reported(service: BlobServiceClient, platform: str, request_id: str, answer: str) -> None:
    """Record the final answer; the record's ``credentials`` (a token the platform gave for this answer)
    are no longer needed, so they are not kept at rest. A redelivery brings new ones."""
    record = await load(service, platform, request_id)
    if record is None:
        return
    record.pop(CREDENTIALS, None)
    record["reported"] = {"answer": answer, "at": datetime.now(UTC).isoformat()}
    blob = _request_blob(platform, request_id)
    await state_container(service).upload_blob(blob, json.dumps(record).encode(), overwrite=True)


async def answer(
    service: BlobServiceClient, platform: str, request_id: str, sending: Callable[[], Awaitable[None]]
) -> str:
    """Run ``sending`` (the calls that answer the platform) and record how it went: ``sent``;
    ``not_modifiable`` (the platform's 409: final, never retried); ``error: …`` (after the client's
    retries; not recorded, so a redelivery or a repeat of the request answers again)."""
    try:
        await sending()
    except NotModifiable:
        logger.warning("%s: request %s is no longer modifiable; the answer was not taken", platform, request_id)
        await mark_reported(service, platform, request_id, "not_modifiable")
        return "not_modifiable"
    except PlatformError as error:
        logger.warning("%s: answer to request %s failed: %s", platform, request_id, error)
        return f"error: {error}"
    await mark_reported(service, platform, request_id, "sent")
    return "sent"


def reported_before(record: Mapping[str, Any]) -> bool:
    return (record.get("reported") or {}).get("answer") in ("sent", "not_modifiable")


Sending = Callable[[BlobServiceClient, dict[str, Any]], Awaitable[None]]


async def report(
    platform: str, request: Mapping[str, Any], sending: Sending, *, first: Mapping[str, Any] | None = None
) -> str | None:
    """Answer the platform whose receiver started ``request`` (``sending(service, record)``), once:
    None when no receiver of ``platform`` started it, ``sent before`` when it was answered already.
    ``first`` is the record to keep for a platform without a receiver (the request names it)."""
    request_id = str(request.get("request_id", ""))
    async with blob_service() as service:
        record = await load(service, platform, request_id)
        if record is None and first is not None:
            await save(service, platform, request_id, first)
            record = {**first, "reported": None}
        if record is None:
            return None
        if reported_before(record):
            return "sent before"
        return await answer(service, platform, request_id, lambda: sending(service, record))


async def first_use(service: BlobServiceClient, platform: str, token_id: str) -> bool:
    """Record a token's use; False when it was used before (a replay)."""
    container = await created_state_container(service)
    try:
        await container.upload_blob(_token_blob(platform, token_id), b"", overwrite=False)
    except ResourceExistsError:
        return False
    return True


async def forget_use(service: BlobServiceClient, platform: str, token_id: str) -> None:
    """Undo ``first_use`` when nothing was started (storage failed mid-way): the platform's retry of the
    same delivery must not be refused as a replay."""
    try:
        await state_container(service).delete_blob(_token_blob(platform, token_id))
    except ResourceNotFoundError:
        pass
