"""Deletes: 204 vs 202, background completion, published guards and NotFound on repeats."""

from __future__ import annotations

from local.simulator.clock import ManualClock
from tests.simulator.conftest import MakeApi
from tests.simulator.support import Api, error_code


async def _project_with_images(api: Api, count: int = 3) -> tuple[str, list[str]]:
    project = await api.create_project("deletes")
    tag = await api.create_tag(project["id"], "cat")
    ids = [(await api.upload(project["id"], f"d-{n}", tag_ids=[tag["id"]]))["id"] for n in range(count)]
    return project["id"], ids


async def test_delete_by_ids_is_immediate_and_ignores_unknown_ids(api: Api) -> None:
    project_id, ids = await _project_with_images(api)
    unknown = "00000000-0000-4000-8000-000000000001"
    response = await api.delete(f"/projects/{project_id}/images", imageIds=f"{ids[0]},{unknown}")
    assert response.status_code == 204
    assert response.content == b""
    assert await api.count(project_id) == 2
    again = await api.delete(f"/projects/{project_id}/images", imageIds=ids[0])
    assert again.status_code == 204
    assert await api.count(project_id) == 2


async def test_all_images_is_accepted_and_finishes_in_the_background(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, background_delete_seconds=2)
    project_id, _ = await _project_with_images(api)
    response = await api.delete(f"/projects/{project_id}/images", allImages="true")
    assert response.status_code == 202
    assert await api.count(project_id) == 3
    summary = api.simulator.summary()
    assert summary["projects"][0]["pendingDeletes"] == 1
    assert len(summary["pendingJobs"]) == 1
    clock.advance(1.9)
    assert await api.count(project_id) == 3
    clock.advance(0.1)
    assert await api.count(project_id) == 0
    assert await api.count(project_id, "tagged") == 0
    assert api.simulator.summary()["pendingJobs"] == []


async def test_background_delete_of_a_deleted_project_is_harmless(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, background_delete_seconds=1)
    project_id, _ = await _project_with_images(api)
    assert (
        await api.delete(f"/projects/{project_id}/images", allImages="true", allIterations="true")
    ).status_code == 202
    assert (await api.delete(f"/projects/{project_id}")).status_code == 204
    clock.advance(1)
    assert (await api.get("/projects")).json() == []


async def test_delete_images_needs_ids_or_all_images(api: Api) -> None:
    project_id, _ = await _project_with_images(api, 1)
    assert error_code(await api.delete(f"/projects/{project_id}/images")) == "BadRequestRequiredParamIsNull"
    response = await api.delete(f"/projects/{project_id}/images", allImages="false", allIterations="false")
    assert response.status_code == 400
    assert (
        error_code(await api.delete(f"/projects/{project_id}/images", imageIds="not-a-guid")) == "BadRequestInvalidIds"
    )


async def test_repeat_deletes_answer_not_found(api: Api) -> None:
    project_id, _ = await _project_with_images(api, 1)
    tag_id = (await api.ok(api.get(f"/projects/{project_id}/tags")))[0]["id"]
    iteration_id = (await api.train(project_id))["id"]
    for path, code in (
        (f"/projects/{project_id}/tags/{tag_id}", "NotFoundTag"),
        (f"/projects/{project_id}/iterations/{iteration_id}", "NotFoundIteration"),
        (f"/projects/{project_id}", "NotFoundProject"),
    ):
        first = await api.delete(path)
        assert first.status_code == 204, first.text
        second = await api.delete(path)
        assert second.status_code == 404
        assert error_code(second) == code


async def test_published_iterations_block_deletes_until_unpublished(api: Api) -> None:
    project_id, _ = await _project_with_images(api, 1)
    iteration_id = (await api.train(project_id))["id"]
    await api.publish(project_id, iteration_id, "live")
    for path in (f"/projects/{project_id}/iterations/{iteration_id}", f"/projects/{project_id}"):
        response = await api.delete(path)
        assert response.status_code == 400
        assert error_code(response) == "BadRequestIterationIsPublished"
    assert (await api.delete(f"/projects/{project_id}/iterations/{iteration_id}/publish")).status_code == 204
    again = await api.delete(f"/projects/{project_id}/iterations/{iteration_id}/publish")
    assert error_code(again) == "BadRequestIterationNotPublished"
    iteration = await api.ok(api.get(f"/projects/{project_id}/iterations/{iteration_id}"))
    assert iteration["publishName"] == ""
    assert (await api.delete(f"/projects/{project_id}/iterations/{iteration_id}")).status_code == 204
    assert (await api.delete(f"/projects/{project_id}")).status_code == 204


async def test_delete_project_cascades_to_blobs(api: Api) -> None:
    project_id, ids = await _project_with_images(api, 1)
    image = (await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=ids[0])))[0]
    assert (await api.client.get(image["thumbnailUri"])).status_code == 200
    assert (await api.delete(f"/projects/{project_id}")).status_code == 204
    gone = await api.client.get(image["thumbnailUri"])
    assert gone.status_code == 404
    assert b"<Code>BlobNotFound</Code>" in gone.content
