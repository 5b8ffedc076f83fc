"""``GET /api/requests/{request_id}`` and ``cvdsr status``: what a request is doing (DESIGN §7)."""

from __future__ import annotations

import json
from typing import Any

from shared.intake import runtime_status
from shared.results import layout


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def describe(request_id: str, status: Any) -> dict[str, Any] | None:
    """The status document, or None when no such request exists. Paths only, no links or secrets."""
    state = runtime_status(status)
    if state is None:
        return None
    custom = getattr(status, "custom_status", None) or {}
    output = getattr(status, "output", None)
    started = getattr(status, "input_", None) or {}
    if isinstance(started, str):  # the extension hands back the input as the JSON text the client sent
        try:
            started = json.loads(started)
        except ValueError:
            started = {}
    request = started.get("request", {}) if isinstance(started, dict) else {}
    document: dict[str, Any] = {
        "request_id": request_id,
        "runtime_status": state,
        "phase": custom.get("phase") if isinstance(custom, dict) else None,
        "progress": custom if isinstance(custom, dict) else {},
        "type": request.get("type") if isinstance(request, dict) else None,
        "due_at": request.get("due_at") if isinstance(request, dict) else None,
        "created_at": _iso(getattr(status, "created_time", None)),
        "updated_at": _iso(getattr(status, "last_updated_time", None)),
    }
    if isinstance(output, dict):
        document["status"] = output.get("status")
        document["counts"] = output.get("counts")
        document["result"] = output.get("result")
    document.setdefault("result", {"manifest": layout.manifest(request_id)})
    return document
