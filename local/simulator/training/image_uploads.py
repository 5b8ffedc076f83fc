"""Image uploads: CreateImagesFromData (multipart or raw), CreateImagesFromFiles, CreateImagesFromUrls.

Each image gets a status like the service's ImageCreateResult: OK, OKDuplicate (same bytes already in
the workspace: the existing image is returned), ErrorSource, ErrorImageFormat, ErrorImageSize,
ErrorLimitExceed, ErrorTagLimitExceed, ErrorRegionLimitExceed or ErrorNegativeAndRegularTagOnSameImage.
The answer is 200 when every image is OK or OKDuplicate, otherwise 207 (Multi-Status).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError
from local.simulator.imaging import MAX_TRAINING_IMAGE_BYTES, sniff
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.state import MAX_IMAGES_PER_PROJECT, ProjectState
from local.simulator.training import validation
from local.simulator.uploads import fetch_image_url, parse_multipart
from local.simulator.wire import JsonObject, UriFactory, image_json

operations = OperationRegistry()

MAX_IMAGES_PER_BATCH = 64


@dataclass
class _Entry:
    content: bytes | None
    source_url: str | None = None
    tag_ids: list[str] = field(default_factory=list)
    regions: list[validation.RegionSpec] = field(default_factory=list)


def _status(project: ProjectState, entry: _Entry, tag_ids: list[str]) -> str | None:
    """The failure status of an entry, or None if it can be created."""
    if entry.content is None:
        return "ErrorSource"
    if len(entry.content) > MAX_TRAINING_IMAGE_BYTES:
        return "ErrorImageSize"
    if sniff(entry.content) is None:
        return "ErrorImageFormat"
    if len(project.workspace) >= MAX_IMAGES_PER_PROJECT:
        return "ErrorLimitExceed"
    if len(tag_ids) > validation.MAX_TAGS_PER_IMAGE:
        return "ErrorTagLimitExceed"
    if len(entry.regions) > validation.MAX_REGIONS_PER_IMAGE:
        return "ErrorRegionLimitExceed"
    if validation.mixes_negative(project, [*tag_ids, *(region[0] for region in entry.regions)]):
        return "ErrorNegativeAndRegularTagOnSameImage"
    return None


def _create(
    call: OperationCall,
    project: ProjectState,
    entries: list[_Entry],
    batch_tag_ids: list[str],
    metadata: dict[str, str],
    uris: UriFactory,
) -> Response:
    if not entries:
        raise ApiError("BadRequestImageBatch", "The batch contains no images.")
    if len(entries) > MAX_IMAGES_PER_BATCH:
        raise ApiError("BadRequestImageBatch", f"A batch is limited to {MAX_IMAGES_PER_BATCH} images.")
    validation.require_tags(project, batch_tag_ids)
    for entry in entries:
        validation.require_tags(project, entry.tag_ids)
    results: list[JsonObject] = []
    for entry in entries:
        tag_ids = list(dict.fromkeys([*batch_tag_ids, *entry.tag_ids]))
        result: JsonObject = {} if entry.source_url is None else {"sourceUrl": entry.source_url}
        status = _status(project, entry, tag_ids)
        if status is None:
            assert entry.content is not None
            existing = project.workspace.find_by_content(actions.content_digest(entry.content))
            if existing is not None:
                result.update(status="OKDuplicate", image=image_json(project.id, existing, project.tags, uris))
            else:
                info = sniff(entry.content)
                assert info is not None
                record = actions.add_image(
                    call.simulator,
                    project,
                    width=info.width,
                    height=info.height,
                    content=entry.content,
                    tag_ids=tag_ids,
                    regions=entry.regions,
                    metadata=metadata,
                )
                result.update(status="OK", image=image_json(project.id, record, project.tags, uris))
        else:
            result["status"] = status
        results.append(result)
    successful = all(result["status"] in ("OK", "OKDuplicate") for result in results)
    return json_response({"isBatchSuccessful": successful, "images": results}, 200 if successful else 207)


@operations.operation("CreateImagesFromData", "POST", "/projects/{projectId}/images", query=("tagIds",))
async def create_images_from_data(call: OperationCall) -> Response:
    tag_ids = call.query.uuid_list("tagIds", max_items=validation.MAX_TAGS_PER_BATCH) or []
    content_type = call.request.headers.get("content-type", "")
    body = await call.body()
    if content_type.lower().startswith("multipart/form-data"):
        parts = [part for part in parse_multipart(body, content_type) if part.data or part.filename]
        entries = [_Entry(part.data) for part in parts]
    elif content_type.lower().startswith("application/octet-stream") or not content_type:
        if not body:
            raise ApiError("BadRequestImageStream", "The request body contains no image.")
        entries = [_Entry(body)]
    else:
        raise ApiError("UnsupportedMediaType", f"Content type '{content_type}' is not supported.")
    with call.simulator.lock:
        project = call.project()
        return _create(call, project, entries, tag_ids, {}, call.uris())


def _batch(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    images = body.get("images")
    if not isinstance(images, list) or not all(isinstance(entry, dict) for entry in images):
        raise ApiError("BadRequestImageBatch", "'images' must be an array of image entries.")
    tag_ids = validation.uuid_array(body.get("tagIds"), "tagIds", max_items=validation.MAX_TAGS_PER_BATCH)
    return images, tag_ids, validation.metadata(body.get("metadata"))


@operations.operation("CreateImagesFromFiles", "POST", "/projects/{projectId}/images/files")
async def create_images_from_files(call: OperationCall) -> Response:
    images, tag_ids, metadata = _batch(await call.json_object())
    with call.simulator.lock:
        project = call.project()
        entries: list[_Entry] = []
        for raw in images:
            try:
                content = base64.b64decode(str(raw.get("contents") or ""), validate=True)
            except (binascii.Error, ValueError):
                raise ApiError("BadRequestImageBatch", "An image's 'contents' is not valid base64.") from None
            entries.append(
                _Entry(
                    content,
                    str(raw.get("name") or ""),
                    validation.uuid_array(raw.get("tagIds"), "tagIds", max_items=validation.MAX_TAGS_PER_BATCH),
                    validation.regions(project, raw.get("regions")),
                )
            )
        return _create(call, project, entries, tag_ids, metadata, call.uris())


@operations.operation("CreateImagesFromUrls", "POST", "/projects/{projectId}/images/urls")
async def create_images_from_urls(call: OperationCall) -> Response:
    images, tag_ids, metadata = _batch(await call.json_object())
    urls: list[str] = []
    for raw in images:
        url = raw.get("url")
        if not isinstance(url, str) or not url:
            raise ApiError("BadRequestImageUrl", "Every image entry needs a 'url'.")
        urls.append(url)
    if len(urls) > MAX_IMAGES_PER_BATCH:
        raise ApiError("BadRequestImageBatch", f"A batch is limited to {MAX_IMAGES_PER_BATCH} images.")
    contents = [await fetch_image_url(url) for url in urls]
    with call.simulator.lock:
        project = call.project()
        entries = [
            _Entry(
                content,
                url,
                validation.uuid_array(raw.get("tagIds"), "tagIds", max_items=validation.MAX_TAGS_PER_BATCH),
                validation.regions(project, raw.get("regions")),
            )
            for raw, url, content in zip(images, urls, contents, strict=True)
        ]
        return _create(call, project, entries, tag_ids, metadata, call.uris())
