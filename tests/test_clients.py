"""The process's clients: one per loop and configuration, reused by every step, each step still
auditing only its own calls, all closed when the loop shuts down."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.http_server import serve
from local.simulator import SimulatorConfig, create_app
from local.simulator.config import DEFAULT_TRAINING_KEY
from shared import clients
from shared.results import layout
from shared.step import open_step


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    with serve(create_app(SimulatorConfig())) as url:
        yield url


@pytest.fixture
def environ(azurite: Any, simulator_url: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "CVDSR_RESULTS_CONTAINER": f"clients-{uuid.uuid4().hex[:12]}",
        "CUSTOMVISION__SIM__ENDPOINT": simulator_url,
        "CUSTOMVISION__SIM__TRAININGKEY": DEFAULT_TRAINING_KEY,
    }


async def test_steps_share_the_clients_and_each_audits_only_its_own_calls(environ: dict[str, str]) -> None:
    service = await clients.blob_service(environ)
    await service.get_container_client(environ["CVDSR_RESULTS_CONTAINER"]).create_container()
    calls = {"a": 1, "b": 3}
    opened: dict[str, Any] = {}

    async def step(request_id: str) -> None:
        async with open_step(request_id, "list_projects", "sim", environ) as opened_step:
            opened[request_id] = opened_step
            for _ in range(calls[request_id]):
                await opened_step.client.get_projects()
                await asyncio.sleep(0)  # the two steps' calls interleave

    await asyncio.gather(step("a"), step("b"))

    assert opened["a"].client is opened["b"].client
    assert opened["a"].service is opened["b"].service is service
    for request_id, count in calls.items():
        blob = service.get_blob_client(environ["CVDSR_RESULTS_CONTAINER"], layout.audit_log(request_id))
        lines = [json.loads(line) for line in (await (await blob.download_blob()).readall()).splitlines()]
        assert [line["operation"] for line in lines] == ["GetProjects"] * count


async def test_a_changed_setting_builds_a_new_client(environ: dict[str, str]) -> None:
    first = await clients.training_client("sim", environ)
    assert await clients.training_client("SIM", environ) is first
    rotated = {**environ, "CUSTOMVISION__SIM__TRAININGKEY": "rotated-key"}
    assert await clients.training_client("sim", rotated) is not first
    slower = {**environ, "CVDSR_API_RATE_PER_SECOND": "2"}
    assert await clients.training_client("sim", slower) is not first
    other_account = {**environ, "CVDSR_RESULTS_STORAGE": environ["AzureWebJobsStorage"].replace("http:", "https:")}
    assert await clients.blob_service(other_account) is not await clients.blob_service(environ)


def test_each_loop_has_its_own_clients_and_closes_them_at_shutdown(environ: dict[str, str]) -> None:
    seen: list[Any] = []

    async def use() -> None:
        client = await clients.training_client("sim", environ)
        await client.get_projects()
        seen.append(client)

    def run() -> None:
        asyncio.run(use())

    for _ in range(2):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    first, second = seen
    assert first is not second
    assert first._requester._http.is_closed
    assert second._requester._http.is_closed
