"""Building the CloudEvents 1.0 completion event (structured JSON mode)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

CONTENT_TYPE = "application/cloudevents+json"
SOURCE = "/cvdsr"

Status = Literal["succeeded", "partially_succeeded", "failed", "rejected"]


def event_type(request_type: str | None, status: str) -> str:
    """``cvdsr.export.completed``, ``cvdsr.erase.failed``, ``cvdsr.request.rejected``…"""
    if status == "rejected" or request_type not in ("export", "erase"):
        return "cvdsr.request.rejected"
    return f"cvdsr.{request_type}.{'failed' if status == 'failed' else 'completed'}"


# The smallest channel is a Storage queue message: 64 KiB after base64, so 48 KiB of JSON. Every
# event stays under it, whatever a request's errors hold.
MAX_EVENT_BYTES = 46 * 1024

# The lifecycle statuses that remind of a due date (``shared.events.lifecycle``).
REMINDERS = ("due_soon", "overdue")


def dedupe_key(data: Mapping[str, Any]) -> str:
    """``{request_id}:{status}``, plus the rejection's digest for a rejection: each rejected message
    under one id is its own event, while a request's outcome re-sent is the same event again (a
    lifecycle reminder adds the due date it is about). Service
    Bus uses it as ``message_id`` (duplicate detection), the CloudEvent ``id`` is derived from it."""
    key = f"{data['request_id']}:{data['status']}"
    if data["status"] in REMINDERS:  # a reminder is about one due date: an extension arms it again
        return f"{key}:{data.get('due_at')}"
    return f"{key}:{data['rejection_id']}" if data.get("rejection_id") else key


def build_event(data: Mapping[str, Any], *, time: datetime | None = None, type_: str | None = None) -> dict[str, Any]:
    """A CloudEvent for a request's outcome (or, with ``type_``, for a moment of its life:
    ``shared.events.lifecycle``). ``id`` is stable per request and status (delivery is at least once:
    consumers de-duplicate on it, as Service Bus does on ``message_id``)."""
    request_id = str(data["request_id"])
    status = str(data["status"])
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cvdsr:{dedupe_key(data)}")),
        "source": SOURCE,
        "type": type_ or event_type(data.get("type"), status),
        "subject": request_id,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": dict(data),
    }
    return _fitted(event)


def _fitted(event: dict[str, Any]) -> dict[str, Any]:
    """Drop errors from the end until the event fits ``MAX_EVENT_BYTES``; ``errors_omitted`` says how
    many went (the manifest has them all)."""
    errors = list(event["data"].get("errors") or [])
    kept = len(errors)
    while kept and len(json.dumps(event, ensure_ascii=False).encode()) > MAX_EVENT_BYTES:
        kept //= 2
        event["data"]["errors"] = errors[:kept]
        event["data"]["errors_omitted"] = len(errors) - kept
    return event
