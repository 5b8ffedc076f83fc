"""Issue 10's findings, each reproduced end to end through the host: one id means one request, every
end is announced, callbacks cannot leak, confirmation cannot be bypassed, no input reaches a 500, no
subject value outlives the request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.http_server import serve

from . import ground_truth
from .support import Environment, environment, wait_for

SUBJECT = "alice"  # the demo account's data subject (metadata subject=alice)


class Listener:
    """A local endpoint an attacker would name as a callback: it must never hear anything."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def endpoint(self, request: Request) -> Response:
        self.received.append(await request.body())
        return Response(status_code=204)


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[Listener, str]]:
    listening = Listener()
    with serve(Starlette(routes=[Route("/x", listening.endpoint, methods=["POST"])])) as base:
        yield listening, f"{base}/x"


@pytest.fixture(scope="module")
def env(azurite: Any) -> Iterator[Environment]:
    # localhost is a development callback host here (plain http, loopback): the listener can be named
    # as a callback, so a test can show that nothing reaches it; 127.0.0.1 stays refused.
    with environment(azurite, CVDSR_SWEEP_SCHEDULE="*/1 * * * * *", CVDSR_CALLBACK_DEV_HOSTS="localhost") as running:
        yield running


def finished(env: Environment, request_id: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Wait for the request to end and its event to reach the operator's webhook; its events. (The
    module shares one host, so the events queue holds more than a peek of 32 shows.)"""

    def ended() -> list[dict[str, Any]] | None:
        status = env.status(request_id)
        events = env.hook_events(request_id)
        return events if status and status["runtime_status"] in ("Completed", "Failed", "Terminated") else None

    found: list[dict[str, Any]] = wait_for(lambda: ended(), timeout=timeout, what=f"{request_id} to end")
    return found


def rejections(env: Environment, request_id: str) -> list[dict[str, Any]]:
    return [env.json(name) for name in env.blob_names(f"{request_id}/rejections/")]


def test_a_repeat_that_differs_is_a_conflict_and_never_reaches_its_own_callback(
    env: Environment, listener: tuple[Listener, str]
) -> None:
    """Finding 1: the repeat's own callback received a fresh link to the original's export.zip."""
    heard, url = listener
    env.send_queue(env.request("DUP-ZIP", export_zip=True))
    finished(env, "DUP-ZIP")
    manifest = env.blob("DUP-ZIP/manifest.json")
    own = {"webhook": url.replace("127.0.0.1", "localhost")}
    for repeat in (
        env.request("DUP-ZIP", include=["projects"], callback=own),
        env.request("DUP-ZIP", export_zip=True, callback=own),
    ):
        response = env.post(repeat)
        assert response.status_code == 400
        assert "names an existing request that differs" in response.json()["reasons"][0]
    assert env.blob("DUP-ZIP/manifest.json") == manifest
    assert [record["status"] for record in rejections(env, "DUP-ZIP")] == ["rejected", "rejected"]
    events = wait_for(lambda: [e for e in env.hook_events("DUP-ZIP") if e["type"] == "cvdsr.request.rejected"])
    assert "differs" in events[0]["data"]["errors"][0]["error"]
    assert events[0]["data"]["result"]["package_url"] is None
    # The same request again is a duplicate: its outcome goes to the channels the original named.
    hooks = len(env.hook_events("DUP-ZIP"))
    assert env.post(env.request("DUP-ZIP", export_zip=True)).json()["outcome"] == "resent"
    wait_for(lambda: len(env.hook_events("DUP-ZIP")) > hooks, what="the re-sent event on the operator's webhook")
    assert heard.received == []


def test_an_erase_under_an_export_id_is_refused_and_deletes_nothing(env: Environment) -> None:
    """Finding 2: an erase reusing an export's id was answered "erase completed" and deleted nothing."""
    env.send_queue(env.request("DUP-1", include=["projects", "tags"]))
    wait_for(lambda: env.status("DUP-1"), what="the export to start")
    erase = env.request("DUP-1", type="erase", confirm="demo")
    # Sent while the export runs, the erase was dropped as already_running with no event.
    early = env.post(erase)
    assert early.status_code == 400, early.text
    finished(env, "DUP-1")
    late = env.post(erase)
    assert late.status_code == 400
    assert all(e["type"] != "cvdsr.erase.completed" for e in env.hook_events("DUP-1"))
    assert len(rejections(env, "DUP-1")) == 1, "the same conflicting body twice is one record"
    assert ground_truth.account(env.simulator.base_url), "every project is still there"
    assert (env.status("DUP-1") or {}).get("type") == "export"


