"""Replay compatibility: the sample orchestrators give the outputs Durable semantics define, replayed
through the azure-functions-durable library's own handle on the development host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from local.host import HostConfig, RunningHost, run_host
from local.host.store import is_large

from .helpers import APPS, records, start, status_url, wait_for_status

HUB = "orch" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def record_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records") / "record.txt"


@pytest.fixture(scope="module")
def host(azurite, record_file: Path) -> Iterator[RunningHost]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": HUB,
        "TEST_START_QUEUE": "starts-orch",
        "TEST_WORK_QUEUE": "work-orch",
        "HOST_TEST_RECORD": str(record_file),
    }
    with run_host(HostConfig(project_dir=APPS / "durable", port=0, env=env)) as running:
        yield running


def run(host: RunningHost, name: str, value=None, timeout: float = 30.0) -> dict[str, Any]:
    iid = f"{name}-{uuid.uuid4().hex[:8]}"
    response = start(host.base_url, name, iid, value)
    assert response.status_code == 202, response.text
    return wait_for_status(host.base_url, iid, timeout)


def test_fan_out_fan_in(host):
    status = run(host, "fan_out", 5)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"sum": 20, "results": [0, 2, 4, 6, 8]}


def test_retry_succeeds_then_exhausts(host):
    status = run(host, "retry_orch")
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["ok"] == "ok after 3"
    exhausted = status["output"]["exhausted"]
    assert "Activity function 'flaky' failed" in exhausted
    assert "RuntimeError: boom 2" in exhausted


def test_retry_history_matches_dtfx_shape(host):
    iid = f"retry-{uuid.uuid4().hex[:8]}"
    start(host.base_url, "retry_orch", iid)
    wait_for_status(host.base_url, iid)
    history = httpx.get(status_url(host.base_url, iid, showHistory="true")).json()["historyEvents"]
    kinds = [e["EventType"] for e in history]
    # Attempt 1 fails, timer, attempt 2 fails, timer, attempt 3 succeeds; then 2 failed attempts with
    # a timer after each (DTFx's retry interceptor waits once more after the last failure).
    assert kinds == [
        "ExecutionStarted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskCompleted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "ExecutionCompleted",
    ]
    assert all(e.get("FunctionName") == "flaky" for e in history if e["EventType"].startswith("Task"))


def test_sub_orchestrations(host):
    status = run(host, "parent_orch", 4)
    assert status["runtimeStatus"] == "Completed", status
    out = status["output"]
    iid = status["instanceId"]
    assert out["child"] == {"doubled": 8, "parent": iid}
    assert out["auto"] == {"doubled": 10, "parent": iid}
    assert "Orchestrator function 'child_orch' failed: negative input" in out["error"]
    child = httpx.get(status_url(host.base_url, f"{iid}-child")).json()
    assert child["runtimeStatus"] == "Completed"
    assert child["output"] == {"doubled": 8, "parent": iid}


def test_durable_timer(host):
    status = run(host, "timer_orch")
    assert status["output"] == {"elapsed_ok": True}


def test_continue_as_new(host):
    status = run(host, "can_orch", 0)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"count": 3, "last": 6}
    # continue_as_new restarts the history: only the last execution is kept.
    history = httpx.get(status_url(host.base_url, status["instanceId"], showHistory="true")).json()["historyEvents"]
    assert [e["EventType"] for e in history] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]


def test_unhandled_activity_failure_fails_instance(host):
    status = run(host, "fail_orch")
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'fail_orch' failed: Activity function 'fails' failed")
    assert "ValueError: bad input" in status["output"]


def test_custom_status_external_event_and_timeout(host):
    iid = f"event-{uuid.uuid4().hex[:8]}"
    assert start(host.base_url, "event_orch", iid).status_code == 202
    waiting = wait_for_status(host.base_url, iid, statuses={"Running"})
    for _ in range(50):
        waiting = httpx.get(status_url(host.base_url, iid)).json()
        if waiting["customStatus"]:
            break
    assert waiting["customStatus"] == {"phase": "waiting"}
    raised = httpx.post(
        f"{host.base_url}/runtime/webhooks/durabletask/instances/{iid}/raiseEvent/approve", json={"by": "alice"}
    )
    assert raised.status_code == 202
    done = wait_for_status(host.base_url, iid)
    assert done["customStatus"] == {"phase": "done"}
    assert done["output"] == {"approval": {"by": "alice"}, "timed_out": True}


def test_activity_input_and_output_are_json(host, record_file):
    status = run(host, "fan_out", 1)
    assert status["output"]["results"] == [0]
    assert "start double 0" in records(record_file)


def test_failure_logs_mask_secrets(host, caplog):
    with caplog.at_level("INFO", logger="cvdsr.host"):
        status = run(host, "fail_orch", "AccountKey=supersecretvalue;SharedAccessKey=alsosecret")
    assert status["runtimeStatus"] == "Failed"
    assert "Executed 'Functions.fails' (Failed" in caplog.text
    assert "supersecretvalue" not in caplog.text
    assert "alsosecret" not in caplog.text
    assert "AccountKey=***" in caplog.text


def test_task_any_with_cancelled_timer_completes(host):
    status = run(host, "race_orch")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"won": "work", "value": 42}


def test_window_starts_the_next_task_as_soon_as_one_finishes(host, record_file):
    # Task 0 holds its slot until task 4 has ended. In a window of two, tasks 1-4 pass through the
    # other slot meanwhile; fixed batches of two would not start task 2 before task 0 ended, so task 0
    # would wait out its 20 s and the order below would not hold.
    iid = f"window-{uuid.uuid4().hex[:8]}"
    items = [{"after": 4}, *({"seconds": 0.05} for _ in range(4))]
    assert start(host.base_url, "window_orch", iid, {"items": items, "width": 2}).status_code == 202
    status = wait_for_status(host.base_url, iid, 60)
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert output["results"] == [0, 10, 20, 30, 40], "results in task order"
    assert output["finished"] == [1, 2, 3, 4, 0], "each result reported as it finished"
    lines = [line.split() for line in records(record_file)]
    events = [(line[0], int(line[3])) for line in lines if line[1:3] == ["hold", iid]]
    assert len(events) == 10, events
    running = 0
    for kind, _ in events:
        running += 1 if kind == "start" else -1
        assert running <= 2, f"more than the window's width in flight: {events}"
    assert events.index(("end", 4)) < events.index(("end", 0)), events


def test_window_fails_when_a_task_fails(host):
    items = [{"seconds": 0.1}, {"fail": True}, {"seconds": 0.1}]
    status = run(host, "window_orch", {"items": items, "width": 2})
    assert status["runtimeStatus"] == "Completed", status
    assert "Activity function 'fails' failed" in status["output"]["error"]
    assert status["output"]["finished"] in ([], [0]), "nothing after the failure is reported"


def test_large_payloads_go_through_blobs(host):
    status = run(host, "big_orch", 100_000)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "x" * 100_000
    history = httpx.get(status_url(host.base_url, status["instanceId"], showHistory="true", showHistoryOutput="true"))
    completed = [e for e in history.json()["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert completed[0]["Result"] == "x" * 100_000


def _large_blobs(azurite: Any, host: RunningHost) -> set[str]:
    hub = HUB.lower()
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    return {blob.name for blob in service.get_container_client(f"{hub}-largemessages").list_blobs()}


def test_a_value_moves_to_the_large_messages_container_over_60_kb_in_utf16(host, azurite):
    """DurableTask.AzureStorage's MaxTablePropertySizeInBytes: 60 KB of UTF-16, so 30,720 ASCII
    characters stay in the table and one more goes to a blob; a character outside the BMP counts 4 bytes."""
    assert not is_large("x" * 30_720)
    assert is_large("x" * 30_721)
    assert not is_large("\U0001f600" * 15_360)
    assert is_large("\U0001f600" * 15_360 + "x")
    # The host keeps each history event's JSON in one property: an activity result of 20,000 characters
    # stays in the table, one of 40,000 goes to a blob, and both read back whole.
    before = _large_blobs(azurite, host)
    inline = run(host, "big_orch", 20_000)
    assert inline["output"] == "x" * 20_000
    assert _large_blobs(azurite, host) == before
    moved = run(host, "big_orch", 40_000)
    assert moved["output"] == "x" * 40_000
    assert any(name.startswith(moved["instanceId"]) for name in _large_blobs(azurite, host) - before)


def test_custom_status_is_limited_to_16_kb_of_utf16_as_the_extension_limits_it(host):
    """SetCustomStatus: the JSON in UTF-16, whole KB rounded down, at most 16; over it the orchestration fails."""
    within = run(host, "status_orch", 8_700)  # 8,702 characters with the quotes: 17,404 bytes, 16 KB
    assert within["runtimeStatus"] == "Completed"
    assert within["customStatus"] == "x" * 8_700
    over = run(host, "status_orch", 8_703)  # 17,410 bytes: 17 KB
    assert over["runtimeStatus"] == "Failed"
    assert "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB" in str(over["output"])
    assert over["customStatus"] is None, "the status that was refused is not kept"


def test_instance_ids_follow_the_extensions_rules(host):
    """StartNewAsync throws ArgumentException (400 on the HTTP API) for a leading @, /, \\, #, ?,
    a control character, or more than 256 UTF-16 units; a sub-orchestration may not start with @."""
    webhook = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/hello_orch"
    for refused, message in [
        ("@entity", "must not start with @"),
        ("a" * 257, "must not exceed 256 characters"),
        ("\U0001f600" * 129, "must not exceed 256 characters"),  # 258 UTF-16 units
        ("tab\tid", "must not contain"),
    ]:
        response = httpx.post(f"{webhook}/{quote(refused, safe='')}")
        assert response.status_code == 400, refused
        assert message in response.json()["ExceptionMessage"]
    accepted = "a" * 256
    assert httpx.post(f"{webhook}/{accepted}").status_code == 202
    assert wait_for_status(host.base_url, accepted)["runtimeStatus"] == "Completed"
    parent = run(host, "at_child_orch")
    assert parent["runtimeStatus"] == "Failed"
    assert "must not start with @" in str(parent["output"])
