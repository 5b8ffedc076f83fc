"""The HTTP routes' bodies: ``POST /api/requests`` and ``GET /api/requests/{request_id}``.

Every answer is a 2xx or a 4xx the caller can act on, or a 503 with ``Retry-After`` when the platform
(storage, the Durable extension) does not answer: never a 500 and never an echo of what was sent.
No Azure Functions types here: ``functions/intake.py`` turns an ``Answer`` into an ``HttpResponse``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared import intake, status
from shared.caller_policy import Caller
from shared.dsr_request import REQUEST_ID_RULE, is_request_id
from shared.instances import DurableClient

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
        document = await status.read(client, request_id)
    except Exception as error:  # the Durable extension did not answer: say "try again", not "broken"
        logger.warning("status of %s unavailable: %s", request_id, type(error).__name__)
        return _retry_later("status")
    if document is None:
        return Answer(404, {"error": "no such request"})
    return Answer(200, document)
