"""cvdsr's own copies (GDPR Art. 17 and 19): an erase for a data subject also deletes the folders of
the earlier exports cvdsr made for the same person, found through the request register by the
fingerprint of ``subject.reference`` and the ticket system whose id it is (``shared.register``). The
data goes; the earlier export's record of itself (``request.json``, ``manifest.json``,
``audit.jsonl``: ids, counts, digests, fingerprints) stays, as the certificate's ``kept`` says, and
so do the register and the write-once evidence container. An earlier erase's folder holds no
personal data and stays too. An export still running when the erase looks is not deleted (its
files are still being written); it is listed with ``"running": true`` so the certificate says so.

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

# What an earlier export keeps of itself: the record that it was answered, and how (no personal data).
RECORDS = (layout.request_json, layout.manifest, layout.audit_log)


async def _earlier_exports(
    service: BlobServiceClient, request_id: str, subject: str, ticket_system: str | None
) -> tuple[list[str], list[str]]:
    """The ids of the exports for this person over the 24 months the register keeps: answered, and
    still running."""
    today = datetime.now(UTC).date()
    records = await register.records(service, today - timedelta(days=register.MAX_DAYS - 1), today)
    mine = [
        r
        for r in records
        if r["subject"] == subject
        and r.get("ticket_system") == ticket_system
        and r["type"] == "export"
        and r["request_id"] != request_id
        and r["status"] != "rejected"
    ]
    answered = sorted({r["request_id"] for r in mine if r["responded_at"] is not None})
    return answered, sorted({r["request_id"] for r in mine if r["responded_at"] is None} - set(answered))


async def _blobs(store: ResultStore, request_id: str) -> list[str]:
    kept = {record(request_id) for record in RECORDS}
    return [
        blob.name
        async for blob in store.container.list_blobs(name_starts_with=f"{request_id}/")
        if blob.name not in kept
    ]


async def erase_own_copies(
    service: BlobServiceClient,
    store: ResultStore,
    request_id: str,
    subject: str | None,
    *,
    dry_run: bool,
    ticket_system: str | None = None,
) -> list[dict[str, Any]]:
    """The certificate's ``own_copies``: per earlier export, ``request_id``, ``blobs`` (how many were
    deleted, or would be on a dry run) and ``deleted_at`` (None on a dry run); an export still running
    is listed with ``running: true``, ``blobs: 0`` and ``deleted_at: None``."""
    if not subject:
        return []
    try:
        plan: dict[str, Any] = await store.read_json(layout.own_copies(request_id))
    except ResourceNotFoundError:
        answered, running = await _earlier_exports(service, request_id, subject, ticket_system)
        found = [(rid, await _blobs(store, rid)) for rid in answered]
        copies = [{"request_id": rid, "names": names} for rid, names in found if names]
        if dry_run:
            return [
                {"request_id": c["request_id"], "blobs": len(c["names"]), "deleted_at": None} for c in copies
            ] + _running(running)
        plan = {
            "request_id": request_id,
            "subject": subject,
            "at": datetime.now(UTC).isoformat(),
            "copies": copies,
            "running": running,
        }
        await store.put_json(layout.own_copies(request_id), plan)
    for copy in plan["copies"]:
        for name in copy["names"]:
            try:
                await store.container.delete_blob(name)
            except ResourceNotFoundError:  # deleted by the run that crashed
                pass
    deleted = [
        {"request_id": c["request_id"], "blobs": len(c["names"]), "deleted_at": plan["at"]} for c in plan["copies"]
    ]
    return deleted + _running(plan.get("running", []))


def _running(request_ids: list[str]) -> list[dict[str, Any]]:
    return [{"request_id": rid, "blobs": 0, "deleted_at": None, "running": True} for rid in request_ids]
