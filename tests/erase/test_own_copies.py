"""cvdsr's own copies (shared/erase/own_copies.py) on Azurite: which earlier requests are found through
the register, and a re-run after a crash between recording and deleting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob.aio import BlobServiceClient

from shared import register
from shared.erase.own_copies import erase_own_copies
from shared.results import layout
from shared.results.store import ResultStore

SUBJECT = "hmac-sha256:00aa11bb22cc33dd"


@pytest.fixture
async def service(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BlobServiceClient]:
    monkeypatch.setenv("CVDSR_REGISTER_CONTAINER", f"reg{uuid.uuid4().hex[:12]}")
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
        yield client


@pytest.fixture
async def store(service: BlobServiceClient) -> ResultStore:
    container = service.get_container_client(f"res{uuid.uuid4().hex[:12]}")
    await container.create_container()
    return ResultStore(container)


async def answered(service: BlobServiceClient, request_id: str, kind: str, subject: str | None, status: str) -> None:
    now = datetime.now(UTC).isoformat()
    request = {"request_id": request_id, "type": kind, "received_at": now, "subject": {"reference": subject}}
    await register.append(service, register.received_entry(request, "http"))
    await register.append(service, register.responded_entry(request, {"status": status, "completed_at": now}))


async def folder(store: ResultStore, request_id: str, count: int = 3) -> None:
    for index in range(count):
        await store.put_json(f"{request_id}/data/file-{index}.json", {"i": index})


async def names(store: ResultStore, prefix: str) -> list[str]:
    return [blob.name async for blob in store.container.list_blobs(name_starts_with=prefix)]


async def test_only_the_subjects_answered_exports_are_found(service: BlobServiceClient, store: ResultStore) -> None:
    await answered(service, "EXP-1", "export", SUBJECT, "succeeded")
    await answered(service, "EXP-2", "export", SUBJECT, "partially_succeeded")
    await answered(service, "EXP-OTHER", "export", "hmac-sha256:ffff", "succeeded")
    await answered(service, "ERA-OLD", "erase", SUBJECT, "succeeded")
    running = {"request_id": "EXP-RUNNING", "type": "export", "received_at": datetime.now(UTC).isoformat()}
    await register.append(service, register.received_entry({**running, "subject": {"reference": SUBJECT}}, "http"))
    for request_id in ("EXP-1", "EXP-2", "EXP-OTHER", "ERA-OLD", "EXP-RUNNING", "ERA-NOW"):
        await folder(store, request_id)
    planned = await erase_own_copies(service, store, "ERA-NOW", SUBJECT, dry_run=True)
    assert planned == [
        {"request_id": "EXP-1", "blobs": 3, "deleted_at": None},
        {"request_id": "EXP-2", "blobs": 3, "deleted_at": None},
        # Still running: not deleted under its feet, and the certificate says so.
        {"request_id": "EXP-RUNNING", "blobs": 0, "deleted_at": None, "running": True},
    ]
    assert len(await names(store, "")) == 18, "a dry run deletes nothing"
    assert not await store.exists(layout.own_copies("ERA-NOW")), "nor records anything"
    assert await erase_own_copies(service, store, "ERA-NOW", None, dry_run=False) == []


async def test_a_rerun_after_a_crash_finishes_and_reports_the_same(
    service: BlobServiceClient, store: ResultStore
) -> None:
    await answered(service, "EXP-1", "export", SUBJECT, "succeeded")
    await folder(store, "EXP-1", 4)
    first = await erase_own_copies(service, store, "ERA-1", SUBJECT, dry_run=False)
    assert [(c["request_id"], c["blobs"]) for c in first] == [("EXP-1", 4)]
    assert await names(store, "EXP-1/") == []
    # As if the run had died after recording the list and deleting only part of it.
    await folder(store, "EXP-1", 2)
    again = await erase_own_copies(service, store, "ERA-1", SUBJECT, dry_run=False)
    assert again == first
    assert await names(store, "EXP-1/") == []


async def test_the_same_reference_from_another_ticket_system_is_another_person(
    service: BlobServiceClient, store: ResultStore
) -> None:
    """subject.reference is the ticketing system's own id: "12345" in ServiceNow is not "12345" in
    OneTrust."""
    now = datetime.now(UTC).isoformat()
    for request_id, system in (("EXP-SN", "servicenow"), ("EXP-OT", "onetrust")):
        request = {"request_id": request_id, "type": "export", "received_at": now, "subject": {"reference": SUBJECT}}
        request["ticket"] = {"system": system, "id": "T-1"}
        await register.append(service, register.received_entry(request, "http"))
        await register.append(service, register.responded_entry(request, {"status": "succeeded", "completed_at": now}))
        await folder(store, request_id)
    found = await erase_own_copies(service, store, "ERA-SN", SUBJECT, dry_run=False, ticket_system="servicenow")
    assert [c["request_id"] for c in found] == ["EXP-SN"]
    assert len(await names(store, "EXP-OT/")) == 3


async def test_an_earlier_export_keeps_its_record_of_itself(service: BlobServiceClient, store: ResultStore) -> None:
    """request.json, manifest.json and audit.jsonl (ids, counts, digests) stay: the certificate's kept."""
    await answered(service, "EXP-1", "export", SUBJECT, "succeeded")
    await folder(store, "EXP-1", 2)
    for record in (layout.request_json, layout.manifest, layout.audit_log):
        await store.put_json(record("EXP-1"), {"request_id": "EXP-1"})
    (copy,) = await erase_own_copies(service, store, "ERA-1", SUBJECT, dry_run=False)
    assert copy["blobs"] == 2
    assert sorted(await names(store, "EXP-1/")) == sorted(
        [layout.audit_log("EXP-1"), layout.manifest("EXP-1"), layout.request_json("EXP-1")]
    )


async def test_a_copy_that_could_not_be_deleted_is_never_reported_deleted(
    service: BlobServiceClient, store: ResultStore
) -> None:
    """A blob Storage refuses to delete (here: leased by someone else) fails the step, so the
    certificate is not written claiming it; once the lease is gone, the re-run finishes the list."""
    await answered(service, "EXP-1", "export", SUBJECT, "succeeded")
    await folder(store, "EXP-1", 2)
    lease = await store.container.get_blob_client("EXP-1/data/file-1.json").acquire_lease()
    with pytest.raises(HttpResponseError):
        await erase_own_copies(service, store, "ERA-1", SUBJECT, dry_run=False)
    assert await names(store, "EXP-1/") == ["EXP-1/data/file-1.json"]
    await lease.release()
    (copy,) = await erase_own_copies(service, store, "ERA-1", SUBJECT, dry_run=False)
    assert (copy["request_id"], copy["blobs"]) == ("EXP-1", 2)
    assert await names(store, "EXP-1/") == []
