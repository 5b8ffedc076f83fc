"""Intake and the sweeper against Azurite, with a Durable client that behaves as the extension can on
Azure Storage: two concurrent starts of one instance id may both report success. The claim, not the
start, decides which request holds an id."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue import QueueClient

from shared import claims, endings, intake
from shared.results import layout

PROJECT = "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"


@dataclass
class Status:
    runtime_status: str
    input_: Any = None
    output: Any = None
    custom_status: Any = None
    created_time: datetime = field(default_factory=lambda: datetime.now(UTC))


class RacyClient:
    """Every ``start_new`` succeeds, even a second one for the same id (the Azure Storage race); the
    first start's input is what runs."""

    def __init__(self) -> None:
        self.instances: dict[str, Status] = {}
        self.starts: list[str] = []
        self.terminated: list[str] = []
        self.gate = asyncio.Event()

    async def get_status(self, instance_id: str, *, show_input: bool = False) -> Any:
        await asyncio.sleep(0)
        return self.instances.get(instance_id, Status(runtime_status=None))  # type: ignore[arg-type]

    async def start_new(self, name: str, instance_id: str | None = None, client_input: Any = None) -> str:
        assert instance_id is not None
        self.starts.append(instance_id)
        self.instances.setdefault(instance_id, Status("Running", input_=client_input))
        return instance_id

    async def terminate(self, instance_id: str, reason: str) -> None:
        self.terminated.append(instance_id)
        self.instances[instance_id].runtime_status = "Terminated"