@pytest.mark.parametrize(
    "request_id", ["VICT:demo", "%41", ".", "..", "a%2Fb", "@x", "a\u0085b", "\U0001f600", "a\u202eb", "x" * 70_000]
)
def test_ids_that_alias_or_collide_are_refused_with_400(env: Environment, request_id: str) -> None:
    """Findings 4, 5, 11: colliding sub-orchestration ids, decoded aliases, 500s on emoji ids."""
    raw = json.dumps(env.request(request_id)).encode()
    if len(raw) < 60_000:
        response = env.post(raw)
        assert response.status_code == 400
        assert response.json()["reasons"][0].startswith("$.request_id: must be 1-100 letters")
    status = httpx.get(f"{env.host.base_url}/api/requests/{request_id[:3000]}", timeout=30)
    assert status.status_code in (400, 404), status.text


def test_status_lookups_are_exact(env: Environment) -> None:
    """Finding 11: SSRF-1%0A and %2541 returned other requests' documents; X:demo a sub-orchestration's."""
    env.send_queue(env.request("SSRF-1", include=["projects"]))
    finished(env, "SSRF-1")
    base = f"{env.host.base_url}/api/requests"
    assert httpx.get(f"{base}/SSRF-1", timeout=30).status_code == 200
    for alias in ("SSRF-1%0A", "SSRF-1%09", "%2553SRF-1", "SSRF-1:demo", "SSRF-1%3Ademo", "."):
        response = httpx.get(f"{base}/{alias}", timeout=30)
        assert response.status_code in (400, 404), (alias, response.status_code)
        assert "SSRF-1" not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1000,
        b'{"schema_version": ' + b"1" * 4300 + b"}",
        b'{"schema_version": 1, "request_id": "\\ud800", "type": "export", "resources": ["demo"]}',
        b'{"schema_version": 1.0, "request_id": "V-1", "type": "export", "resources": ["demo"]}',
    ],
)
def test_hostile_bodies_get_400_on_http_and_a_record_on_the_queue(env: Environment, raw: bytes) -> None:
    """Finding 5: 500 with no record; on the queue, five retries and the poison queue."""
    response = env.post(raw)
    assert response.status_code == 400, response.text
    record_id = response.json()["request_id"]
    env.send_queue(raw)
    wait_for(lambda: len(env.hook_events(record_id)) >= 2, what="both rejections announced")
    assert env.json(f"{record_id}/manifest.json")["status"] == "rejected"
    poison = QueueClient.from_connection_string(env.connection_string, "dsr-requests-poison")
    try:
        poisoned = poison.peek_messages()
    except ResourceNotFoundError:  # no poison queue at all: nothing was poisoned
        poisoned = []
    assert poisoned == []


def test_callbacks_to_this_network_are_refused_at_intake(env: Environment, listener: tuple[Listener, str]) -> None:
    """Finding 6: POSTs reached 127.0.0.1, [::1], Azurite and 169.254.169.254 with a 72-hour link."""
    heard, url = listener
    for target in (
        url,
        "http://[::1]:9/x",
        "https://169.254.169.254/latest",
        "https://10.0.0.7/x",
        "http://hooks.example.com/x",
    ):
        response = env.post(env.request("CB-1", callback={"webhook": target}))
        assert response.status_code == 400, target
        (reason,) = response.json()["reasons"]
        assert reason.startswith("$.callback.webhook: ")
        assert target not in reason
    assert env.status("CB-1") is None
    assert heard.received == []


