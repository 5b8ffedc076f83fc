"""The HTTP routes' bodies: ``POST /api/requests``, ``GET /api/requests/{request_id}``, its ``/result``,
``GET /api/requests?from=&to=`` (the register) and ``GET /api/health``.

Every answer is a 2xx or a 4xx the caller can act on, or a 503 with ``Retry-After`` when the platform
(storage, the Durable extension) does not answer: never a 500 and never an echo of what was sent.
No Azure Functions types here: ``functions/intake.py`` turns an ``Answer`` into an ``HttpResponse``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared import deadlines, extensions, intake, register, status
from shared.caller_policy import Caller
from shared.connections import blob_service, results_container
from shared.connectors import exported
from shared.connectors.inbound import json_object
from shared.dsr_request import REQUEST_ID_RULE, is_request_id
from shared.instances import RUNNING, DurableClient, runtime_status, started_input
from shared.outcomes import manifest_head
from shared.results.store import ResultStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    code: int
    document: Any
    headers: dict[str, str] = field(default_factory=dict)


def _retry_later(what: str) -> Answer:
    return Answer(503, {"error": f"{what} unavailable, retry"}, {"Retry-After": "1"})


async def submit_request(body: bytes, headers: Mapping[str, str], client: DurableClient) -> Answer:
    try:
        result = await intake.submit(body, client, channel="http", caller=Caller.from_headers(headers))
    except Exception as error:  # the platform failed, not the request: the caller may send it again
        logger.warning("intake unavailable: %s", type(error).__name__)
        return _retry_later("intake")
    if result.outcome == "rejected":
        return Answer(400, result.to_json())
    return Answer(202, result.to_json(), {"Location": f"/api/requests/{result.request_id}"})


async def request_status(request_id: str, client: DurableClient) -> Answer:
    # Exact ids only: no sub-orchestration (``id:resource``), nothing a decoder would turn into another id.
    if not is_request_id(request_id):
        return Answer(400, {"error": f"not a request id: {REQUEST_ID_RULE}"})
    try:
        async with blob_service() as service:
            extended = await extensions.load(service, request_id)
        document = await status.read(client, request_id, extended)
    except Exception as error:  # the Durable extension did not answer: say "try again", not "broken"
        logger.warning("status of %s unavailable: %s", request_id, type(error).__name__)
        return _retry_later("status")
    if document is None:
        return Answer(404, {"error": "no such request"})
    return Answer(200, document)


MAX_EXTEND_BODY = 4096
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def extend_request(request_id: str, body: bytes, client: DurableClient) -> Answer:
    """``POST /api/requests/{request_id}/extend`` with ``{"until": "YYYY-MM-DD", "reason": "..."}``:
    200 with the new clock; 400 an extension the request's jurisdiction does not allow (or a bad body);
    404 no such request; 409 the request has ended, or another extension was recorded at that moment."""
    if not is_request_id(request_id):
        return Answer(400, {"error": f"not a request id: {REQUEST_ID_RULE}"})
    try:
        document = json_object(body) if len(body) <= MAX_EXTEND_BODY else {}
    except ValueError:
        document = {}
    given, reason = document.get("until"), document.get("reason")
    try:
        until = date.fromisoformat(given) if isinstance(given, str) and ISO_DATE.fullmatch(given) else None
    except ValueError:  # 2027-02-30
        until = None
    if until is None or not isinstance(reason, str):
        return Answer(400, {"error": 'the body is {"until": "YYYY-MM-DD", "reason": "why, as told to the person"}'})
    try:
        existing = await client.get_status(request_id, show_input=True)
        if runtime_status(existing) is None:
            return Answer(404, {"error": "no such request"})
        if runtime_status(existing) not in RUNNING:
            return Answer(409, {"error": "the request has ended: there is nothing left to extend"})
        request = started_input(existing).get("request") or {}
        async with blob_service() as service:
            clock = await extensions.extend(service, {**request, "request_id": request_id}, until, reason)
    except deadlines.ExtensionRefused as refused:
        return Answer(400, {"error": str(refused)})
    except extensions.Conflict as conflict:
        return Answer(409, {"error": str(conflict)})
    except Exception as error:
        logger.warning("extension of %s unavailable: %s", request_id, type(error).__name__)
        return _retry_later("extension")
    logger.info("request %s extended to %s", request_id, clock["due_at"])
    return Answer(200, {"request_id": request_id, **clock})


MAX_RESULT_ITEMS = 10_000  # a person's images; an account-wide export is read from its package


async def health() -> Answer:
    """``GET /api/health``: the app answers and its storage does (a platform's connection test)."""
    try:
        async with blob_service() as service:
            await service.get_service_properties()
    except Exception as error:
        logger.warning("health: storage unavailable: %s", type(error).__name__)
        return _retry_later("storage")
    return Answer(200, {"status": "ok"})


async def request_result(request_id: str, client: DurableClient) -> Answer:
    """``GET /api/requests/{request_id}/result``: what a platform that polls (Fides) reads. ``status`` is
    ``running`` until the request ends; a request that succeeded answers 200 with ``items``, the image
    records of an export (each image once); one that failed, ended partially or was rejected answers
    409, so that the poller stops instead of waiting for a completion that will not come."""
    if not is_request_id(request_id):
        return Answer(400, {"error": f"not a request id: {REQUEST_ID_RULE}"})
    try:
        document = await status.read(client, request_id)
        async with blob_service() as service:
            store = ResultStore(results_container(service))
            head = await manifest_head(store, request_id)
            if document is not None and document["runtime_status"] in RUNNING:
                return Answer(200, {"request_id": request_id, "status": "running"})
            ended = (document or {}).get("status") or (head or {}).get("status")
            kind = (document or {}).get("type") or (head or {}).get("type")
            if ended is None:
                if document is None:
                    return Answer(404, {"error": "no such request"})
                ended = "failed"  # ended without an outcome (terminated)
            if ended != "succeeded":
                return Answer(409, {"request_id": request_id, "status": ended})
            items = await exported.rows(store, request_id, MAX_RESULT_ITEMS) if kind == "export" else []
            if items is None:
                return Answer(413, {"error": f"more than {MAX_RESULT_ITEMS} images: read the package"})
    except Exception as error:  # storage or the extension did not answer
        logger.warning("result of %s unavailable: %s", request_id, type(error).__name__)
        return _retry_later("result")
    return Answer(200, {"request_id": request_id, "status": "succeeded", "type": kind, "items": items})


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and ISO_DATE.fullmatch(value) else None
    except ValueError:  # 2027-02-30
        return None


async def register_records(params: Mapping[str, str]) -> Answer:
    """``GET /api/requests?from=YYYY-MM-DD&to=YYYY-MM-DD``: the register's records of the requests
    received in those UTC days (both included), oldest first. 400 a bad range (at most
    ``register.MAX_DAYS`` days), 413 more than ``register.MAX_RECORDS`` records."""
    start, end = _day(params.get("from")), _day(params.get("to"))
    if start is None or end is None:
        return Answer(400, {"error": "from and to are required, as YYYY-MM-DD"})
    if start > end:
        return Answer(400, {"error": "from is after to"})
    if (end - start).days + 1 > register.MAX_DAYS:
        return Answer(400, {"error": f"at most {register.MAX_DAYS} days at once (the register keeps 24 months)"})
    try:
        async with blob_service() as service:
            records = await register.read(service, start, end)
    except register.TooManyRecords as too_many:
        return Answer(413, {"error": str(too_many)})
    except Exception as error:  # storage did not answer
        logger.warning("register unavailable: %s", type(error).__name__)
        return _retry_later("register")
    return Answer(200, {"from": str(start), "to": str(end), "count": len(records), "records": records})
