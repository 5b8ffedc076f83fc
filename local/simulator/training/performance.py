"""Iteration performance: GetIterationPerformance, GetImagePerformances, GetImagePerformanceCount.

Numbers are deterministic and plausible (scoring.py). The "performance images" of an iteration are the
tagged images of its snapshot, each with predictions that favour its own tag.
"""

from __future__ import annotations

from starlette.responses import Response

from local.simulator.errors import ApiError
from local.simulator.image_query import ImageQuery
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.records import ImageRecord, IterationRecord
from local.simulator.scoring import classification_scores, detection_scores, overall_metrics, tag_metrics
from local.simulator.timefmt import format_wire
from local.simulator.training.image_queries import MAX_FILTER_TAGS, MAX_TAKE, ORDERS
from local.simulator.training.iterations import trained_iteration
from local.simulator.wire import (
    JsonObject,
    UriFactory,
    image_regions_json,
    image_tags_json,
    prediction_score_json,
)

operations = OperationRegistry()


def _threshold(call: OperationCall, name: str, default: float) -> float:
    value = call.query.number(name, default=default)
    if not 0.0 <= value <= 1.0:
        raise ApiError("BadRequestInvalid", f"'{name}' must be between 0 and 1.")
    return value


def _iteration(call: OperationCall) -> tuple[str, IterationRecord]:
    project = call.project()
    iteration_id = call.path_uuid("iterationId", "iteration")
    return project.id, trained_iteration(project, iteration_id, not_trained_code="NotFoundIterationPerformance")


@operations.operation(
    "GetIterationPerformance",
    "GET",
    "/projects/{projectId}/iterations/{iterationId}/performance",
    query=("threshold", "overlapThreshold"),
)
async def get_iteration_performance(call: OperationCall) -> Response:
    threshold = _threshold(call, "threshold", 0.5)
    overlap = _threshold(call, "overlapThreshold", 0.3)
    with call.simulator.lock:
        _, iteration = _iteration(call)
        per_tag = []
        metrics = []
        for tag in iteration.tags.values():
            tag_result = tag_metrics(iteration.id, tag.id, threshold, overlap)
            metrics.append(tag_result)
            per_tag.append(
                {
                    "id": tag.id,
                    "name": tag.name,
                    "precision": tag_result.precision,
                    "precisionStdDeviation": tag_result.precision_std_deviation,
                    "recall": tag_result.recall,
                    "recallStdDeviation": tag_result.recall_std_deviation,
                    "averagePrecision": tag_result.average_precision,
                }
            )
        overall = overall_metrics(metrics)
        return json_response(
            {
                "perTagPerformance": per_tag,
                "precision": overall.precision,
                "precisionStdDeviation": overall.precision_std_deviation,
                "recall": overall.recall,
                "recallStdDeviation": overall.recall_std_deviation,
                "averagePrecision": overall.average_precision,
            }
        )


def _image_performance_json(
    project_id: str, iteration: IterationRecord, record: ImageRecord, uris: UriFactory
) -> JsonObject:
    key = f"{iteration.id}:{record.id}"
    tags = iteration.tags.values()
    if record.regions:
        scores = detection_scores(key, tags, record)
    else:
        favour = record.tag_ids[0] if record.tags else None
        multilabel = iteration.classification_type == "Multilabel"
        scores = classification_scores(key, tags, multilabel=multilabel, favour=favour)
    return {
        "predictions": [prediction_score_json(score) for score in scores],
        "id": record.id,
        "created": format_wire(record.created),
        "width": record.width,
        "height": record.height,
        "imageUri": uris.training_image(project_id, record.id, "resized"),
        "thumbnailUri": uris.training_image(project_id, record.id, "thumbnail"),
        "tags": image_tags_json(record, iteration.tags),
        "regions": image_regions_json(record, iteration.tags),
    }


@operations.operation(
    "GetImagePerformances",
    "GET",
    "/projects/{projectId}/iterations/{iterationId}/performance/images",
    query=("tagIds", "orderBy", "take", "skip"),
)
async def get_image_performances(call: OperationCall) -> Response:
    tag_ids = call.query.uuid_list("tagIds", max_items=MAX_FILTER_TAGS)
    order = call.query.choice("orderBy", ORDERS, default="Newest")
    take = call.query.integer("take", default=50, minimum=0, maximum=MAX_TAKE)
    skip = call.query.integer("skip", default=0, minimum=0)
    assert order is not None
    with call.simulator.lock:
        project_id, iteration = _iteration(call)
        query = ImageQuery("Tagged", frozenset(tag_ids) if tag_ids else None)
        uris = call.uris()
        page = iteration.images.page(query, order, skip, take)
        return json_response([_image_performance_json(project_id, iteration, record, uris) for record in page])


@operations.operation(
    "GetImagePerformanceCount",
    "GET",
    "/projects/{projectId}/iterations/{iterationId}/performance/images/count",
    query=("tagIds",),
)
async def get_image_performance_count(call: OperationCall) -> Response:
    tag_ids = call.query.uuid_list("tagIds")
    with call.simulator.lock:
        _, iteration = _iteration(call)
        return json_response(iteration.images.count(ImageQuery("Tagged", frozenset(tag_ids) if tag_ids else None)))
