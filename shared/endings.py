"""Every end is announced: a request that failed, was terminated or ran out of time still sends
``cvdsr.<type>.failed`` (or, when its results were written before it broke, the outcome its manifest
records) and leaves a manifest that says why, so no ticket waits forever.

- ``record_failure``: the request orchestrator caught an activity's final failure; it records it here
  and then sends the event itself.
- ``sweep``: the timer function ``dsr_sweep`` (``CVDSR_SWEEP_SCHEDULE``) walks the open requests
  (``shared.claims``) and settles what the orchestrator could not: requests terminated through the
  Durable API (nothing runs after a termination, and it does not reach sub-orchestrations, so their
  children are stopped here), orchestrations that failed outside any ``try``, requests still running
  after ``CVDSR_REQUEST_TIMEOUT_HOURS`` (default 168), which it terminates with their children, and
  requests that never started. Each announcement leaves ``{request_id}/ended.json`` (created once).
  A running request is reminded of its due date (``cvdsr.request.due_soon`` / ``overdue``).
- ``remove_work``: the work blobs (the clear selector, the selected ids) go when the request ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared import claims
from shared.connections import blob_service, results_container
from shared.events import lifecycle
from shared.events.completion import deliver_outcome
from shared.instances import RUNNING, DurableClient, custom_status, runtime_status, started_input
from shared.orchestration import names
from shared.outcomes import failure_outcome, final_status, from_manifest
from shared.results import layout
from shared.results.store import ResultStore, json_bytes
from shared.settings import app_settings

logger = logging.getLogger(__name__)

# An open request with no orchestration this long after intake never started (the start failed and
# nobody delivered it again): its work blobs, which hold the person's values, go.
NEVER_STARTED = timedelta(hours=1)


async def record_failure(
    store: ResultStore, request: Mapping[str, Any], started_at: str | None, reason: str
) -> dict[str, Any]:
    """The failed outcome, and a manifest that says so unless the work already wrote a final one."""
    outcome = failure_outcome(request, started_at, reason)
    if await final_status(store, request["request_id"]) is None:
        await store.put_json(
            layout.manifest(request["request_id"]),
            {
                "manifest_version": 1,
                "request_id": request["request_id"],
                "type": request.get("type"),
                "status": "failed",
                "errors": outcome["errors"],
                "started_at": started_at,
                "completed_at": outcome["completed_at"],
            },
        )
    return outcome


async def remove_work(
    service: BlobServiceClient, store: ResultStore, request_id: str, environ: Mapping[str, str] | None = None
) -> int:
    """Delete ``{request_id}/work/`` and close the request; returns how many blobs went. Safe to repeat."""
    removed = 0
    async for blob in store.container.list_blobs(name_starts_with=layout.work_prefix(request_id)):
        try:
            await store.container.delete_blob(blob.name)
            removed += 1
        except ResourceNotFoundError:  # gone already (a re-run): the goal holds
            pass
    await lifecycle.forget(service, request_id, environ)
    await claims.mark_closed(service, request_id, environ)
    return removed


async def sweep(
    client: DurableClient, environ: Mapping[str, str] | None = None, *, now: datetime | None = None
) -> dict[str, int]:
    """One pass over the open requests; returns what it did, by kind."""
    now = now or datetime.now(UTC)
    limit = timedelta(hours=app_settings(environ).request_timeout_hours)
    counts = {"timed_out": 0, "announced": 0, "closed": 0, "reminded": 0}
    async with blob_service(environ) as service:
        store = ResultStore(results_container(service, environ))
        async for request_id, since in claims.open_requests(service, environ):
            status = await client.get_status(request_id, show_input=True)
            state = runtime_status(status)
            if state is None:
                # Closed first, and only if no redelivery opened it again meanwhile; then its work goes.
                if now - since > NEVER_STARTED and await claims.close_if_unchanged(service, request_id, since, environ):
                    await remove_work(service, store, request_id, environ)
                    counts["closed"] += 1
            elif state in RUNNING:
                created = getattr(status, "created_time", None) or since
                if now - created > limit:
                    await _time_out(client, request_id, status, limit)
                    counts["timed_out"] += 1
                elif await _remind(service, status, now, environ):
                    counts["reminded"] += 1
            elif state in ("Failed", "Terminated", "Canceled"):
                await stop_children(client, request_id, status, f"the request ended as {state}")
                counts["announced"] += int(await _announce(store, request_id, status, environ))
                await remove_work(service, store, request_id, environ)
            else:  # Completed: the orchestrator announced it; only its clean-up may be left
                await remove_work(service, store, request_id, environ)
                counts["closed"] += 1
    return counts


async def _remind(service: BlobServiceClient, status: Any, now: datetime, environ: Mapping[str, str] | None) -> bool:
    """A running request's due-soon or overdue event, once per due date (``shared.events.lifecycle``)."""
    request = started_input(status).get("request")
    if not isinstance(request, dict) or "request_id" not in request:
        return False  # not a request orchestration of this app
    return await lifecycle.remind(service, request, now, environ) is not None


async def _time_out(client: DurableClient, request_id: str, status: Any, limit: timedelta) -> None:
    """Terminate the request first (it starts nothing after), then what runs below it. The next pass
    announces it, as any terminated request."""
    reason = f"timed out: the request did not finish within {limit.total_seconds() / 3600:g} hours"
    logger.warning("request %s %s; terminating it", request_id, reason)
    await client.terminate(request_id, reason)
    await stop_children(client, request_id, status, reason)


async def stop_children(client: DurableClient, request_id: str, status: Any, reason: str) -> None:
    """Terminate the request's resource orchestrations, then the projects each had running: a
    terminated resource starts no further project, so the list read after it is complete."""
    for resource in (started_input(status).get("request") or {}).get("resources", []):
        resource_instance = names.resource_instance_id(request_id, str(resource).lower())
        if runtime_status(await client.get_status(resource_instance)) in RUNNING:
            await client.terminate(resource_instance, reason)
        for project_id in custom_status(await client.get_status(resource_instance)).get("running", []):
            project_instance = names.project_instance_id(resource_instance, str(project_id))
            if runtime_status(await client.get_status(project_instance)) in RUNNING:
                await client.terminate(project_instance, reason)


async def _announce(store: ResultStore, request_id: str, status: Any, environ: Mapping[str, str] | None) -> bool:
    """Send the request's end once: what its manifest records if its results were written (it broke
    while announcing), else a failure with the runtime's reason."""
    marker = layout.ended(request_id)
    if await store.exists(marker):
        return False
    request = started_input(status).get("request")
    if not isinstance(request, dict) or "request_id" not in request:
        return False  # not a request orchestration of this app
    state = runtime_status(status) or "unknown"
    outcome = await from_manifest(store, request_id)
    if outcome is None:
        output = getattr(status, "output", None)
        detail = str(output).strip().splitlines()[0][:300] if output else ""
        reason = f"the request ended as {state}" + (f": {detail}" if detail else "")
        created = getattr(status, "created_time", None)
        outcome = await record_failure(store, request, created.isoformat() if created else None, reason)
    delivery = await deliver_outcome(request, outcome, environ)
    try:
        body = json_bytes({"request_id": request_id, "runtime_status": state, "delivery": delivery})
        await store.container.upload_blob(marker, body, overwrite=False)
    except ResourceExistsError:  # another sweep got here at the same time: at least once, as documented
        pass
    logger.info("request %s ended as %s; announced as %s", request_id, state, outcome["status"])
    return True
