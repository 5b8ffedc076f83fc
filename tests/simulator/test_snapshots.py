"""Workspace vs iteration snapshots: what TrainProject captures and what deletes reach."""

from __future__ import annotations

from local.simulator.clock import ManualClock
from tests.simulator.support import Api, error_code


async def _trained_project(api: Api) -> tuple[str, str, str, list[str]]:
    project = await api.create_project("snapshots")
    tag = await api.create_tag(project["id"], "cat")
    ids = [(await api.upload(project["id"], f"img-{n}", tag_ids=[tag["id"]]))["id"] for n in range(3)]
    iteration = await api.train(project["id"])
    return project["id"], iteration["id"], tag["id"], ids


async def test_train_snapshots_images_and_tags(api: Api) -> None:
    project_id, iteration_id, tag_id, ids = await _trained_project(api)
    await api.upload(project_id, "after-training")
    await api.ok(api.post(f"/projects/{project_id}/tags", params={"name": "dog"}))

    assert await api.count(project_id) == 4
    assert await api.count(project_id, iterationId=iteration_id) == 3
    snapshot_tags = await api.ok(api.get(f"/projects/{project_id}/tags", iterationId=iteration_id))
    assert [(t["id"], t["name"], t["imageCount"]) for t in snapshot_tags] == [(tag_id, "cat", 3)]
    workspace_tags = await api.ok(api.get(f"/projects/{project_id}/tags"))
    assert sorted(t["name"] for t in workspace_tags) == ["cat", "dog"]
    listed = await api.ok(api.get(f"/projects/{project_id}/images", iterationId=iteration_id, orderBy="Oldest"))
    assert [image["id"] for image in listed] == ids


async def test_delete_without_all_iterations_keeps_the_snapshot(api: Api) -> None:
    project_id, iteration_id, _, ids = await _trained_project(api)
    response = await api.delete(f"/projects/{project_id}/images", imageIds=ids[0])
    assert response.status_code == 204
    assert await api.count(project_id) == 2
    assert await api.count(project_id, iterationId=iteration_id) == 3
    # The image now lives only in the snapshot: readable there, gone from the workspace.
    in_workspace = await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=ids[0]))
    in_snapshot = await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=ids[0], iterationId=iteration_id))
    assert in_workspace == []
    assert [image["id"] for image in in_snapshot] == [ids[0]]
    download = await api.client.get(in_snapshot[0]["originalImageUri"])
    assert download.status_code == 200
    assert download.content.startswith(b"\x89PNG")


async def test_all_iterations_removes_from_every_snapshot(make_api, clock: ManualClock) -> None:
    api: Api = await make_api(clock=clock, background_delete_seconds=5)
    project_id, iteration_id, _, ids = await _trained_project(api)
    second = await api.train(project_id, forceTrain="true")
    image = (await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=ids[1])))[0]

    response = await api.delete(f"/projects/{project_id}/images", imageIds=ids[1], allIterations="true")
    assert response.status_code == 202
    assert await api.count(project_id, iterationId=iteration_id) == 3  # not yet: it runs in the background
    clock.advance(5)
    for where in ({}, {"iterationId": iteration_id}, {"iterationId": second["id"]}):
        assert await api.count(project_id, **where) == 2
    assert (await api.client.get(image["originalImageUri"])).status_code == 404


async def test_workspace_changes_do_not_leak_into_snapshots(api: Api) -> None:
    project_id, iteration_id, tag_id, ids = await _trained_project(api)
    response = await api.delete(f"/projects/{project_id}/images/tags", imageIds=ids[0], tagIds=tag_id)
    assert response.status_code == 204
    await api.ok(
        api.post(f"/projects/{project_id}/images/metadata", json={"subject": "alice"}, params={"imageIds": ids[1]})
    )
    assert await api.count(project_id, "untagged") == 1
    assert await api.count(project_id, "untagged", iterationId=iteration_id) == 0
    snapshot = await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=ids[1], iterationId=iteration_id))
    assert snapshot[0]["metadata"] is None
    assert (await api.delete(f"/projects/{project_id}/tags/{tag_id}")).status_code == 204
    tags = await api.ok(api.get(f"/projects/{project_id}/tags/{tag_id}", iterationId=iteration_id))
    assert tags["imageCount"] == 3
    assert error_code(await api.get(f"/projects/{project_id}/tags/{tag_id}")) == "NotFoundTag"


async def test_iteration_listing_hides_the_workspace_but_it_is_addressable(api: Api) -> None:
    project_id, iteration_id, _, _ = await _trained_project(api)
    iterations = await api.ok(api.get(f"/projects/{project_id}/iterations"))
    assert [(it["id"], it["status"], it["name"]) for it in iterations] == [(iteration_id, "Completed", "Iteration 1")]
    workspace_id = api.simulator.projects[project_id].workspace_iteration_id
    workspace = await api.ok(api.get(f"/projects/{project_id}/iterations/{workspace_id}"))
    assert (workspace["status"], workspace["trainedAt"]) == ("New", None)
    assert error_code(await api.delete(f"/projects/{project_id}/iterations/{workspace_id}")) == (
        "BadRequestWorkspaceNotDeletable"
    )
    response = await api.patch(f"/projects/{project_id}/iterations/{workspace_id}", {"name": "x"})
    assert error_code(response) == "BadRequestWorkspaceCannotBeModified"
    assert await api.count(project_id, iterationId=workspace_id) == await api.count(project_id)
