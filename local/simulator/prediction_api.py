"""The Prediction API v3.1 as a deployed application calls it (classify/detect, by image or URL).

Predicting against a published iteration stores the image and its scores, which is how "stored
prediction images" (QueryPredictions) come to exist; the `/nostore` variants do not store. A publish
name that is not published answers 404 `NotFoundIteration` "Invalid iteration", as the service does.
Calling classify on an object detection project (or detect on a classifier) answers 400
`BadRequestNotSupported` (*inference*). The key is `Prediction-Key` (the training key unless the
simulator was given a separate prediction key).
"""

from __future__ import annotations

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError
from local.simulator.imaging import MAX_PREDICTION_IMAGE_BYTES, sniff
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.uploads import fetch_image_url, parse_multipart
from local.simulator.wire import image_prediction_json

operations = OperationRegistry("prediction")

PREDICTION_VERSIONS = ("v3.1",)


async def _image_from_body(call: OperationCall) -> bytes:
    content_type = call.request.headers.get("content-type", "")
    body = await call.body(MAX_PREDICTION_IMAGE_BYTES * 2)
    if content_type.lower().startswith("multipart/form-data"):
        parts = [part for part in parse_multipart(body, content_type) if part.data]
        if len(parts) != 1:
            raise ApiError("BadRequestImageStream", "Send exactly one image.")
        return parts[0].data
    if not body:
        raise ApiError("BadRequestImageStream", "The request body contains no image.")
    return body


async def _image_from_url(call: OperationCall) -> bytes:
    body = await call.json_object()
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise ApiError("BadRequestImageUrl", 'The body must be {"url": "…"}.')
    content = await fetch_image_url(url)
    if content is None:
        raise ApiError("BadRequestImageUrl", f"The image at '{url}' could not be downloaded.")
    return content


def _predict(call: OperationCall, content: bytes, kind: str, *, store: bool) -> Response:
    if len(content) > MAX_PREDICTION_IMAGE_BYTES:
        raise ApiError("BadRequestImageSizeBytes", "Prediction images are limited to 4 MB.")
    info = sniff(content)
    if info is None:
        raise ApiError("BadRequestImageFormat", "The image is not a JPEG, PNG, GIF or BMP file.")
    published_name = call.path_string("publishedName")
    application = call.query.string("application")
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        iteration = next((it for it in project.published() if it.publish_name == published_name), None)
        if iteration is None:
            raise ApiError("NotFoundIteration", "Invalid iteration")
        if (kind == "detect") != project.is_object_detection:
            raise ApiError("BadRequestNotSupported", f"This project does not support '{kind}' predictions.")
        prediction = actions.predict(
            simulator,
            project,
            iteration,
            content=content,
            width=info.width,
            height=info.height,
            application=application,
            store=store,
        )
        return json_response(image_prediction_json(prediction))


def _register(operation_id: str, kind: str, source: str, *, store: bool) -> None:
    suffix = "" if store else "/nostore"
    path = f"/{{projectId}}/{kind}/iterations/{{publishedName}}/{source}{suffix}"

    async def handler(call: OperationCall) -> Response:
        content = await (_image_from_body(call) if source == "image" else _image_from_url(call))
        return _predict(call, content, kind, store=store)

    operations.operation(operation_id, "POST", path, query=("application",))(handler)


for _kind, _name in (("classify", "Classify"), ("detect", "Detect")):
    _register(f"{_name}Image", _kind, "image", store=True)
    _register(f"{_name}ImageWithNoStore", _kind, "image", store=False)
    _register(f"{_name}ImageUrl", _kind, "url", store=True)
    _register(f"{_name}ImageUrlWithNoStore", _kind, "url", store=False)
