"""Storage queue trigger (poison handling, base64) and the azure-functions-durable client, called from an
HTTP starter and from a queue-triggered starter, against the host's implementation of the extension's
HTTP API."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.storage.queue import QueueClient

from local.host import HostConfig, RunningHost, run_host

from .helpers import APPS, b64, records, start, status_url, wait_for_status, wait_until

WORK = "work-trig"
STARTS = "starts-trig"


@pytest.fixture(scope="module")
def record_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records") / "record.txt"


@pytest.fixture(scope="module")
def host(azurite, record_file: Path) -> Iterator[RunningHost]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": "trig" + uuid.uuid4().hex[:8],
        "TEST_START_QUEUE": STARTS,
        "TEST_WORK_QUEUE": WORK,
        "HOST_TEST_RECORD": str(record_file),
    }
    with run_host(HostConfig(project_dir=APPS / "durable", port=0, env=env)) as running:
        yield running


def queue(azurite, name: str) -> QueueClient:
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    try:
        client.create_queue()
    except Exception:  # noqa: S110 - exists already
        pass
    return client


def drain(client: QueueClient, count: int, timeout: float = 20.0) -> list[str]:
    got: list[str] = []

    def poll() -> bool:
        for m in client.receive_messages(max_messages=32, visibility_timeout=60):
            got.append(m.content)
            client.delete_message(m)
        return len(got) >= count

    wait_until(poll, timeout, f"{count} message(s) on {client.queue_name}")
    return got


# --- storage queue trigger ------------------------------------------------------------------------
def test_poison_message_moves_after_max_dequeue_count_and_host_keeps_serving(host, azurite, record_file):
    work = queue(azurite, WORK)
    tag = uuid.uuid4().hex[:6]
    work.send_message(b64(f"poison-{tag}"))
    work.send_message(b64(f"hello-{tag}"))
    poison = drain(queue(azurite, f"{WORK}-poison"), 1)
    assert [base64.b64decode(p).decode() for p in poison] == [f"poison-{tag}"]
    lines = records(record_file)
    # maxDequeueCount is 3 in the sample's host.json: three attempts, then the poison queue.
    assert [line for line in lines if line.startswith(f"work poison-{tag}")] == [
        f"work poison-{tag} 1",
        f"work poison-{tag} 2",
        f"work poison-{tag} 3",
    ]
    assert f"work hello-{tag} 1" in lines
    work.send_message(b64(f"after-{tag}"))
    wait_until(lambda: f"work after-{tag} 1" in records(record_file), 20, "a message after the poison one")
    assert work.peek_messages(max_messages=5) == []


def test_non_base64_message_goes_to_poison_at_once(host, azurite, record_file):
    work = queue(azurite, WORK)
    work.send_message("this is not base64!")
    poison = drain(queue(azurite, f"{WORK}-poison"), 1)
    assert poison == ["this is not base64!"]
    assert not any("this is not" in line for line in records(record_file))


# --- durable client from the HTTP starter ---------------------------------------------------------
def test_check_status_response_urls_answer(host):
    iid = f"urls-{uuid.uuid4().hex[:8]}"
    response = start(host.base_url, "wait_orch", iid)
    assert response.status_code == 202
    payload = response.json()
    assert payload["id"] == iid
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(host.base_url)
    running = wait_for_status(host.base_url, iid, statuses={"Running"})
    assert running["name"] == "wait_orch"
    status = httpx.get(payload["statusQueryGetUri"])
    assert status.status_code == 202
    send = payload["sendEventPostUri"].replace("{eventName}", "go")
    assert httpx.post(send, json={"answer": 42}).status_code == 202
    done = wait_for_status(host.base_url, iid)
    assert done["output"] == {"answer": 42}
    assert httpx.get(payload["statusQueryGetUri"]).status_code == 200
    purge = httpx.delete(payload["purgeHistoryDeleteUri"])
    assert purge.status_code == 200
    assert purge.json() == {"instancesDeleted": 1}
    assert httpx.get(payload["statusQueryGetUri"]).status_code == 404

    other = f"urls-{uuid.uuid4().hex[:8]}"
    terminate_uri = start(host.base_url, "wait_orch", other).json()["terminatePostUri"]
    wait_for_status(host.base_url, other, statuses={"Running"})
    assert httpx.post(terminate_uri.replace("{text}", "enough")).status_code == 202
    terminated = wait_for_status(host.base_url, other)
    assert terminated["runtimeStatus"] == "Terminated"
    assert terminated["output"] == "enough"
    assert httpx.post(terminate_uri.replace("{text}", "again")).status_code == 410


def ops(host: RunningHost, op: str, iid: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{host.base_url}/api/ops/{op}/{iid}", timeout=30, **kwargs)


def test_library_client_operations_from_http_starter(host):
    iid = f"client-{uuid.uuid4().hex[:8]}"
    assert start(host.base_url, "wait_orch", iid, {"x": 1}).status_code == 202
    wait_for_status(host.base_url, iid, statuses={"Running"})
    status = ops(host, "status", iid).json()
    assert status["runtimeStatus"] == "Running"
    assert status["instanceId"] == iid
    # The Python client posts json.dumps(input) as a JSON string; the extension keeps it as such.
    assert json.loads(status["input"]) == {"x": 1}

    duplicate = start(host.base_url, "wait_orch", iid)
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["error"]

    assert ops(host, "raise", iid, params={"event": "go"}, json={"v": 2}).json() == "ok"
    done = wait_for_status(host.base_url, iid)
    # raise_event sends json.dumps(data) as a JSON string, so the orchestrator receives that string
    # (azure-functions-durable-python issue #295), as with the real extension.
    assert done["output"] == json.dumps({"v": 2})

    history = ops(host, "status", iid, params={"history": "1"}).json()["history"]
    assert [e["EventType"] for e in history] == ["ExecutionStarted", "EventRaised", "ExecutionCompleted"]
    payload = ops(host, "payload", iid).json()
    assert payload["statusQueryGetUri"].startswith(f"{host.base_url}/runtime/webhooks/durabletask/instances/{iid}")
    assert ops(host, "purge", iid).json() == 1
    assert ops(host, "purge", iid).json() == 0
    assert ops(host, "status", iid).json() is None  # 404: the library returns an empty status
    assert httpx.get(status_url(host.base_url, iid)).status_code == 404

    victim = f"client-{uuid.uuid4().hex[:8]}"
    start(host.base_url, "wait_orch", victim)
    wait_for_status(host.base_url, victim, statuses={"Running"})
    assert ops(host, "purge", victim).status_code == 500  # only terminal instances can be purged
    assert ops(host, "terminate", victim).json() == "ok"
    assert wait_for_status(host.base_url, victim)["runtimeStatus"] == "Terminated"
    # A terminal instance id can be started again (a new execution replaces it).
    assert start(host.base_url, "wait_orch", victim).status_code == 202
    wait_for_status(host.base_url, victim, statuses={"Running"})
    assert ops(host, "raise", victim, params={"event": "go"}, json=7).json() == "ok"
    assert wait_for_status(host.base_url, victim)["output"] == "7"


def test_unknown_orchestrator_is_rejected(host):
    response = start(host.base_url, "no_such_orchestrator", "x1")
    assert response.status_code == 409
    assert "doesn't exist" in response.json()["error"]


# --- durable client from a queue-triggered starter ------------------------------------------------
def test_library_client_from_queue_starter(host, azurite):
    iid = f"queued-{uuid.uuid4().hex[:8]}"
    starts = queue(azurite, STARTS)
    results = queue(azurite, "starter-results")
    starts.send_message(b64(json.dumps({"name": "wait_orch", "id": iid, "input": 5})))
    first = [json.loads(base64.b64decode(m)) for m in drain(results, 1)]
    assert first == [{"id": iid, "ok": True}]
    wait_for_status(host.base_url, iid, statuses={"Running"})
    starts.send_message(b64(json.dumps({"name": "wait_orch", "id": iid})))
    second = [json.loads(base64.b64decode(m)) for m in drain(results, 1)]
    assert second[0]["ok"] is False
    assert "An Orchestration instance with the status Running already exists." in second[0]["error"]
    raised = httpx.post(f"{host.base_url}/runtime/webhooks/durabletask/instances/{iid}/raiseEvent/go", json="done")
    assert raised.status_code == 202
    assert wait_for_status(host.base_url, iid)["output"] == "done"


def test_durable_api_errors(host):
    base = f"{host.base_url}/runtime/webhooks/durabletask"
    assert httpx.get(f"{base}/instances/nope").status_code == 404
    assert httpx.post(f"{base}/instances/nope/terminate?reason=x").status_code == 404
    assert httpx.post(f"{base}/instances/nope/raiseEvent/e", json=1).status_code == 404
    assert httpx.delete(f"{base}/instances/nope").status_code == 404
    listed = httpx.get(f"{base}/instances/")
    assert listed.status_code == 200
    assert isinstance(listed.json(), list)


def test_create_and_wait_on_new_instance(host):
    base = f"{host.base_url}/runtime/webhooks/durabletask"
    iid = f"wait-{uuid.uuid4().hex[:8]}"
    # As the Python client does: the input is json.dumps(value) sent as a JSON string.
    response = httpx.post(f"{base}/orchestrators/fan_out/{iid}?timeout=20&pollingInterval=0.1", json="2", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"sum": 2, "results": [0, 2]}
