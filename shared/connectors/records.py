"""What a connector keeps between a platform's webhook and the report of its outcome, in the state
container (``CVDSR_STATE_CONTAINER``) beside the claims, never in orchestration history:

- ``connectors/{platform}/requests/{request_id}.json``: how to answer the platform for this request
  (Transcend: its nonce). Only a connector's own receiver writes one, so a request that merely says
  ``ticket.system: transcend`` never makes cvdsr call Transcend. ``reported`` records how the report
  went (``sent``, ``not_modifiable`` or ``not_sent``), so a repeat of the request through another channel does not
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
from functools import partial
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared.connections import blob_service, created_state_container, state_container

from .outbound import NotModifiable, NotSent, PlatformError

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
    return (await _load(service, platform, request_id))[0]


async def put_back(
    service: BlobServiceClient, platform: str, request_id: str, previous: Mapping[str, Any] | None
) -> None:
    """Restore the record as it was before a webhook that intake rejected (or remove the one it made)."""
    container = state_container(service)
    if previous is None:
        try:
            await container.delete_blob(_request_blob(platform, request_id))
        except ResourceNotFoundError:
            pass
        return
    await container.upload_blob(_request_blob(platform, request_id), json.dumps(previous).encode(), overwrite=True)


async def _load(service: BlobServiceClient, platform: str, request_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The record and its ETag (None, None: no record)."""
    blob = state_container(service).get_blob_client(_request_blob(platform, request_id))
    try:
        download = await blob.download_blob()
    except ResourceNotFoundError:
        return None, None
    document: dict[str, Any] = json.loads(await download.readall())
    return document, download.properties.etag


CREDENTIALS = "credentials"  # a record's short-lived credentials for its answer: dropped once it is final
FINAL = ("sent", "not_modifiable", "not_sent")


async def mark_reported(
    service: BlobServiceClient, platform: str, request_id: str, answer: str, etag: str | None = None
) -> bool:
    """Record the final answer; the record's ``credentials`` (a token the platform gave for this answer)
    are no longer needed, so they are not kept at rest. With ``etag``, only if the record is still the
    one answered: False when a redelivery replaced it meanwhile (its new token is answered next)."""
    record, current = await _load(service, platform, request_id)
    if record is None:
        return True
    if etag is not None and current != etag:
        return False
    record.pop(CREDENTIALS, None)
    record["reported"] = {"answer": answer, "at": datetime.now(UTC).isoformat()}
    blob = _request_blob(platform, request_id)
    try:
        await state_container(service).upload_blob(
            blob,
            json.dumps(record).encode(),
            overwrite=True,
            etag=current,
            match_condition=MatchConditions.IfNotModified,
        )
    except ResourceModifiedError:
        return False
    return True


async def _answer(
    service: BlobServiceClient,
    platform: str,
    request_id: str,
    sending: Callable[[], Awaitable[None]],
    etag: str | None,
) -> tuple[str, bool]:
    """How the answer went, and whether it was recorded on the record it answered."""
    try:
        await sending()
    except NotSent as reason:
        logger.warning("%s: request %s: %s", platform, request_id, reason)
        return f"not_sent: {reason}", await mark_reported(service, platform, request_id, "not_sent", etag)
    except NotModifiable:
        logger.warning("%s: request %s is no longer modifiable; the answer was not taken", platform, request_id)
        return "not_modifiable", await mark_reported(service, platform, request_id, "not_modifiable", etag)
    except PlatformError as error:
        logger.warning("%s: answer to request %s failed: %s", platform, request_id, error)
        return f"error: {error}", True
    return "sent", await mark_reported(service, platform, request_id, "sent", etag)


async def answer(
    service: BlobServiceClient, platform: str, request_id: str, sending: Callable[[], Awaitable[None]]
) -> str:
    """Run ``sending`` (the calls that answer the platform) and record how it went: ``sent``;
    ``not_modifiable`` (the platform's 409: final, never retried); ``not_sent`` (nothing true to send:
    final); ``error: …`` (after the client's retries; not recorded, so a redelivery or a repeat of the
    request answers again)."""
    return (await _answer(service, platform, request_id, sending, None))[0]


def reported_before(record: Mapping[str, Any]) -> bool:
    return (record.get("reported") or {}).get("answer") in FINAL


Sending = Callable[[BlobServiceClient, dict[str, Any]], Awaitable[None]]
MAX_REPORTS = 3  # a redelivery during a send makes one more; more than that is a platform in a loop


async def report(
    platform: str, request: Mapping[str, Any], sending: Sending, *, first: Mapping[str, Any] | None = None
) -> str | None:
    """Answer the platform whose receiver started ``request`` (``sending(service, record)``), once:
    None when no receiver of ``platform`` started it, ``sent before`` when it was answered already.
    ``first`` is the record to keep for a platform without a receiver (the request names it). When the
    platform delivers the webhook again while the answer is on its way (a new record, a new token), the
    new record is answered too: the platform asked again, so it waits for an answer to that."""
    request_id = str(request.get("request_id", ""))
    async with blob_service() as service:
        for _ in range(MAX_REPORTS):
            record, etag = await _load(service, platform, request_id)
            if record is None and first is not None:
                await save(service, platform, request_id, first)
                record, etag = await _load(service, platform, request_id)
            if record is None:
                return None
            if reported_before(record):
                return "sent before"
            result, recorded = await _answer(service, platform, request_id, partial(sending, service, record), etag)
            if recorded:
                return result
        return f"{result} (the record changed during each of {MAX_REPORTS} answers)"


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
