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


async def test_training_takes_the_configured_time(make_api, clock) -> None:
    """Training, then Completed by the simulator's clock; meanwhile no second training, publish or export."""
    api = await make_api(clock=clock, training_seconds=60)
    project = await api.create_project("slow")
    tag = await api.create_tag(project["id"], "cat")
    await api.upload(project["id"], "t", tag_ids=[tag["id"]])
    iteration = await api.train(project["id"])
    assert (iteration["status"], iteration["trainedAt"]) == ("Training", None)
    again = await api.post(f"/projects/{project['id']}/train", params={"forceTrain": "true"})
    assert error_code(again) == "BadRequestTrainingAlreadyInProgress"
    path = f"/projects/{project['id']}/iterations/{iteration['id']}"
    publish = {"publishName": "live", "predictionId": PREDICTION_RESOURCE}
    assert error_code(await api.post(f"{path}/publish", params=publish)) == "BadRequestIterationIsNotTrained"
    export = await api.post(f"{path}/export", params={"platform": "ONNX"})
    assert error_code(export) == "BadRequestIterationIsNotTrained"
    clock.advance(59)
    assert (await api.ok(api.get(path)))["status"] == "Training"
    clock.advance(1)
    done = await api.ok(api.get(path))
    assert done["status"] == "Completed"
    assert done["trainedAt"] is not None
    assert [it["status"] for it in await api.ok(api.get(f"/projects/{project['id']}/iterations"))] == ["Completed"]
    assert (await api.post(f"{path}/publish", params=publish)).json() is True
    assert (await api.train(project["id"], forceTrain="true"))["status"] == "Training"


async def test_service_rules_for_a_classifier(make_api, clock) -> None:
    """Two tags with images, five images each; the error names the tag that is short and by how much."""
    api = await make_api(clock=clock, training_validation="service")
    project_id = (await api.create_project("classifier"))["id"]
    cat_id, dog_id = [(await api.create_tag(project_id, name))["id"] for name in ("cat", "dog")]
    for n in range(5):
        await api.upload(project_id, f"cat{n}", tag_ids=[cat_id])
    one_tag = await api.post(f"/projects/{project_id}/train")
    assert error_code(one_tag) == "BadRequestClassificationTrainingValidationFailed"
    for n in range(4):
        await api.upload(project_id, f"dog{n}", tag_ids=[dog_id])
    short = await api.post(f"/projects/{project_id}/train")
    assert error_code(short) == "BadRequestMultiClassClassificationTrainingValidationFailed"
    assert "'dog' has 4 images" in short.json()["message"]
    await api.upload(project_id, "dog4", tag_ids=[dog_id])
    assert (await api.train(project_id))["status"] == "Completed"


async def test_service_rules_name_the_multilabel_variant(make_api, clock) -> None:
    api = await make_api(clock=clock, training_validation="service")
    project_id = (await api.create_project("labels", classificationType="Multilabel"))["id"]
    tags = [(await api.create_tag(project_id, name))["id"] for name in ("a", "b")]
    for n in range(5):
        await api.upload(project_id, f"both{n}", tag_ids=tags if n < 3 else tags[:1])
    response = await api.post(f"/projects/{project_id}/train")
    assert error_code(response) == "BadRequestMultiLabelClassificationTrainingValidationFailed"
    assert "'b' has 3 images" in response.json()["message"]


async def test_service_rules_for_a_detector(make_api, clock) -> None:
    """Fifteen images per tag; a single tag is enough for a detector."""
    api = await make_api(clock=clock, training_validation="service")
    project_id = (await api.create_project("detector", detection=True))["id"]
    tag_id = (await api.create_tag(project_id, "box"))["id"]
    region = {"tagId": tag_id, "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}
    for n in range(14):
        await api.upload(project_id, f"box{n}", regions=[region])
    response = await api.post(f"/projects/{project_id}/train")
    assert error_code(response) == "BadRequestDetectionTrainingValidationFailed"
    assert "'box' has 14 tagged regions" in response.json()["message"]
    await api.upload(project_id, "box14", regions=[region])
    assert (await api.train(project_id))["status"] == "Completed"


async def test_lenient_rules_train_one_tagged_image(make_api, clock) -> None:
    api = await make_api(clock=clock, training_validation="lenient")
    project_id = (await api.create_project("tiny"))["id"]
    tag_id = (await api.create_tag(project_id, "only"))["id"]
    await api.upload(project_id, "one", tag_ids=[tag_id])
    assert (await api.train(project_id))["status"] == "Completed"


@pytest.mark.parametrize(
    ("config", "field"),
    [({"training_seconds": -1}, "training_seconds"), ({"training_validation": "strict"}, "training_validation")],
)
def test_training_settings_are_checked(config: dict[str, object], field: str) -> None:
    from local.simulator import SimulatorConfig

    with pytest.raises(ValueError, match=field):
        SimulatorConfig(**config)  # type: ignore[arg-type]


async def test_a_publish_name_moved_to_a_new_iteration_answers_from_it(project) -> None:
    """What a retrain relies on: after the name moves, predictions come from the new iteration."""
    api, project_id, tag_id = project
    await api.upload(project_id, "t", tag_ids=[tag_id])
    old = await api.train(project_id)
    await api.publish(project_id, old["id"], "prod")
    assert (await api.predict(project_id, "prod", "q1")).json()["iteration"] == old["id"]
    new = await api.train(project_id, forceTrain="true")
    moved = await api.post(
        f"/projects/{project_id}/iterations/{new['id']}/publish",
        params={"publishName": "prod", "predictionId": PREDICTION_RESOURCE, "overwrite": "true"},
    )
    assert moved.json() is True
    assert (await api.predict(project_id, "prod", "q2")).json()["iteration"] == new["id"]
    old_now = await api.ok(api.get(f"/projects/{project_id}/iterations/{old['id']}"))
    assert old_now["publishName"] == ""
