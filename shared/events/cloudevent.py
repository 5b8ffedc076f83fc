"""Building the CloudEvents 1.0 completion event (structured JSON mode)."""

from __future__ import annotations

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


def build_event(data: Mapping[str, Any], *, time: datetime | None = None) -> dict[str, Any]:
    """A CloudEvent for a request's outcome. ``id`` is stable per request and status, so consumers can
    de-duplicate a re-sent event the same way Service Bus does (``message_id``)."""
    request_id = str(data["request_id"])
    status = str(data["status"])
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cvdsr:{request_id}:{status}")),
        "source": SOURCE,
        "type": event_type(data.get("type"), status),
        "subject": request_id,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": dict(data),
    }
