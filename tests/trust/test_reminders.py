"""Due-soon and overdue reminders from the sweeper, against Azurite (issue 14): once per request and due
date, armed again by an extension, never for a request that ended, and off when configured so."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import endings, extensions, intake
from shared.events import lifecycle
from shared.events.cloudevent import dedupe_key

from .test_intake_races import RacyClient, body, events
from .test_intake_races import settings as settings  # the fixture: Azurite, fresh containers and queue

RECEIVED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday; GDPR: due on Wednesday 2 December
DUE = datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweeper would end a request running longer than a week; these stay open for weeks."""
    monkeypatch.setenv("CVDSR_REQUEST_TIMEOUT_HOURS", "100000")


def reminders(settings: dict[str, str], request_id: str) -> list[dict[str, Any]]:
    try:
        sent = events(settings)
    except ResourceNotFoundError:  # no event was ever sent: the queue is created by the first
        return []
    return [e for e in sent if e["subject"] == request_id and e["type"] in lifecycle.TYPES]


async def started(client: RacyClient, request_id: str, **fields: Any) -> dict[str, Any]:
    raw = body(request_id, jurisdiction="gdpr", received_at=RECEIVED.isoformat(), **fields)
    assert (await intake.submit(raw, client, channel="http")).outcome == "started"
    request: dict[str, Any] = client.instances[request_id].input_["request"]
    return request


def test_the_rule_owes_nothing_before_the_window_then_due_soon_then_overdue() -> None:
    request = {"request_id": "R", "due_at": DUE.isoformat()}
    week = timedelta(days=7)
    assert lifecycle.reminder_due(request, [], DUE - timedelta(days=8), week) is None
    assert lifecycle.reminder_due(request, [], DUE - week, week) == ("due_soon", DUE.isoformat())
    assert lifecycle.reminder_due(request, [], DUE, week) == ("due_soon", DUE.isoformat())
    assert lifecycle.reminder_due(request, [], DUE + timedelta(seconds=1), week) == ("overdue", DUE.isoformat())
    # 0 days: no due-soon reminder, the overdue one still goes.
    assert lifecycle.reminder_due(request, [], DUE - timedelta(hours=1), timedelta(0)) is None
    assert lifecycle.reminder_due(request, [], DUE + timedelta(days=1), timedelta(0))[0] == "overdue"  # type: ignore[index]
    # An extension moves the date the reminders are about.
    later = DUE + timedelta(days=30)
    extended = [{"until": later.isoformat(), "reason": "complex request"}]
    assert lifecycle.reminder_due(request, extended, DUE + timedelta(days=1), week) is None
    # No due date (no jurisdiction, none sent): never reminded.
    assert lifecycle.reminder_due({"request_id": "R"}, [], DUE, week) is None


def test_a_reminder_names_its_due_date_in_its_id_and_an_acknowledgement_does_not() -> None:
    assert dedupe_key({"request_id": "R", "status": "due_soon", "due_at": "2026-12-02"}) == "R:due_soon:2026-12-02"
    assert dedupe_key({"request_id": "R", "status": "acknowledged", "due_at": "2026-12-02"}) == "R:acknowledged"
    request = {"request_id": "R", "type": "erase", "due_at": DUE.isoformat(), "subject": {"reference": "x"}}
    first = lifecycle.lifecycle_event("overdue", request, [], DUE + timedelta(days=1))
    again = lifecycle.lifecycle_event("overdue", request, [], DUE + timedelta(days=2))
    assert first["id"] == again["id"]
    assert first["type"] == "cvdsr.request.overdue"
    assert first["data"]["days_left"] == -1
    assert "subject" not in first["data"]


async def test_the_sweeper_sends_each_reminder_once_per_due_date(settings: dict[str, str]) -> None:
    client = RacyClient()
    request = await started(client, "REM-1")
    assert request["due_at"] == DUE.isoformat()
    early = await endings.sweep(client, now=DUE - timedelta(days=10))
    assert early["reminded"] == 0
    assert reminders(settings, "REM-1") == []

    soon = DUE - timedelta(days=3)
    assert (await endings.sweep(client, now=soon))["reminded"] == 1
    assert (await endings.sweep(client, now=soon + timedelta(hours=1)))["reminded"] == 0
    (due_soon,) = reminders(settings, "REM-1")
    assert due_soon["type"] == "cvdsr.request.due_soon"
    assert (due_soon["data"]["due_at"], due_soon["data"]["days_left"]) == (DUE.isoformat(), 3)
    assert due_soon["data"]["jurisdiction"] == "gdpr"
    assert due_soon["data"]["extended"] is False

    # Extended (before the original date, within the GDPR's three months): nothing is owed on the old
    # date any more, and both reminders come again for the new one.
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        await extensions.extend(service, request, date(2027, 1, 29), "the request covers 40 projects", now=soon)
    assert (await endings.sweep(client, now=DUE + timedelta(days=2)))["reminded"] == 0
    near = datetime(2027, 1, 25, tzinfo=UTC)
    assert (await endings.sweep(client, now=near))["reminded"] == 1
    late = datetime(2027, 1, 31, tzinfo=UTC)
    assert (await endings.sweep(client, now=late))["reminded"] == 1
    assert (await endings.sweep(client, now=late + timedelta(days=1)))["reminded"] == 0
    sent = reminders(settings, "REM-1")
    assert [e["type"] for e in sent] == ["cvdsr.request.due_soon", "cvdsr.request.due_soon", "cvdsr.request.overdue"]
    assert sent[2]["data"]["extended"] is True
    assert sent[2]["data"]["days_left"] == -2
    assert sent[2]["data"]["extension_reason"] == "the request covers 40 projects"
    assert len({e["id"] for e in sent}) == 3


