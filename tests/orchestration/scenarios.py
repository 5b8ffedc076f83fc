"""Inputs and canned activity answers for the orchestrator tests, in one place so that the behaviour
tests and the determinism test replay the same runs.

Inputs are shaped as the parents build them (``request._work`` for a resource, ``over_projects`` for a
project); answers are shaped as the activities return them (``functions.activities``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.orchestration import names

from .harness import Call, Orchestration

REQUEST_ID = "PRIV-2026-000123"
RESOURCE = "contoso_prod"
PROJECT = "4f2c1e0a-0000-4000-8000-00000000000a"
IDS_PATH = f"{REQUEST_ID}/work/{RESOURCE}/{PROJECT}/ids.json"
ALL_KINDS = ["projects", "iterations", "performance", "tags", "images", "image_files", "exports", "predictions"]
RESOURCE_INSTANCE = names.resource_instance_id(REQUEST_ID, RESOURCE)
PROJECT_INSTANCE = names.project_instance_id(RESOURCE_INSTANCE, PROJECT)

Respond = Callable[[Call], Any]


def request(kind: str = "export", **changes: Any) -> dict[str, Any]:
    """A validated request (as intake hands it to the orchestrator)."""
    body: dict[str, Any] = {
        "schema_version": 1,
        "request_id": REQUEST_ID,
        "type": kind,
        "resources": ["Contoso_Prod", "fabrikam"],
        "scope": {"projects": "all", "images": None},
        "include": list(ALL_KINDS),
        "dry_run": False,
        "confirm": None,
        "export_zip": False,
        "ticket": {"system": "servicenow", "id": "PRIV0012345"},
        "received_at": "2026-11-01T09:00:00Z",
        "due_at": "2026-12-01T09:00:00Z",
    }
    body.update(changes)
    return body


def start(body: dict[str, Any]) -> dict[str, Any]:
    """The request orchestrator's input: the request and the widths read at intake."""
    return {"request": body, "settings": {"project_width": 2, "page_width": 4}}


def resource_task(kind: str = "export", **changes: Any) -> dict[str, Any]:
    """A resource orchestrator's input, as ``request._work`` builds it."""
    task: dict[str, Any] = {
        "request_id": REQUEST_ID,
        "projects": "all",
        "images": None,
        "include": list(ALL_KINDS),
        "project_width": 2,
        "page_width": 4,
    }
    if kind == "erase":
        task.update({"dry_run": False, "delete_affected_iterations": False})
    task["resource"] = RESOURCE
    task.update(changes)
    return task


def project_task(kind: str = "export", **changes: Any) -> dict[str, Any]:
    """A project orchestrator's input, as ``over_projects`` builds it."""
    return {**resource_task(kind), "project_id": PROJECT, **changes}


BASE = {"request_id": REQUEST_ID, "resource": RESOURCE, "project_id": PROJECT}


# --- export of one project -----------------------------------------------------------------------
DETAILS = {
    "expected": {
        "project": 1,
        "tags": 3,
        "iterations": 2,
        "images": 300,  # two workspace pages of MAX_TAKE (256)
        "tagged_images": 290,
        "untagged_images": 10,
        "iteration_images": {"it-1": 257},  # two snapshot pages
        "image_performances": {"it-1": 40},
    },
    "exported": {"project": 1, "tags": 3, "iterations": 2},
    "errors": [],
    "iterations": [{"id": "it-1", "trained": True}, {"id": "it-2", "trained": False}],
}


def export_answers(call: Call) -> Any:
    """A project whose every step works: pages return what a page of that listing holds."""
    payload = call.input
    if call.name == names.EXPORT_PROJECT_DETAILS:
        return DETAILS
    if call.name == names.EXPORT_IMAGE_PAGE and payload["iteration_id"] is None:
        size = 256 if payload["page"] == 0 else 44
        return {"images": size, "tagged_images": size - 5, "untagged_images": 5, "files": size, "errors": []}
    if call.name == names.EXPORT_IMAGE_PAGE:
        size = 256 if payload["page"] == 0 else 1
        return {"images": size, "files": 0, "errors": []}  # snapshot files already copied from the workspace
    if call.name == names.EXPORT_IMAGE_PERFORMANCE_PAGE:
        return {"image_performances": 40, "errors": []}
    if call.name == names.EXPORT_PREDICTION_PAGES:
        if payload["continuation"] is None:
            return {"predictions": 12, "files": 12, "parts": 2, "next": {"token": "page-3"}, "errors": []}
        return {"predictions": 3, "files": 3, "parts": 1, "next": None, "errors": []}
    if call.name == names.COMMIT_JSONL:
        return {"path": f"{REQUEST_ID}/data/projects/{PROJECT}/{payload['listing']}.jsonl"}
    raise AssertionError(f"unexpected call {call.name}")


SELECTOR = {"image_ids": ["img-1", "img-2", "img-3"], "tag_names": None, "metadata": None}
SELECTION = {"workspace": 3, "iterations": {"it-1": 2}, "images": 3, "ids_path": IDS_PATH}


