"""Export requests end to end: a message on each intake channel becomes a complete, verified export,
and exactly one completion event per channel."""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

import httpx
import pytest

from . import ground_truth
from .support import Environment, sha256, wait_for


def check_export_matches_account(env: Environment, request_id: str, truth: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = env.json(f"{request_id}/manifest.json")
    assert manifest["status"] == "succeeded", manifest["errors"]
    assert manifest["count_mismatches"] == []
    # Every file the manifest lists is there, with the size and digest it claims.
    listed = {f["path"]: f for f in manifest["files"]}
    assert listed, "the manifest lists files"
    for path, entry in listed.items():
        body = env.blob(path)
        assert (len(body), sha256(body)) == (entry["bytes"], entry["sha256"]), path
    # And nothing under data/ is missing from the manifest.
    assert set(env.blob_names(f"{request_id}/data/")) <= set(listed)

    prefix = f"{request_id}/data/projects"
    exported_projects = {name.split("/")[3] for name in listed if name.startswith(prefix)}
    assert exported_projects == set(truth)
    for project_id, expected in truth.items():
        base = f"{prefix}/{project_id}"
        assert env.json(f"{base}/project.json")["name"] == expected["name"]
        assert sorted(t["name"] for t in env.json(f"{base}/tags.json")) == expected["tags"]
        assert sorted(i["id"] for i in env.json(f"{base}/iterations.json")) == expected["iterations"]
        lines = env.jsonl(f"{base}/images.jsonl")
        assert sorted(line["id"] for line in lines) == expected["images"]
        assert all("?" not in line["originalImageUri"] for line in lines if line.get("originalImageUri")), "no SAS"
        files = {name.split("/")[-1].split(".")[0]: name for name in listed if name.startswith(f"{base}/images/")}
        # Workspace files are the same bytes the SDK downloads; snapshot-only images have files too.
        for image_id, digest in expected["files"].items():
            assert listed[files[image_id]]["sha256"] == digest, image_id
        for iteration_id, snapshot in expected["snapshots"].items():
            lines = env.jsonl(f"{base}/iterations/{iteration_id}/images.jsonl")
            assert sorted(line["id"] for line in lines) == snapshot
            assert set(snapshot) <= set(files), "every snapshot image has its file"
        assert sorted(p["id"] for p in env.jsonl(f"{base}/predictions.jsonl")) == expected["predictions"]
    return manifest


def one_event_per_channel(env: Environment, request_id: str) -> dict[str, Any]:
    queue, bus, hook = env.events(request_id), env.bus_events(request_id), env.hook_events(request_id)
    assert (len(queue), len(bus), len(hook)) == (1, 1, 1)
    event = queue[0]
    assert bus[0]["id"] == event["id"] == hook[0]["id"]
    assert event["type"] == "cvdsr.export.completed"
    assert event["specversion"] == "1.0"
    assert event["data"]["status"] == "succeeded"
    assert event["data"]["ticket"] == {"system": "servicenow", "id": f"T-{request_id}", "url": None}
    acknowledged, message = (
        m for m in env.peer.messages("dsr-events/subscriptions/all") if json.loads(m.body)["subject"] == request_id
    )
    assert acknowledged.message_id == f"{request_id}:acknowledged"
    assert message.message_id == f"{request_id}:succeeded"
    assert message.correlation_id == f"T-{request_id}"
    assert message.subject == "cvdsr.export.completed"
    assert message.application_properties["status"] == "succeeded"
    assert message.application_properties["ticket_system"] == "servicenow"
    return event


def test_storage_queue_and_service_bus_requests_each_produce_a_complete_export(env: Environment) -> None:
    truth = ground_truth.account(env.simulator.base_url)
    snapshot_only = [set(chain(*p["snapshots"].values())) - set(p["images"]) for p in truth.values()]
    assert any(snapshot_only), "the demo account has an image that exists only in an iteration snapshot"
    env.send_queue(env.request("EXP-QUEUE-1"))
    env.send_servicebus(env.request("EXP-BUS-1"))
    for request_id in ("EXP-QUEUE-1", "EXP-BUS-1"):
        status = env.wait(request_id)
        assert status["runtime_status"] == "Completed"
        assert status["status"] == "succeeded"
        manifest = check_export_matches_account(env, request_id, truth)
        event = one_event_per_channel(env, request_id)
        assert event["data"]["counts"] == manifest["counts"]
        assert event["data"]["counts"]["images"] == sum(len(p["images"]) for p in truth.values())
        report = env.blob(f"{request_id}/report.html").decode()
        assert all(p["name"] in report for p in truth.values())
        assert env.json(f"{request_id}/request.json")["request_id"] == request_id
        (account,) = env.json(f"{request_id}/data/account.json")
        assert account["name"] == "cvdsr-sim"
        assert account["kind"] == "CustomVision.Training"
        assert account["keys"]["names"] == ["key1", "key2"]
        assert "key1" not in json.dumps(account["properties"])
        assert manifest["counts"]["account"] == 1
        audit = env.jsonl(f"{request_id}/audit.jsonl")
        assert {"GetProjects", "GetImages", "QueryPredictions"} <= {line.get("operation") for line in audit}


def test_the_result_link_reads_the_package(env: Environment) -> None:
    env.send_queue(env.request("EXP-ZIP-1", export_zip=True))
    env.wait("EXP-ZIP-1")
    result = env.events("EXP-ZIP-1")[0]["data"]["result"]
    assert result["container"] == env.settings["CVDSR_RESULTS_CONTAINER"]
    assert result["manifest"] == "EXP-ZIP-1/manifest.json"
    package = httpx.get(result["package_url"], timeout=30)
    assert package.status_code == 200
    assert package.content == env.blob("EXP-ZIP-1/export.zip")
    assert result["expires_at"] > env.events("EXP-ZIP-1")[0]["time"]


def test_a_duplicate_of_a_finished_request_resends_the_event_without_work(env: Environment) -> None:
    env.send_queue(env.request("EXP-DUP-1"))
    env.wait("EXP-DUP-1")
    calls = env.api_calls()
    env.send_queue(env.request("EXP-DUP-1"))
    events = wait_for(lambda: env.events("EXP-DUP-1") if len(env.events("EXP-DUP-1")) >= 2 else None)
    assert len(events) == 2
    assert events[0]["id"] == events[1]["id"], "the same event, re-sent"
    assert env.api_calls() == calls, "no Custom Vision call for a duplicate"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "message is not JSON"),
        (
            {"schema_version": 1, "request_id": "REJ-UNKNOWN", "type": "export", "resources": ["demo"], "x": 1},
            "$.x: unknown field",
        ),
        (
            {"schema_version": "1", "request_id": "REJ-TYPE", "type": "export", "resources": ["demo"]},
            "$.schema_version",
        ),
        ({"schema_version": 1, "request_id": "REJ/ID", "type": "export", "resources": ["demo"]}, "$.request_id"),
        (
            {"schema_version": 1, "request_id": "REJ-RES", "type": "export", "resources": ["nope"]},
            "$.resources[0]: not a configured Custom Vision resource",
        ),
        ({"schema_version": 1, "request_id": "REJ-CONFIRM", "type": "erase", "resources": ["demo"]}, "confirm"),
        (
            {
                "schema_version": 1,
                "request_id": "REJ-FORMATS",
                "type": "erase",
                "resources": ["demo"],
                "scope": {"images": {"tag_names": ["x"]}},
                "formats": ["coco"],
            },
            "datasets are written by an export, not an erase",
        ),
        (
            json.dumps(
                {
                    "schema_version": 1,
                    "request_id": "REJ-BIG",
                    "type": "export",
                    "resources": ["demo"],
                    "subject": {"reference": "x" * 70_000},
                }
            ).encode(),
            "the limit is 65536",
        ),
    ],
)
def test_bad_messages_are_rejected_recorded_and_never_reach_the_api(env: Environment, body: Any, reason: str) -> None:
    from shared.dsr_request import RequestRejected, parse_request

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(RequestRejected) as caught:
        parse_request(raw, configured_resources={"demo": object()})
    record_id = caught.value.record_id
    calls = env.api_calls()
    response = env.post(raw)
    assert response.status_code == 400
    assert any(reason in text for text in response.json()["reasons"])
    if len(raw) < 48 * 1024:
        env.send_queue(raw)
    else:  # over the Storage queue's own 64 KB limit once base64-encoded: Service Bus carries it
        env.send_servicebus_raw(raw)
    events = wait_for(lambda: env.events(record_id) if len(env.events(record_id)) >= 2 else None)
    assert len(events) == 2, "one rejection per delivery: HTTP, then the queue"
    assert all(e["type"] == "cvdsr.request.rejected" and e["data"]["status"] == "rejected" for e in events)
    record = env.json(f"{record_id}/manifest.json")
    assert record["status"] == "rejected"
    assert any(reason in text for text in record["reasons"])
    assert env.api_calls() == calls, "a rejected request never reaches the Custom Vision API"
    assert env.status(record_id) is None, "no orchestration was started"


def test_a_malformed_repeat_of_a_finished_request_keeps_its_manifest(env: Environment) -> None:
    env.send_queue(env.request("EXP-KEEP-1"))
    env.wait("EXP-KEEP-1")
    before = env.blob("EXP-KEEP-1/manifest.json")
    response = env.post({**env.request("EXP-KEEP-1"), "bogus": 1})
    assert response.status_code == 400
    assert env.blob("EXP-KEEP-1/manifest.json") == before
    (record,) = env.blob_names("EXP-KEEP-1/rejections/")
    assert env.json(record)["status"] == "rejected"
