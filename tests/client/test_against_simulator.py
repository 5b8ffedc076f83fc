"""The client against the simulator: paging, throttling, faults, expired URIs and error codes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from local.simulator import SimulatorConfig, run_simulator
from local.simulator.clock import ManualClock
from shared.customvision import (
    AuthenticationError,
    BadRequestError,
    DeleteOutcome,
    NotFoundError,
    RetryPolicy,
    TrainingClient,
    UriExpiredError,
)

KEY = "client-test-training-key"
FAST_RETRY = RetryPolicy(max_attempts=12, base_delay_seconds=0.05, max_delay_seconds=0.5, max_retry_after_seconds=1.5)


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    with run_simulator(SimulatorConfig(seed="demo", training_key=KEY, random_seed=3)) as sim:
        yield sim.base_url


def client(endpoint: str, **kwargs: object) -> TrainingClient:
    return TrainingClient(endpoint, KEY, retry=FAST_RETRY, rng=random.Random(1), **kwargs)  # type: ignore[arg-type]


async def test_paging_reads_every_image_once() -> None:
    with run_simulator(SimulatorConfig(seed="synthetic:1:600", training_key=KEY)) as sim:
        async with client(sim.base_url) as api:
            (project,) = await api.get_projects()
            pages = [page async for page in api.iter_image_pages(project.id)]
            count = await api.get_image_count(project.id)
    ids = [image.id for page in pages for image in page]
    assert [len(page) for page in pages] == [256, 256, 88]
    assert len(set(ids)) == len(ids) == count == 600


async def test_a_low_rate_limit_forces_429s_and_every_call_still_succeeds() -> None:
    with run_simulator(SimulatorConfig(seed="demo", training_key=KEY, tps=8, burst=1)) as sim:
        async with client(sim.base_url) as api:
            results = await asyncio.gather(*(api.get_projects() for _ in range(16)))
        statuses = [entry.status for entry in sim.simulator.request_log.entries()]
    assert all(len(projects) == 3 for projects in results), "every call succeeded in the end"
    assert statuses.count(429) > 0, "the simulator throttled"


async def test_injected_faults_are_retried() -> None:
    config = SimulatorConfig(seed="demo", training_key=KEY, fault_rate=0.3, random_seed=11)
    with run_simulator(config) as sim:
        async with client(sim.base_url) as api:
            projects = [await api.get_projects() for _ in range(20)]
        entries = sim.simulator.request_log.entries()
    assert all(len(p) == 3 for p in projects)
    assert sum(1 for e in entries if e.status is None or e.status >= 500) > 0, "faults happened"


async def test_an_expired_image_uri_raises_and_a_fresh_listing_works() -> None:
    clock = ManualClock()
    with run_simulator(SimulatorConfig(seed="demo", training_key=KEY, uri_ttl_seconds=60), clock=clock) as sim:
        async with client(sim.base_url) as api:
            for project in await api.get_projects():
                if await api.get_image_count(project.id):
                    break
            (image,) = await api.get_images(project.id, take=1)
            assert image.original_image_uri
            clock.advance(120)
            with pytest.raises(UriExpiredError):
                async with api.download(project.id, image.original_image_uri):
                    pass
            (fresh,) = await api.get_images(project.id, take=1)
            assert fresh.original_image_uri
            async with api.download(project.id, fresh.original_image_uri) as download:
                body = b"".join([chunk async for chunk in download.aiter_bytes()])
    assert body.startswith(b"\x89PNG") or body.startswith(b"\xff\xd8")


async def test_error_codes_map_to_exceptions(demo: str) -> None:
    async with client(demo) as api:
        projects = await api.get_projects()
        published = [(p.id, i.id) for p in projects for i in await api.get_iterations(p.id) if i.is_published]
        assert published, "the demo account has a published iteration"
        project_id, iteration_id = published[0]
        with pytest.raises(BadRequestError) as caught:
            await api.delete_iteration(project_id, iteration_id)
        assert caught.value.code == "BadRequestIterationIsPublished"
        assert caught.value.request_id
        with pytest.raises(NotFoundError) as missing:
            await api.get_project("00000000-0000-4000-8000-000000000000")
        assert missing.value.code == "NotFoundProject"
        assert await api.delete_tag(project_id, "00000000-0000-4000-8000-000000000001") is DeleteOutcome.ALREADY_ABSENT
    async with TrainingClient(demo, "wrong-key", retry=FAST_RETRY) as wrong:
        with pytest.raises(AuthenticationError) as denied:
            await wrong.get_projects()
    assert denied.value.status_code == 401
    assert denied.value.code == "401"


async def test_unpublish_delete_and_repeat_deletes_are_idempotent() -> None:
    with run_simulator(SimulatorConfig(seed="demo", training_key=KEY, background_delete_seconds=0.3)) as sim:
        async with client(sim.base_url) as api:
            for project in await api.get_projects():
                iterations = [i for i in await api.get_iterations(project.id) if i.is_published]
                if iterations:
                    break
            iteration = iterations[0]
            assert await api.unpublish_iteration(project.id, iteration.id) is DeleteOutcome.DELETED
            assert await api.unpublish_iteration(project.id, iteration.id) is DeleteOutcome.ALREADY_ABSENT
            await api.delete_all_images(project.id)
            assert await api.get_image_count(project.id) > 0, "202: the deletion runs in the background"
            for _ in range(50):
                if await api.get_image_count(project.id) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await api.get_image_count(project.id) == 0
            assert await api.get_image_count(project.id, iteration_id=iteration.id) == 0
            assert await api.delete_iteration(project.id, iteration.id) is DeleteOutcome.DELETED
            assert await api.delete_iteration(project.id, iteration.id) is DeleteOutcome.ALREADY_ABSENT
            assert await api.delete_project(project.id) is DeleteOutcome.DELETED
            assert await api.delete_project(project.id) is DeleteOutcome.ALREADY_ABSENT
            with pytest.raises(NotFoundError):
                await api.delete_project(project.id, missing_ok=False)


async def test_predictions_page_and_delete_in_chunks(demo: str) -> None:
    async with client(demo) as api:
        for project in await api.get_projects():
            api.prediction_page_size = 2
            ids = [p.id async for page in api.iter_prediction_pages(project.id) for p in page]
            assert len(set(ids)) == len(ids)
            if ids:
                assert await api.delete_predictions(project.id, ids) == 1
                assert [p async for p in api.iter_prediction_pages(project.id)] == []
                return
    pytest.fail("the demo account has stored predictions")
