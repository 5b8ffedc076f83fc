"""Tags, regions and metadata of workspace images.

CreateImageTags, DeleteImageTags, CreateImageRegions, DeleteImageRegions and UpdateImageMetadata change
the workspace only; iteration snapshots keep what they had when trained. UpdateImageMetadata merges the
given pairs into each image's metadata. Its Swagger parameter allows 256 ids while its description says
"a limit of 64 images"; the simulator enforces 64, the stricter reading.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError, not_found
from local.simulator.identifiers import canonical_uuid
from local.simulator.operations import OperationCall, OperationRegistry, json_response, no_content
from local.simulator.records import ImageRecord
from local.simulator.state import ProjectState
from local.simulator.timefmt import format_wire
from local.simulator.training import validation
from local.simulator.wire import JsonObject

operations = OperationRegistry()

MAX_TAG_DELETE_IMAGES = 64
MAX_REGION_BATCH = 64
MAX_METADATA_IMAGES = 64


def _entry_id(entry: dict[str, Any], name: str) -> str:
    canonical = canonical_uuid(str(entry.get(name, "")))
    if canonical is None:
        raise ApiError("BadRequestInvalidIds", f"'{entry.get(name)}' is not a valid {name}.")
    return canonical


def _workspace_image(project: ProjectState, image_id: str) -> ImageRecord:
    record = project.workspace.get(image_id)
    if record is None:
        raise not_found("Image", image_id)
    return record


def _entries(body: dict[str, Any], field: str) -> list[dict[str, Any]]:
    entries = body.get(field)
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ApiError("BadRequest", f"'{field}' must be an array of objects.")
    return entries


def _or_null(items: list[JsonObject]) -> list[JsonObject] | None:
    return items or None


@operations.operation("CreateImageTags", "POST", "/projects/{projectId}/images/tags")
async def create_image_tags(call: OperationCall) -> Response:
    entries = _entries(await call.json_object(), "tags")
    with call.simulator.lock:
        project = call.project()
        pairs = [(_entry_id(entry, "imageId"), _entry_id(entry, "tagId")) for entry in entries]
        for image_id, tag_id in pairs:
            _workspace_image(project, image_id)
            project.tag(tag_id)
        created: list[JsonObject] = []
        duplicated: list[JsonObject] = []
        exceeded: list[JsonObject] = []
        for image_id, tag_id in pairs:
            record = _workspace_image(project, image_id)
            pair = {"imageId": image_id, "tagId": tag_id}
            if tag_id in record.tag_ids:
                duplicated.append(pair)
            elif len(record.tags) >= validation.MAX_TAGS_PER_IMAGE:
                exceeded.append(pair)
            elif validation.mixes_negative(project, [*record.all_tag_ids(), tag_id]):
                raise ApiError(
                    "BadRequestNegativeAndRegularTagOnSameImage",
                    f"Image {image_id} cannot carry the negative tag together with another tag.",
                )
            else:
                actions.tag_image(call.simulator, project, record, tag_id)
                created.append(pair)
        return json_response(
            {"created": _or_null(created), "duplicated": _or_null(duplicated), "exceeded": _or_null(exceeded)}
        )


@operations.operation("DeleteImageTags", "DELETE", "/projects/{projectId}/images/tags", query=("imageIds", "tagIds"))
async def delete_image_tags(call: OperationCall) -> Response:
    image_ids = call.query.uuid_list("imageIds", max_items=MAX_TAG_DELETE_IMAGES, required=True) or []
    tag_ids = set(call.query.uuid_list("tagIds", max_items=validation.MAX_TAGS_PER_BATCH, required=True) or [])
    with call.simulator.lock:
        project = call.project()
        for image_id in image_ids:
            record = project.workspace.get(image_id)
            if record is not None:
                actions.untag_image(call.simulator, project, record, tag_ids)
        return no_content()


@operations.operation("CreateImageRegions", "POST", "/projects/{projectId}/images/regions")
async def create_image_regions(call: OperationCall) -> Response:
    entries = _entries(await call.json_object(), "regions")
    if len(entries) > MAX_REGION_BATCH:
        raise ApiError("BadRequestExceededBatchSize", f"A batch is limited to {MAX_REGION_BATCH} regions.")
    with call.simulator.lock:
        project = call.project()
        if not project.is_object_detection:
            raise ApiError("BadRequestImageRegions", "Regions are only supported by object detection projects.")
        specs = []
        for entry in entries:
            image_id, tag_id = _entry_id(entry, "imageId"), _entry_id(entry, "tagId")
            _workspace_image(project, image_id)
            project.tag(tag_id)
            specs.append((image_id, tag_id, validation.box_of(entry)))
        created: list[JsonObject] = []
        duplicated: list[JsonObject] = []
        exceeded: list[JsonObject] = []
        for image_id, tag_id, box in specs:
            record = _workspace_image(project, image_id)
            left, top, width, height = box
            echo = {"imageId": image_id, "tagId": tag_id, "left": left, "top": top, "width": width, "height": height}
            if any(
                region.tag_id == tag_id and (region.left, region.top, region.width, region.height) == box
                for region in record.regions
            ):
                duplicated.append(echo)
            elif len(record.regions) >= validation.MAX_REGIONS_PER_IMAGE:
                exceeded.append(echo)
            else:
                _, region = actions.add_region(call.simulator, project, record, tag_id, box)
                created.append(
                    {
                        **echo,
                        "regionId": region.region_id,
                        "tagName": project.tags[tag_id].name,
                        "created": format_wire(region.created),
                    }
                )
        status = 200 if not duplicated and not exceeded else 207
        return json_response(
            {"created": _or_null(created), "duplicated": _or_null(duplicated), "exceeded": _or_null(exceeded)},
            status,
        )


@operations.operation("DeleteImageRegions", "DELETE", "/projects/{projectId}/images/regions", query=("regionIds",))
async def delete_image_regions(call: OperationCall) -> Response:
    region_ids = set(call.query.uuid_list("regionIds", max_items=MAX_REGION_BATCH, required=True) or [])
    with call.simulator.lock:
        project = call.project()
        for record in list(project.workspace.overridden_and_materialised()):
            kept = tuple(region for region in record.regions if region.region_id not in region_ids)
            if len(kept) != len(record.regions):
                project.workspace.put(replace(record, regions=kept))
                project.changed(call.simulator.now())
        return no_content()


@operations.operation("UpdateImageMetadata", "POST", "/projects/{projectId}/images/metadata", query=("imageIds",))
async def update_image_metadata(call: OperationCall) -> Response:
    image_ids = call.query.uuid_list("imageIds", max_items=MAX_METADATA_IMAGES, required=True) or []
    body = await call.json_object()
    metadata = validation.metadata(body)
    with call.simulator.lock:
        project = call.project()
        results: list[JsonObject] = []
        for image_id in image_ids:
            record = project.workspace.get(image_id)
            if record is None:
                results.append({"imageId": image_id, "status": "ErrorImageNotFound", "metadata": None})
                continue
            if len({**record.metadata, **metadata}) > validation.MAX_METADATA_PAIRS:
                results.append(
                    {"imageId": image_id, "status": "ErrorLimitExceed", "metadata": dict(record.metadata) or None}
                )
                continue
            updated = actions.set_metadata(call.simulator, project, record, metadata)
            results.append({"imageId": image_id, "status": "OK", "metadata": dict(updated.metadata) or None})
        successful = all(result["status"] == "OK" for result in results)
        return json_response({"isBatchSuccessful": successful, "images": results}, 200 if successful else 207)
