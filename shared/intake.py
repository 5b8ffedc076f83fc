"""Intake: one handler for every channel (Storage queue, Service Bus queue, HTTP).

Validate, de-duplicate by request id (= orchestration instance id), start the orchestration. A bad
message is rejected here, recorded and announced, and never reaches the Custom Vision API nor retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.connections import blob_service, results_container, setting
from shared.dsr_request import DsrRequest, RequestRejected, parse_request
from shared.events.cloudevent import build_event
from shared.events.completion import deliver_outcome, send_completion
from shared.orchestration.names import REQUEST_ORCHESTRATOR
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import load_resources

logger = logging.getLogger(__name__)

RUNNING = {"Pending", "Running", "ContinuedAsNew", "Suspended"}


class DurableClient(Protocol):
    """What intake needs of ``azure.durable_functions.DurableOrchestrationClient``."""

    async def get_status(self, instance_id: str) -> Any: ...

    async def start_new(
        self, orchestration_function_name: str, instance_id: str | None = None, client_input: Any = None
    ) -> str: ...


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # started | already_running | resent | rejected
    request_id: str
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "request_id": self.request_id, "reasons": list(self.reasons)}


def runtime_status(status: Any) -> str | None:
    """The status name of a ``DurableOrchestrationStatus`` (None when there is no such instance)."""
    value = getattr(status, "runtime_status", None)
    if value is None:
        return None
    return str(getattr(value, "value", value))


async def submit(raw: bytes, client: DurableClient, *, channel: str) -> IntakeResult:
    try:
        request = parse_request(raw, configured_resources=load_resources())
    except RequestRejected as rejection:
        logger.warning("request rejected on %s: %s", channel, "; ".join(rejection.reasons))
        await record_rejection(rejection)
        return IntakeResult("rejected", rejection.record_id, tuple(rejection.reasons))

    existing = await client.get_status(request.request_id)
    state = runtime_status(existing)
    if state in RUNNING:
        logger.info("request %s is already running; duplicate from %s ignored", request.request_id, channel)
        return IntakeResult("already_running", request.request_id)
    if state is not None:
        # Finished before (completed, failed or terminated): never redo the work, re-send the outcome.
        await resend_completion(request, existing)
        return IntakeResult("resent", request.request_id)
    try:
        await client.start_new(REQUEST_ORCHESTRATOR, request.request_id, orchestration_input(request))
    except Exception as error:
        # Two deliveries of the same request raced past the status check: the extension refuses
        # the second start (409, "already exists"). That is the duplicate case, not a failure.
        if "already exists" not in str(error):
            raise
        logger.info(
            "request %s was started by a concurrent delivery; duplicate from %s ignored", request.request_id, channel
        )
        return IntakeResult("already_running", request.request_id)
    logger.info("request %s started from %s", request.request_id, channel)
    return IntakeResult("started", request.request_id)


# Projects per resource at once. An export holds image files in flight, so fewer; an erase's steps are
# metadata calls and waits for background deletion, which overlap better across more projects.
DEFAULT_PROJECT_WIDTH = {"export": 2, "erase": 4}
DEFAULT_PAGE_WIDTH = 8
MAX_WIDTH = 64


def orchestration_input(request: DsrRequest, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The request plus the fan-out widths from app settings (``CVDSR_PROJECT_PARALLELISM``, projects
    per resource at once; ``CVDSR_PAGE_PARALLELISM``, pages per project at once)."""
    return {
        "request": request.to_json(),
        "settings": {
            "project_width": _width("CVDSR_PROJECT_PARALLELISM", DEFAULT_PROJECT_WIDTH[request.type], environ),
            "page_width": _width("CVDSR_PAGE_PARALLELISM", DEFAULT_PAGE_WIDTH, environ),
        },
    }


def _width(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    """A width setting; a value that is not a whole number from 1 to ``MAX_WIDTH`` is reported and the
    default used, so one bad setting does not turn every request away."""
    value = setting(name, environ=environ)
    if value is None:
        return default
    try:
        width = int(value)
    except ValueError:
        width = 0
    if not 1 <= width <= MAX_WIDTH:
        logger.warning("%s must be a whole number from 1 to %d; using %d", name, MAX_WIDTH, default)
        return default
    return width


async def resend_completion(request: DsrRequest, status: Any) -> None:
    outcome = getattr(status, "output", None)
    if not isinstance(outcome, dict) or "status" not in outcome:
        state = runtime_status(status) or "unknown"
        outcome = {
            "request_id": request.request_id,
            "status": "failed",
            "errors": [{"kind": "orchestration", "error": f"the request ended as {state}"}],
        }
    await deliver_outcome(request.to_json(), outcome)


async def record_rejection(rejection: RequestRejected) -> None:
    """A result record and a ``cvdsr.request.rejected`` event. The body is not stored: a rejected
    message may hold anything, including personal data or secrets pasted by mistake."""
    now = datetime.now(UTC).isoformat()
    record: dict[str, Any] = {
        "manifest_version": 1,
        "request_id": rejection.record_id,
        "status": "rejected",
        "reasons": rejection.reasons,
        "rejected_at": now,
    }
    async with blob_service() as service:
        store = ResultStore(results_container(service))
        await store.ensure_container()
        path = layout.manifest(rejection.record_id)
        if await store.exists(path) and (await store.read_json(path)).get("status") != "rejected":
            # A malformed repeat of a real request must not replace that request's manifest.
            path = f"{rejection.record_id}/rejections/{rejection.digest}.json"
        await store.put_json(path, record)
    data = {
        "request_id": rejection.record_id,
        "type": None,
        "status": "rejected",
        "ticket": None,
        "resources": [],
        "counts": {},
        "expected_counts": {},
        "result": {
            "container": None,
            "manifest": path,
            "package_url": None,
            "expires_at": None,
        },
        "errors": [{"kind": "request", "error": reason} for reason in rejection.reasons],
        "received_at": now,
        "started_at": None,
        "completed_at": now,
        "due_at": None,
    }
    await send_completion(build_event(data), {})
