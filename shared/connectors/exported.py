"""What an export holds for a platform's answer: the person's image records, each once, and their files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from shared.results import layout
from shared.results.store import ResultStore, StoredFile


async def files(store: ResultStore, request_id: str) -> AsyncIterator[StoredFile]:
    """The export's image records (workspace and trained iterations' snapshots: an image removed from the
    workspace may still be in one) and image files (each once)."""
    async for stored in store.list_files(f"{layout.data_prefix(request_id)}projects/"):
        if stored.path.endswith("/images.jsonl") or "/images/" in stored.path:
            yield stored


async def records(store: ResultStore, paths: list[str]) -> AsyncIterator[dict[str, Any]]:
    """Each image's record once: the workspace's (listed first, by name) before a snapshot's copy."""
    seen: set[str] = set()
    for path in sorted(paths, key=lambda p: "/iterations/" in p):
        for line in (await store.read_bytes(path)).splitlines():
            record = json.loads(line) if line.strip() else None
            if record is not None and record.get("id") not in seen:
                seen.add(record.get("id"))
                yield record


async def records_of(store: ResultStore, request_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every image record of the export, each once."""
    paths = [stored.path async for stored in files(store, request_id) if stored.path.endswith("/images.jsonl")]
    async for record in records(store, paths):
        yield record


async def rows(store: ResultStore, request_id: str, limit: int) -> list[dict[str, Any]] | None:
    """The export's image records as a platform's rows, or None when there are more than ``limit``
    (the package is the answer then)."""
    found: list[dict[str, Any]] = []
    async for record in records_of(store, request_id):
        if len(found) == limit:
            return None
        found.append(record)
    return found
