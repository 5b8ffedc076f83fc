"""TrainProject rules, publishing, iteration updates, performance and export validation."""

from __future__ import annotations

import pytest

from local.simulator.domains import GENERAL_CLASSIFICATION
from tests.simulator.support import PREDICTION_RESOURCE, Api, error_code


@pytest.fixture
async def project(api: Api) -> tuple[Api, str, str]:
    project = await api.create_project("training")
    tag = await api.create_tag(project["id"], "cat")
    return api, project["id"], tag["id"]


async def test_training_needs_tagged_images_and_changes(project) -> None:
    api, project_id, tag_id = project
    response = await api.post(f"/projects/{project_id}/train")
    assert error_code(response) == "BadRequestTrainingValidationFailed"
    await api.upload(project_id, "t", tag_ids=[tag_id])
    first = await api.train(project_id)
    assert (first["status"], first["name"], first["publishName"]) == ("Completed", "Iteration 1", "")
    assert error_code(await api.post(f"/projects/{project_id}/train")) == "BadRequestTrainingNotNeeded"
    second = await api.train(project_id, forceTrain="true")
    assert second["name"] == "Iteration 2"
    response = await api.post(f"/projects/{project_id}/train", params={"notificationEmailAddress": "nobody"})
    assert error_code(response) == "BadRequestInvalidEmailAddress"
    response = await api.post(
        f"/projects/{project_id}/train", json={"selectedTags": ["00000000-0000-4000-8000-000000000001"]}
    )
    assert error_code(response) == "NotFoundTag"


async def test_publish_rules(project) -> None:
    api, project_id, tag_id = project
    await api.upload(project_id, "t", tag_ids=[tag_id])
    first = await api.train(project_id)
    second = await api.train(project_id, forceTrain="true")
    publish = f"/projects/{project_id}/iterations/{{}}/publish"
    params = {"publishName": "live", "predictionId": PREDICTION_RESOURCE}
    assert (await api.post(publish.format(first["id"]), params=params)).json() is True
    assert error_code(await api.post(publish.format(second["id"]), params=params)) == "BadRequestInvalidPublishName"
    assert error_code(await api.post(publish.format(first["id"]), params=params)) == "BadRequestIterationIsPublished"
    bad_target = {**params, "predictionId": "my-prediction-resource"}
    assert (
        error_code(await api.post(publish.format(second["id"]), params=bad_target)) == "BadRequestInvalidPublishTarget"
    )
    bad_name = {**params, "publishName": "no spaces"}
    assert error_code(await api.post(publish.format(second["id"]), params=bad_name)) == "BadRequestInvalidPublishName"
    # overwrite moves the name; several iterations may be published under different names.
    moved = await api.post(publish.format(second["id"]), params={**params, "overwrite": "true"})
    assert moved.status_code == 200
    await api.post(publish.format(first["id"]), params={**params, "publishName": "canary"})
    iterations = await api.ok(api.get(f"/projects/{project_id}/iterations"))
    assert sorted((it["name"], it["publishName"]) for it in iterations) == [
        ("Iteration 1", "canary"),
        ("Iteration 2", "live"),
    ]
    assert iterations[0]["originalPublishResourceId"] == PREDICTION_RESOURCE


async def test_update_iteration_name(project) -> None:
    api, project_id, tag_id = project
    await api.upload(project_id, "t", tag_ids=[tag_id])
    first = await api.train(project_id)
    second = await api.train(project_id, forceTrain="true")
    renamed = await api.ok(api.patch(f"/projects/{project_id}/iterations/{first['id']}", {"name": "baseline"}))
    assert renamed["name"] == "baseline"
    duplicate = await api.patch(f"/projects/{project_id}/iterations/{second['id']}", {"name": "baseline"})
    assert error_code(duplicate) == "BadRequestIterationNameNotUnique"
    assert error_code(await api.patch(f"/projects/{project_id}/iterations/{second['id']}", {"name": ""})) == (
        "BadRequestIterationName"
    )


async def test_performance_is_deterministic_and_per_tag(project) -> None:
    api, project_id, tag_id = project
    dog = await api.create_tag(project_id, "dog")
    for n in range(3):
        await api.upload(project_id, f"c{n}", tag_ids=[tag_id])
    await api.upload(project_id, "d0", tag_ids=[dog["id"]])
    await api.upload(project_id, "u")
    iteration = await api.train(project_id)
    path = f"/projects/{project_id}/iterations/{iteration['id']}/performance"
    performance = await api.ok(api.get(path))
    assert [tag["name"] for tag in performance["perTagPerformance"]] == ["cat", "dog"]
    assert all(0 <= performance[key] <= 1 for key in ("precision", "recall", "averagePrecision"))
    assert performance == await api.ok(api.get(path))
    strict = await api.ok(api.get(path, threshold=0.9))
    assert strict["precision"] >= performance["precision"]
    assert strict["recall"] <= performance["recall"]
    assert error_code(await api.get(path, threshold=1.5)) == "BadRequestInvalid"
    images = await api.ok(api.get(f"{path}/images", orderBy="Oldest"))
    assert len(images) == 4 == await api.ok(api.get(f"{path}/images/count"))
    assert images[0]["predictions"][0]["tagId"] == tag_id  # the image's own tag scores highest
    assert await api.ok(api.get(f"{path}/images/count", tagIds=dog["id"])) == 1
    assert error_code(await api.get(f"{path}/images", take=257)) == "BadRequestInvalid"
    workspace_id = api.simulator.projects[project_id].workspace_iteration_id
    response = await api.get(f"/projects/{project_id}/iterations/{workspace_id}/performance")
    assert error_code(response) == "NotFoundIterationPerformance"


async def test_export_validation(api: Api) -> None:
    general = await api.ok(api.post("/projects", params={"name": "not-compact", "domainId": GENERAL_CLASSIFICATION}))
    tag = await api.create_tag(general["id"], "cat")
    await api.upload(general["id"], "x", tag_ids=[tag["id"]])
    iteration = await api.train(general["id"])
    assert iteration["exportable"] is False
    path = f"/projects/{general['id']}/iterations/{iteration['id']}/export"
    assert error_code(await api.post(path, params={"platform": "ONNX"})) == "BadRequestExportValidationFailed"

    compact = await api.create_project("compact")
    tag = await api.create_tag(compact["id"], "cat")
    await api.upload(compact["id"], "y", tag_ids=[tag["id"]])
    iteration = await api.train(compact["id"])
    path = f"/projects/{compact['id']}/iterations/{iteration['id']}/export"
    assert error_code(await api.post(path)) == "BadRequestRequiredParamIsNull"
    assert error_code(await api.post(path, params={"platform": "ONNX", "flavor": "Linux"})) == (
        "BadRequestExportValidationFailed"
    )
    assert error_code(await api.post(path, params={"platform": "Zip"})) == "BadRequestInvalid"
    assert (await api.post(path, params={"platform": "DockerFile", "flavor": "ARM"})).status_code == 200
    again = await api.post(path, params={"platform": "DockerFile", "flavor": "ARM"})
    assert error_code(again) == "BadRequestExportAlreadyInProgress"
    exports = await api.ok(api.get(path))
    assert [(e["platform"], e["flavor"], e["status"]) for e in exports] == [("DockerFile", "ARM", "Exporting")]
