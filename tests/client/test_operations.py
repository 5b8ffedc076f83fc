"""Operation-level behaviour: idempotent deletes, chunking to the API's limits, paging, models."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import httpx
import pytest

from shared.customvision import BadRequestError, DeleteOutcome, NotFoundError, metadata_filter
from shared.customvision.client import PREDICTION_PAGE
from shared.customvision.models import Iteration

from .conftest import BASE, error


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


async def test_retried_delete_that_then_gets_not_found_is_done(make_client, recorder) -> None:
    answers = iter([error(503, "ErrorUnknown"), error(404, "NotFoundProject")])
    async with make_client(lambda _request: next(answers)) as client:
        assert await client.delete_project("p1") == DeleteOutcome.DELETED
    assert [request.method for request in recorder.requests] == ["DELETE", "DELETE"]


async def test_first_not_found_on_delete_means_already_absent(make_client) -> None:
    async with make_client(lambda _request: error(404, "NotFoundTag")) as client:
        assert await client.delete_tag("p1", "t1") == DeleteOutcome.ALREADY_ABSENT
        with pytest.raises(NotFoundError) as caught:
            await client.delete_tag("p1", "t1", missing_ok=False)
    assert caught.value.code == "NotFoundTag"


async def test_unpublish_of_an_unpublished_iteration_is_already_done(make_client) -> None:
    async with make_client(lambda _request: error(400, "BadRequestIterationNotPublished")) as client:
        assert await client.unpublish_iteration("p1", "i1") == DeleteOutcome.ALREADY_ABSENT


async def test_delete_images_chunks_ids_to_256_and_removes_from_all_iterations(make_client, recorder) -> None:
    ids = [f"img-{n:04d}" for n in range(600)]
    async with make_client(lambda _request: httpx.Response(202)) as client:
        calls = await client.delete_images("p1", iter(ids))
    assert calls == 3
    sent = [query(request) for request in recorder.requests]
    assert [len(q["imageIds"][0].split(",")) for q in sent] == [256, 256, 88]
    assert [i for q in sent for i in q["imageIds"][0].split(",")] == ids
    assert all(q["allIterations"] == ["true"] for q in sent)


async def test_delete_all_images_sends_the_flags(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(202)) as client:
        await client.delete_all_images("p1")
    assert query(recorder.requests[0]) == {"allImages": ["true"], "allIterations": ["true"]}


async def test_delete_predictions_chunks_ids_to_64(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(204)) as client:
        assert await client.delete_predictions("p1", [f"pred-{n}" for n in range(130)]) == 3
    assert [len(query(r)["ids"][0].split(",")) for r in recorder.requests] == [64, 64, 2]


async def test_delete_image_tags_chunks_images_and_tags(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(204)) as client:
        calls = await client.delete_image_tags("p1", [f"i{n}" for n in range(65)], [f"t{n}" for n in range(21)])
    assert calls == 4
    shapes = sorted(
        (len(query(r)["imageIds"][0].split(",")), len(query(r)["tagIds"][0].split(","))) for r in recorder.requests
    )
    assert shapes == [(1, 1), (1, 20), (64, 1), (64, 20)]


async def test_images_by_ids_are_fetched_in_chunks(make_client, recorder) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": i} for i in query(request)["imageIds"][0].split(",")])

    async with make_client(answer) as client:
        pages = [page async for page in client.iter_images_by_ids("p1", (f"i{n}" for n in range(300)))]
    assert [len(page) for page in pages] == [256, 44]


async def test_image_paging_walks_skip_until_a_short_page(make_client, recorder) -> None:
    total = 600

    def answer(request: httpx.Request) -> httpx.Response:
        q = query(request)
        skip, take = int(q["skip"][0]), int(q["take"][0])
        assert q["orderBy"] == ["Oldest"]
        return httpx.Response(200, json=[{"id": f"i{n}"} for n in range(skip, min(total, skip + take))])

    async with make_client(answer) as client:
        pages = [page async for page in client.iter_image_pages("p1", metadata_filter="subject eq 'a'")]
    assert [len(page) for page in pages] == [256, 256, 88]
    assert [image.id for page in pages for image in page] == [f"i{n}" for n in range(total)]
    assert query(recorder.requests[0])["$filter"] == ["subject eq 'a'"]


async def test_take_and_tag_limits_are_checked_before_sending(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(200, json=[])) as client:
        with pytest.raises(ValueError, match="take"):
            await client.get_images("p1", take=257)
        with pytest.raises(ValueError, match="20 tag ids"):
            await client.get_images("p1", tag_ids=[str(n) for n in range(21)])
    assert recorder.requests == []


async def test_prediction_pages_follow_the_continuation_token(make_client, recorder) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        page = int(body.get("continuation") or 0)
        results = [{"id": f"pred-{page}-{n}"} for n in range(2)]
        token = {"continuation": str(page + 1) if page < 2 else "", "maxCount": body["maxCount"]}
        return httpx.Response(200, json={"token": token, "results": results})

    async with make_client(answer) as client:
        pages = [page async for page in client.iter_prediction_pages("p1")]
    assert [[p.id for p in page] for page in pages] == [
        ["pred-0-0", "pred-0-1"],
        ["pred-1-0", "pred-1-1"],
        ["pred-2-0", "pred-2-1"],
    ]
    assert all(json.loads(r.content)["maxCount"] == PREDICTION_PAGE for r in recorder.requests)


async def test_a_refused_prediction_page_size_is_halved_and_kept(make_client, recorder) -> None:
    """The largest maxCount is not documented: a refusal halves the page, for this and later pages."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["maxCount"] > 12:
            error = {"code": "BadRequestPredictionResultsExceededCount", "message": "maxCount is limited to 12."}
            return httpx.Response(400, json=error)
        page = int(body.get("continuation") or 0)
        token = {"continuation": str(page + 1) if page < 1 else ""}
        return httpx.Response(200, json={"token": token, "results": [{"id": f"pred-{page}"}]})

    async with make_client(answer) as client:
        pages = [page async for page in client.iter_prediction_pages("p1")]
        assert client.prediction_page_size == 12
    assert [[p.id for p in page] for page in pages] == [["pred-0"], ["pred-1"]]
    asked = [json.loads(r.content)["maxCount"] for r in recorder.requests]
    assert asked == [50, 25, 12, 12], "halved until accepted, then kept for the next page"