def test_erasing_listed_projects_needs_confirmation(env: Environment) -> None:
    """Finding 7: listing every project id instead of "all" deleted every project unconfirmed."""
    projects = sorted(ground_truth.account(env.simulator.base_url))
    response = env.post(env.request("CONF-1", type="erase", scope={"projects": projects, "images": None}))
    assert response.status_code == 400
    assert "confirm" in response.json()["reasons"][0]
    assert sorted(ground_truth.account(env.simulator.base_url)) == projects


def test_a_malformed_repeat_of_a_running_request_leaves_it_alone(env: Environment) -> None:
    """Finding 9: the running request's manifest was marked rejected, then completed followed."""
    env.send_queue(env.request("RUN-1", include=["projects", "tags", "images"]))
    wait_for(lambda: env.status("RUN-1"), what="RUN-1 to start")
    assert env.post({**env.request("RUN-1"), "bogus": 1}).status_code == 400
    finished(env, "RUN-1")
    assert env.json("RUN-1/manifest.json")["status"] == "succeeded"
    (record,) = rejections(env, "RUN-1")
    assert record["reasons"] == ["$.bogus: unknown field"]


def test_a_terminated_request_is_announced_as_failed(env: Environment) -> None:
    """Finding 3: a request terminated through the Durable API sent no event."""
    env.send_queue(env.request("TERM-1"))
    wait_for(lambda: (env.status("TERM-1") or {}).get("phase") == "exporting", what="TERM-1 at work")
    hub = env.settings["CVDSR_TASK_HUB"]
    terminated = httpx.post(
        f"{env.host.base_url}/runtime/webhooks/durabletask/instances/TERM-1/terminate",
        params={"reason": "operator stopped it", "taskHub": hub},
        timeout=30,
    )
    assert terminated.status_code in (200, 202)
    (event,) = wait_for(lambda: env.hook_events("TERM-1"), timeout=60, what="the failed event")
    assert event["type"] == "cvdsr.export.failed"
    assert "Terminated" in event["data"]["errors"][0]["error"]
    assert env.json("TERM-1/manifest.json")["status"] == "failed"
    wait_for(lambda: env.blob_names("TERM-1/work/") == [], what="the work blobs removed after the announcement")
    # Announced once, however often the sweeper runs (every second here).
    time.sleep(3)
    assert len(env.hook_events("TERM-1")) == 1


def test_no_subject_value_survives_an_erase(env: Environment) -> None:
    """Finding 10: the metadata value stayed in request.json and the Durable tables."""
    body = env.request("SUBJ-1", type="erase", scope={"projects": "all", "images": {"metadata": {"subject": SUBJECT}}})
    body["subject"] = {"reference": "crm-subject-7731"}
    env.send_queue(body)
    (event,) = finished(env, "SUBJ-1")
    assert event["data"]["status"] == "succeeded"
    assert env.blob_names("SUBJ-1/work/") == [], "the work blobs are gone"
    stored = env.blob("SUBJ-1/request.json").decode()
    certificate = env.blob("SUBJ-1/erasure-certificate.json").decode()
    for text in (stored, certificate, json.dumps(event)):
        assert f'"{SUBJECT}"' not in text
        assert "crm-subject-7731" not in text
    assert json.loads(stored)["scope"]["images"]["metadata"]["subject"].startswith("hmac-sha256:")
    tables = TableServiceClient.from_connection_string(env.connection_string)
    hub = env.settings["CVDSR_TASK_HUB"].lower()
    for table in tables.list_tables():
        if not table.name.lower().startswith(hub):
            continue
        for entity in tables.get_table_client(table.name).list_entities():
            text = json.dumps({k: str(v) for k, v in entity.items()})
            assert "crm-subject-7731" not in text, table.name
            assert f"eq '{SUBJECT}'" not in text, table.name
            assert f'\\"{SUBJECT}\\"' not in text, table.name
    for name in env.blob_names(""):
        if name.startswith("SUBJ-1/"):
            assert b"crm-subject-7731" not in env.blob(name), name
            assert b'"' + SUBJECT.encode() + b'"' not in env.blob(name), name
