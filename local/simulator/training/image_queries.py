"""Image listings and counts: GetImages, GetTaggedImages, GetUntaggedImages, GetImagesByIds and counts.

Without `iterationId` they read the workspace; with it, that iteration's snapshot (which can hold images
already deleted from the workspace). Paging is `skip`/`take` (take 0..256, default 50) over images
ordered by creation, newest first unless `orderBy=Oldest`.
"""

from __future__ import annotations

from starlette.responses import Response

from local.simulator.errors import ApiError
from local.simulator.image_query import ImageQuery, Order, TaggingStatus
from local.simulator.metadata_filter import FilterSyntaxError, MetadataPredicate, parse_filter
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.state import ImageView
from local.simulator.wire import image_json

operations = OperationRegistry()

MAX_TAKE = 256
MAX_FILTER_TAGS = 20
MAX_IMAGE_IDS = 256
ORDERS: tuple[Order, ...] = ("Newest", "Oldest")
TAGGING_STATUSES: tuple[TaggingStatus, ...] = ("All", "Tagged", "Untagged")
_PAGING = ("orderBy", "take", "skip")


def _filter(call: OperationCall) -> MetadataPredicate | None:
    expression = call.query.string("$filter")
    if expression is None:
        return None
    try:
        return parse_filter(expression)
    except FilterSyntaxError as error:
        raise ApiError("BadRequestInvalid", f"Invalid $filter expression: {error}.") from None


def _tag_ids(call: OperationCall, *, limited: bool) -> frozenset[str] | None:
    ids = call.query.uuid_list("tagIds", max_items=MAX_FILTER_TAGS if limited else None)
    return frozenset(ids) if ids else None


def _page(call: OperationCall) -> tuple[Order, int, int]:
    order = call.query.choice("orderBy", ORDERS, default="Newest")
    take = call.query.integer("take", default=50, minimum=0, maximum=MAX_TAKE)
    skip = call.query.integer("skip", default=0, minimum=0)
    assert order is not None
    return order, skip, take


def _view(call: OperationCall) -> tuple[str, ImageView]:
    iteration_id = call.query.uuid("iterationId")
    project = call.project()
    return project.id, project.view(iteration_id)


def _listing(call: OperationCall, query: ImageQuery) -> Response:
    order, skip, take = _page(call)
    with call.simulator.lock:
        project_id, view = _view(call)
        uris = call.uris()
        page = view.images.page(query, order, skip, take)
        return json_response([image_json(project_id, record, view.tags, uris) for record in page])


def _count(call: OperationCall, query: ImageQuery) -> Response:
    with call.simulator.lock:
        _, view = _view(call)
        return json_response(view.images.count(query))


@operations.operation(
    "GetImages",
    "GET",
    "/projects/{projectId}/images",
    query=("iterationId", "tagIds", "taggingStatus", "$filter", *_PAGING),
)
async def get_images(call: OperationCall) -> Response:
    tagging = call.query.choice("taggingStatus", TAGGING_STATUSES, default="All")
    assert tagging is not None
    return _listing(call, ImageQuery(tagging, _tag_ids(call, limited=True), _filter(call)))


@operations.operation(
    "GetImageCount",
    "GET",
    "/projects/{projectId}/images/count",
    query=("iterationId", "taggingStatus", "$filter", "tagIds"),
)
async def get_image_count(call: OperationCall) -> Response:
    tagging = call.query.choice("taggingStatus", TAGGING_STATUSES, default="All")
    assert tagging is not None
    return _count(call, ImageQuery(tagging, _tag_ids(call, limited=False), _filter(call)))


@operations.operation(
    "GetTaggedImages",
    "GET",
    "/projects/{projectId}/images/tagged",
    query=("iterationId", "tagIds", *_PAGING),
)
async def get_tagged_images(call: OperationCall) -> Response:
    return _listing(call, ImageQuery("Tagged", _tag_ids(call, limited=True)))


@operations.operation(
    "GetTaggedImageCount", "GET", "/projects/{projectId}/images/tagged/count", query=("iterationId", "tagIds")
)
async def get_tagged_image_count(call: OperationCall) -> Response:
    return _count(call, ImageQuery("Tagged", _tag_ids(call, limited=False)))


@operations.operation(
    "GetUntaggedImages", "GET", "/projects/{projectId}/images/untagged", query=("iterationId", *_PAGING)
)
async def get_untagged_images(call: OperationCall) -> Response:
    return _listing(call, ImageQuery("Untagged"))


@operations.operation(
    "GetUntaggedImageCount", "GET", "/projects/{projectId}/images/untagged/count", query=("iterationId",)
)
async def get_untagged_image_count(call: OperationCall) -> Response:
    return _count(call, ImageQuery("Untagged"))


@operations.operation("GetImagesByIds", "GET", "/projects/{projectId}/images/id", query=("imageIds", "iterationId"))
async def get_images_by_ids(call: OperationCall) -> Response:
    image_ids = call.query.uuid_list("imageIds", max_items=MAX_IMAGE_IDS) or []
    with call.simulator.lock:
        project_id, view = _view(call)
        uris = call.uris()
        found = (view.images.get(image_id) for image_id in image_ids)
        return json_response(
            [image_json(project_id, record, view.tags, uris) for record in found if record is not None]
        )
