"""The gateway in front of the API: keys, throttling, latency and injected faults."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from local.simulator import SimulatorConfig, create_app, run_simulator
from local.simulator.clock import ManualClock
from local.simulator.errors import INVALID_KEY_MESSAGE, DroppedConnection
from tests.simulator.conftest import MakeApi
from tests.simulator.support import KEY, TRAINING, Api


async def test_missing_or_wrong_key_is_401_in_the_gateway_shape(api: Api) -> None:
    for headers in ({}, {"Training-Key": "wrong"}, {"Prediction-Key": KEY}):
        response = await api.client.get(f"{TRAINING}/projects", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": {"code": "401", "message": INVALID_KEY_MESSAGE}}


async def test_key_header_name_is_case_insensitive(api: Api) -> None:
    for name in ("Training-Key", "training-key", "TRAINING-KEY", "Training-key"):
        assert (await api.client.get(f"{TRAINING}/projects", headers={name: KEY})).status_code == 200


async def test_both_api_versions_are_served(api: Api) -> None:
    for version in ("v3.3", "v3.4-preview"):
        response = await api.client.get(f"/customvision/{version}/training/domains", headers=api.headers)
        assert response.status_code == 200
        assert len(response.json()) >= 8
    assert (await api.client.get("/customvision/v3.2/training/domains", headers=api.headers)).status_code == 404


async def test_separate_prediction_key(make_api: MakeApi) -> None:
    api = await make_api(prediction_key="predict-only")
    assert (await api.client.get(f"{TRAINING}/projects", headers={"Training-Key": "predict-only"})).status_code == 401
    response = await api.client.post(
        "/customvision/v3.1/prediction/00000000-0000-4000-8000-000000000001/classify/iterations/x/image",
        content=b"x",
        headers={"Prediction-Key": KEY},
    )
    assert response.status_code == 401


async def test_throttling_answers_429_with_retry_after(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, tps=2)
    assert [(await api.get("/domains")).status_code for _ in range(2)] == [200, 200]
    throttled = await api.get("/projects")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    message = throttled.json()["error"]["message"]
    assert throttled.json()["error"]["code"] == "429"
    assert message.startswith(
        "Requests to the GetProjects Operation under Custom Vision Training 3.3 have exceeded rate limit of your "
        "current S0 pricing tier. Please retry after 1 second."
    )
    clock.advance(0.5)
    assert (await api.get("/projects")).status_code == 200
    assert (await api.get("/projects")).status_code == 429
    clock.advance(10)  # the bucket refills only up to the burst
    assert [(await api.get("/projects")).status_code for _ in range(3)] == [200, 200, 429]


async def test_retry_after_reflects_a_slow_rate(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, tps=0.25, burst=1)
    assert (await api.get("/domains")).status_code == 200
    throttled = await api.client.get("/customvision/v3.4-preview/training/domains", headers=api.headers)
    assert throttled.headers["Retry-After"] == "4"
    assert "Custom Vision Training 3.4-preview" in throttled.json()["error"]["message"]


async def test_rejected_keys_do_not_consume_tokens(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, tps=1)
    for _ in range(5):
        assert (await api.client.get(f"{TRAINING}/projects", headers={"Training-Key": "no"})).status_code == 401
    assert (await api.get("/projects")).status_code == 200


def _fault_sequence(seed: int, requests: int) -> list[str]:
    async def run() -> list[str]:
        app = create_app(SimulatorConfig(fault_rate=0.5, random_seed=seed))
        outcomes = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            for _ in range(requests):
                try:
                    response = await client.get(f"{TRAINING}/domains", headers={"Training-Key": KEY})
                    outcomes.append(str(response.status_code))
                except DroppedConnection:
                    outcomes.append("drop")
        return outcomes

    return asyncio.run(run())


def test_faults_are_deterministic_for_a_seed() -> None:
    first = _fault_sequence(7, 60)
    assert first == _fault_sequence(7, 60)
    assert first != _fault_sequence(8, 60)
    assert {"200", "500", "503", "drop"} <= set(first)
    assert 15 <= first.count("200") <= 45


async def test_fault_shapes(make_api: MakeApi) -> None:
    api = await make_api(fault_rate=1.0, random_seed=3)
    seen: dict[str, httpx.Response] = {}
    for _ in range(30):
        try:
            response = await api.get("/domains")
        except DroppedConnection:
            continue
        seen[str(response.status_code)] = response
    assert seen["500"].json()["code"] == "ErrorUnknown"
    assert seen["503"].json()["error"]["code"] == "503"
    faults = {entry.fault for entry in api.simulator.request_log}
    assert faults == {"500", "503", "drop"}


def test_a_dropped_connection_closes_the_socket_after_the_change_happened() -> None:
    with (
        run_simulator(SimulatorConfig(fault_rate=1.0, random_seed=0)) as running,
        httpx.Client(base_url=running.base_url, headers={"Training-Key": KEY}) as client,
    ):
        for attempt in range(30):
            name = f"p{attempt}"
            try:
                response = client.post(f"{TRAINING}/projects", params={"name": name})
            except httpx.RemoteProtocolError:
                break
            assert response.status_code in (500, 503)
        else:
            pytest.fail("no dropped connection in 30 attempts")
        # 500 and 503 are answered before the operation runs; a drop happens after it ran.
        assert [project.name for project in running.simulator.projects.values()] == [name]
        last = running.simulator.request_log.entries()[-1]
        assert (last.status, last.fault, last.operation) == (None, "drop", "CreateProject")
        running.simulator.update_settings(tps=None, burst=None, latency_ms=0, fault_rate=0.0)
        assert client.get(f"{TRAINING}/projects").json()[0]["name"] == name


async def test_latency_is_applied(make_api: MakeApi) -> None:
    api = await make_api(latency_ms=60)
    started = time.perf_counter()
    await api.get("/domains")
    assert time.perf_counter() - started >= 0.045
