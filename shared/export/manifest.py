"""``manifest.json``: what the export holds, every file with its size and digest, and whether the
exported counts match the API's own counts (completeness is checked, not assumed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.results import layout
from shared.results.store import ResultStore, StoredFile


def compare_counts(expected: Mapping[str, int], exported: Mapping[str, int]) -> list[dict[str, Any]]:
    """Every data kind whose exported count differs from what the API reported."""
    return [
        {"kind": kind, "expected": count, "exported": exported.get(kind, 0)}
        for kind, count in sorted(expected.items())
        if exported.get(kind, 0) != count
    ]


async def write_manifest(
    store: ResultStore,
    request: Mapping[str, Any],
    *,
    status: str,
    api_version: str,
    started_at: str,
    resources: list[dict[str, Any]],
    expected: Mapping[str, int],
    exported: Mapping[str, int],
    errors: list[dict[str, Any]],
    notes: list[str] | None = None,
    warnings: list[dict[str, str]] | None = None,
) -> StoredFile:
    """Write the manifest, streaming the file list from the container listing (which is in name
    order) so a 100,000-image export does not build a 100,000-entry list in memory."""
    request_id = request["request_id"]
    head = {
        "manifest_version": 1,
        "request_id": request_id,
        "type": request["type"],
        "status": status,
        "api_version": api_version,
        "started_at": started_at,
        "completed_at": datetime.now(UTC).isoformat(),
        "resources": resources,
        "counts": dict(sorted(exported.items())),
        "expected_counts": dict(sorted(expected.items())),
        "count_mismatches": compare_counts(expected, exported),
        "errors": errors,
        "notes": notes or [],
        "warnings": warnings or [],
    }

    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(head, indent=2, sort_keys=False)[:-2].encode() + b',\n  "files": ['
        count = total = 0
        for prefix in _listed_prefixes(request_id):
            async for stored in store.list_files(prefix):
                yield ((b"," if count else b"") + b"\n    " + json.dumps(stored.to_json(), sort_keys=True).encode())
                count += 1
                total += stored.size
        tail = {"file_count": count, "total_bytes": total}
        yield b"\n  ],\n" + json.dumps(tail, indent=2)[2:].encode() + b"\n"

    return await store.put_stream(layout.manifest(request_id), body(), "application/json")


def _listed_prefixes(request_id: str) -> list[str]:
    """The data folder and the top-level files written before the manifest. Not listed: the manifest
    itself, the audit log (still growing), and export.zip (built from the folder, manifest included;
    its digest goes in the completion event)."""
    return [
        layout.data_prefix(request_id),
        layout.request_json(request_id),
        layout.report(request_id),
        layout.report_json(request_id),
    ]