async def test_a_prediction_query_refused_for_another_reason_is_not_retried(make_client, recorder) -> None:
    refusal = {"code": "BadRequestPredictionTagsExceededCount", "message": "at most 2 tags"}
    async with make_client(lambda _request: httpx.Response(400, json=refusal)) as client:
        with pytest.raises(BadRequestError):
            await client.query_predictions("p1")
        assert client.prediction_page_size == PREDICTION_PAGE
    assert len(recorder.requests) == 1


async def test_prediction_paging_stops_on_a_repeated_token(make_client, recorder) -> None:
    answer = httpx.Response(200, json={"token": {"continuation": "same"}, "results": [{"id": "x"}]})
    async with make_client(lambda _request: answer) as client:
        pages = [page async for page in client.iter_prediction_pages("p1")]
    assert len(pages) == 2
    assert len(recorder.requests) == 2


async def test_models_keep_unknown_fields_and_enum_values(make_client) -> None:
    payload = {
        "id": "i1",
        "name": "Iteration 1",
        "status": "SomethingNew",
        "publishName": "prod",
        "customBaseModelInfo": {"projectId": "x"},
    }
    async with make_client(lambda _request: httpx.Response(200, json=payload)) as client:
        iteration = await client.get_iteration("p1", "i1")
    assert isinstance(iteration, Iteration)
    assert iteration.status == "SomethingNew"
    assert iteration.is_published
    assert iteration.to_api_json()["customBaseModelInfo"] == {"projectId": "x"}
    assert iteration.to_api_json()["publishName"] == "prod"


async def test_api_version_selects_the_base_path(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(200, json=[]), api_version="3.4-preview") as client:
        await client.get_projects()
    assert str(recorder.requests[0].url).endswith("/customvision/v3.4-preview/training/projects")
    with pytest.raises(ValueError, match="api_version"):
        make_client(lambda _request: httpx.Response(200), api_version="2.0")


def test_endpoint_must_be_absolute() -> None:
    from shared.customvision import TrainingClient

    with pytest.raises(ValueError, match="absolute"):
        TrainingClient("contoso.cognitiveservices.azure.com", "k")
    with pytest.raises(ValueError, match="training key"):
        TrainingClient("https://x", "")


def test_metadata_filter_quotes_values_and_rejects_odd_keys() -> None:
    assert metadata_filter({"subject": "alice"}) == "subject eq 'alice'"
    assert metadata_filter({"a": "x", "b": "o'brien"}) == "a eq 'x' and b eq 'o''brien'"
    with pytest.raises(ValueError, match="plain name"):
        metadata_filter({"a or 1 eq 1": "x"})
    with pytest.raises(ValueError, match="at least one"):
        metadata_filter({})


async def test_requests_go_to_the_base_url_with_the_key_header(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(200, json=[])) as client:
        await client.get_tags("p1", iteration_id="i1")
    request = recorder.requests[0]
    assert str(request.url) == f"{BASE}/projects/p1/tags?iterationId=i1"
    assert request.headers["Training-Key"]
    assert request.headers["Accept"] == "application/json"


async def test_steps_refused_together_halve_the_shared_page_size_once(make_client, recorder) -> None:
    """Steps share a resource's client: two pages refused at 50 at the same time make it 25, not 12."""
    gate = asyncio.Event()

    async def refused_then_ok(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["maxCount"] > 25:
            await gate.wait()  # both requests are in flight before either answer arrives
            error = {"code": "BadRequestPredictionResultsExceededCount", "message": "limited to 25"}
            return httpx.Response(400, json=error)
        return httpx.Response(200, json={"token": {}, "results": []})

    async with make_client(lambda request: refused_then_ok(request)) as client:
        first = asyncio.create_task(client.query_predictions("p1"))
        second = asyncio.create_task(client.query_predictions("p2"))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(first, second)
        assert client.prediction_page_size == 25
