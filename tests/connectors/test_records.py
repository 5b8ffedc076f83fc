"""A connector's record between the webhook and the answer (shared/connectors/records.py), on Azurite:
answered once, its credentials dropped once final, and a redelivery during the answer answered too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.storage.blob.aio import BlobServiceClient

from shared.connections import blob_service
from shared.connectors import records
from shared.connectors.outbound import NotSent, PlatformError


@pytest.fixture
def state(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("CVDSR_STATE_CONTAINER", f"state{uuid.uuid4().hex[:12]}")


async def saved(record: dict[str, Any]) -> None:
    async with blob_service() as service:
        await records.save(service, "fides", "r-1", record)


async def kept() -> dict[str, Any] | None:
    async with blob_service() as service:
        return await records.load(service, "fides", "r-1")


async def test_a_redelivery_while_the_answer_is_on_its_way_is_answered_too(state: None) -> None:
    await saved({"credentials": {"token": "A"}})
    used: list[str] = []

    async def sending(service: BlobServiceClient, record: dict[str, Any]) -> None:
        used.append(record["credentials"]["token"])
        if len(used) == 1:  # the platform runs the task again, with a new token, meanwhile
            await records.save(service, "fides", "r-1", {"credentials": {"token": "B"}})

    assert await records.report("fides", {"request_id": "r-1"}, sending) == "sent"
    assert used == ["A", "B"], "the new token is answered: the platform waits on it"
    record = await kept()
    assert record is not None
    assert record["reported"]["answer"] == "sent"
    assert "credentials" not in record, "not kept at rest once final"
    assert await records.report("fides", {"request_id": "r-1"}, sending) == "sent before"
    assert used == ["A", "B"]


async def test_nothing_true_to_send_is_final_and_an_error_is_tried_again(state: None) -> None:
    await saved({"credentials": {"token": "A"}})

    async def failing(service: BlobServiceClient, record: dict[str, Any]) -> None:
        raise PlatformError("fides", "callback", "HTTP 503 after 6 attempts", status_code=503)

    assert (await records.report("fides", {"request_id": "r-1"}, failing) or "").startswith("error: ")
    assert (await kept() or {}).get("credentials") == {"token": "A"}, "kept: the answer is still owed"

    async def nothing(service: BlobServiceClient, record: dict[str, Any]) -> None:
        raise NotSent("fides", "callback", "the request ended failed")

    answer = await records.report("fides", {"request_id": "r-1"}, nothing)
    assert answer == "not_sent: fides callback: the request ended failed"
    record = await kept()
    assert record is not None
    assert record["reported"]["answer"] == "not_sent"
    assert "credentials" not in record
    assert await records.report("fides", {"request_id": "r-1"}, nothing) == "sent before"


async def test_put_back_restores_the_record_a_rejected_webhook_replaced(state: None) -> None:
    await saved({"credentials": {"token": "A"}})
    async with blob_service() as service:
        before = await records.load(service, "fides", "r-1")
        await records.save(service, "fides", "r-1", {"credentials": {"token": "rejected"}})
        await records.put_back(service, "fides", "r-1", before)
        assert await records.load(service, "fides", "r-1") == before
        await records.put_back(service, "fides", "r-2", None)  # nothing there: nothing to remove
        await records.save(service, "fides", "r-2", {"credentials": {"token": "C"}})
        await records.put_back(service, "fides", "r-2", None)
        assert await records.load(service, "fides", "r-2") is None
