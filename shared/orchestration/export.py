"""Export orchestration: request → resources → projects → pages (README "Architecture", "What an export writes").

History carries only ids, counts, page numbers, blob paths and continuation tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.customvision import MAX_TAKE

from . import names
from .context import Orchestration, OrchestrationContext, activity, failure_reason, in_batches, over_projects

DEFAULT_WIDTH = 8
MAX_ERRORS_PER_PROJECT = 100


def _page_count(total: int) -> int:
    return (total + MAX_TAKE - 1) // MAX_TAKE


def export_resource(context: OrchestrationContext) -> Orchestration:
    """Every project in scope; a listed project that does not exist is an error of the export."""
    result = yield from over_projects(context, names.EXPORT_PROJECT_ORCHESTRATOR, "exporting")
    missing = result["missing_projects"]
    result["expected"] = {"projects": len(result["projects"]) + len(missing)} if result["projects"] or missing else {}
    result["errors"] += [
        {"kind": "projects", "project_id": project_id, "error": "not found in the resource"} for project_id in missing
    ]
    return result


def export_project(context: OrchestrationContext) -> Orchestration:
    """One project: details, then image pages (workspace before iteration snapshots, so snapshot pages
    copy only the files the workspace did not have), image performances, predictions.

    Never fails: a step that still fails after its retries ends the project with what was exported so
    far and the reason in ``errors``; the manifest's count check shows what is missing.
    """
    task = context.get_input()
    partial: dict[str, Any] = {
        "resource": task["resource"],
        "project_id": task["project_id"],
        "iterations": [],
        "expected": {},
        "exported": {},
        "errors": [],
    }
    try:
        return (yield from _export_project(context, task, partial))
    except Exception as error:  # an activity failed after its retries
        partial["errors"].append({"kind": "project", "project_id": task["project_id"], "error": failure_reason(error)})
        return partial


def _export_project(context: OrchestrationContext, task: dict[str, Any], partial: dict[str, Any]) -> Orchestration:
    request_id, resource, project_id = task["request_id"], task["resource"], task["project_id"]
    include: list[str] = task["include"]
    width = int(task.get("page_width") or DEFAULT_WIDTH)
    base = {"request_id": request_id, "resource": resource, "project_id": project_id}

    selector = task.get("images")
    if selector:
        # A data subject's images only: other people's images, their model performance records and
        # stored predictions (which cannot be tied to a person) are not part of this export.
        include = [kind for kind in include if kind not in ("performance", "predictions")]
        partial["notes"] = [
            "scope.images selects a data subject's images: only those images (and their files) are exported;"
            " image performances and stored predictions cannot be attributed to a person and are left out"
        ]
    # Counted into ``partial`` as we go, so a failure later keeps what was done.
    exported: dict[str, int] = partial["exported"]

    def show(step: str, **position: Any) -> None:
        """Progress for ``GET /api/requests/{id}``: where this project is, and what it has exported."""
        context.set_custom_status({"project_id": project_id, "step": step, **position, "exported": dict(exported)})

    show("details")
    details = yield activity(
        context, names.EXPORT_PROJECT_DETAILS, {**base, "include": include, "count_images": not selector}
    )
    expected: dict[str, Any] = details["expected"]
    exported.update(details["exported"])
    errors: list[dict[str, Any]] = partial["errors"]
    errors.extend(details["errors"])
    partial["iterations"] = details["iterations"]
    partial["expected"] = _flatten(expected)
    trained = [entry["id"] for entry in details["iterations"] if entry["trained"]]

    def add(result: dict[str, Any], *kinds: tuple[str, str]) -> None:
        for source, kind in kinds:
            exported[kind] = exported.get(kind, 0) + int(result.get(source, 0))
        # Errors name ids; keep the history bounded when a whole project fails file by file.
        for error in result.get("errors", []):
            if len(errors) < MAX_ERRORS_PER_PROJECT:
                errors.append(error)
            else:
                partial["errors_omitted"] = partial.get("errors_omitted", 0) + 1

    def paged(
        step: str, iteration_id: str | None, pages: int, kinds: list[tuple[str, str]]
    ) -> Callable[[int, Any], None]:
        """``on_result`` for one listing's pages: count each page as it finishes and show how far it is."""
        position: dict[str, Any] = {"listing": iteration_id or "workspace", "pages": pages, "pages_done": 0}
        show(step, **position)

        def page_done(_index: int, result: Any) -> None:
            add(result, *kinds)
            position["pages_done"] += 1
            show(step, **position)

        return page_done

    if "images" in include:
        with_files = "image_files" in include
        listings: list[tuple[str | None, int]]
        if selector:
            selection = yield activity(context, names.EXPORT_SELECT_IMAGES, {**base, "selector": selector})
            expected["images"] = selection["workspace"]
            expected["iteration_images"] = selection["iterations"]
            partial["expected"] = _flatten(expected)
            # Every listing reads the same id pages; each keeps the ids it holds.
            listings = [(iteration_id, int(selection["images"])) for iteration_id in [None, *trained]]
        else:
            listings = [(None, int(expected.get("images", 0)))]
            listings += [
                (iteration_id, int(expected.get("iteration_images", {}).get(iteration_id, 0)))
                for iteration_id in trained
            ]
        for iteration_id, total in listings:
            pages = _page_count(total)
            page_task = {**base, "iteration_id": iteration_id, "with_files": with_files}
            if selector:
                tasks = [
                    (names.EXPORT_SELECTED_IMAGE_PAGE, {**page_task, "ids_path": selection["ids_path"], "page": page})
                    for page in range(pages)
                ]
            else:
                tasks = [(names.EXPORT_IMAGE_PAGE, {**page_task, "page": page}) for page in range(pages)]
            if iteration_id is None and not selector:
                kinds = [
                    ("images", "images"),
                    ("tagged_images", "tagged_images"),
                    ("untagged_images", "untagged_images"),
                    ("files", "image_files"),
                ]
            elif iteration_id is None:
                kinds = [("images", "images"), ("files", "image_files")]
            else:
                kinds = [("images", "iteration_images"), ("files", "image_files")]
            yield from in_batches(context, tasks, width, paged("images", iteration_id, pages, kinds))
            yield activity(
                context, names.COMMIT_JSONL, {**base, "listing": "images", "iteration_id": iteration_id, "pages": pages}
            )

    if "performance" in include:
        for iteration_id in trained:
            total = int(expected.get("image_performances", {}).get(iteration_id, 0))
            pages = _page_count(total)
            tasks = [
                (names.EXPORT_IMAGE_PERFORMANCE_PAGE, {**base, "iteration_id": iteration_id, "page": page})
                for page in range(pages)
            ]
            kinds = [("image_performances", "image_performances")]
            yield from in_batches(context, tasks, width, paged("image_performances", iteration_id, pages, kinds))
            yield activity(
                context,
                names.COMMIT_JSONL,
                {**base, "listing": "image_performances", "iteration_id": iteration_id, "pages": pages},
            )

    if "predictions" in include:
        continuation: dict[str, Any] | None = None
        part = 0
        while True:
            show("predictions", parts_done=part)
            result = yield activity(
                context,
                names.EXPORT_PREDICTION_PAGES,
                {**base, "continuation": continuation, "first_part": part, "with_files": "image_files" in include},
            )
            add(result, ("predictions", "predictions"), ("files", "prediction_files"))
            part += int(result["parts"])
            continuation = result["next"]
            if continuation is None:
                break
        yield activity(
            context, names.COMMIT_JSONL, {**base, "listing": "predictions", "iteration_id": None, "pages": part}
        )

    show("done")
    return partial


def _flatten(expected: dict[str, Any]) -> dict[str, int]:
    """Per-iteration expectations summed into one number per kind, as the manifest compares them."""
    return {kind: (sum(value.values()) if isinstance(value, dict) else int(value)) for kind, value in expected.items()}
