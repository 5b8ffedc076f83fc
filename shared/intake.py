"""Intake: one handler for every channel (Storage queue, Service Bus queue, HTTP).

Validate, de-duplicate by request id (= orchestration instance id), start the orchestration. A bad
message is rejected here, recorded and announced, and never reaches the Custom Vision API nor retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared import claims, deadlines, endings, fingerprints, register
from shared.caller_policy import Caller, CallerPolicy
from shared.connections import blob_service, results_container
from shared.connectors import holds
from shared.dsr_request import DsrRequest, RequestRejected, parse_request
from shared.events.callbacks import CallbackPolicy
from shared.events.cloudevent import build_event
from shared.events.completion import deliver_outcome, send_completion
from shared.instances import RUNNING, DurableClient, runtime_status, started_input
from shared.orchestration.names import REQUEST_ORCHESTRATOR
from shared.outcomes import failure_outcome, final_status, from_manifest
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import app_settings, load_resources

logger = logging.getLogger(__name__)

CONFLICT = (
    "request_id: names an existing request that differs from this one "
    "(type, resources, scope, include, flags or callback); use a new request_id"
)


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # started | already_running | resent | rejected
    request_id: str
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "request_id": self.request_id, "reasons": list(self.reasons)}


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
        await record_rejection(rejection, client, channel=channel)
        return IntakeResult("rejected", rejection.record_id, tuple(rejection.reasons))

    request_id = request.request_id
    async with blob_service() as service:
        fingerprinter = await fingerprints.load(service)
        held = await _on_hold(service, fingerprinter, request)
        if held is not None:
            on_hold = RequestRejected([held], request_id=request_id, raw=raw)
            logger.warning("request %s rejected on %s: the person is on legal hold", request_id, channel)
            await record_rejection(on_hold, client, channel=channel)
            return IntakeResult("rejected", on_hold.record_id, tuple(on_hold.reasons))
        store = ResultStore(results_container(service))
        clear = request.to_json()
        binding = fingerprinter.binding(clear)
        existing = await client.get_status(request_id, show_input=True)
        if runtime_status(existing) is not None:
            return await _repeat(request, binding, _binding_of(existing, fingerprinter), existing, raw, client, channel)
        # No instance: the claim decides whose id this is, whatever else is delivered at this moment.
        held = await claims.holder(service, request_id)
        if held is None and await final_status(store, request_id) is not None:
            held = "(a request from before claims were kept)"  # its binding cannot be compared: refuse
        if held is None:
            held = await claims.claim(service, request_id, binding)
        if held != binding:
            return await _conflict(request, raw, client, channel)
        kept = fingerprinter.request(clear)
        if await final_status(store, request_id) is not None:
            # The same request, finished, its history gone (purged, or another task hub): re-send, to
            # the channels it named (the same binding, so the same callback).
            await _resend(kept, await from_manifest(store, request_id))
            return IntakeResult("resent", request_id)
        await store.ensure_container()
        # The clock (received, due) is stamped after the binding, so a redelivery is the same request,
        # and only when the request starts, so a re-sent outcome keeps the times it had.
        now = datetime.now(UTC)
        clear, kept = deadlines.stamp(clear, now), deadlines.stamp(kept, now)
        # Open first: the sweeper finds the work blob through this marker, whatever happens next.
        await claims.mark_open(service, request_id)
        # The values that identify the person stay out of history: the work reads them from here.
        await store.put_json(layout.private_request(request_id), clear)
        # The register's record of receipt (written again by a redelivery; the reader folds them).
        await register.append(service, register.received_entry(kept, channel))
        started = orchestration_input(kept, binding, fan_out(request))
        try:
            await client.start_new(REQUEST_ORCHESTRATOR, request_id, started)
        except Exception as error:
            if "already exists" not in str(error):
                # Nothing started (the start may also have failed after creating the instance: then
                # its work stays): nothing may keep the person's values. A redelivery starts again.
                if runtime_status(await client.get_status(request_id)) is None:
                    await endings.remove_work(service, store, request_id)
                raise
            # A concurrent delivery of this same request (same claim) started it first.
            existing = await client.get_status(request_id, show_input=True)
            return await _repeat(request, binding, _binding_of(existing, fingerprinter), existing, raw, client, channel)
    logger.info("request %s started from %s", request_id, channel)
    return IntakeResult("started", request_id)


async def _on_hold(
    service: BlobServiceClient, fingerprinter: fingerprints.Fingerprinter, request: DsrRequest
) -> str | None:
    """Why an erasure of a person must not start now: their legal hold (``shared.connectors.holds``)."""
    selector = request.scope.images
    if request.type != "erase" or selector is None or request.dry_run:
        return None
    hold = await holds.held(service, holds.key(fingerprinter, selector.model_dump(mode="json")))
    if hold is None:
        return None
    return f"scope.images: the person is on legal hold since {hold['since']}; send the erasure again once it is removed"


def _binding_of(status: Any, fingerprinter: fingerprints.Fingerprinter) -> str | None:
    original = started_input(status)
    if original.get("binding"):
        return str(original["binding"])
    # Started before bindings were kept: its input holds the request in clear.
    request = original.get("request")
    return fingerprinter.binding(request) if isinstance(request, dict) else None


async def _repeat(
    request: DsrRequest,
    binding: str,
    original_binding: str | None,
    existing: Any,
    raw: bytes,
    client: DurableClient,
    channel: str,
) -> IntakeResult:
    """A request id that names an existing request: the same request delivered again, or a conflict."""
    if original_binding != binding:
        return await _conflict(request, raw, client, channel)
    if runtime_status(existing) in RUNNING:
        logger.info("request %s is already running; duplicate from %s ignored", request.request_id, channel)
        return IntakeResult("already_running", request.request_id)
    # Finished before (completed, failed or terminated): never redo the work, re-send the outcome,
    # to the channels the original named: the repeat's own callback is never trusted with it.
    original = started_input(existing).get("request") or {}
    outcome = getattr(existing, "output", None)
    if not isinstance(outcome, dict) or "status" not in outcome:
        state = runtime_status(existing) or "unknown"
        outcome = failure_outcome(original, None, f"the request ended as {state}")
    await _resend(original, outcome)
    return IntakeResult("resent", request.request_id)


async def _conflict(request: DsrRequest, raw: bytes, client: DurableClient, channel: str) -> IntakeResult:
    rejection = RequestRejected([CONFLICT], request_id=request.request_id, raw=raw)
    logger.warning("request %s from %s conflicts with the request of that id", request.request_id, channel)
    await record_rejection(rejection, client, conflict=True, channel=channel)
    return IntakeResult("rejected", request.request_id, tuple(rejection.reasons))


async def _resend(original: Mapping[str, Any], outcome: Mapping[str, Any] | None) -> None:
    if outcome is not None:
        await deliver_outcome(original, outcome)


# Projects per resource at once. An export holds image files in flight, so fewer; an erase's steps are
# metadata calls and waits for background deletion, which overlap better across more projects.


def orchestration_input(kept: Mapping[str, Any], binding: str, settings: Mapping[str, int]) -> dict[str, Any]:
    """What the orchestration starts with, and so what its history holds: the request as it may be
    kept (fingerprinted, ``shared.fingerprints``), its binding, and the fan-out widths."""
    return {"request": dict(kept), "binding": binding, "settings": dict(settings)}


def fan_out(request: DsrRequest, environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """The fan-out widths (``CVDSR_PROJECT_PARALLELISM``, ``CVDSR_PAGE_PARALLELISM``), read at intake
    so that replay never depends on the environment."""
    settings = app_settings(environ)
    return {"project_width": settings.project_width(request.type), "page_width": settings.page_parallelism}


async def record_rejection(
    rejection: RequestRejected, client: DurableClient, *, conflict: bool = False, channel: str | None = None
) -> None:
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
        if conflict or (rejection.request_id and await _names_a_request(service, store, client, rejection.request_id)):
            path = layout.rejection(rejection.record_id, rejection.digest)
        await store.put_json(path, record)
        entry = register.rejected_entry(
            rejection.record_id, rejection.digest, rejection.reasons, now, channel, rejection.raw
        )
        await register.append(service, entry)
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
        "jurisdiction": None,
        "due_at": None,
        "days_left": None,
        "extended": False,
        "extension_reason": None,
    }
    await send_completion(build_event(data), {})


async def _names_a_request(
    service: BlobServiceClient, store: ResultStore, client: DurableClient, request_id: str
) -> bool:
    if runtime_status(await client.get_status(request_id)) is not None or await claims.holder(service, request_id):
        return True
    return await final_status(store, request_id) is not None
