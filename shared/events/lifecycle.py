"""The events of a request's life before its outcome: ``cvdsr.request.acknowledged`` when it is taken,
``cvdsr.request.due_soon`` when it is still open ``CVDSR_DUE_SOON_DAYS`` before its due date and
``cvdsr.request.overdue`` once that date has passed (README "Lifecycle events").

They go out on the outcome's channels (``completion.send_completion``). The acknowledgement is sent
by the request's first activity (``record_request``), so a start that crashes before it is sent sends
it when the activity runs again, and records when it went (``lifecycle/<request id>/acknowledged.json``
in the state container, the first time standing: the certificate's ``times.acknowledged_at``); the
reminders by the sweeper (``shared.endings.sweep``), once per request and due date: a marker
(``lifecycle/<request id>/<kind>-<due>.json``) is written after the event went out, so a crash in
between sends it again under the same CloudEvent ``id`` (consumers de-duplicate on it), and an
extension, a new due date, arms both reminders again. The markers go when the request ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import deadlines, extensions
from shared.connections import created_state_container, state_container
from shared.settings import app_settings

from .cloudevent import build_event
from .completion import send_completion

logger = logging.getLogger(__name__)

Kind = Literal["acknowledged", "due_soon", "overdue"]
KINDS: tuple[Kind, ...] = ("acknowledged", "due_soon", "overdue")
TYPES = frozenset(f"cvdsr.request.{kind}" for kind in KINDS)


def lifecycle_data(
    kind: Kind, request: Mapping[str, Any], extended: Sequence[Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """The event's ``data``: the request's identity and deadline, never its subject or selector."""
    clock = deadlines.clock(request, extended, now)
    return {
        "request_id": request["request_id"],
        "type": request.get("type"),
        "status": kind,
        "ticket": request.get("ticket"),
        "resources": request.get("resources", []),
        "dry_run": bool(request.get("dry_run")),
        "acknowledge_by": deadlines.acknowledge_by(request),
        **{
            key: clock[key]
            for key in ("jurisdiction", "received_at", "due_at", "days_left", "extended", "extension_reason")
        },
    }


def lifecycle_event(
    kind: Kind, request: Mapping[str, Any], extended: Sequence[Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """A CloudEvent whose ``id`` names the request, the kind and (for a reminder) the due date it is
    about: sent again, it is the same event."""
    return build_event(lifecycle_data(kind, request, extended, now), type_=f"cvdsr.request.{kind}", time=now)


async def acknowledge(
    service: BlobServiceClient, request: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    """Send ``cvdsr.request.acknowledged``; None when lifecycle events are off. A channel's failure is
    reported per channel, as for the outcome: the request goes on."""
    if not app_settings(environ).lifecycle_events:
        return None
    request_id = str(request["request_id"])
    extended = await extensions.load(service, request_id)
    now = datetime.now(UTC)
    delivery = await send_completion(lifecycle_event("acknowledged", request, extended, now), request, environ)
    if _delivered(delivery):  # the certificate quotes this time: only for an acknowledgement that went out
        await _mark(service, _acknowledged(request_id), now, environ)
    return delivery


def _delivered(delivery: Mapping[str, str]) -> bool:
    return any(result == "sent" for result in delivery.values())


async def acknowledged_at(
    service: BlobServiceClient, request_id: str, environ: Mapping[str, str] | None = None
) -> str | None:
    """When the request's acknowledgement first went out (None: not sent, or lifecycle events off)."""
    blob = state_container(service, environ).get_blob_client(_acknowledged(request_id))
    try:
        document = json.loads(await (await blob.download_blob()).readall())
    except ResourceNotFoundError:
        return None
    sent = document.get("sent_at")
    return sent if isinstance(sent, str) else None


def _acknowledged(request_id: str) -> str:
    return f"lifecycle/{request_id}/acknowledged.json"


async def _mark(service: BlobServiceClient, name: str, now: datetime, environ: Mapping[str, str] | None) -> None:
    """Write a marker once: the first time stands (a re-run, or a sweep at the same moment, keeps it)."""
    await created_state_container(service, environ)
    body = json.dumps({"sent_at": now.isoformat()}).encode()
    try:
        await state_container(service, environ).get_blob_client(name).upload_blob(body, overwrite=False)
    except ResourceExistsError:
        pass


def reminder_due(
    request: Mapping[str, Any], extended: Sequence[Mapping[str, Any]], now: datetime, soon: timedelta
) -> tuple[Kind, str] | None:
    """Which reminder an open request is owed now, with the due date it is about: ``overdue`` after the
    end of its due day, ``due_soon`` within ``soon`` of it; None without a due date."""
    due = deadlines.instant(deadlines.clock(request, extended, now)["due_at"])
    if due is None:
        return None
    if now > due:
        return "overdue", due.isoformat()
    if soon > timedelta(0) and now >= due - soon:
        return "due_soon", due.isoformat()
    return None


def _marker(request_id: str, kind: Kind, due_at: str) -> str:
    # The due date in a blob name: hashed, as its offset's '+' and ':' are awkward in a URL.
    return f"lifecycle/{request_id}/{kind}-{hashlib.sha256(due_at.encode()).hexdigest()[:16]}.json"


async def remind(
    service: BlobServiceClient,
    request: Mapping[str, Any],
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> Kind | None:
    """Send the reminder an open request is owed, once per due date; returns the kind sent."""
    settings = app_settings(environ)
    if not settings.lifecycle_events:
        return None
    request_id = str(request["request_id"])
    extended = await extensions.load(service, request_id)
    owed = reminder_due(request, extended, now, timedelta(days=settings.due_soon_days))
    if owed is None:
        return None
    kind, due_at = owed
    marker = state_container(service, environ).get_blob_client(_marker(request_id, kind, due_at))
    try:
        await marker.get_blob_properties()
        return None  # sent before
    except ResourceNotFoundError:
        pass
    delivery = await send_completion(lifecycle_event(kind, request, extended, now), request, environ)
    if not _delivered(delivery):  # no channel took it: the next sweep sends it again, under the same id
        logger.warning("request %s: %s not delivered on any channel; retried by the next sweep", request_id, kind)
        return None
    await _mark(service, marker.blob_name, now, environ)  # a sweep at the same moment: at least once
    logger.info("request %s: %s sent (%s)", request_id, kind, ", ".join(f"{k} {v}" for k, v in delivery.items()))
    return kind


async def forget(service: BlobServiceClient, request_id: str, environ: Mapping[str, str] | None = None) -> None:
    """Remove the request's lifecycle markers once it has ended (needed only until its certificate)."""
    container = state_container(service, environ)
    try:
        async for blob in container.list_blobs(name_starts_with=f"lifecycle/{request_id}/"):
            try:
                await container.delete_blob(blob.name)
            except ResourceNotFoundError:
                pass
    except ResourceNotFoundError:  # no state container yet: nothing to forget
        pass
