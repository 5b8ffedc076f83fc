"""The top orchestrator: one instance per request (instance id = request id)."""

from __future__ import annotations

import logging
from typing import Any

from shared import contracts as c

from . import names
from .context import Orchestration, OrchestrationContext, activity, failure_reason

logger = logging.getLogger(__name__)


def run_request(context: OrchestrationContext) -> Orchestration:
    """Run the request and announce how it ended, whatever happened: a request that fails still sends
    ``cvdsr.<type>.failed`` (a terminated one is announced by the sweeper, ``shared.sweep``). The work
    blobs (the clear selector, the selected ids) are removed once the outcome is out.

    The output is the outcome without any link or secret: a duplicate request re-sends the event from
    it, and the link is signed anew at sending time.
    """
    start: dict[str, Any] = context.get_input()
    request: dict[str, Any] = start["request"]
    started_at = context.current_utc_datetime.isoformat()
    try:
        outcome = yield from _work(context, request, start.get("settings") or {}, started_at)
    except Exception as error:  # an activity failed for good: the ticket must still hear of it
        reason = failure_reason(error)
        failure: c.RecordFailure = {"request": request, "started_at": started_at, "reason": reason}
        outcome = yield activity(context, names.RECORD_FAILURE, failure)
    context.set_custom_status({"phase": "notifying", "due_at": request.get("due_at"), "status": outcome["status"]})
    sending: c.SendCompletion = {"request": request, "outcome": outcome}
    delivery = yield activity(context, names.SEND_COMPLETION, sending)
    try:
        yield activity(context, names.REMOVE_WORK, {"request_id": request["request_id"]})
    except Exception as error:  # the outcome is out: a failed clean-up is the sweeper's to finish
        if not context.is_replaying:
            logger.warning(
                "request %s: work blobs left for the sweeper: %s", request["request_id"], failure_reason(error)
            )
    context.set_custom_status(
        {"phase": "done", "due_at": request.get("due_at"), "status": outcome["status"], "counts": outcome["counts"]}
    )
    return {**outcome, "delivery": delivery}


def _work(
    context: OrchestrationContext, request: dict[str, Any], settings: dict[str, Any], started_at: str
) -> Orchestration:
    """Record the request, run the work per resource and write the results; returns the outcome.
    ``settings`` holds the fan-out widths, read at intake so that replay never depends on the environment."""
    request_id = request["request_id"]
    context.set_custom_status({"phase": "starting", "due_at": request.get("due_at")})
    yield activity(context, names.RECORD_REQUEST, {"request": request})

    export = request["type"] == "export"
    phase = "exporting" if export else "planning" if request.get("dry_run") else "erasing"
    context.set_custom_status({"phase": phase, "due_at": request.get("due_at")})
    common = {
        "request_id": request_id,
        "projects": request["scope"]["projects"],
        "images": request["scope"].get("images"),
        "include": request["include"],
        "project_width": settings.get("project_width"),
        "page_width": settings.get("page_width"),
    }
    if export and request.get("formats"):
        common["formats"] = list(request["formats"])
    if not export:
        common["dry_run"] = bool(request.get("dry_run"))
        common["delete_affected_iterations"] = bool(request.get("delete_affected_iterations"))
    tasks = [
        context.call_sub_orchestrator(
            names.EXPORT_RESOURCE_ORCHESTRATOR if export else names.ERASE_RESOURCE_ORCHESTRATOR,
            {**common, "resource": resource},
            instance_id=names.resource_instance_id(request_id, resource),
        )
        for resource in _resources(request)
    ]
    # Sub-orchestrations report their failures in their results instead of raising, so one
    # unreachable resource does not hide what the others did.
    resource_results: list[dict[str, Any]] = list((yield context.task_all(tasks)))
    if "account" in request["include"]:
        if export:
            payload = {"request_id": request_id, "resources": _resources(request)}
            resource_results.append((yield activity(context, names.EXPORT_ACCOUNT, payload)))
        else:
            for result in resource_results:
                yield from _erase_account(context, request, result)

    context.set_custom_status({"phase": "finalizing", "due_at": request.get("due_at")})
    finalizing: c.Finalize = {"request": request, "started_at": started_at, "resources": resource_results}
    subject = (request.get("subject") or {}).get("reference")
    if not export and subject:
        # cvdsr's own earlier copies for this person go too (GDPR Art. 17/19): shared.erase.own_copies.
        copies: c.OwnCopies = {
            "request_id": request_id,
            "subject": subject,
            "ticket_system": (request.get("ticket") or {}).get("system"),
            "dry_run": bool(request.get("dry_run")),
        }
        finalizing["own_copies"] = yield activity(context, names.ERASE_OWN_COPIES, copies)
    return (yield activity(context, names.FINALIZE_EXPORT if export else names.FINALIZE_ERASE, finalizing))


def _resources(request: dict[str, Any]) -> list[str]:
    return [name.lower() for name in request["resources"]]


def _erase_account(context: OrchestrationContext, request: dict[str, Any], result: dict[str, Any]) -> Orchestration:
    """The account goes last, and only once everything inside it is verified gone."""
    if request.get("dry_run"):
        result["account"] = {"planned": True}
        return
    projects = result.get("projects", [])
    clean = not result.get("errors") and all(
        not p.get("errors") and all(check["passed"] for check in p.get("checks", [])) for p in projects
    )
    if not clean:
        result.setdefault("errors", []).append(
            {
                "kind": "account",
                "resource": result["resource"],
                "error": "account not deleted: the resource's contents were not verified gone",
            }
        )
        return
    result["account"] = yield activity(
        context, names.ERASE_ACCOUNT, {"request_id": request["request_id"], "resource": result["resource"]}
    )
