"""A request's outcome when the orchestration cannot give it: built from a failure reason, or read
back from the request's manifest (history purged, or an orchestration that failed after its results
were written). The same shape the finalize steps return, so one event builder serves all."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.results import layout
from shared.results.store import ResultStore

FINAL = frozenset({"succeeded", "partially_succeeded", "failed"})
MAX_ERRORS_IN_OUTCOME = 50  # errors an outcome carries through history and events; the manifest has all
# The head of a manifest (everything before its file list) is read, never the list: an export of
# 100,000 images lists 100,000 files.
_HEAD_BYTES = 4 * 1024 * 1024
_FILES_MARKER = ',\n  "files": ['


def failure_outcome(request: Mapping[str, Any], started_at: str | None, reason: str) -> dict[str, Any]:
    return {
        "request_id": request["request_id"],
        "type": request.get("type"),
        "status": "failed",
        "counts": {},
        "expected_counts": {},
        "errors": [{"kind": "orchestration", "error": reason[:500]}],
        "error_count": 1,
        "notes": [],
        "result": {"manifest": layout.manifest(request["request_id"]), "package": None},
        "started_at": started_at,
        "completed_at": datetime.now(UTC).isoformat(),
    }


async def manifest_head(store: ResultStore, request_id: str) -> dict[str, Any] | None:
    """The manifest without its file list (None: no manifest)."""
    blob = store.container.get_blob_client(layout.manifest(request_id))
    try:
        data = await (await blob.download_blob(offset=0, length=_HEAD_BYTES)).readall()
    except ResourceNotFoundError:
        return None
    text = data.decode("utf-8", errors="replace")
    cut = text.find(_FILES_MARKER)
    head: dict[str, Any] = json.loads(text[:cut] + "\n}" if cut != -1 else text)
    return head


async def final_status(store: ResultStore, request_id: str) -> str | None:
    """The manifest's status when it is a final one (a rejection record is not)."""
    head = await manifest_head(store, request_id)
    status = (head or {}).get("status")
    return status if status in FINAL else None


async def from_manifest(store: ResultStore, request_id: str) -> dict[str, Any] | None:
    """The outcome a finished request's manifest records (None: no final manifest)."""
    head = await manifest_head(store, request_id)
    if not head or head.get("status") not in FINAL:
        return None
    errors = list(head.get("errors") or [])
    package = layout.export_zip(request_id)
    result = dict(head.get("result") or {"manifest": layout.manifest(request_id)})
    if head.get("type") == "export" and await store.exists(package):
        result["package"] = package
    return {
        "request_id": request_id,
        "type": head.get("type"),
        "status": head["status"],
        "counts": head.get("counts") or {},
        "expected_counts": head.get("expected_counts") or head.get("planned_counts") or {},
        "errors": errors[:MAX_ERRORS_IN_OUTCOME],
        "error_count": len(errors),
        "notes": head.get("notes") or [],
        "result": result,
        "started_at": head.get("started_at"),
        "completed_at": head.get("completed_at"),
    }
