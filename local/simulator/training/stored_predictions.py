"""Stored prediction images: QueryPredictions and DeletePrediction.

QueryPredictions pages with an opaque continuation token that remembers the last item's sort key
(not an offset), so deleting predictions between pages never skips any. The response's token has
`continuation` only while more results exist. `maxCount` defaults to 50 and is limited to
``SimulatorConfig.prediction_page_cap`` (256 unless set; BadRequestPredictionResultsExceededCount above:
the real limit is not documented); at most 2 tag filters
(BadRequestPredictionTagsExceededCount). DeletePrediction takes at most 64 ids
(BadRequestPredictionIdsExceededCount) and at least one (BadRequestPredictionIdsMissing); unknown ids are
ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import Response

from local.simulator.errors import ApiError
from local.simulator.identifiers import canonical_uuid
from local.simulator.operations import OperationCall, OperationRegistry, json_response, no_content
from local.simulator.records import StoredPrediction
from local.simulator.timefmt import format_wire, parse_wire
from local.simulator.wire import JsonObject, stored_prediction_json

operations = OperationRegistry()

DEFAULT_MAX_COUNT = 50
MAX_TAG_FILTERS = 2
MAX_DELETE_IDS = 64
ORDERS = ("Newest", "Oldest", "Suggested")
_INVALID = "BadRequestPredictionInvalidQueryParameters"

SortKey = tuple[float, str]


@dataclass(frozen=True)
class _TagFilter:
    tag_id: str
    minimum: float
    maximum: float

    def accepts(self, prediction: StoredPrediction) -> bool:
        return any(
            score.tag_id == self.tag_id and self.minimum <= score.probability <= self.maximum
            for score in prediction.scores
        )


@dataclass(frozen=True)
class _Query:
    session: str
    continuation: SortKey | None
    max_count: int
    order: str
    tags: tuple[_TagFilter, ...]
    iteration_id: str | None
    start: datetime | None
    end: datetime | None
    application: str | None
    echo: JsonObject

    def accepts(self, prediction: StoredPrediction) -> bool:
        if self.iteration_id is not None and prediction.iteration_id != self.iteration_id:
            return False
        if self.start is not None and prediction.created < self.start:
            return False
        if self.end is not None and prediction.created > self.end:
            return False
        if self.application is not None and prediction.application != self.application:
            return False
        return all(tag_filter.accepts(prediction) for tag_filter in self.tags)

    def sort_key(self, prediction: StoredPrediction) -> SortKey:
        if self.order == "Oldest":
            return (prediction.created.timestamp(), prediction.id)
        if self.order == "Suggested":  # least certain first
            top = max((score.probability for score in prediction.scores), default=0.0)
            return (top, prediction.id)
        return (-prediction.created.timestamp(), prediction.id)


def _encode_continuation(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode()


def _decode_continuation(token: str) -> SortKey:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (float(value[0]), str(value[1]))
    except (ValueError, TypeError, IndexError, KeyError, binascii.Error, UnicodeDecodeError):
        raise ApiError(_INVALID, "The continuation token is not valid.") from None


def _time(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return parse_wire(str(value))
    except ValueError:
        raise ApiError(_INVALID, f"'{name}' is not a valid date-time.") from None


def _tag_filters(raw: Any) -> tuple[_TagFilter, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise ApiError(_INVALID, "'tags' must be an array of {id, minThreshold, maxThreshold}.")
    if len(raw) > MAX_TAG_FILTERS:
        raise ApiError("BadRequestPredictionTagsExceededCount", f"At most {MAX_TAG_FILTERS} tags can be combined.")
    filters = []
    for entry in raw:
        tag_id = canonical_uuid(str(entry.get("id", "")))
        if tag_id is None:
            raise ApiError("BadRequestInvalidIds", f"'{entry.get('id')}' is not a valid tag id.")
        try:
            minimum = float(entry.get("minThreshold", 0.0) or 0.0)
            maximum = float(entry.get("maxThreshold", 1.0) if entry.get("maxThreshold") is not None else 1.0)
        except (TypeError, ValueError):
            raise ApiError(_INVALID, "Tag thresholds must be numbers.") from None
        filters.append(_TagFilter(tag_id, minimum, maximum))
    return tuple(filters)


def _parse(body: dict[str, Any], new_session: str, cap: int) -> _Query:
    max_count = body.get("maxCount") or DEFAULT_MAX_COUNT
    if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 0:
        raise ApiError(_INVALID, "'maxCount' must be a positive integer.")
    if max_count > cap:
        raise ApiError("BadRequestPredictionResultsExceededCount", f"'maxCount' is limited to {cap}.")
    order = body.get("orderBy") or "Newest"
    if order not in ORDERS:
        raise ApiError(_INVALID, f"'orderBy' must be one of {', '.join(ORDERS)}.")
    iteration_id = body.get("iterationId")
    if iteration_id is not None:
        iteration_id = canonical_uuid(str(iteration_id))
        if iteration_id is None:
            raise ApiError("BadRequestInvalidIds", "'iterationId' is not a valid id.")
    application = body.get("application")
    if application is not None and not isinstance(application, str):
        raise ApiError("BadRequestPredictionInvalidApplicationName", "'application' must be a string.")
    continuation = body.get("continuation")
    tags = _tag_filters(body.get("tags"))
    start, end = _time(body, "startTime"), _time(body, "endTime")
    echo: JsonObject = {
        "session": str(body.get("session") or new_session),
        "maxCount": max_count,
        "orderBy": order,
        "tags": [{"id": t.tag_id, "minThreshold": t.minimum, "maxThreshold": t.maximum} for t in tags],
        "iterationId": iteration_id,
        "startTime": format_wire(start) if start else None,
        "endTime": format_wire(end) if end else None,
    }
    if application:
        echo["application"] = application
    return _Query(
        session=echo["session"],
        continuation=_decode_continuation(continuation) if continuation else None,
        max_count=max_count,
        order=order,
        tags=tags,
        iteration_id=iteration_id,
        start=start,
        end=end,
        application=application or None,
        echo=echo,
    )


@operations.operation("QueryPredictions", "POST", "/projects/{projectId}/predictions/query")
async def query_predictions(call: OperationCall) -> Response:
    body = await call.json_object()
    simulator = call.simulator
    with simulator.lock:
        query = _parse(body, simulator.ids.new(), simulator.config.prediction_page_cap)
        project = call.project()
        matching = sorted((p for p in project.predictions.values() if query.accepts(p)), key=query.sort_key)
        if query.continuation is not None:
            matching = [p for p in matching if query.sort_key(p) > query.continuation]
        page = matching[: query.max_count]
        token = dict(query.echo)
        if len(matching) > len(page) and page:
            token["continuation"] = _encode_continuation(query.sort_key(page[-1]))
        uris = call.uris()
        return json_response({"token": token, "results": [stored_prediction_json(p, uris) for p in page]})


@operations.operation("DeletePrediction", "DELETE", "/projects/{projectId}/predictions", query=("ids",))
async def delete_prediction(call: OperationCall) -> Response:
    ids = call.query.uuid_list(
        "ids",
        max_items=MAX_DELETE_IDS,
        required=True,
        exceeded_code="BadRequestPredictionIdsExceededCount",
        missing_code="BadRequestPredictionIdsMissing",
    )
    with call.simulator.lock:
        project = call.project()
        for prediction_id in ids or []:
            project.predictions.pop(prediction_id, None)
        return no_content()