async def test_an_ended_request_is_not_reminded_and_its_markers_go(settings: dict[str, str]) -> None:
    client = RacyClient()
    await started(client, "REM-DONE")
    assert (await endings.sweep(client, now=DUE - timedelta(days=1)))["reminded"] == 1
    client.instances["REM-DONE"].runtime_status = "Completed"
    assert (await endings.sweep(client, now=DUE + timedelta(days=1)))["reminded"] == 0
    assert [e["type"] for e in reminders(settings, "REM-DONE")] == ["cvdsr.request.due_soon"]
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        state = service.get_container_client(settings["CVDSR_STATE_CONTAINER"])
        assert [b.name async for b in state.list_blobs(name_starts_with="lifecycle/")] == []


async def test_reminders_can_be_turned_off(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVDSR_LIFECYCLE_EVENTS", "false")
    client = RacyClient()
    await started(client, "REM-OFF")
    assert (await endings.sweep(client, now=DUE + timedelta(days=1)))["reminded"] == 0
    assert reminders(settings, "REM-OFF") == []


async def test_a_reminder_carries_no_subject_or_selector(settings: dict[str, str]) -> None:
    client = RacyClient()
    scope = {"images": {"metadata": {"subject": "alice.person@example.com"}}}
    await started(client, "REM-PII", type="erase", subject={"reference": "alice.person@example.com"}, scope=scope)
    assert (await endings.sweep(client, now=DUE + timedelta(days=1)))["reminded"] == 1
    assert "alice.person" not in json.dumps(reminders(settings, "REM-PII"))


async def test_the_acknowledgement_is_sent_each_time_asked_and_its_first_time_is_kept(settings: dict[str, str]) -> None:
    """The first activity may run again after a crash: the event goes again (the same id), and the time
    the certificate quotes (``times.acknowledged_at``) stays the first; the request's end removes it."""
    client = RacyClient()
    request = await started(client, "ACK-1")
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        assert await lifecycle.acknowledged_at(service, "ACK-1") is None
        assert await lifecycle.acknowledge(service, request) == {"queue": "sent"}
        first = await lifecycle.acknowledged_at(service, "ACK-1")
        assert first is not None
        assert datetime.fromisoformat(first) <= datetime.now(UTC)
        await lifecycle.acknowledge(service, request)
        assert await lifecycle.acknowledged_at(service, "ACK-1") == first
        sent = reminders(settings, "ACK-1")
        assert [e["type"] for e in sent] == ["cvdsr.request.acknowledged"] * 2
        assert sent[0]["id"] == sent[1]["id"]
        await lifecycle.forget(service, "ACK-1")
        assert await lifecycle.acknowledged_at(service, "ACK-1") is None


async def test_a_reminder_no_channel_took_is_sent_again_by_the_next_sweep(
    settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding: the marker was written whatever the channels said, so a reminder lost on every
    channel was never sent; and an acknowledgement nobody received was quoted in the certificate."""
    client = RacyClient()
    request = await started(client, "REM-LOST")
    monkeypatch.setenv("CVDSR_EVENTS_QUEUE", "not_a_queue_name")  # the only channel refuses every message
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        delivery = await lifecycle.acknowledge(service, request)
        assert delivery is not None
        assert delivery["queue"].startswith("error")
        assert await lifecycle.acknowledged_at(service, "REM-LOST") is None
    assert (await endings.sweep(client, now=DUE + timedelta(days=1)))["reminded"] == 0
    monkeypatch.setenv("CVDSR_EVENTS_QUEUE", settings["CVDSR_EVENTS_QUEUE"])
    assert (await endings.sweep(client, now=DUE + timedelta(days=1)))["reminded"] == 1
    assert [e["type"] for e in reminders(settings, "REM-LOST")] == ["cvdsr.request.overdue"]
