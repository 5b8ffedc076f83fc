"""An erase step delivered again after a crash may run after the project was deleted (its deletion
done, its completion not yet recorded): every step then answers "nothing left", never fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.http_server import serve
from local.simulator import SimulatorConfig, create_app
from local.simulator.config import DEFAULT_TRAINING_KEY
from shared.customvision import NotFoundError
from shared.erase import steps
from shared.step import open_step


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    with serve(create_app(SimulatorConfig(seed="demo"))) as url:
        yield url


@pytest.fixture
def environ(azurite: Any, simulator_url: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "CVDSR_RESULTS_CONTAINER": f"gone-{uuid.uuid4().hex[:12]}",
        "CUSTOMVISION__SIM__ENDPOINT": simulator_url,
        "CUSTOMVISION__SIM__TRAININGKEY": DEFAULT_TRAINING_KEY,
    }


async def test_every_step_after_the_project_was_deleted_answers_nothing_left(environ: dict[str, str]) -> None:
    async with open_step("GONE-1", "erase_project", "sim", environ) as step:
        await step.store.ensure_container()
        project = (await step.client.get_projects())[0]
        iterations = [i.id for i in await step.client.get_iterations(project.id)]
        for iteration in await step.client.get_iterations(project.id):
            if iteration.is_published:
                await step.client.unpublish_iteration(project.id, iteration.id)
        await steps.delete_project(step, project.id)
        with pytest.raises(NotFoundError) as raised:
            await step.client.get_tags(project.id)
        assert raised.value.code == "NotFoundProject", "the simulator answers as the service does"

        assert (await steps.unpublish(step, project.id, iterations))["deleted"] == 0
        assert await steps.delete_all_images(step, project.id) == {"requested": "all"}
        assert await steps.remaining_images(step, project.id, ids_path=None, iteration_ids=iterations) == {
            "remaining": 0
        }
        assert await steps.delete_predictions(step, project.id) == {"deleted": 0, "more": False}
        assert await steps.delete_tags(step, project.id) == steps.NOTHING_DELETED
        assert await steps.delete_iterations(step, project.id) == steps.NOTHING_DELETED
        assert (await steps.delete_project(step, project.id))["already_absent"] == 1


async def test_another_not_found_still_fails_the_step() -> None:
    @steps._project_gone({"done": True})
    async def step() -> dict[str, Any]:
        raise NotFoundError("no tag", operation="DeleteTag", status_code=404, code="NotFoundTag", request_id=None)

    with pytest.raises(NotFoundError):
        await step()
