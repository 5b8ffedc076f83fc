"""The request register (CCPA Regulations §7101): a record of every request, kept 24 months.

Append-only: one append blob per month of receipt (UTC) in ``CVDSR_REGISTER_CONTAINER`` (default
``dsr-register``, ``shared.results.layout.register_month``), one JSON line per entry. Intake appends
a ``received`` entry when it starts a request and a complete one when it rejects a message; the
completion activity (``shared.events.completion.deliver_outcome``, also used by the sweeper and by
a re-sent outcome) appends ``responded``. Delivery is at least once, so a line may be there twice:
the reader folds the entries by request id (and a rejection's id), the first value of each field
winning. Nothing that identifies the person is written: the subject reference is its keyed
fingerprint (``shared.fingerprints``) and reasons name fields and rules, never values.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared import deadlines
from shared.export.tables import safe_cell
from shared.results import layout
from shared.settings import app_settings

# The fields of a record, in the order of the CSV's columns.
FIELDS = (
    "request_id",
    "rejection_id",
    "received_at",
    "type",
    "channel",
    "jurisdiction",
    "due_at",
    "responded_at",
    "status",
    "denial_reason",
    "ticket_id",
    "ticket_system",
    "subject",
)
DENIED = ("rejected", "failed")
MAX_REASON = 500
MAX_DAYS = 731  # the 24 months the register is kept
MAX_RECORDS = 10_000
MAX_BODY = 64 * 1024  # a rejected body larger than a request may be is not read at all


class TooManyRecords(ValueError):
    """More records than one answer holds: ask for a shorter range."""


def container(service: BlobServiceClient, environ: Mapping[str, str] | None = None) -> ContainerClient:
    return service.get_container_client(app_settings(environ).register_container)


def _month_blob(received_at: str | None) -> str:
    when = (deadlines.instant(received_at) or datetime.now(UTC)).astimezone(UTC)
    return layout.register_month(when.year, when.month)


def received_entry(request: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """What intake records of a request it starts. ``request`` is the request as it may be kept (its
    subject reference already a fingerprint) with its clock stamped."""
    subject = request.get("subject") or {}
    return {
        "entry": "received",
        "request_id": request["request_id"],
        "received_at": request.get("received_at"),
        "type": request.get("type"),
        "channel": channel,
        "jurisdiction": request.get("jurisdiction"),
        "due_at": request.get("due_at"),
        "ticket_id": (request.get("ticket") or {}).get("id"),
        # subject.reference is the ticketing system's own id: a person is the pair (own_copies matches both).
        "ticket_system": (request.get("ticket") or {}).get("system"),
        "subject": subject.get("reference"),
    }


def responded_entry(request: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, Any]:
    """What the completion records: when the request was answered, how, and why it was not done."""
    status = outcome.get("status")
    reason = None
    if status in DENIED:
        reason = "; ".join(str(e.get("error")) for e in outcome.get("errors") or [] if isinstance(e, Mapping))
        reason = reason[:MAX_REASON] or None
    return {
        "entry": "responded",
        "request_id": request["request_id"],
        "received_at": request.get("received_at"),
        "responded_at": outcome.get("completed_at"),
        "status": status,
        "denial_reason": reason,
    }


def rejected_entry(
    record_id: str, rejection_id: str, reasons: Sequence[str], at: str, channel: str | None, raw: bytes
) -> dict[str, Any]:
    """A rejected message, received and answered at once. Only the type and jurisdiction are read from
    the body, and only when they are one of the known values: the rest of it may hold anything."""
    try:  # a hostile body (too large, nested too deep, not JSON) is simply not read
        body = json.loads(raw) if len(raw) <= MAX_BODY else None
    except (ValueError, RecursionError):
        body = None
    body = body if isinstance(body, dict) else {}
    kind = body.get("type") if body.get("type") in ("export", "erase") else None
    jurisdiction = body.get("jurisdiction") if body.get("jurisdiction") in deadlines.JURISDICTIONS else None
    return {
        "entry": "rejected",
        "request_id": record_id,
        "rejection_id": rejection_id,
        "received_at": at,
        "type": kind,
        "channel": channel,
        "jurisdiction": jurisdiction,
        "responded_at": at,
        "status": "rejected",
        "denial_reason": "; ".join(reasons)[:MAX_REASON],
    }


async def append(
    service: BlobServiceClient, entry: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """Append one line to the month's blob, creating the container and the blob the first time."""
    line = (json.dumps(dict(entry), sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    registry = container(service, environ)
    blob = registry.get_blob_client(_month_blob(entry.get("received_at")))
    try:
        await blob.append_block(line)
        return
    except ResourceNotFoundError:
        pass
    try:
        await registry.create_container()
    except ResourceExistsError:
        pass
    try:
        await blob.create_append_blob(if_none_match="*")
    except (ResourceExistsError, ResourceModifiedError):  # another process created it first
        pass
    await blob.append_block(line)


def fold(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per request (and per rejected message), from its entries in the order written: the
    first value of each field wins, so an entry appended twice changes nothing."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        request_id = entry.get("request_id")
        if not isinstance(request_id, str):
            continue
        record = records.setdefault(
            (request_id, str(entry.get("rejection_id") or "")), {field: None for field in FIELDS}
        )
        for field in FIELDS:
            if record[field] is None and entry.get(field) is not None:
                record[field] = entry[field]
    return list(records.values())


def _months(start: date, end: date) -> list[tuple[int, int]]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _received_day(record: Mapping[str, Any]) -> date | None:
    when = deadlines.instant(record.get("received_at"))
    return when.astimezone(UTC).date() if when else None


async def read(
    service: BlobServiceClient, start: date, end: date, environ: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The records of the requests received from ``start`` to ``end`` (UTC days, both included),
    oldest first. Raises ``TooManyRecords`` past ``MAX_RECORDS``."""
    found = await records(service, start, end, environ)
    if len(found) > MAX_RECORDS:
        raise TooManyRecords(f"more than {MAX_RECORDS} requests received in the range: ask for a shorter one")
    return found


async def records(
    service: BlobServiceClient, start: date, end: date, environ: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """``read`` without its cap: for cvdsr's own searches (``shared.erase.own_copies``)."""
    registry = container(service, environ)
    entries: list[dict[str, Any]] = []
    for year, month in _months(start, end):
        try:
            data = await (await registry.get_blob_client(layout.register_month(year, month)).download_blob()).readall()
        except ResourceNotFoundError:  # no request that month (or no register yet)
            continue
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by a crash mid-append is not a record
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    found = [r for r in fold(entries) if (day := _received_day(r)) is not None and start <= day <= end]
    return sorted(found, key=lambda r: (deadlines.instant(r["received_at"]), str(r["request_id"])))


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """The records as CSV, one column per field of ``FIELDS``, a header first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        # Ticket ids and reasons come from outside: a spreadsheet shows them, never evaluates them.
        writer.writerow({field: safe_cell(record.get(field)) for field in FIELDS})
    return out.getvalue()


def median_days_to_respond(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, int]]:
    """Per request type: the median days from receipt to response, and how many answered requests
    it counts (requests not answered yet, or of no known type, are left out)."""
    spans: dict[str, list[float]] = {}
    for record in records:
        received = deadlines.instant(record.get("received_at"))
        responded = deadlines.instant(record.get("responded_at"))
        if received is None or responded is None or not record.get("type"):
            continue
        spans.setdefault(str(record["type"]), []).append((responded - received).total_seconds() / 86400)
    return {kind: (statistics.median(days), len(days)) for kind, days in sorted(spans.items())}
