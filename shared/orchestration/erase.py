"""Erase orchestration: request → resources → projects → ordered, idempotent steps → read-back."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from shared import contracts as c
from shared.catalogue import EraseStep
from shared.customvision import MAX_IMAGE_IDS

from . import names
from .context import Orchestration, OrchestrationContext, activity, failure_reason, in_batches, over_projects

# Background image deletion: poll after 1 s, then twice as long each time up to 15 s; after 15 minutes
# the read-back reports what is left. Small projects are done at the first or second poll, large ones
# are not polled (an API call each) every few seconds for minutes.
FIRST_POLL_SECONDS = 1
MAX_POLL_SECONDS = 15
MAX_WAIT_SECONDS = 15 * 60


def erase_resource(context: OrchestrationContext) -> Orchestration:
    """Every project in scope. A listed project that does not exist is already erased: it is reported
    in ``missing_projects``, not as a failure."""
    return (yield from over_projects(context, names.ERASE_PROJECT_ORCHESTRATOR, "erasing"))


def erase_project(context: OrchestrationContext) -> Orchestration:
    task = context.get_input()
    summary: dict[str, Any] = {
        "resource": task["resource"],
        "project_id": task["project_id"],
        "plan": None,
        "steps": [],
        "checks": [],
        "errors": [],
    }
    try:
        return (yield from _erase_project(context, task, summary))
    except Exception as error:  # a step failed after its retries: report, then let the read-back speak
        summary["errors"].append({"kind": "project", "project_id": task["project_id"], "error": failure_reason(error)})
        return summary


def _erase_project(context: OrchestrationContext, task: dict[str, Any], summary: dict[str, Any]) -> Orchestration:
    """The plan, then the whole project's steps or a data subject's images', then the read-back."""
    run = _ProjectErase(context, task, summary)
    run.show(step="plan")
    plan = yield activity(context, names.ERASE_PLAN_PROJECT, {**run.base, "selector": task.get("images")})
    summary["plan"] = plan
    if plan["exists"] and not task.get("dry_run"):
        yield from (run.whole_project(plan) if plan["mode"] == "project" else run.selected_images(plan))
    run.show(step="done")
    return summary


