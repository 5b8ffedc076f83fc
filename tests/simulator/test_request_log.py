"""The request log records every request (including rejected ones) and never a key."""

from __future__ import annotations

import json

from local.simulator.clock import ManualClock
from tests.simulator.conftest import MakeApi
from tests.simulator.support import KEY, TRAINING, Api


async def test_every_request_is_recorded_with_its_outcome(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, tps=1, training_key="s3cret-training-key")
    image_uri_response = await api.client.get(f"{TRAINING}/domains", headers={"Training-Key": "s3cret-training-key"})
    assert image_uri_response.status_code == 200
    await api.client.get(f"{TRAINING}/projects", headers={"Training-Key": "wrong"})
    throttled = await api.client.get(f"{TRAINING}/projects", headers={"Training-Key": "s3cret-training-key"})
    assert throttled.status_code == 429
    await api.client.get("/nowhere")
    await api.client.get("/_blobs/images/a/b/original?se=x&sig=abc")

    log = await api.client.get("/_simulator/requests", headers={"Training-Key": "s3cret-training-key"})
    entries = log.json()
    assert [(e["method"], e["path"], e["status"], e["keyOk"], e["api"]) for e in entries] == [
        ("GET", f"{TRAINING}/domains", 200, True, "training"),
        ("GET", f"{TRAINING}/projects", 401, False, "training"),
        ("GET", f"{TRAINING}/projects", 429, True, "training"),
        ("GET", "/nowhere", 404, None, "other"),
        ("GET", "/_blobs/images/a/b/original", 403, None, "blob"),
    ]
    assert entries[0]["operation"] == "GetDomains"
    assert entries[2]["fault"] == "throttled"
    assert entries[4]["query"] == "se=x&sig=REDACTED"
    assert all(entry["time"].endswith("Z") for entry in entries)
    assert "s3cret-training-key" not in log.text
    # The read itself is logged afterwards.
    assert api.simulator.request_log.entries()[-1].path == "/_simulator/requests"


async def test_clearing_the_log(api: Api) -> None:
    await api.get("/projects")
    assert (await api.client.delete("/_simulator/requests", headers={"Training-Key": KEY})).status_code == 204
    entries = (await api.client.get("/_simulator/requests", headers={"Training-Key": KEY})).json()
    assert [(e["method"], e["path"]) for e in entries] == [("DELETE", "/_simulator/requests")]


async def test_a_read_only_session_is_visible_as_such(api: Api) -> None:
    project = await api.create_project("dry-run")
    await api.upload(project["id"], "dry")
    api.simulator.request_log.clear()
    await api.get(f"/projects/{project['id']}/images")
    await api.get(f"/projects/{project['id']}/images/count")
    methods = {(entry.method, entry.operation) for entry in api.simulator.request_log}
    assert methods == {("GET", "GetImages"), ("GET", "GetImageCount")}


async def test_log_entries_serialise_without_headers(api: Api) -> None:
    await api.get("/projects")
    [entry] = api.simulator.request_log.entries()
    assert set(entry.as_json()) == {
        "time",
        "method",
        "path",
        "query",
        "status",
        "keyOk",
        "api",
        "operation",
        "fault",
        "requestId",
    }
    assert KEY not in json.dumps(entry.as_json())
