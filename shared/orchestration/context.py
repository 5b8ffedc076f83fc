"""The subset of the Durable orchestration context the orchestration code uses, as a Protocol, so the
generators are typed without depending on the (untyped) library's classes."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from . import names

# A Durable task: what an orchestrator yields. The library's classes are untyped.
Task = Any
Orchestration = Generator[Task, Any, Any]


class _RetryOptions(df.RetryOptions):  # type: ignore[misc]
    """``df.RetryOptions`` that sends its backoff. The 1.x library serialises only the first interval
    and the attempts, so a backoff set on it never reaches the extension's retry interceptor, which
    reads ``backoffCoefficient`` and ``maxRetryIntervalInMilliseconds`` from the action."""

    def __init__(self, first_ms: int, attempts: int, *, backoff: float, max_interval_ms: int) -> None:
        super().__init__(first_retry_interval_in_milliseconds=first_ms, max_number_of_attempts=attempts)
        self.backoff_coefficient = backoff
        self.max_retry_interval_in_milliseconds = max_interval_ms

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = dict(super().to_json())
        document["backoffCoefficient"] = self.backoff_coefficient
        document["maxRetryIntervalInMilliseconds"] = self.max_retry_interval_in_milliseconds
        return document


# Activities call external services: retry transient failures a few times, with backoff, before the
# orchestrator sees them. (The activities' own client already retried each HTTP call.)
ACTIVITY_RETRY = _RetryOptions(5_000, 4, backoff=2.0, max_interval_ms=60_000)


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

    def task_any(self, activities: list[Task]) -> Task: ...

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


def in_window(
    context: OrchestrationContext,
    starters: Sequence[Callable[[], Task]],
    width: int,
    on_result: Callable[[int, Any], None] | None = None,
) -> Orchestration:
    """Run tasks with at most ``width`` in flight, starting the next as soon as any one finishes;
    returns their results in order. ``on_result(index, result)`` is called as each one finishes.

    A sliding window suits work of uneven size (projects: one may hold 100,000 images, the next ten).
    Only for tasks without a retry policy: with the 1.x Python SDK, a ``task_any`` over ``*_with_retry``
    tasks followed by new work can leave the orchestration waiting forever (retry attempts and new
    tasks get out of step on event ids; azure-functions-durable-python#603, closed as won't fix).
    Retried activities go through ``in_batches``. A task that fails fails the window, as ``task_all``
    would, once it is the first to finish.
    """
    width = max(1, width)
    results: list[Any] = [None] * len(starters)
    running: dict[int, Task] = {}
    started = 0
    while started < len(starters) or running:
        while started < len(starters) and len(running) < width:
            running[started] = starters[started]()
            started += 1
        winner = yield context.task_any(list(running.values()))
        # WhenAny completes with the winning task itself, whatever its outcome.
        index = next(index for index, task in running.items() if task is winner)
        del running[index]
        if winner.state is TaskState.FAILED:
            raise winner.result
        results[index] = winner.result
        if on_result is not None:
            on_result(index, winner.result)
    return results


def in_batches(
    context: OrchestrationContext,
    tasks: list[tuple[str, Any]],
    width: int,
    on_result: Callable[[int, Any], None] | None = None,
) -> Orchestration:
    """Run activities (with ``ACTIVITY_RETRY``) ``width`` at a time; returns their results in order.
    ``on_result(index, result)`` is called for each once its batch is done.

    A bounded width keeps the fan-out within the API's rate limit instead of scheduling thousands of
    activities that would all wait on 429s. Fixed batches, not a window: see ``in_window`` on retries.
    Pages of one listing are alike in size, so a batch rarely waits long for its slowest page.
    """
    width = max(1, width)
    results: list[Any] = []
    for start in range(0, len(tasks), width):
        batch = [activity(context, name, payload) for name, payload in tasks[start : start + width]]
        for offset, result in enumerate((yield context.task_all(batch))):
            results.append(result)
            if on_result is not None:
                on_result(start + offset, result)
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
        listing = {"refused": failure_reason(error)}
    if "refused" in listing:  # or at once: the key was refused (no retry makes it right)
        return {
            "resource": resource,
            "projects": [],
            "missing_projects": [],
            "errors": [{"kind": "resource", "resource": resource, "error": listing["refused"]}],
        }
    project_ids: list[str] = listing["project_ids"]
    progress = _ProjectsProgress(context, phase, len(project_ids))

    def start(index: int, project_id: str) -> Task:
        progress.started(index, project_id)
        return context.call_sub_orchestrator(
            project_orchestrator,
            {**task, "project_id": project_id},
            instance_id=names.project_instance_id(context.instance_id, project_id),
        )

    starters = [partial(start, index, project_id) for index, project_id in enumerate(project_ids)]
    progress.show()
    summaries = yield from in_window(context, starters, int(task.get("project_width") or 2), progress.finished)
    return {"resource": resource, "projects": summaries, "missing_projects": listing["missing"], "errors": []}


class _ProjectsProgress:
    """A resource's progress for ``GET /api/requests/{id}``: the projects running now (at most the
    width, so the status reader knows which project orchestrations to ask) and the counts of those
    finished."""

    def __init__(self, context: OrchestrationContext, phase: str, projects: int) -> None:
        self.context = context
        self.phase = phase
        self.projects = projects
        self.running: dict[int, str] = {}
        self.done: dict[str, int] = {}
        self.finished_count = 0

    def show(self) -> None:
        self.context.set_custom_status(
            {
                "phase": self.phase,
                "projects": self.projects,
                "projects_done": self.finished_count,
                "running": list(self.running.values()),
                "done": dict(self.done),
            }
        )

    def started(self, index: int, project_id: str) -> None:
        self.running[index] = project_id
        self.show()

    def finished(self, index: int, summary: Any) -> None:
        self.finished_count += 1
        del self.running[index]
        for kind, count in (summary.get("exported") or {}).items():
            self.done[kind] = self.done.get(kind, 0) + int(count)
        self.show()
