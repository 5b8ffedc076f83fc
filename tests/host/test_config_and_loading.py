"""Loading and configuration: host.json / local.settings.json, binding expressions, unsupported
bindings, Azurite auto-start, secret masking, route templates, and the shim replay's sequence numbers."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from local.azurite import ACCOUNT_KEY, free_port, parse_connection_string, port_answers
from local.host import HostConfig, HostConfigError, UnsupportedBindingError, run_host, start_host_process
from local.host.config import load_project_config, mask_secrets, parse_timespan
from local.host.history import EventType
from local.host.http import compile_route
from local.host.replay import NonDeterminismError, simulate

from .helpers import APPS


def test_unsupported_binding_is_refused_at_load(azurite):
    env = {"AzureWebJobsStorage": azurite.connection_string}
    with pytest.raises(UnsupportedBindingError) as info:
        with run_host(HostConfig(project_dir=APPS / "unsupported", port=0, env=env)):
            pass
    message = str(info.value)
    assert "function 'on_upload': trigger type 'blobTrigger' is not supported by the development host" in message


def test_unsupported_binding_cli_exits_with_message(azurite, tmp_path):
    with pytest.raises(HostConfigError) as info:
        start_host_process(
            APPS / "unsupported",
            env={"AzureWebJobsStorage": azurite.connection_string},
            log_path=tmp_path / "host.log",
        )
    assert "exited with code 2" in str(info.value)
    assert "trigger type 'blobTrigger' is not supported" in str(info.value)


def test_host_json_and_settings(tmp_path):
    (tmp_path / "function_app.py").write_text("")
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "durableTask": {"hubName": "%HUB%", "maxConcurrentActivityFunctions": 3},
                    "queues": {"maxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:30", "batchSize": 8},
                },
            }
        )
    )
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"HUB": "fromfile", "AzureWebJobsStorage": "UseDevelopmentStorage=true", "X": "file"},
            }
        )
    )
    config = load_project_config(tmp_path, env={"X": "env"})
    assert config.durable.hub_name == "fromfile"
    assert config.durable.max_concurrent_activities == 3
    assert config.queues.max_polling_interval == 2.0
    assert config.queues.visibility_timeout == 30.0
    assert config.queues.batch_size == 8
    assert config.queues.max_dequeue_count == 5
    assert config.settings["X"] == "env"  # the environment wins, as with Core Tools
    conn = parse_connection_string(config.storage_connection())
    assert conn["QueueEndpoint"] == "http://127.0.0.1:10001/devstoreaccount1"
    assert config.route_prefix == "api"
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {}}))
    with pytest.raises(HostConfigError, match="app setting 'HUB'"):
        load_project_config(tmp_path, env={})


def test_timespans():
    assert parse_timespan("00:00:00.500", 0) == 0.5
    assert parse_timespan("1.02:00:00", 0) == 93600
    assert parse_timespan(None, 7) == 7
    with pytest.raises(HostConfigError):
        parse_timespan("soon", 0)


def test_mask_secrets():
    text = (
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=abc123==;BlobEndpoint=x "
        "Endpoint=sb://h/;SharedAccessKeyName=k;SharedAccessKey=def456 https://x/c?sv=1&sig=ghi%2F&se=2 "
        "http://h/api/f?code=secretkey"
    )
    masked = mask_secrets(text)
    for secret in ("abc123", "def456", "ghi", "secretkey"):
        assert secret not in masked
    assert "AccountName=a" in masked


def test_route_templates():
    route = compile_route("start/{name}/{instance_id?}")
    full = route.match("start/orch/abc")
    short = route.match("start/orch")
    assert full is not None
    assert full.groupdict() == {"name": "orch", "instance_id": "abc"}
    assert short is not None
    assert short.groupdict() == {"name": "orch", "instance_id": None}
    assert route.match("start") is None
    assert compile_route("items/{id:int}").match("items/12")
    assert not compile_route("items/{id:int}").match("items/x")
    # A decoded %0A is part of the value, as the Functions host passes it ("$" would drop it).
    newline = compile_route("requests/{id}").match("requests/R1\n")
    assert newline is not None
    assert newline.group("id") == "R1\n"
    rest = compile_route("files/{*path}").match("files/a/b/c")
    assert rest is not None
    assert rest.group("path") == "a/b/c"


def test_azurite_is_started_when_the_connection_points_at_a_silent_local_one(tmp_path):
    ports = (free_port(), free_port(), free_port())
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{ports[0]}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{ports[1]}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{ports[2]}/devstoreaccount1;"
    )
    env = {
        "AzureWebJobsStorage": conn,
        "TEST_TASK_HUB": "auto" + uuid.uuid4().hex[:6],
        "TEST_START_QUEUE": "sss",
        "TEST_WORK_QUEUE": "www",
        "HOST_TEST_RECORD": str(tmp_path / "r.txt"),
    }
    config = HostConfig(project_dir=APPS / "durable", port=0, env=env, azurite_location=tmp_path / "azurite")
    with run_host(config) as host:
        assert all(port_answers("127.0.0.1", p) for p in ports)
        assert httpx.get(f"{host.base_url}/admin/host/status").json() == {"state": "Running"}
    assert not any(port_answers("127.0.0.1", p) for p in ports)


# --- the shim's replay --------------------------------------------------------------------------
def _event(etype: EventType, **fields):
    return {
        "EventType": int(etype),
        "EventId": -1,
        "IsPlayed": False,
        "Timestamp": "2026-01-01T00:00:00.000000Z",
        **fields,
    }


def test_retry_timers_take_sequence_numbers_in_history_order():
    retry = {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 2}
    actions = [
        [
            {
                "actionType": 12,
                "compoundActions": [
                    {"actionType": 1, "functionName": "a", "input": "1", "retryOptions": retry},
                    {"actionType": 1, "functionName": "b", "input": "2", "retryOptions": retry},
                ],
            }
        ]
    ]
    history = [
        _event(EventType.OrchestratorStarted),
        _event(EventType.ExecutionStarted, Name="o", Input=None),
        {**_event(EventType.TaskScheduled, Name="a"), "EventId": 0},
        {**_event(EventType.TaskScheduled, Name="b"), "EventId": 1},
        _event(EventType.OrchestratorCompleted),
        _event(EventType.OrchestratorStarted),
        _event(EventType.TaskFailed, TaskScheduledId=1, Reason="x", Details=None),
        _event(EventType.TaskFailed, TaskScheduledId=0, Reason="x", Details=None),
    ]
    result = simulate(actions, history, "i", "e")
    # b failed first, so its retry timer is sequence number 2; a's is 3 (as DTFx and the SDK number them).
    assert [(a.event_id, a.kind) for a in result.new_actions] == [(2, "timer"), (3, "timer")]
    assert not result.walk_finished


def test_replay_detects_non_determinism():
    actions = [[{"actionType": 0, "functionName": "other", "input": "null"}]]
    history = [
        _event(EventType.OrchestratorStarted),
        _event(EventType.ExecutionStarted, Name="o", Input=None),
        {**_event(EventType.TaskScheduled, Name="a"), "EventId": 0},
    ]
    with pytest.raises(NonDeterminismError):
        simulate(actions, history, "i", "e")
