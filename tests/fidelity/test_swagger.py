"""The simulator against the official v3.3 Swagger: every response body, every path, every parameter name.

A scenario drives every implemented operation (successes and errors) over real HTTP, recording each
exchange. Every Training API response is then validated against the schema the Swagger declares for
that operation and status (`default` → CustomVisionError; statuses without a schema must have no body),
and every JSON request body against the operation's body schema (readOnly properties forbidden).
Prediction API answers are validated against the Swagger's ImagePrediction/CustomVisionError.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from local.simulator import SimulatorConfig, run_simulator
from local.simulator.config import DEFAULT_TRAINING_KEY
from local.simulator.domains import GENERAL_COMPACT_CLASSIFICATION, GENERAL_COMPACT_OBJECT_DETECTION
from local.simulator.imaging import placeholder_png
from local.simulator.prediction_api import operations as prediction_operations
from local.simulator.training import TRAINING_OPERATIONS
from tests.fidelity.swagger_schema import SwaggerSchemas

SWAGGER_PATH = Path(__file__).resolve().parents[1] / "data" / "swagger" / "custom-vision-training-v3.3.json"
TRAINING = "/customvision/v3.3/training"
PREDICTION = "/customvision/v3.1/prediction"
KEY = DEFAULT_TRAINING_KEY
RESOURCE = (
    "/subscriptions/00000000-0000-4000-8000-00000000c0de/resourceGroups/rg"
    "/providers/Microsoft.CognitiveServices/accounts/prediction"
)
MISSING = "00000000-0000-4000-8000-0000000000ff"


@pytest.fixture(scope="module")
def swagger() -> SwaggerSchemas:
    return SwaggerSchemas(json.loads(SWAGGER_PATH.read_text(encoding="utf-8")))


@dataclass
class Exchange:
    method: str
    path: str
    request_body: bytes
    request_type: str
    status: int
    body: bytes
    content_type: str


class Recorder:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        self.exchanges.append(
            Exchange(
                request.method,
                urlsplit(str(request.url)).path,
                request.content if request.headers.get("content-type", "").startswith("application/json") else b"",
                request.headers.get("content-type", ""),
                response.status_code,
                response.content,
                response.headers.get("content-type", ""),
            )
        )


@pytest.fixture(scope="module")
def recorded() -> list[Exchange]:
    recorder = Recorder()
    config = SimulatorConfig(export_seconds=0.05, background_delete_seconds=0.05)
    with (
        run_simulator(config) as running,
        httpx.Client(
            base_url=running.base_url,
            headers={"Training-Key": KEY, "Prediction-Key": KEY},
            event_hooks={"response": [recorder.on_response]},
            timeout=30,
        ) as client,
    ):
        _scenario(client)
    return recorder.exchanges


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


def _fails(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.json()["code"] == code


def _scenario(client: httpx.Client) -> None:
    t = TRAINING
    # Domains and projects.
    domains = _ok(client.get(f"{t}/domains"))
    _ok(client.get(f"{t}/domains/{domains[0]['id']}"))
    _fails(client.get(f"{t}/domains/{MISSING}"), 404, "NotFoundDomain")
    project = _ok(
        client.post(
            f"{t}/projects",
            params={
                "name": "fidelity",
                "description": "swagger scenario",
                "domainId": GENERAL_COMPACT_CLASSIFICATION,
                "classificationType": "Multilabel",
                "targetExportPlatforms": "ONNX,CoreML",
            },
        )
    )
    pid = project["id"]
    detector = _ok(
        client.post(f"{t}/projects", params={"name": "detector", "domainId": GENERAL_COMPACT_OBJECT_DETECTION})
    )
    did = detector["id"]
    _fails(client.post(f"{t}/projects", params={"name": "fidelity"}), 400, "BadRequestProjectNameNotUnique")
    _ok(client.get(f"{t}/projects"))
    settings = {k: v for k, v in project["settings"].items() if k not in ("useNegativeSet", "detectionParameters")}
    _ok(client.patch(f"{t}/projects/{pid}", json={"name": "fidelity", "description": "updated", "settings": settings}))
    _ok(client.get(f"{t}/projects/{pid}"))
    _fails(client.get(f"{t}/projects/{MISSING}"), 404, "NotFoundProject")

    # Tags.
    cat = _ok(client.post(f"{t}/projects/{pid}/tags", params={"name": "cat", "description": "felines"}))
    dog = _ok(client.post(f"{t}/projects/{pid}/tags", params={"name": "dog", "type": "Regular"}))
    _ok(client.post(f"{t}/projects/{pid}/tags", params={"name": "nothing", "type": "Negative"}))
    bottle = _ok(client.post(f"{t}/projects/{did}/tags", params={"name": "bottle"}))
    _fails(client.post(f"{t}/projects/{pid}/tags", params={"name": "CAT"}), 400, "BadRequestTagNameNotUnique")
    _ok(
        client.patch(
            f"{t}/projects/{pid}/tags/{dog['id']}", json={"name": "dog", "description": "canines", "type": "Regular"}
        )
    )
    _ok(client.get(f"{t}/projects/{pid}/tags"))
    _ok(client.get(f"{t}/projects/{pid}/tags/{cat['id']}"))
    _fails(client.get(f"{t}/projects/{pid}/tags/{MISSING}"), 404, "NotFoundTag")

    # Uploads: multipart (one bad file → 207), file batch with metadata, URL batch.
    multipart = client.post(
        f"{t}/projects/{pid}/images",
        params={"tagIds": cat["id"]},
        files=[("imageData", (None, placeholder_png("s1"))), ("imageData", (None, b"not an image"))],
    )
    first_image = _ok(multipart, 207)["images"][0]["image"]
    files_batch = {
        "images": [
            {"name": "s2.png", "contents": _b64(placeholder_png("s2")), "tagIds": [dog["id"]]},
            {"name": "s3.png", "contents": _b64(placeholder_png("s3"))},
        ],
        "tagIds": [cat["id"]],
        "metadata": {"subject": "alice"},
    }
    batch = _ok(client.post(f"{t}/projects/{pid}/images/files", json=files_batch))
    url_batch = {"images": [{"url": "https://example.com/u1.jpg"}, {"url": first_image["originalImageUri"]}]}
    urls = _ok(client.post(f"{t}/projects/{pid}/images/urls", json=url_batch))
    untagged_id = urls["images"][0]["image"]["id"]
    image_ids = [first_image["id"], *(entry["image"]["id"] for entry in batch["images"])]
    _fails(client.post(f"{t}/projects/{pid}/images/files", json={"images": []}), 400, "BadRequestImageBatch")
    region = {"tagId": bottle["id"], "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}
    shelf = _ok(
        client.post(
            f"{t}/projects/{did}/images/files",
            json={"images": [{"name": "shelf.png", "contents": _b64(placeholder_png("shelf")), "regions": [region]}]},
        )
    )["images"][0]["image"]

    # Annotations.
    tags_batch = {"tags": [{"imageId": untagged_id, "tagId": dog["id"]}, {"imageId": image_ids[1], "tagId": cat["id"]}]}
    _ok(client.post(f"{t}/projects/{pid}/images/tags", json=tags_batch))
    _ok(client.delete(f"{t}/projects/{pid}/images/tags", params={"imageIds": untagged_id, "tagIds": dog["id"]}), 204)
    _fails(
        client.post(f"{t}/projects/{pid}/images/tags", json={"tags": [{"imageId": MISSING, "tagId": cat["id"]}]}),
        404,
        "NotFoundImage",
    )
    regions = {"regions": [{"imageId": shelf["id"], **region, "left": 0.2}, {"imageId": shelf["id"], **region}]}
    created_regions = _ok(client.post(f"{t}/projects/{did}/images/regions", json=regions), 207)
    region_id = created_regions["created"][0]["regionId"]
    _ok(client.delete(f"{t}/projects/{did}/images/regions", params={"regionIds": region_id}), 204)
    _ok(
        client.post(
            f"{t}/projects/{pid}/images/metadata",
            params={"imageIds": f"{image_ids[0]},{MISSING}"},
            json={"camera": "door"},
        ),
        207,
    )
    _ok(
        client.post(f"{t}/projects/{pid}/images/metadata", params={"imageIds": image_ids[0]}, json={"camera": "garden"})
    )

    # Listings and counts.
    _ok(
        client.get(
            f"{t}/projects/{pid}/images",
            params={"taggingStatus": "Tagged", "$filter": "subject eq 'alice'", "take": 10},
        )
    )
    _ok(client.get(f"{t}/projects/{did}/images"))
    _ok(client.get(f"{t}/projects/{pid}/images/count", params={"tagIds": cat["id"]}))
    _ok(
        client.get(
            f"{t}/projects/{pid}/images/tagged", params={"tagIds": f"{cat['id']},{dog['id']}", "orderBy": "Oldest"}
        )
    )
    _ok(client.get(f"{t}/projects/{pid}/images/tagged/count"))
    _ok(client.get(f"{t}/projects/{pid}/images/untagged", params={"skip": 0}))
    _ok(client.get(f"{t}/projects/{pid}/images/untagged/count"))
    _ok(client.get(f"{t}/projects/{pid}/images/id", params={"imageIds": ",".join(image_ids)}))
    _fails(client.get(f"{t}/projects/{pid}/images", params={"take": 300}), 400, "BadRequestInvalid")
    _fails(client.get(f"{t}/projects/{pid}/images/id", params={"imageIds": "x"}), 400, "BadRequestInvalidIds")

    # Training, iterations, publishing, performance.
    iteration = _ok(client.post(f"{t}/projects/{pid}/train", params={"trainingType": "Regular", "forceTrain": "false"}))
    iid = iteration["id"]
    _fails(client.post(f"{t}/projects/{pid}/train"), 400, "BadRequestTrainingNotNeeded")
    detector_iteration = _ok(client.post(f"{t}/projects/{did}/train"))
    _ok(client.get(f"{t}/projects/{pid}/iterations"))
    _ok(client.get(f"{t}/projects/{pid}/iterations/{iid}"))
    _fails(client.get(f"{t}/projects/{pid}/iterations/{MISSING}"), 404, "NotFoundIteration")
    _ok(client.patch(f"{t}/projects/{pid}/iterations/{iid}", json={"name": "first"}))
    publish = {"publishName": "fidelity", "predictionId": RESOURCE}
    assert _ok(client.post(f"{t}/projects/{pid}/iterations/{iid}/publish", params=publish)) is True
    _ok(
        client.post(
            f"{t}/projects/{did}/iterations/{detector_iteration['id']}/publish",
            params={**publish, "publishName": "shelves"},
        )
    )
    _ok(client.get(f"{t}/projects/{pid}/iterations/{iid}/performance", params={"threshold": 0.6}))
    _ok(
        client.get(
            f"{t}/projects/{did}/iterations/{detector_iteration['id']}/performance", params={"overlapThreshold": 0.4}
        )
    )
    _ok(client.get(f"{t}/projects/{pid}/iterations/{iid}/performance/images", params={"take": 2, "skip": 1}))
    _ok(client.get(f"{t}/projects/{did}/iterations/{detector_iteration['id']}/performance/images"))
    _ok(client.get(f"{t}/projects/{pid}/iterations/{iid}/performance/images/count", params={"tagIds": cat["id"]}))

    # Predictions (Prediction API) and stored predictions.
    for seed in ("p1", "p2", "p3"):
        _ok(client.post(f"{PREDICTION}/{pid}/classify/iterations/fidelity/image", content=placeholder_png(seed)))
    _ok(
        client.post(
            f"{PREDICTION}/{pid}/classify/iterations/fidelity/image/nostore",
            files={"imageData": (None, placeholder_png("n"))},
        )
    )
    _ok(client.post(f"{PREDICTION}/{pid}/classify/iterations/fidelity/url", json={"url": "https://example.com/p.png"}))
    _ok(client.post(f"{PREDICTION}/{did}/detect/iterations/shelves/image", content=placeholder_png("d")))
    _fails(
        client.post(f"{PREDICTION}/{pid}/classify/iterations/nope/image", content=placeholder_png("x")),
        404,
        "NotFoundIteration",
    )
    page = _ok(client.post(f"{t}/projects/{pid}/predictions/query", json={"maxCount": 2, "orderBy": "Oldest"}))
    page = _ok(client.post(f"{t}/projects/{pid}/predictions/query", json=page["token"]))
    _ok(
        client.post(
            f"{t}/projects/{pid}/predictions/query",
            json={
                "iterationId": iid,
                "application": "app",
                "tags": [{"id": cat["id"], "minThreshold": 0.1, "maxThreshold": 1.0}],
            },
        )
    )
    _fails(
        client.post(f"{t}/projects/{pid}/predictions/query", json={"maxCount": 1000}),
        400,
        "BadRequestPredictionResultsExceededCount",
    )

    # Exports.
    _ok(client.post(f"{t}/projects/{pid}/iterations/{iid}/export", params={"platform": "ONNX", "flavor": "ONNX12"}))
    _ok(client.post(f"{t}/projects/{pid}/iterations/{iid}/export", params={"platform": "CoreML"}))
    _fails(
        client.post(f"{t}/projects/{pid}/iterations/{iid}/export", params={"platform": "CoreML"}),
        400,
        "BadRequestExportAlreadyInProgress",
    )
    deadline = time.monotonic() + 10
    while {e["status"] for e in _ok(client.get(f"{t}/projects/{pid}/iterations/{iid}/export"))} != {"Done"}:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    _ok(client.get(f"{t}/projects/{pid}/export"))

    # Deletion, with the errors on the way.
    _fails(client.delete(f"{t}/projects/{pid}/iterations/{iid}"), 400, "BadRequestIterationIsPublished")
    _fails(client.delete(f"{t}/projects/{pid}"), 400, "BadRequestIterationIsPublished")
    _ok(client.delete(f"{t}/projects/{pid}/iterations/{iid}/publish"), 204)
    _fails(client.delete(f"{t}/projects/{pid}/iterations/{iid}/publish"), 400, "BadRequestIterationNotPublished")
    prediction_ids = [item["id"] for item in page["results"]]
    _ok(client.delete(f"{t}/projects/{pid}/predictions", params={"ids": ",".join(prediction_ids)}), 204)
    _fails(client.delete(f"{t}/projects/{pid}/predictions"), 400, "BadRequestPredictionIdsMissing")
    _ok(client.delete(f"{t}/projects/{pid}/images", params={"imageIds": image_ids[0]}), 204)
    _ok(client.delete(f"{t}/projects/{pid}/images", params={"allImages": "true", "allIterations": "true"}), 202)
    _fails(client.delete(f"{t}/projects/{pid}/images"), 400, "BadRequestRequiredParamIsNull")
    _ok(client.delete(f"{t}/projects/{pid}/tags/{dog['id']}"), 204)
    _ok(client.delete(f"{t}/projects/{pid}/iterations/{iid}"), 204)
    _fails(client.delete(f"{t}/projects/{pid}/iterations/{iid}"), 404, "NotFoundIteration")
    _ok(client.delete(f"{t}/projects/{pid}"), 204)
    _fails(client.delete(f"{t}/projects/{pid}"), 404, "NotFoundProject")

    # Outside the Swagger: the gateway's 401 (validated separately).
    assert client.get(f"{t}/projects", headers={"Training-Key": "wrong"}).status_code == 401


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _training_exchanges(exchanges: list[Exchange]) -> Iterator[Exchange]:
    return (e for e in exchanges if e.path.startswith(TRAINING) and e.status != 401)


def test_every_training_response_matches_the_swagger(swagger: SwaggerSchemas, recorded: list[Exchange]) -> None:
    problems = []
    checked = 0
    for exchange in _training_exchanges(recorded):
        relative = exchange.path.removeprefix(TRAINING)
        operation = swagger.find(exchange.method, relative)
        assert operation is not None, f"{exchange.method} {relative} is not in the Swagger"
        declared, schema = swagger.response_schema(operation, exchange.status)
        label = f"{operation.operation_id} {exchange.status}"
        if exchange.status < 400:
            assert declared, f"{label}: status not declared by the Swagger"
        if schema is None:
            if exchange.body:
                problems.append(f"{label}: body where the Swagger declares none")
            continue
        assert exchange.content_type.startswith("application/json"), label
        for error in swagger.validator(schema).iter_errors(json.loads(exchange.body)):
            problems.append(f"{label}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        checked += 1
    assert not problems, "\n".join(problems[:40])
    assert checked >= 60


def test_every_json_request_body_matches_the_swagger(swagger: SwaggerSchemas, recorded: list[Exchange]) -> None:
    checked = 0
    for exchange in _training_exchanges(recorded):
        operation = swagger.find(exchange.method, exchange.path.removeprefix(TRAINING))
        assert operation is not None
        schema = operation.body_schema()
        if schema is None or not exchange.request_type.startswith("application/json") or not exchange.request_body:
            continue
        if exchange.status >= 400:
            continue  # deliberately bad requests
        body = json.loads(exchange.request_body)
        errors = [error.message for error in swagger.validator(schema, "request").iter_errors(body)]
        assert not errors, (operation.operation_id, errors)
        checked += 1
    assert checked >= 10


def test_prediction_answers_match_the_swagger_models(swagger: SwaggerSchemas, recorded: list[Exchange]) -> None:
    prediction = swagger.definition_validator("ImagePrediction")
    error = swagger.definition_validator("CustomVisionError")
    answers = [e for e in recorded if e.path.startswith(PREDICTION)]
    assert {e.status for e in answers} == {200, 404}
    for exchange in answers:
        validator = prediction if exchange.status == 200 else error
        validator.validate(json.loads(exchange.body))


def test_gateway_errors_have_the_gateway_shape(recorded: list[Exchange]) -> None:
    [unauthorised] = [e for e in recorded if e.status == 401]
    body = json.loads(unauthorised.body)
    assert list(body) == ["error"]
    assert body["error"]["code"] == "401"


def test_every_implemented_operation_was_covered(swagger: SwaggerSchemas, recorded: list[Exchange]) -> None:
    succeeded: set[str] = set()
    failed: set[str] = set()
    for exchange in _training_exchanges(recorded):
        operation = swagger.find(exchange.method, exchange.path.removeprefix(TRAINING))
        assert operation is not None
        (succeeded if exchange.status < 400 else failed).add(operation.operation_id)
    implemented = {operation.operation_id for operation in TRAINING_OPERATIONS}
    assert implemented - succeeded == set()
    required = {
        "GetDomains", "GetProjects", "GetProject", "CreateProject", "DeleteProject", "GetTags", "GetTag",
        "CreateTag", "DeleteTag", "CreateImagesFromData", "CreateImagesFromFiles", "CreateImagesFromUrls",
        "CreateImageTags", "DeleteImageTags", "CreateImageRegions", "DeleteImageRegions", "UpdateImageMetadata",
        "GetImages", "GetImageCount", "GetTaggedImages", "GetTaggedImageCount", "GetUntaggedImages",
        "GetUntaggedImageCount", "GetImagesByIds", "DeleteImages", "TrainProject", "GetIterations", "GetIteration",
        "UpdateIteration", "DeleteIteration", "PublishIteration", "UnpublishIteration", "GetIterationPerformance",
        "GetImagePerformances", "GetImagePerformanceCount", "ExportIteration", "GetExports", "QueryPredictions",
        "DeletePrediction", "ExportProject",
    }  # fmt: skip
    assert required <= implemented
    assert len(failed) >= 15  # error answers were validated too


def test_served_paths_methods_and_query_parameters_exist_in_the_swagger(swagger: SwaggerSchemas) -> None:
    for operation in TRAINING_OPERATIONS:
        spec = swagger.operations.get(operation.operation_id)
        assert spec is not None, operation.operation_id
        assert (spec.method, spec.path) == (operation.method, operation.path), operation.operation_id
        assert set(operation.query) == spec.query_parameter_names(), operation.operation_id
    assert {op.operation_id for op in prediction_operations} >= {"ClassifyImage", "DetectImage"}


def test_adapter_honours_nullable_read_only_and_formats(swagger: SwaggerSchemas) -> None:
    image = swagger.definition_validator("Image")
    valid = {"id": str(uuid.uuid4()), "created": "2026-01-02T03:04:05.1234567Z", "tags": None, "metadata": {"a": "b"}}
    assert image.is_valid(valid)
    assert not image.is_valid({**valid, "id": "not-a-uuid"})
    assert not image.is_valid({**valid, "created": "yesterday"})
    assert not image.is_valid({**valid, "width": None})  # not x-nullable
    assert not image.is_valid({**valid, "unknownField": 1})  # strict
    assert not image.is_valid({**valid, "width": 2**31})  # int32
    request_tag = swagger.definition_validator("Tag", "request")
    assert request_tag.is_valid({"name": "cat", "description": None, "type": "Regular"})
    assert not request_tag.is_valid({"name": "cat", "description": None, "type": "Regular", "imageCount": 3})
    error = swagger.definition_validator("CustomVisionError")
    assert error.is_valid({"code": "NotFoundProject", "message": "x"})
    assert not error.is_valid({"code": "NotAKnownCode", "message": "x"})
    prediction = swagger.definition_validator("Prediction")
    assert prediction.is_valid({"probability": 0.5, "boundingBox": None})
