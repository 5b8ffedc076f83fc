"""Tag operations: GetTags, CreateTag, GetTag, UpdateTag, DeleteTag.

With `iterationId`, tags (and their image counts) come from that iteration's snapshot. DeleteTag
removes the tag from the workspace and from every workspace image; snapshots keep it.
"""

from __future__ import annotations

from typing import cast

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError, not_found
from local.simulator.operations import OperationCall, OperationRegistry, json_response, no_content
from local.simulator.records import TagRecord, TagType
from local.simulator.state import MAX_TAGS_PER_PROJECT, ProjectState
from local.simulator.wire import tag_json

operations = OperationRegistry()

TAG_TYPES: tuple[TagType, ...] = ("Regular", "Negative", "GeneralProduct")


def _check_tag(project: ProjectState, name: str, tag_type: TagType, *, ignore: str | None = None) -> str:
    name = name.strip()
    if not name or len(name) > 256:
        raise ApiError("BadRequestTagName", "A tag name must have 1 to 256 characters.")
    for tag in project.tags.values():
        if tag.id == ignore:
            continue
        if tag.name.lower() == name.lower():
            raise ApiError("BadRequestTagNameNotUnique", f"A tag named '{name}' already exists.")
        if tag_type == "Negative" and tag.type == "Negative":
            raise ApiError("BadRequestMultipleNegativeTag", "A project can have only one negative tag.")
        if tag_type == "GeneralProduct" and tag.type == "GeneralProduct":
            raise ApiError("BadRequestMultipleGeneralProductTag", "A project can have only one product tag.")
    return name


@operations.operation("GetTags", "GET", "/projects/{projectId}/tags", query=("iterationId",))
async def get_tags(call: OperationCall) -> Response:
    iteration_id = call.query.uuid("iterationId")
    with call.simulator.lock:
        view = call.project().view(iteration_id)
        counts = view.images.tag_histogram()
        return json_response([tag_json(tag, counts.get(tag.id, 0)) for tag in view.tags.values()])


@operations.operation("CreateTag", "POST", "/projects/{projectId}/tags", query=("name", "description", "type"))
async def create_tag(call: OperationCall) -> Response:
    name = call.query.required_string("name")
    description = call.query.string("description")
    tag_type = call.query.choice("type", TAG_TYPES, default="Regular")
    assert tag_type is not None
    with call.simulator.lock:
        project = call.project()
        name = _check_tag(project, name, tag_type)
        if len(project.tags) >= MAX_TAGS_PER_PROJECT:
            raise ApiError(
                "BadRequestExceedTagPerProjectLimit", f"A project is limited to {MAX_TAGS_PER_PROJECT} tags."
            )
        tag = actions.create_tag(call.simulator, project, name=name, description=description, tag_type=tag_type)
        return json_response(tag_json(tag, 0))


@operations.operation("GetTag", "GET", "/projects/{projectId}/tags/{tagId}", query=("iterationId",))
async def get_tag(call: OperationCall) -> Response:
    tag_id = call.path_uuid("tagId", "tag")
    iteration_id = call.query.uuid("iterationId")
    with call.simulator.lock:
        view = call.project().view(iteration_id)
        tag = view.tags.get(tag_id)
        if tag is None:
            raise not_found("Tag", tag_id)
        return json_response(tag_json(tag, view.images.tag_histogram().get(tag_id, 0)))


@operations.operation("UpdateTag", "PATCH", "/projects/{projectId}/tags/{tagId}")
async def update_tag(call: OperationCall) -> Response:
    tag_id = call.path_uuid("tagId", "tag")
    body = await call.json_object()
    with call.simulator.lock:
        project = call.project()
        tag = project.tag(tag_id)
        raw_type = body.get("type", tag.type)
        if raw_type not in TAG_TYPES:
            raise ApiError("BadRequestTagType", f"Unknown tag type '{raw_type}'.")
        tag_type = cast(TagType, raw_type)
        name = _check_tag(project, str(body.get("name") or ""), tag_type, ignore=tag_id)
        description = body.get("description", tag.description)
        updated = TagRecord(tag.id, name, description if isinstance(description, str) else None, tag_type, tag.created)
        project.tags[tag_id] = updated
        project.changed(call.simulator.now())
        return json_response(tag_json(updated, project.workspace.tag_histogram().get(tag_id, 0)))


@operations.operation("DeleteTag", "DELETE", "/projects/{projectId}/tags/{tagId}")
async def delete_tag(call: OperationCall) -> Response:
    tag_id = call.path_uuid("tagId", "tag")
    with call.simulator.lock:
        project = call.project()
        project.tag(tag_id)
        actions.delete_tag(call.simulator, project, tag_id)
        return no_content()
