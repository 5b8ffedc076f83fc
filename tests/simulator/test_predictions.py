"""The Prediction API stores predictions; QueryPredictions pages them; DeletePrediction removes them."""

from __future__ import annotations

import pytest

from local.simulator.clock import ManualClock
from local.simulator.imaging import placeholder_png
from tests.simulator.conftest import MakeApi
from tests.simulator.support import PREDICTION, Api, error_code


@pytest.fixture
async def published(make_api: MakeApi, clock: ManualClock) -> tuple[Api, str, str]:
    api = await make_api(clock=clock)
    project = await api.create_project("predictions")
    cat = await api.create_tag(project["id"], "cat")
    await api.create_tag(project["id"], "dog")
    await api.upload(project["id"], "train", tag_ids=[cat["id"]])
    iteration = await api.train(project["id"])
    await api.publish(project["id"], iteration["id"], "live")
    return api, project["id"], iteration["id"]


async def test_predict_stores_and_nostore_does_not(published) -> None:
    api, project_id, iteration_id = published
    response = await api.predict(project_id, "live", "p1")
    assert response.status_code == 200
    prediction = response.json()
    assert (prediction["project"], prediction["iteration"]) == (project_id, iteration_id)
    probabilities = [p["probability"] for p in prediction["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)  # multiclass
    again = (await api.predict(project_id, "live", "p1")).json()
    assert again["predictions"] == prediction["predictions"]  # deterministic for the same image
    assert (await api.predict(project_id, "live", "p2", store=False)).status_code == 200
    assert len(api.simulator.projects[project_id].predictions) == 2


async def test_predict_multipart_as_the_sdk_sends_it(published) -> None:
    api, project_id, _ = published
    response = await api.client.post(
        f"{PREDICTION}/{project_id}/classify/iterations/live/image",
        files={"imageData": (None, placeholder_png("multipart"))},
        headers={"Prediction-Key": api.key},
    )
    assert response.status_code == 200, response.text


async def test_predict_errors(published) -> None:
    api, project_id, _ = published
    missing = await api.predict(project_id, "not-published", "x")
    assert missing.status_code == 404
    assert missing.json() == {"code": "NotFoundIteration", "message": "Invalid iteration"}
    wrong_kind = await api.client.post(
        f"{PREDICTION}/{project_id}/detect/iterations/live/image",
        content=placeholder_png("kind"),
        headers={"Prediction-Key": api.key},
    )
    assert error_code(wrong_kind) == "BadRequestNotSupported"
    not_an_image = await api.client.post(
        f"{PREDICTION}/{project_id}/classify/iterations/live/image",
        content=b"hello",
        headers={"Prediction-Key": api.key},
    )
    assert error_code(not_an_image) == "BadRequestImageFormat"
    await api.delete(
        f"/projects/{project_id}/iterations/{api.simulator.projects[project_id].published()[0].id}/publish"
    )
    assert (await api.predict(project_id, "live", "x")).status_code == 404


async def test_query_predictions_pages_with_a_continuation_token(published, clock: ManualClock) -> None:
    api, project_id, _ = published
    ids = []
    for n in range(5):
        clock.advance(1)
        ids.append((await api.predict(project_id, "live", f"q{n}")).json()["id"])
    seen = []
    token: dict[str, object] = {"maxCount": 2}
    pages = 0
    while True:
        result = await api.ok(api.post(f"/projects/{project_id}/predictions/query", json=token))
        pages += 1
        seen += [item["id"] for item in result["results"]]
        if pages == 1:  # deleting between pages must not make the next page skip anything
            assert (await api.delete(f"/projects/{project_id}/predictions", ids=seen[0])).status_code == 204
        if not result["token"].get("continuation"):
            break
        token = result["token"]
    assert seen == list(reversed(ids))
    assert pages == 3
    assert result["token"]["session"] == token["session"]


async def test_query_predictions_filters(published, clock: ManualClock) -> None:
    api, project_id, iteration_id = published
    first = (await api.predict(project_id, "live", "f1")).json()
    clock.advance(10)
    await api.predict(project_id, "live", "f2")
    query = {"startTime": first["created"], "endTime": first["created"]}
    result = await api.ok(api.post(f"/projects/{project_id}/predictions/query", json=query))
    assert [item["id"] for item in result["results"]] == [first["id"]]
    top = first["predictions"][0]
    query = {"tags": [{"id": top["tagId"], "minThreshold": top["probability"], "maxThreshold": 1}], "orderBy": "Oldest"}
    result = await api.ok(api.post(f"/projects/{project_id}/predictions/query", json=query))
    assert first["id"] in [item["id"] for item in result["results"]]
    item = result["results"][0]
    assert set(item) >= {"originalImageUri", "thumbnailUri", "resizedImageUri", "domain", "iteration", "project"}
    assert item["iteration"] == iteration_id
    assert (await api.client.get(item["originalImageUri"])).status_code == 200
    too_many = {"tags": [{"id": top["tagId"]}] * 3}
    response = await api.post(f"/projects/{project_id}/predictions/query", json=too_many)
    assert error_code(response) == "BadRequestPredictionTagsExceededCount"
    response = await api.post(f"/projects/{project_id}/predictions/query", json={"maxCount": 257})
    assert error_code(response) == "BadRequestPredictionResultsExceededCount"
    response = await api.post(f"/projects/{project_id}/predictions/query", json={"continuation": "%%%"})
    assert error_code(response) == "BadRequestPredictionInvalidQueryParameters"


async def test_deleted_predictions_disappear_with_their_files(published) -> None:
    api, project_id, _ = published
    prediction = (await api.predict(project_id, "live", "gone")).json()
    [stored] = (await api.ok(api.post(f"/projects/{project_id}/predictions/query", json={})))["results"]
    assert (await api.delete(f"/projects/{project_id}/predictions", ids=prediction["id"])).status_code == 204
    assert (await api.ok(api.post(f"/projects/{project_id}/predictions/query", json={})))["results"] == []
    assert (await api.client.get(stored["originalImageUri"])).status_code == 404
