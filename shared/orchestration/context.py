"""The subset of the Durable orchestration context the orchestration code uses, as a Protocol, so the
generators are typed without depending on the (untyped) library's classes."""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any, Protocol

import azure.durable_functions as df

from . import names

# A Durable task: what an orchestrator yields. The library's classes are untyped.
Task = Any
Orchestration = Generator[Task, Any, Any]

# Activities call external services: retry transient failures a few times, with backoff, before the
# orchestrator sees them. (The activities' own client already retried each HTTP call.)
ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
ACTIVITY_RETRY.backoff_coefficient = 2.0
ACTIVITY_RETRY.max_retry_interval_in_milliseconds = 60_000


class OrchestrationContext(Protocol):
    instance_id: str
    is_replaying: bool

    @property
    def current_utc_datetime(self) -> datetime: ...

    def get_input(self) -> Any: ...

    def call_activity(self, name: str, input_: Any = None) -> Task: ...

    def call_activity_with_retry(self, name: str, retry_options: Any, input_: Any = None) -> Task: ...

    def call_sub_orchestrator(self, name: str, input_: Any = None, instance_id: str | None = None) -> Task: ...

    def task_all(self, activities: list[Task]) -> Task: ...

    def create_timer(self, fire_at: datetime) -> Task: ...

    def set_custom_status(self, status: Any) -> None: ...


def failure_reason(error: BaseException) -> str:
    """A failed activity's reason, without its stack. The extension reports a failure as
    "Activity function 'x' failed: Result: Failure / Exception: <message> / Stack: ..."; keep the
    function and the exception's message (the client's messages hold no secrets), bounded."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    message = next((line.removeprefix("Exception: ") for line in lines if line.startswith("Exception: ")), None)
    if message is None:
        return lines[0][:500]
    where = lines[0].split(" failed:", 1)[0]
    return f"{where} failed: {message}"[:500]


def activity(context: OrchestrationContext, name: str, payload: Any) -> Task:
    return context.call_activity_with_retry(name, ACTIVITY_RETRY, payload)


def in_batches(context: OrchestrationContext, tasks: list[tuple[str, Any]], width: int) -> Orchestration:
    """Run activities ``width`` at a time; returns their results in order.

    A bounded width keeps the fan-out within the API's rate limit instead of scheduling thousands of
    activities that would all wait on 429s.
    """
    results: list[Any] = []
    for start in range(0, len(tasks), max(1, width)):
        batch = [activity(context, name, payload) for name, payload in tasks[start : start + max(1, width)]]
        results.extend((yield context.task_all(batch)))
    return results


def over_projects(context: OrchestrationContext, project_orchestrator: str, phase: str) -> Orchestration:
    """List the projects of one resource in scope, then run ``project_orchestrator`` for each,
    ``project_width`` at a time (sub-orchestrations ``{instance}:{project_id}``).

    Never fails: a resource that cannot be listed comes back with the reason in ``errors``. Returns
    ``resource``, ``projects`` (the sub-orchestrations' results), ``missing_projects`` (listed in the
    request but not in the resource) and ``errors``.
    """
    task = context.get_input()
    resource = task["resource"]
    try:
        listing = yield activity(
            context,
            names.LIST_PROJECTS,
            {"request_id": task["request_id"], "resource": resource, "projects": task["projects"]},
        )
    except Exception as error:  # the listing failed after its retries
        return {
            "resource": resource,
            "projects": [],
            "missing_projects": [],
            "errors": [{"kind": "resource", "resource": resource, "error": failure_reason(error)}],
        }
    project_ids: list[str] = listing["project_ids"]
    width = int(task.get("project_width") or 2)
    summaries: list[Any] = []
    for start in range(0, len(project_ids), width):
        batch = [
            context.call_sub_orchestrator(
                project_orchestrator,
                {**task, "project_id": project_id},
                instance_id=f"{context.instance_id}:{project_id}",
            )
            for project_id in project_ids[start : start + width]
        ]
        summaries.extend((yield context.task_all(batch)))
        context.set_custom_status({"phase": phase, "projects_done": len(summaries), "projects": len(project_ids)})
    return {"resource": resource, "projects": summaries, "missing_projects": listing["missing"], "errors": []}
