"""cvdsr's own copies (GDPR Art. 17 and 19): an erase for a data subject also deletes the folders of
the earlier exports cvdsr made for the same person, found through the request register by the
fingerprint of ``subject.reference`` (``shared.register``). The register itself is kept (it must
be), and so is the write-once evidence container; an earlier erase's folder holds no personal data
(fingerprints and ids only) and stays too.

Idempotent: what will be deleted is recorded in the erase's own ``own-copies.json`` before anything
is deleted, so a re-run after a crash deletes what is left of that list and reports the same copies.
A dry run only lists them (the plan holds the list).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import register
from shared.results import layout
from shared.results.store import ResultStore


async def _earlier_exports(service: BlobServiceClient, request_id: str, subject: str) -> list[str]:
    """The ids of the answered exports for this subject, over the 24 months the register keeps."""
    today = datetime.now(UTC).date()
    records = await register.records(service, today - timedelta(days=register.MAX_DAYS - 1), today)
    return sorted(
        {
            r["request_id"]
            for r in records
            if r["subject"] == subject
            and r["type"] == "export"
            and r["request_id"] != request_id
            and r["responded_at"] is not None
            and r["status"] != "rejected"
        }
    )


async def _blobs(store: ResultStore, request_id: str) -> list[str]:
    return [blob.name async for blob in store.container.list_blobs(name_starts_with=f"{request_id}/")]


async def erase_own_copies(
    service: BlobServiceClient, store: ResultStore, request_id: str, subject: str | None, *, dry_run: bool
) -> list[dict[str, Any]]:
    """The certificate's ``own_copies``: per earlier export, ``request_id``, ``blobs`` (how many were
    deleted, or would be on a dry run) and ``deleted_at`` (None on a dry run)."""
    if not subject:
        return []
    try:
        plan: dict[str, Any] = await store.read_json(layout.own_copies(request_id))
    except ResourceNotFoundError:
        found = [(rid, await _blobs(store, rid)) for rid in await _earlier_exports(service, request_id, subject)]
        copies = [{"request_id": rid, "names": names} for rid, names in found if names]
        if dry_run:
            return [{"request_id": c["request_id"], "blobs": len(c["names"]), "deleted_at": None} for c in copies]
        plan = {"request_id": request_id, "subject": subject, "at": datetime.now(UTC).isoformat(), "copies": copies}
        await store.put_json(layout.own_copies(request_id), plan)
    for copy in plan["copies"]:
        for name in copy["names"]:
            try:
                await store.container.delete_blob(name)
            except ResourceNotFoundError:  # deleted by the run that crashed
                pass
    return [{"request_id": c["request_id"], "blobs": len(c["names"]), "deleted_at": plan["at"]} for c in plan["copies"]]