class _ProjectErase:
    """One project's erase as it goes: each step shown as under way, run, and recorded with its time."""

    def __init__(self, context: OrchestrationContext, task: dict[str, Any], summary: dict[str, Any]) -> None:
        self.context = context
        self.task = task
        self.summary = summary
        self.base: c.OnProject = {
            "request_id": task["request_id"],
            "resource": task["resource"],
            "project_id": task["project_id"],
        }

    def show(self, **position: Any) -> None:
        """Progress for ``GET /api/requests/{id}``: the step under way and the steps finished so far."""
        done = [entry["step"] for entry in self.summary["steps"]]
        self.context.set_custom_status({"project_id": self.task["project_id"], "steps_done": done, **position})

    def record(self, name: str, result: Any) -> None:
        self.summary["steps"].append(
            {"step": name, "at": self.context.current_utc_datetime.isoformat(), "result": result}
        )

    def run(self, name: str, work: Any) -> Orchestration:
        """One step: shown as under way, run (a task, or a generator of tasks), its result recorded."""
        self.show(step=name)
        result = (yield from work) if isinstance(work, Generator) else (yield work)
        self.record(name, result)
        return result

    def step(self, name: EraseStep, function: str, **payload: Any) -> Orchestration:
        return self.run(name, activity(self.context, function, {**self.base, **payload}))

    def whole_project(self, plan: dict[str, Any]) -> Orchestration:
        """In the order the API accepts: nothing published, images, predictions, tags, iterations, project."""
        if plan["published_iterations"]:
            yield from self.step(EraseStep.UNPUBLISH, names.ERASE_UNPUBLISH, iteration_ids=plan["published_iterations"])
        yield from self.step(EraseStep.DELETE_IMAGES, names.ERASE_ALL_IMAGES)
        waiting = _wait_for_images(self.context, self.base, None, plan["trained_iterations"])
        yield from self.run(EraseStep.WAIT_FOR_IMAGES, waiting)
        if "predictions" in self.task["include"]:
            yield from self.run(EraseStep.DELETE_PREDICTIONS, _delete_predictions(self.context, self.base))
        yield from self.step(EraseStep.DELETE_TAGS, names.ERASE_TAGS)
        yield from self.step(EraseStep.DELETE_ITERATIONS, names.ERASE_ITERATIONS, iteration_ids=None)
        yield from self.step(EraseStep.DELETE_PROJECT, names.ERASE_PROJECT)
        self.show(step=EraseStep.VERIFY)
        verify: c.VerifyProject = {**self.base, "mode": "project"}
        self.summary["checks"] = yield activity(self.context, names.ERASE_VERIFY, verify)

    def selected_images(self, plan: dict[str, Any]) -> Orchestration:
        """A data subject's images in batches of ids (every iteration too), the wait for background
        deletion, the affected iterations when asked, then the read-back of those ids."""
        ids_path = plan["ids_path"]
        batches = (int(plan["images"]) + MAX_IMAGE_IDS - 1) // MAX_IMAGE_IDS
        tasks = [(names.ERASE_IMAGE_BATCH, {**self.base, "ids_path": ids_path, "batch": n}) for n in range(batches)]
        done = 0

        def batch_done(_index: int, _result: Any) -> None:
            nonlocal done
            done += 1
            self.show(step=EraseStep.DELETE_IMAGES, batches=batches, batches_done=done)

        self.show(step=EraseStep.DELETE_IMAGES, batches=batches, batches_done=0)
        results = yield from in_batches(self.context, tasks, int(self.task.get("page_width") or 4), batch_done)
        self.record(EraseStep.DELETE_IMAGES, {"requested": sum(r["requested"] for r in results), "batches": batches})
        waiting = _wait_for_images(self.context, self.base, ids_path, plan["trained_iterations"])
        yield from self.run(EraseStep.WAIT_FOR_IMAGES, waiting)
        deleted_iterations: list[str] = []
        if self.task.get("delete_affected_iterations") and plan["affected_iterations"]:
            deleted_iterations = plan["affected_iterations"]
            yield from self.step(EraseStep.DELETE_ITERATIONS, names.ERASE_ITERATIONS, iteration_ids=deleted_iterations)
        self.show(step=EraseStep.VERIFY)
        verify: c.VerifyImages = {
            **self.base,
            "mode": "images",
            "ids_path": ids_path,
            "iteration_ids": plan["trained_iterations"],
            "deleted_iterations": deleted_iterations,
        }
        self.summary["checks"] = yield activity(self.context, names.ERASE_VERIFY, verify)


def _wait_for_images(
    context: OrchestrationContext, base: c.OnProject, ids_path: str | None, iteration_ids: list[str]
) -> Orchestration:
    """Poll with durable timers (no activity sleeps) until the background deletion is done."""
    deadline = context.current_utc_datetime + timedelta(seconds=MAX_WAIT_SECONDS)
    polls = 0
    interval = FIRST_POLL_SECONDS
    while True:
        remaining: c.RemainingImages = {**base, "ids_path": ids_path, "iteration_ids": iteration_ids}
        result = yield activity(context, names.ERASE_REMAINING_IMAGES, remaining)
        polls += 1
        if result["remaining"] == 0 or context.current_utc_datetime >= deadline:
            return {"remaining": result["remaining"], "polls": polls}
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=interval))
        interval = min(2 * interval, MAX_POLL_SECONDS)


def _delete_predictions(context: OrchestrationContext, base: c.OnProject) -> Orchestration:
    deleted = 0
    while True:
        result = yield activity(context, names.ERASE_PREDICTIONS, base)
        deleted += int(result["deleted"])
        if not result["more"]:
            return {"deleted": deleted}
