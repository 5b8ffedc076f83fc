"""Extensions of a request's due date (``POST /api/requests/{id}/extend``, ``cvdsr extend``).

A request's own ``due_at`` is part of its orchestration input and never changes; an extension is kept
beside it in the state container (``extensions/<request id>.json``, every extension in order), and
status and events read the effective due date through ``shared.deadlines.clock``. An extension is
checked against the request's jurisdiction (``shared.deadlines.check_extension``) and written with the
blob's ETag, so two at once cannot both pass the once-only rule.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import deadlines
from shared.connections import created_state_container, state_container

MAX_REASON = 500


class Conflict(RuntimeError):
    """Another extension of the same request was written at the same moment: send it again."""


def _blob(request_id: str) -> str:
    return f"extensions/{request_id}.json"


async def load(service: BlobServiceClient, request_id: str) -> list[dict[str, Any]]:
    """The request's extensions, oldest first (none: an empty list)."""
    document, _ = await _read(service, request_id)
    return document


async def _read(service: BlobServiceClient, request_id: str) -> tuple[list[dict[str, Any]], str | None]:
    blob = state_container(service).get_blob_client(_blob(request_id))
    try:
        download = await blob.download_blob()
    except ResourceNotFoundError:
        return [], None
    document = json.loads(await download.readall())
    return list(document.get("extensions", [])), download.properties.etag


async def extend(
    service: BlobServiceClient, request: dict[str, Any], until: date, reason: str, now: datetime | None = None
) -> dict[str, Any]:
    """Record an extension of ``request`` (its orchestration input) to the end of ``until``; returns the
    clock. ``deadlines.ExtensionRefused`` when the rule does not allow it, ``Conflict`` on a race."""
    now = now or datetime.now(UTC)
    reason = reason.strip()
    if not reason:
        raise deadlines.ExtensionRefused("reason: the person must be told why (GDPR Art. 12(3)); give one")
    if len(reason) > MAX_REASON:
        raise deadlines.ExtensionRefused(f"reason: at most {MAX_REASON} characters")
    request_id = str(request["request_id"])
    previous, etag = await _read(service, request_id)
    new_due = deadlines.check_extension(request, previous, until, now)
    entry = {"until": new_due.isoformat(), "reason": reason, "extended_at": now.isoformat()}
    extensions = [*previous, entry]
    container = await created_state_container(service)
    body = json.dumps({"request_id": request_id, "extensions": extensions}).encode()
    try:
        if etag is None:
            await container.upload_blob(_blob(request_id), body, overwrite=False)
        else:
            await container.upload_blob(
                _blob(request_id), body, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified
            )
    except (ResourceExistsError, ResourceModifiedError):
        raise Conflict("another extension of this request was recorded at the same time; send it again") from None
    return deadlines.clock(request, extensions, now)
