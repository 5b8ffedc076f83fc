"""Erase orchestration: request → resources → projects → ordered, idempotent steps → read-back."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

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
    base = {"request_id": task["request_id"], "resource": task["resource"], "project_id": task["project_id"]}

    def show(**position: Any) -> None:
        """Progress for ``GET /api/requests/{id}``: the step under way and the steps finished so far."""
        done = [entry["step"] for entry in summary["steps"]]
        context.set_custom_status({"project_id": task["project_id"], "steps_done": done, **position})

    def record(name: str, result: Any) -> None:
        summary["steps"].append({"step": name, "at": context.current_utc_datetime.isoformat(), "result": result})

    def run(name: str, work: Any) -> Orchestration:
        """One step: shown as under way, run (a task, or a generator of tasks), its result recorded."""
        show(step=name)
        result = (yield from work) if isinstance(work, Generator) else (yield work)
        record(name, result)
        return result

    show(step="plan")
    selector = task.get("images")
    plan = yield activity(context, names.ERASE_PLAN_PROJECT, {**base, "selector": selector})
    summary["plan"] = plan
    if not plan["exists"] or task.get("dry_run"):
        show(step="done")
        return summary

    if plan["mode"] == "project":
        if plan["published_iterations"]:
            unpublish = {**base, "iteration_ids": plan["published_iterations"]}
            yield from run(EraseStep.UNPUBLISH, activity(context, names.ERASE_UNPUBLISH, unpublish))
        yield from run(EraseStep.DELETE_IMAGES, activity(context, names.ERASE_ALL_IMAGES, base))
        yield from run(EraseStep.WAIT_FOR_IMAGES, _wait_for_images(context, base, None, plan["trained_iterations"]))
        if "predictions" in task["include"]:
            yield from run(EraseStep.DELETE_PREDICTIONS, _delete_predictions(context, base))
        yield from run(EraseStep.DELETE_TAGS, activity(context, names.ERASE_TAGS, base))
        all_iterations = {**base, "iteration_ids": None}
        yield from run(EraseStep.DELETE_ITERATIONS, activity(context, names.ERASE_ITERATIONS, all_iterations))
        yield from run(EraseStep.DELETE_PROJECT, activity(context, names.ERASE_PROJECT, base))
        show(step=EraseStep.VERIFY)
        summary["checks"] = yield activity(context, names.ERASE_VERIFY, {**base, "mode": "project"})
        show(step="done")
        return summary

    ids_path = plan["ids_path"]
    batches = (int(plan["images"]) + MAX_IMAGE_IDS - 1) // MAX_IMAGE_IDS
    tasks = [(names.ERASE_IMAGE_BATCH, {**base, "ids_path": ids_path, "batch": n}) for n in range(batches)]
    batches_done = 0

    def batch_done(_index: int, _result: Any) -> None:
        nonlocal batches_done
        batches_done += 1
        show(step=EraseStep.DELETE_IMAGES, batches=batches, batches_done=batches_done)

    show(step=EraseStep.DELETE_IMAGES, batches=batches, batches_done=0)
    results = yield from in_batches(context, tasks, int(task.get("page_width") or 4), batch_done)
    record(EraseStep.DELETE_IMAGES, {"requested": sum(r["requested"] for r in results), "batches": batches})
    yield from run(EraseStep.WAIT_FOR_IMAGES, _wait_for_images(context, base, ids_path, plan["trained_iterations"]))
    deleted_iterations: list[str] = []
    if task.get("delete_affected_iterations") and plan["affected_iterations"]:
        deleted_iterations = plan["affected_iterations"]
        affected = {**base, "iteration_ids": deleted_iterations}
        yield from run(EraseStep.DELETE_ITERATIONS, activity(context, names.ERASE_ITERATIONS, affected))
    show(step=EraseStep.VERIFY)
    summary["checks"] = yield activity(
        context,
        names.ERASE_VERIFY,
        {
            **base,
            "mode": "images",
            "ids_path": ids_path,
            "iteration_ids": plan["trained_iterations"],
            "deleted_iterations": deleted_iterations,
        },
    )
    show(step="done")
    return summary


def _wait_for_images(
    context: OrchestrationContext, base: dict[str, Any], ids_path: str | None, iteration_ids: list[str]
) -> Orchestration:
    """Poll with durable timers (no activity sleeps) until the background deletion is done."""
    deadline = context.current_utc_datetime + timedelta(seconds=MAX_WAIT_SECONDS)
    polls = 0
    interval = FIRST_POLL_SECONDS
    while True:
        result = yield activity(
            context, names.ERASE_REMAINING_IMAGES, {**base, "ids_path": ids_path, "iteration_ids": iteration_ids}
        )
        polls += 1
        if result["remaining"] == 0 or context.current_utc_datetime >= deadline:
            return {"remaining": result["remaining"], "polls": polls}
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=interval))
        interval = min(2 * interval, MAX_POLL_SECONDS)


def _delete_predictions(context: OrchestrationContext, base: dict[str, Any]) -> Orchestration:
    deleted = 0
    while True:
        result = yield activity(context, names.ERASE_PREDICTIONS, base)
        deleted += int(result["deleted"])
        if not result["more"]:
            return {"deleted": deleted}
