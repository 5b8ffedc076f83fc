"""Intake: one handler for every channel (Storage queue, Service Bus queue, HTTP).

Validate, de-duplicate by request id (= orchestration instance id), start the orchestration. A bad
message is rejected here, recorded and announced, and never reaches the Custom Vision API nor retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared import fingerprints
from shared.caller_policy import Caller, CallerPolicy
from shared.connections import blob_service, results_container, setting
from shared.dsr_request import DsrRequest, RequestRejected, parse_request
from shared.events.callbacks import CallbackPolicy
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

    async def get_status(self, instance_id: str, *, show_input: bool = False) -> Any: ...

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


async def submit(raw: bytes, client: DurableClient, *, channel: str, caller: Caller | None = None) -> IntakeResult:
    """Validate, then start the request, or say why not. Bad input never raises: it is rejected,
    recorded and announced. What raises is the platform (storage or the extension not answering),
    which the channel retries."""
    try:
        request = parse_request(raw, configured_resources=load_resources(), callbacks=CallbackPolicy.from_settings())
        refused = CallerPolicy.from_settings().refusals(request, channel, caller)
        if refused:
            raise RequestRejected(refused, request_id=request.request_id, raw=raw)
    except RequestRejected as rejection:
        logger.warning("request rejected on %s: %s", channel, "; ".join(rejection.reasons))
        await record_rejection(rejection, client)
        return IntakeResult("rejected", rejection.record_id, tuple(rejection.reasons))

    async with blob_service() as service:
        fingerprinter = await fingerprints.load(service)
        store = ResultStore(results_container(service))
        clear = request.to_json()
        binding = fingerprinter.binding(clear)
        existing = await client.get_status(request.request_id, show_input=True)
        if runtime_status(existing) is None:
            await store.ensure_container()
            # The values that identify the person stay out of history: the work reads them from here.
            await store.put_json(layout.private_request(request.request_id), clear)
            started = orchestration_input(fingerprinter.request(clear), binding, fan_out(request))
            try:
                await client.start_new(REQUEST_ORCHESTRATOR, request.request_id, started)
            except Exception as error:
                # Two deliveries raced past the status check: the extension refuses the second
                # start (409, "already exists"). Which request won decides what this one is.
                if "already exists" not in str(error):
                    raise
                existing = await client.get_status(request.request_id, show_input=True)
            else:
                logger.info("request %s started from %s", request.request_id, channel)
                return IntakeResult("started", request.request_id)
    return await _repeat(request, binding, existing, raw, client, channel)


async def _repeat(
    request: DsrRequest, binding: str, existing: Any, raw: bytes, client: DurableClient, channel: str
) -> IntakeResult:
    """A request id that names an existing request: the same request delivered again, or a conflict."""
    original = started_input(existing)
    if original.get("binding") != binding:
        rejection = RequestRejected(
            [
                "request_id: names an existing request that differs from this one "
                "(type, resources, scope, include, flags or callback); use a new request_id"
            ],
            request_id=request.request_id,
            raw=raw,
        )
        logger.warning("request %s from %s conflicts with the request of that id", request.request_id, channel)
        await record_rejection(rejection, client, conflict=True)
        return IntakeResult("rejected", request.request_id, tuple(rejection.reasons))
    if runtime_status(existing) in RUNNING:
        logger.info("request %s is already running; duplicate from %s ignored", request.request_id, channel)
        return IntakeResult("already_running", request.request_id)
    # Finished before (completed, failed or terminated): never redo the work, re-send the outcome,
    # to the channels the original named: the repeat's own callback is never trusted with it.
    await resend_completion(original.get("request") or {}, existing)
    return IntakeResult("resent", request.request_id)


def started_input(status: Any) -> dict[str, Any]:
    """The orchestration input an instance was started with (``{"request", "binding", "settings"}``)."""
    started = getattr(status, "input_", None) or {}
    if isinstance(started, str):  # the extension hands the input back as the JSON text the client sent
        try:
            started = json.loads(started)
        except ValueError:
            return {}
    return started if isinstance(started, dict) else {}


# Projects per resource at once. An export holds image files in flight, so fewer; an erase's steps are
# metadata calls and waits for background deletion, which overlap better across more projects.
DEFAULT_PROJECT_WIDTH = {"export": 2, "erase": 4}
DEFAULT_PAGE_WIDTH = 8
MAX_WIDTH = 64


def orchestration_input(kept: Mapping[str, Any], binding: str, settings: Mapping[str, int]) -> dict[str, Any]:
    """What the orchestration starts with, and so what its history holds: the request as it may be
    kept (fingerprinted, ``shared.fingerprints``), its binding, and the fan-out widths."""
    return {"request": dict(kept), "binding": binding, "settings": dict(settings)}


def fan_out(request: DsrRequest, environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """The fan-out widths from app settings, read at intake so that replay never depends on the
    environment: ``CVDSR_PROJECT_PARALLELISM``, projects per resource at once, and
    ``CVDSR_PAGE_PARALLELISM``, pages per project at once."""
    return {
        "project_width": _width("CVDSR_PROJECT_PARALLELISM", DEFAULT_PROJECT_WIDTH[request.type], environ),
        "page_width": _width("CVDSR_PAGE_PARALLELISM", DEFAULT_PAGE_WIDTH, environ),
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


async def resend_completion(request: Mapping[str, Any], status: Any) -> None:
    outcome = getattr(status, "output", None)
    if not isinstance(outcome, dict) or "status" not in outcome:
        state = runtime_status(status) or "unknown"
        outcome = {
            "request_id": request["request_id"],
            "status": "failed",
            "errors": [{"kind": "orchestration", "error": f"the request ended as {state}"}],
        }
    await deliver_outcome(request, outcome)


async def record_rejection(rejection: RequestRejected, client: DurableClient, *, conflict: bool = False) -> None:
    """A result record and a ``cvdsr.request.rejected`` event. The body is not stored: a rejected
    message may hold anything, including personal data or secrets pasted by mistake.

    A rejected message whose id names an existing request (a conflict, or a malformed repeat, even
    of one still running) is recorded under that request's ``rejections/``: it never touches the
    request's manifest or state."""
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
        if conflict or (rejection.request_id and await _names_a_request(store, client, rejection.request_id)):
            path = layout.rejection(rejection.record_id, rejection.digest)
        await store.put_json(path, record)
    data = {
        "request_id": rejection.record_id,
        "rejection_id": rejection.digest,
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


async def _names_a_request(store: ResultStore, client: DurableClient, request_id: str) -> bool:
    if runtime_status(await client.get_status(request_id)) is not None:
        return True
    path = layout.manifest(request_id)
    return await store.exists(path) and (await store.read_json(path)).get("status") != "rejected"