def selection_answers(call: Call) -> Any:
    if call.name == names.EXPORT_PROJECT_DETAILS:
        expected = {"project": 1, "tags": 3, "iterations": 2}
        return {**DETAILS, "expected": expected}
    if call.name == names.EXPORT_SELECT_IMAGES:
        return SELECTION
    if call.name == names.EXPORT_SELECTED_IMAGE_PAGE:
        if call.input["iteration_id"] is None:
            return {"images": 3, "files": 3, "errors": []}
        return {"images": 2, "files": 0, "errors": []}
    if call.name == names.COMMIT_JSONL:
        return {"path": "…"}
    raise AssertionError(f"unexpected call {call.name}")


# --- erase of one project ------------------------------------------------------------------------
PROJECT_PLAN = {
    "exists": True,
    "mode": "project",
    "images": 300,
    "tags": 3,
    "predictions": 107,
    "iterations": 2,
    "published_iterations": ["it-1"],
    "trained_iterations": ["it-1", "it-2"],
}
SELECTION_PLAN = {
    "exists": True,
    "mode": "images",
    "images": 600,  # three batches of MAX_IMAGE_IDS (256)
    "ids_path": IDS_PATH,
    "trained_iterations": ["it-1"],
    "affected_iterations": ["it-1"],
    "published_iterations": [],
}
PROJECT_CHECKS = [{"check": "project_gone", "passed": True}]
IMAGE_CHECKS = [{"check": "images_gone", "passed": True}, {"check": "iterations_clean", "passed": True}]


def erase_answers(plan: dict[str, Any], remaining: list[int]) -> Respond:
    """Answers for an erase of one project; ``remaining`` is what each read-back poll finds."""
    polls = iter(remaining)
    prediction_pages = iter([{"deleted": 100, "more": True}, {"deleted": 7, "more": False}])

    def respond(call: Call) -> Any:
        if call.name == names.ERASE_PLAN_PROJECT:
            return plan
        if call.name == names.ERASE_REMAINING_IMAGES:
            return {"remaining": next(polls)}
        if call.name == names.ERASE_PREDICTIONS:
            return next(prediction_pages)
        if call.name == names.ERASE_IMAGE_BATCH:
            return {"requested": 256 if call.input["batch"] < 2 else 88}
        if call.name == names.ERASE_VERIFY:
            return PROJECT_CHECKS if call.input["mode"] == "project" else IMAGE_CHECKS
        if call.name in (
            names.ERASE_UNPUBLISH,
            names.ERASE_ALL_IMAGES,
            names.ERASE_TAGS,
            names.ERASE_ITERATIONS,
            names.ERASE_PROJECT,
        ):
            return {"done": call.name}
        raise AssertionError(f"unexpected call {call.name}")

    return respond


# --- whole runs, for the determinism test ---------------------------------------------------------
def run_export_project() -> tuple[Orchestration, Respond]:
    return Orchestration(
        names.EXPORT_PROJECT_ORCHESTRATOR, project_task(), instance_id=PROJECT_INSTANCE
    ), export_answers


def run_erase_project() -> tuple[Orchestration, Respond]:
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, project_task("erase"), instance_id=PROJECT_INSTANCE)
    return run, erase_answers(PROJECT_PLAN, [5, 2, 0])


def listing_answers(project_ids: list[str], summary: Callable[[str], Any]) -> Respond:
    def respond(call: Call) -> Any:
        if call.name == names.LIST_PROJECTS:
            return {"project_ids": project_ids, "missing": []}
        return summary(call.input["project_id"])

    return respond


def run_export_resource() -> tuple[Orchestration, Respond]:
    run = Orchestration(names.EXPORT_RESOURCE_ORCHESTRATOR, resource_task(), instance_id=RESOURCE_INSTANCE)
    summaries = {"a": {"project_id": "a", "exported": {"images": 2}}, "b": {"project_id": "b", "exported": {}}}
    return run, listing_answers(["a", "b", "c"], lambda pid: summaries.get(pid, {"project_id": pid}))


def run_erase_resource() -> tuple[Orchestration, Respond]:
    run = Orchestration(names.ERASE_RESOURCE_ORCHESTRATOR, resource_task("erase"), instance_id=RESOURCE_INSTANCE)
    return run, listing_answers(["a", "b"], lambda pid: {"project_id": pid, "steps": [], "checks": []})


def request_answers(outcome_status: str = "succeeded") -> Respond:
    def respond(call: Call) -> Any:
        if call.kind == "suborchestration":
            resource = call.input["resource"]
            return {"resource": resource, "projects": [], "missing_projects": [], "errors": []}
        if call.name in (names.FINALIZE_EXPORT, names.FINALIZE_ERASE, names.RECORD_FAILURE):
            return {"status": outcome_status, "counts": {"images": 0}, "manifest": f"{REQUEST_ID}/manifest.json"}
        if call.name == names.SEND_COMPLETION:
            return {"channels": ["webhook"]}
        if call.name == names.EXPORT_ACCOUNT:
            return {"resource": "account", "projects": [], "errors": []}
        return None

    return respond


def run_request() -> tuple[Orchestration, Respond]:
    run = Orchestration(names.REQUEST_ORCHESTRATOR, start(request()), instance_id=REQUEST_ID)
    return run, request_answers()
