"""The request register (shared/register.py): entries, folding, the CSV, the median time to respond,
and append/read on Azurite (tests/e2e/test_register.py writes it through real requests)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from azure.storage.blob.aio import BlobServiceClient

from shared import register

REQUEST = {
    "request_id": "R-1",
    "type": "erase",
    "received_at": "2026-11-30T23:30:00+00:00",
    "due_at": "2026-12-31T23:59:59+00:00",
    "jurisdiction": "gdpr",
    "ticket": {"system": "servicenow", "id": "INC-7"},
    "subject": {"reference": "hmac-sha256:0123abcd"},
}


def outcome(status: str, completed_at: str = "2026-12-02T11:30:00+00:00", **fields: Any) -> dict[str, Any]:
    return {"status": status, "completed_at": completed_at, "errors": [], **fields}


def test_received_entry_holds_the_fingerprint_and_the_channel() -> None:
    entry = register.received_entry(REQUEST, "servicebus")
    assert entry == {
        "entry": "received",
        "request_id": "R-1",
        "received_at": REQUEST["received_at"],
        "type": "erase",
        "channel": "servicebus",
        "jurisdiction": "gdpr",
        "due_at": REQUEST["due_at"],
        "ticket_id": "INC-7",
        "ticket_system": "servicenow",
        "subject": "hmac-sha256:0123abcd",
    }


def test_a_denial_reason_only_when_rejected_or_failed() -> None:
    errors = [{"kind": "orchestration", "error": "x" * 900}]
    assert register.responded_entry(REQUEST, outcome("succeeded", errors=errors))["denial_reason"] is None
    assert register.responded_entry(REQUEST, outcome("partially_succeeded", errors=errors))["denial_reason"] is None
    failed = register.responded_entry(REQUEST, outcome("failed", errors=errors))
    assert failed["denial_reason"] == "x" * register.MAX_REASON
    assert failed["responded_at"] == "2026-12-02T11:30:00+00:00"


def test_a_rejection_reads_only_known_values_from_the_body() -> None:
    raw = b'{"type": "erase", "jurisdiction": "ccpa", "ticket": {"id": "alice@example.com"}}'
    entry = register.rejected_entry(
        "R-2", "d1g3st", ["resources[0]: is not configured"], "2026-12-01T10:00:00Z", "http", raw
    )
    assert (entry["type"], entry["jurisdiction"], entry["channel"]) == ("erase", "ccpa", "http")
    assert "alice" not in str(entry)
    odd = register.rejected_entry("rejected-ab", "ab", ["not JSON"], "2026-12-01T10:00:00Z", None, b"\xff{")
    assert (odd["type"], odd["jurisdiction"]) == (None, None)
    other = register.rejected_entry("R-3", "c", ["x"], "2026-12-01T10:00:00Z", "http", b'{"type": "alice"}')
    assert other["type"] is None


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"type": "erase", "x": "' + b"a" * 70_000 + b'"}', b"[1]"])
def test_a_hostile_rejected_body_is_not_read(raw: bytes) -> None:
    entry = register.rejected_entry("rejected-1", "1", ["message is not JSON"], "2026-12-01T10:00:00Z", "http", raw)
    assert entry["type"] is None
    assert entry["status"] == "rejected"


def test_fold_one_record_per_request_whatever_was_appended_twice() -> None:
    received = register.received_entry(REQUEST, "http")
    responded = register.responded_entry(REQUEST, outcome("succeeded"))
    conflict = register.rejected_entry(
        "R-1", "dd", ["request_id: names an existing request"], "2026-12-01T00:00:00Z", "http", b"{}"
    )
    records = register.fold([received, received, responded, conflict, responded, {"request_id": 7}, {}])
    assert len(records) == 2, "the conflicting message under the same id is its own record"
    (record,) = [r for r in records if r["rejection_id"] is None]
    assert record["status"] == "succeeded"
    assert record["channel"] == "http"
    assert record["responded_at"] == "2026-12-02T11:30:00+00:00"
    assert set(record) == set(register.FIELDS)


def test_fold_keeps_the_first_value_of_each_field() -> None:
    first = register.responded_entry(REQUEST, outcome("failed", "2026-12-02T00:00:00Z", errors=[{"error": "a"}]))
    later = register.responded_entry(REQUEST, outcome("succeeded", "2026-12-09T00:00:00Z"))
    (record,) = register.fold([first, later])
    assert (record["status"], record["responded_at"], record["denial_reason"]) == (
        "failed",
        "2026-12-02T00:00:00Z",
        "a",
    )


def test_median_days_to_respond_per_type() -> None:
    records: list[dict[str, Any]] = [
        {"type": "export", "received_at": "2026-12-01T00:00:00Z", "responded_at": "2026-12-02T00:00:00Z"},
        {"type": "export", "received_at": "2026-12-01T00:00:00Z", "responded_at": "2026-12-04T00:00:00Z"},
        {"type": "export", "received_at": "2026-12-01T00:00:00Z", "responded_at": "2026-12-11T00:00:00Z"},
        {"type": "erase", "received_at": "2026-12-01T00:00:00Z", "responded_at": "2026-12-01T12:00:00Z"},
        {"type": "erase", "received_at": "2026-12-01T00:00:00Z", "responded_at": None},  # not answered yet
        {"type": None, "received_at": "2026-12-01T00:00:00Z", "responded_at": "2026-12-01T00:00:00Z"},
    ]
    assert register.median_days_to_respond(records) == {"erase": (0.5, 1), "export": (3.0, 3)}
    assert register.median_days_to_respond([]) == {}


def test_csv_has_a_header_and_one_row_per_record() -> None:
    (record,) = register.fold([register.received_entry(REQUEST, "http")])
    record["denial_reason"] = 'a "quoted", reason'
    rows = list(csv.reader(io.StringIO(register.to_csv([record]))))
    assert rows[0] == list(register.FIELDS)
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["request_id"] == "R-1"
    assert row["denial_reason"] == 'a "quoted", reason'
    assert row["responded_at"] == ""


@pytest.fixture
async def service(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BlobServiceClient]:
    monkeypatch.setenv("CVDSR_REGISTER_CONTAINER", f"reg{uuid.uuid4().hex[:12]}")
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
        yield client


def entry_of(request_id: str, received_at: str, **fields: Any) -> dict[str, Any]:
    return register.received_entry({**REQUEST, "request_id": request_id, "received_at": received_at, **fields}, "http")


async def test_append_and_read_by_month_of_receipt(service: BlobServiceClient) -> None:
    assert await register.read(service, date(2026, 1, 1), date(2026, 12, 31)) == [], "no register yet"
    await register.append(service, entry_of("NOV", "2026-11-30T23:30:00+00:00"))
    await register.append(service, entry_of("DEC", "2026-12-01T01:00:00+02:00"))  # 23:00 UTC on 30 Nov
    await register.append(service, entry_of("JAN", "2027-01-01T00:00:00Z"))
    # Answered later: the line goes to the month of receipt, beside its received entry.
    answered = {**REQUEST, "request_id": "NOV", "received_at": "2026-11-30T23:30:00+00:00"}
    await register.append(service, register.responded_entry(answered, outcome("succeeded")))
    await register.append(service, register.responded_entry(answered, outcome("succeeded")))
    names = [blob.name async for blob in register.container(service).list_blobs()]
    assert names == ["2026-11.jsonl", "2027-01.jsonl"]
    november = await register.read(service, date(2026, 11, 30), date(2026, 11, 30))
    assert [r["request_id"] for r in november] == ["DEC", "NOV"]
    assert november[1]["status"] == "succeeded"
    assert [r["request_id"] for r in await register.read(service, date(2026, 12, 1), date(2027, 1, 1))] == ["JAN"]


async def test_a_line_cut_by_a_crash_is_skipped(service: BlobServiceClient) -> None:
    await register.append(service, entry_of("A", "2026-12-01T00:00:00Z"))
    await register.container(service).get_blob_client("2026-12.jsonl").append_block(b'{"request_id": "B", "rece')
    await register.append(service, entry_of("C", "2026-12-01T00:00:01Z"))
    records = await register.read(service, date(2026, 12, 1), date(2026, 12, 1))
    assert [r["request_id"] for r in records] == ["A"], "the cut line swallowed nothing but itself"


async def test_too_many_records_ask_for_a_shorter_range(
    service: BlobServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(3):
        await register.append(service, entry_of(f"R{index}", "2026-12-01T00:00:00Z"))
    monkeypatch.setattr(register, "MAX_RECORDS", 2)
    with pytest.raises(register.TooManyRecords, match="shorter"):
        await register.read(service, date(2026, 12, 1), date(2026, 12, 1))
