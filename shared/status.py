"""``GET /api/requests/{request_id}`` and ``cvdsr status``: what a request is doing (README "Status").

The request's own orchestration knows its phase; the counts live further down, in the custom status
of the per-resource orchestrations (projects done, counts of finished projects, which projects run)
and of the projects running now (step, pages done of how many, counts so far). While a request runs,
``read`` asks those few instances too: at most one per resource plus the projects in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared import deadlines
from shared.instances import RUNNING, StatusClient, custom_status, runtime_status, started_input
from shared.orchestration import names
from shared.results import layout

logger = logging.getLogger(__name__)

WORK_PHASES = frozenset({"exporting", "erasing", "planning"})
# A request may name many resources, each running up to its project width: the extension is asked
# a few at a time, not hundreds at once for one status read.
MAX_CONCURRENT_READS = 8


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def describe(request_id: str, status: Any, extensions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any] | None:
    """The status document, or None when no such request exists. Paths only, no links or secrets.
    The deadline (``due_at``, ``days_left``, ``extended``) counts the request's ``extensions``."""
    state = runtime_status(status)
    if state is None:
        return None
    custom = custom_status(status)
    output = getattr(status, "output", None)
    request = _request(status)
    document: dict[str, Any] = {
        "request_id": request_id,
        "runtime_status": state,
        "phase": custom.get("phase"),
        "progress": custom,
        "type": request.get("type"),
        **deadlines.clock(request, extensions, _ended_at(output) or datetime.now(UTC)),
        "created_at": _iso(getattr(status, "created_time", None)),
        "updated_at": _iso(getattr(status, "last_updated_time", None)),
    }
    if isinstance(output, dict):
        document["status"] = output.get("status")
        document["counts"] = output.get("counts")
        document["result"] = output.get("result")
    document.setdefault("result", {"manifest": layout.manifest(request_id)})
    return document


def _ended_at(output: Any) -> datetime | None:
    """When a finished request ended (its outcome's ``completed_at``): its days left are counted to then."""
    return deadlines.instant(output.get("completed_at")) if isinstance(output, dict) else None


async def read(
    client: StatusClient, request_id: str, extensions: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any] | None:
    """The status document of a request (None: no such request), with per-resource progress while
    it works. Raises when the request's own status cannot be read (the caller answers 503)."""
    status = await client.get_status(request_id, show_input=True)
    document = describe(request_id, status, extensions)
    if document is None or document["runtime_status"] not in RUNNING or document["phase"] not in WORK_PHASES:
        return document
    resources = [str(name).lower() for name in _request(status).get("resources", [])]
    reads = asyncio.Semaphore(MAX_CONCURRENT_READS)

    async def get_status(instance_id: str) -> Any:
        async with reads:
            return await client.get_status(instance_id)

    try:
        document["progress"]["resources"] = list(
            await asyncio.gather(*(_resource_progress(get_status, request_id, resource) for resource in resources))
        )
    except Exception as error:  # progress is a courtesy: the phase alone is still a good answer
        logger.warning("progress of %s unavailable: %s", request_id, type(error).__name__)
    return document


async def _resource_progress(
    get_status: Callable[[str], Awaitable[Any]], request_id: str, resource: str
) -> dict[str, Any]:
    resource_instance = names.resource_instance_id(request_id, resource)
    instance = await get_status(resource_instance)
    custom = custom_status(instance)
    running = [str(project_id) for project_id in custom.get("running", [])]
    projects = await asyncio.gather(
        *(get_status(names.project_instance_id(resource_instance, project_id)) for project_id in running)
    )
    return {
        "resource": resource,
        "runtime_status": runtime_status(instance),
        "projects": custom.get("projects"),
        "projects_done": custom.get("projects_done", 0),
        "done": custom.get("done", {}),
        "running": [
            {"project_id": project_id, **custom_status(status)}
            for project_id, status in zip(running, projects, strict=True)
        ],
    }


def _request(status: Any) -> dict[str, Any]:
    """The request the orchestration was started with."""
    request = started_input(status).get("request")
    return request if isinstance(request, dict) else {}


def summary(document: dict[str, Any]) -> str:
    """One line for a terminal: the phase, then per resource the projects done and where the running
    ones are, e.g. ``exporting; demo: 1/2 projects, 3f2a9c1e images 3/5 pages``."""
    parts = [str(document.get("phase") or document.get("runtime_status"))]
    for resource in (document.get("progress") or {}).get("resources", []):
        running = []
        for project in resource.get("running", []):
            where = f"{str(project.get('project_id'))[:8]} {project.get('step') or '…'}"
            if "pages" in project:
                where += f" {project.get('pages_done', 0)}/{project['pages']} pages"
            running.append(where)
        total = resource.get("projects")
        parts.append(
            f"{resource.get('resource')}: {resource.get('projects_done', 0)}/{'?' if total is None else total} projects"
            + "".join(f", {where}" for where in running)
        )
    return "; ".join(parts)
