"""Every end is announced: a request that failed, was terminated or ran out of time still sends
``cvdsr.<type>.failed`` and leaves a manifest that says why, so no ticket waits forever.

- ``record_failure``: the request orchestrator caught an activity's final failure; it records it here
  and then sends the event itself.
- ``sweep``: the timer function ``dsr_sweep`` (``CVDSR_SWEEP_SCHEDULE``) finds what the orchestrator
  could not announce: requests terminated through the Durable API (nothing runs after a termination),
  orchestrations that failed outside any ``try``, and requests still running after
  ``CVDSR_REQUEST_TIMEOUT_HOURS`` (default 168), which it terminates first, their sub-orchestrations
  too. Each announcement leaves ``{request_id}/ended.json`` (created only once), so a request is
  announced by one sweep, however often the timer runs.
- ``remove_work``: the work blobs (the clear selector, the selected ids) go when the request ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from azure.core.exceptions import ResourceExistsError

from shared.connections import blob_service, results_container, setting
from shared.dsr_request import is_request_id
from shared.events.completion import deliver_outcome
from shared.intake import RUNNING, runtime_status, started_input
from shared.orchestration import names
from shared.results import layout
from shared.results.store import ResultStore, json_bytes
from shared.status import custom_status

logger = logging.getLogger(__name__)

FINAL = frozenset({"succeeded", "partially_succeeded", "failed"})
DEFAULT_TIMEOUT_HOURS = 168.0
DEFAULT_LOOKBACK_DAYS = 14.0
ENDED_STATES = ("Failed", "Terminated")


def failure_outcome(request: Mapping[str, Any], started_at: str | None, reason: str) -> dict[str, Any]:
    return {
        "request_id": request["request_id"],
        "type": request.get("type"),
        "status": "failed",
        "counts": {},
        "expected_counts": {},
        "errors": [{"kind": "orchestration", "error": reason[:500]}],
        "error_count": 1,
        "notes": [],
        "result": {"manifest": layout.manifest(request["request_id"]), "package": None},
        "started_at": started_at,
        "completed_at": datetime.now(UTC).isoformat(),
    }


async def record_failure(
    store: ResultStore, request: Mapping[str, Any], started_at: str | None, reason: str
) -> dict[str, Any]:
    """The failed outcome, and a manifest that says so unless the work already wrote a final one."""
    outcome = failure_outcome(request, started_at, reason)
    path = layout.manifest(request["request_id"])
    if not (await store.exists(path) and (await store.read_json(path)).get("status") in FINAL):
        await store.put_json(
            path,
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


async def remove_work(store: ResultStore, request_id: str) -> int:
    """Delete ``{request_id}/work/``; returns how many blobs went. Safe to repeat."""
    removed = 0
    async for blob in store.container.list_blobs(name_starts_with=layout.work_prefix(request_id)):
        try:
            await store.container.delete_blob(blob.name)
            removed += 1
        except Exception as error:  # gone already (a re-run): the goal holds
            if "BlobNotFound" not in str(error):
                raise
    return removed


class SweepClient(Protocol):
    """What the sweeper needs of ``DurableOrchestrationClient``."""

    async def get_status_by(
        self, created_time_from: Any = None, created_time_to: Any = None, runtime_status: Any = None
    ) -> list[Any]: ...

    async def get_status(self, instance_id: str, *, show_input: bool = False) -> Any: ...

    async def terminate(self, instance_id: str, reason: str) -> Any: ...


async def sweep(
    client: SweepClient, environ: Mapping[str, str] | None = None, *, now: datetime | None = None
) -> dict[str, int]:
    """One pass: terminate what ran out of time, announce what ended unannounced. Returns counts."""
    import azure.durable_functions as df

    now = now or datetime.now(UTC)
    timeout = timedelta(hours=_number("CVDSR_REQUEST_TIMEOUT_HOURS", DEFAULT_TIMEOUT_HOURS, environ))
    lookback = timedelta(days=_number("CVDSR_SWEEP_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS, environ))
    counts = {"timed_out": 0, "announced": 0}
    running = await client.get_status_by(
        created_time_from=now - lookback,
        created_time_to=now - timeout,
        runtime_status=[df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending],
    )
    for status in running:
        if is_request_id(status.instance_id):
            await _time_out(client, status.instance_id, timeout)
            counts["timed_out"] += 1
    ended = await client.get_status_by(
        created_time_from=now - lookback,
        runtime_status=[df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated],
    )
    async with blob_service(environ) as service:
        store = ResultStore(results_container(service, environ))
        for status in ended:
            if is_request_id(status.instance_id) and await _announce(client, store, status.instance_id, environ):
                counts["announced"] += 1
    return counts


async def _time_out(client: SweepClient, request_id: str, limit: timedelta) -> None:
    """Terminate the request first (it starts nothing after), then what it had running below it."""
    hours = limit.total_seconds() / 3600
    reason = f"timed out: the request did not finish within {hours:g} hours"
    logger.warning("request %s %s; terminating it", request_id, reason)
    started = started_input(await client.get_status(request_id, show_input=True))
    await client.terminate(request_id, reason)
    for resource in (started.get("request") or {}).get("resources", []):
        resource_instance = names.resource_instance_id(request_id, str(resource).lower())
        child = await client.get_status(resource_instance)
        for project_id in custom_status(child).get("running", []):
            project_instance = names.project_instance_id(resource_instance, str(project_id))
            if runtime_status(await client.get_status(project_instance)) in RUNNING:
                await client.terminate(project_instance, reason)
        if runtime_status(child) in RUNNING:
            await client.terminate(resource_instance, reason)


async def _announce(
    client: SweepClient, store: ResultStore, request_id: str, environ: Mapping[str, str] | None
) -> bool:
    marker = layout.ended(request_id)
    if await store.exists(marker):
        return False
    status = await client.get_status(request_id, show_input=True)
    state = runtime_status(status) or "unknown"
    request = started_input(status).get("request")
    if not isinstance(request, dict) or "request_id" not in request:
        return False  # not a request orchestration of this app
    output = getattr(status, "output", None)
    reason = f"the request ended as {state}" + (f": {output}" if isinstance(output, str) and output else "")
    created = getattr(status, "created_time", None)
    outcome = await record_failure(store, request, created.isoformat() if created else None, reason)
    delivery = await deliver_outcome(request, outcome, environ)
    await remove_work(store, request_id)
    try:
        body = json_bytes({"request_id": request_id, "runtime_status": state, "delivery": delivery})
        await store.container.upload_blob(marker, body, overwrite=False)
    except ResourceExistsError:  # another sweep got here at the same time: at least once, as documented
        pass
    logger.info("request %s ended as %s; announced as failed", request_id, state)
    return True


def _number(name: str, default: float, environ: Mapping[str, str] | None) -> float:
    value = setting(name, environ=environ)
    try:
        number = float(value) if value is not None else default
    except ValueError:
        number = 0
    if number <= 0:
        logger.warning("%s must be a positive number; using %g", name, default)
        return default
    return number