@pytest.fixture
def settings(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    hub = uuid.uuid4().hex[:8]
    values = {
        "AzureWebJobsStorage": azurite.connection_string,
        "CUSTOMVISION__DEMO__ENDPOINT": "https://demo.cognitiveservices.azure.com",
        "CUSTOMVISION__DEMO__TRAININGKEY": "test-key",
        "CVDSR_RESULTS_CONTAINER": f"r{hub}",
        "CVDSR_STATE_CONTAINER": f"s{hub}",
        "CVDSR_EVENTS_QUEUE": f"e{hub}",
        "CVDSR_FINGERPRINT_KEY": "a test key of the installation",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ServiceBusConnection", raising=False)
    monkeypatch.delenv("CVDSR_WEBHOOK_URL", raising=False)
    return values


def body(request_id: str, **fields: Any) -> bytes:
    document = {"schema_version": 1, "request_id": request_id, "type": "export", "resources": ["demo"], **fields}
    return json.dumps(document).encode()


async def blob_text(settings: dict[str, str], path: str) -> str | None:
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        container = service.get_container_client(settings["CVDSR_RESULTS_CONTAINER"])
        try:
            return (await (await container.download_blob(path)).readall()).decode()
        except Exception:
            return None


def events(settings: dict[str, str]) -> list[dict[str, Any]]:
    queue = QueueClient.from_connection_string(settings["AzureWebJobsStorage"], settings["CVDSR_EVENTS_QUEUE"])
    return [json.loads(base64.b64decode(m.content)) for m in queue.peek_messages(max_messages=32)]


async def test_two_different_requests_at_once_under_one_id_start_one(settings: dict[str, str]) -> None:
    """Review finding: both were answered "started", and the loser overwrote the winner's selector."""
    client = RacyClient()
    alice = body("RACE-1", type="erase", scope={"images": {"metadata": {"subject": "alice"}}})
    bob = body("RACE-1", type="erase", scope={"images": {"metadata": {"subject": "bob"}}})
    results = await asyncio.gather(
        intake.submit(alice, client, channel="http"), intake.submit(bob, client, channel="storage-queue")
    )
    assert sorted(r.outcome for r in results) == ["rejected", "started"]
    assert client.starts == ["RACE-1"]
    winner = next(r for r in results if r.outcome == "started")
    private = json.loads(await blob_text(settings, layout.private_request("RACE-1")) or "{}")
    subject = private["scope"]["images"]["metadata"]["subject"]
    started = client.instances["RACE-1"].input_
    assert subject == ("alice" if results[0] is winner else "bob"), "the work blob is the winner's"
    assert started["request"]["scope"]["images"]["metadata"]["subject"].startswith("hmac-sha256:")
    loser = next(r for r in results if r.outcome == "rejected")
    assert loser.reasons == (intake.CONFLICT,)


async def test_the_same_request_delivered_twice_at_once_is_one_request(settings: dict[str, str]) -> None:
    client = RacyClient()
    raw = body("RACE-2")
    results = await asyncio.gather(*(intake.submit(raw, client, channel="http") for _ in range(3)))
    assert {r.outcome for r in results} <= {"started", "already_running"}
    assert "started" in {r.outcome for r in results}
    assert set(client.starts) == {"RACE-2"}


async def test_a_purged_history_does_not_free_the_id(settings: dict[str, str]) -> None:
    """Review finding: with the history gone (purged, another task hub), another request started
    over the old one's results."""
    client = RacyClient()
    assert (await intake.submit(body("PURGE-1"), client, channel="http")).outcome == "started"
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        container = service.get_container_client(settings["CVDSR_RESULTS_CONTAINER"])
        manifest = {
            "manifest_version": 1,
            "request_id": "PURGE-1",
            "type": "export",
            "status": "succeeded",
            "counts": {"projects": 1},
            "expected_counts": {"projects": 1},
            "errors": [],
        }
        await container.upload_blob(layout.manifest("PURGE-1"), json.dumps(manifest), overwrite=True)
        kept = client.instances["PURGE-1"].input_["request"]
        await container.upload_blob(layout.request_json("PURGE-1"), json.dumps(kept), overwrite=True)
    purged = RacyClient()  # no instance of PURGE-1 any more
    erase = body("PURGE-1", type="erase", confirm="demo")
    assert (await intake.submit(erase, purged, channel="http")).outcome == "rejected"
    assert purged.starts == []
    again = await intake.submit(body("PURGE-1"), purged, channel="http")
    assert again.outcome == "resent"
    (event,) = [e for e in events(settings) if e["subject"] == "PURGE-1" and e["data"]["status"] == "succeeded"]
    assert event["data"]["counts"] == {"projects": 1}


async def test_a_failed_start_leaves_no_clear_value_behind(settings: dict[str, str]) -> None:
    class Down(RacyClient):
        async def start_new(self, name: str, instance_id: str | None = None, client_input: Any = None) -> str:
            raise RuntimeError("the extension did not answer")

    raw = body("DOWN-1", scope={"projects": "all", "images": {"metadata": {"subject": "carol"}}})
    with pytest.raises(RuntimeError):
        await intake.submit(raw, Down(), channel="storage-queue")
    assert await blob_text(settings, layout.private_request("DOWN-1")) is None
    # The queue delivers it again: the claim is its own, so it starts.
    client = RacyClient()
    assert (await intake.submit(raw, client, channel="storage-queue")).outcome == "started"


async def test_the_sweeper_settles_terminated_timed_out_and_never_started_requests(settings: dict[str, str]) -> None:
    client = RacyClient()
    for request_id in ("SW-TERM", "SW-SLOW", "SW-DONE"):
        assert (await intake.submit(body(request_id), client, channel="http")).outcome == "started"
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        await claims.mark_open(service, "SW-LOST")  # intake wrote this, then its start failed for good
    started = client.instances["SW-TERM"].input_
    client.instances["SW-TERM:demo"] = Status("Running", custom_status={"running": [PROJECT]})
    client.instances[f"SW-TERM:demo:{PROJECT}"] = Status("Running")
    client.instances["SW-TERM"].runtime_status = "Terminated"
    client.instances["SW-TERM"].output = "operator stopped it"
    client.instances["SW-SLOW"].created_time = datetime.now(UTC) - timedelta(hours=200)
    client.instances["SW-DONE"].runtime_status = "Completed"
    later = datetime.now(UTC) + timedelta(hours=2)
    counts = await endings.sweep(client, now=later)
    assert counts == {"timed_out": 1, "announced": 1, "closed": 2, "reminded": 0}
    assert sorted(client.terminated) == sorted(["SW-SLOW", "SW-TERM:demo", f"SW-TERM:demo:{PROJECT}"])
    (event,) = [e for e in events(settings) if e["subject"] == "SW-TERM"]
    assert event["type"] == "cvdsr.export.failed"
    assert event["data"]["errors"][0]["error"] == "the request ended as Terminated: operator stopped it"
    assert json.loads(await blob_text(settings, layout.manifest("SW-TERM")) or "{}")["status"] == "failed"
    for request_id in ("SW-TERM", "SW-DONE", "SW-LOST"):
        assert await blob_text(settings, layout.private_request(request_id)) is None
    # The next pass announces the timed-out request once, and nothing twice.
    again = await endings.sweep(client, now=later)
    assert again == {"timed_out": 0, "announced": 1, "closed": 0, "reminded": 0}
    assert len([e for e in events(settings) if e["subject"] == "SW-TERM"]) == 1
    assert started["binding"]


async def test_a_request_that_broke_after_its_results_is_announced_as_its_manifest_says(
    settings: dict[str, str],
) -> None:
    """Review finding: a failure while announcing made the sweeper say "failed" after "succeeded"."""
    client = RacyClient()
    assert (await intake.submit(body("SW-LATE"), client, channel="http")).outcome == "started"
    manifest = {
        "manifest_version": 1,
        "request_id": "SW-LATE",
        "type": "export",
        "status": "succeeded",
        "counts": {"images": 3},
        "expected_counts": {"images": 3},
        "errors": [],
        "files": [{"path": "SW-LATE/data/x"}],
    }
    async with BlobServiceClient.from_connection_string(settings["AzureWebJobsStorage"]) as service:
        container = service.get_container_client(settings["CVDSR_RESULTS_CONTAINER"])
        await container.upload_blob(layout.manifest("SW-LATE"), json.dumps(manifest, indent=2), overwrite=True)
    client.instances["SW-LATE"].runtime_status = "Failed"
    await endings.sweep(client)
    (event,) = [e for e in events(settings) if e["subject"] == "SW-LATE"]
    assert event["type"] == "cvdsr.export.completed"
    assert event["data"]["counts"] == {"images": 3}
