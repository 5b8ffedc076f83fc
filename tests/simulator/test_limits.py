"""Documented limits and their error codes, the error shapes, and the headers every answer carries."""

from __future__ import annotations

import uuid

import httpx
import pytest

from local.simulator import create_app
from local.simulator.training import domains
from tests.simulator.conftest import MakeApi
from tests.simulator.support import Api, error_code


def _ids(count: int) -> str:
    return ",".join(str(uuid.UUID(int=n + 1)) for n in range(count))


@pytest.fixture
async def project_id(api: Api) -> str:
    return str((await api.create_project("limits"))["id"])


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/images", {"take": 257}, 400, "BadRequestInvalid"),
        ("/images", {"take": -1}, 400, "BadRequestInvalid"),
        ("/images", {"skip": -1}, 400, "BadRequestInvalid"),
        ("/images/tagged", {"take": "many"}, 400, "BadRequestInvalid"),
        ("/images", {"orderBy": "Sideways"}, 400, "BadRequestInvalid"),
        ("/images", {"taggingStatus": "Maybe"}, 400, "BadRequestInvalid"),
        ("/images", {"tagIds": _ids(21)}, 400, "BadRequestExceededBatchSize"),
        ("/images/tagged", {"tagIds": _ids(21)}, 400, "BadRequestExceededBatchSize"),
        ("/images/id", {"imageIds": _ids(257)}, 400, "BadRequestExceededBatchSize"),
        ("/images", {"iterationId": "nope"}, 400, "BadRequestInvalidIds"),
        ("/images", {"iterationId": str(uuid.UUID(int=7))}, 404, "NotFoundIteration"),
        ("/images", {"$filter": "subject eq"}, 400, "BadRequestInvalid"),
    ],
)
async def test_listing_limits(
    api: Api, project_id: str, path: str, params: dict[str, object], status: int, code: str
) -> None:
    response = await api.get(f"/projects/{project_id}{path}", **params)
    assert response.status_code == status
    assert error_code(response) == code


async def test_boundaries_are_accepted(api: Api, project_id: str) -> None:
    assert (await api.get(f"/projects/{project_id}/images", take=256)).status_code == 200
    assert (await api.get(f"/projects/{project_id}/images", take=0)).json() == []
    assert (await api.get(f"/projects/{project_id}/images/id", imageIds=_ids(256))).json() == []
    assert (await api.get(f"/projects/{project_id}/images/count", tagIds=_ids(30))).json() == 0


async def test_delete_limits(api: Api, project_id: str) -> None:
    response = await api.delete(f"/projects/{project_id}/images", imageIds=_ids(257))
    assert error_code(response) == "BadRequestExceededBatchSize"
    assert (await api.delete(f"/projects/{project_id}/images", imageIds=_ids(256))).status_code == 204
    response = await api.delete(f"/projects/{project_id}/predictions", ids=_ids(65))
    assert error_code(response) == "BadRequestPredictionIdsExceededCount"
    assert error_code(await api.delete(f"/projects/{project_id}/predictions")) == "BadRequestPredictionIdsMissing"
    assert (
        error_code(await api.delete(f"/projects/{project_id}/predictions", ids="")) == "BadRequestPredictionIdsMissing"
    )
    assert (await api.delete(f"/projects/{project_id}/predictions", ids=_ids(64))).status_code == 204
    response = await api.delete(f"/projects/{project_id}/images/tags", imageIds=_ids(65), tagIds=_ids(1))
    assert error_code(response) == "BadRequestExceededBatchSize"
    response = await api.delete(f"/projects/{project_id}/images/tags", imageIds=_ids(1))
    assert error_code(response) == "BadRequestRequiredParamIsNull"
    response = await api.delete(f"/projects/{project_id}/images/regions", regionIds=_ids(65))
    assert error_code(response) == "BadRequestExceededBatchSize"


async def test_query_parameter_names_are_case_insensitive_and_arrays_repeatable(api: Api, project_id: str) -> None:
    tag = await api.create_tag(project_id, "cat")
    await api.upload(project_id, "a", tag_ids=[tag["id"]])
    await api.upload(project_id, "b")
    assert (await api.get(f"/projects/{project_id}/images/count", taggingstatus="tagged")).json() == 1
    response = await api.client.get(
        f"/customvision/v3.3/training/projects/{project_id}/images",
        params=[("tagIds", tag["id"]), ("tagIds", str(uuid.UUID(int=5)))],
        headers=api.headers,
    )
    assert len(response.json()) == 1


async def test_missing_and_malformed_projects(api: Api) -> None:
    response = await api.get(f"/projects/{uuid.UUID(int=9)}")
    assert response.status_code == 404
    assert error_code(response) == "NotFoundProject"
    assert error_code(await api.get("/projects/not-a-guid")) == "BadRequestInvalidIds"


async def test_every_response_has_an_apim_request_id(api: Api) -> None:
    responses = [
        await api.get("/projects"),
        await api.get(f"/projects/{uuid.UUID(int=9)}"),
        await api.client.get("/customvision/v3.3/training/projects", headers={"Training-Key": "wrong"}),
        await api.client.get("/no/such/route"),
        await api.client.get("/_blobs/images/x/y/original"),
    ]
    ids = [response.headers["apim-request-id"] for response in responses]
    assert all(uuid.UUID(value) for value in ids)
    assert len(set(ids)) == len(ids)


async def test_unknown_routes_answer_in_the_gateway_shape(api: Api) -> None:
    response = await api.client.get("/customvision/v3.3/training/nothing", headers=api.headers)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    wrong_method = await api.client.put("/customvision/v3.3/training/projects", headers=api.headers)
    assert wrong_method.status_code == 404


async def test_error_status_mapping_can_be_overridden(make_api: MakeApi) -> None:
    api = await make_api(error_status_overrides=(("NotFoundProject", 410),))
    response = await api.get(f"/projects/{uuid.UUID(int=9)}")
    assert response.status_code == 410
    assert error_code(response) == "NotFoundProject"


async def test_project_and_tag_limits(api: Api, project_id: str) -> None:
    assert error_code(await api.post("/projects", params={"name": "limits"})) == "BadRequestProjectNameNotUnique"
    assert error_code(await api.post("/projects", params={"name": " "})) == "BadRequestProjectName"
    assert error_code(await api.post("/projects")) == "BadRequestRequiredParamIsNull"
    assert error_code(await api.post("/projects", params={"name": "x", "domainId": str(uuid.UUID(int=3))})) == (
        "BadRequestProjectUnknownDomain"
    )
    await api.create_tag(project_id, "Cat")
    assert error_code(await api.post(f"/projects/{project_id}/tags", params={"name": "cat"})) == (
        "BadRequestTagNameNotUnique"
    )
    await api.create_tag(project_id, "nothing", type="Negative")
    response = await api.post(f"/projects/{project_id}/tags", params={"name": "none", "type": "Negative"})
    assert error_code(response) == "BadRequestMultipleNegativeTag"


async def test_unexpected_errors_answer_in_the_service_shape(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(domains, "domain_json", broken)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(), raise_app_exceptions=False), base_url="http://sim"
    )
    async with client:
        response = await client.get("/customvision/v3.3/training/domains", headers=api.headers)
    assert response.status_code == 500
    assert error_code(response) == "ErrorUnknown"
