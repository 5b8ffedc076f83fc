"""Export orchestration: request → resources → projects → pages (README "Architecture", "What an export writes").

History carries only ids, counts, page numbers, blob paths and continuation tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shared import contracts as c
from shared.catalogue import Count
from shared.customvision import MAX_TAKE

from . import names
from .context import Orchestration, OrchestrationContext, Task, activity, failure_reason, in_batches, over_projects

DEFAULT_WIDTH = 8
MAX_ERRORS_PER_PROJECT = 100


def _page_count(total: int) -> int:
    return (total + MAX_TAKE - 1) // MAX_TAKE


def export_resource(context: OrchestrationContext) -> Orchestration:
    """Every project in scope; a listed project that does not exist is an error of the export."""
    result = yield from over_projects(context, names.EXPORT_PROJECT_ORCHESTRATOR, "exporting")
    missing = result["missing_projects"]
    listed = result["projects"]
    # A project's row is exported (and so expected) only when asked for: a data subject's export may
    # ask for their images alone.
    counted = "projects" in context.get_input().get("include", ())
    result["expected"] = {Count.PROJECTS: len(listed) + len(missing)} if counted and (listed or missing) else {}
    result["errors"] += [
        {"kind": Count.PROJECTS, "project_id": project_id, "error": "not found in the resource"}
        for project_id in missing
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
    """For each kind in scope, its steps: details, then images, image performances, predictions."""
    run = _ProjectExport(context, task, partial)
    yield from run.details()
    if "images" in run.include:
        yield from run.images()
        if run.formats:
            yield from run.datasets()
    if "performance" in run.include:
        yield from run.image_performances()
    if "predictions" in run.include:
        yield from run.predictions()
    run.show("done")
    return partial


class _ProjectExport:
    """One project's export as it goes: what each kind's steps share (the payload base, the page
    width, the counts and errors so far, the progress shown to ``GET /api/requests/{id}``).

    Counted into ``partial`` as it goes, so a failure later keeps what was done."""

    def __init__(self, context: OrchestrationContext, task: dict[str, Any], partial: dict[str, Any]) -> None:
        self.context = context
        self.partial = partial
        self.project_id: str = task["project_id"]
        self.base: c.OnProject = {
            "request_id": task["request_id"],
            "resource": task["resource"],
            "project_id": self.project_id,
        }
        self.width = int(task.get("page_width") or DEFAULT_WIDTH)
        self.selector = task.get("images")
        self.include: list[str] = task["include"]
        self.formats: list[str] = list(task.get("formats") or [])
        if self.selector:
            # A data subject's images only: other people's images, their model performance records and
            # stored predictions (which cannot be tied to a person) are not part of this export.
            self.include = [kind for kind in self.include if kind not in ("performance", "predictions")]
            partial["notes"] = [
                "scope.images selects a data subject's images: only those images (and their files) are exported;"
                " image performances and stored predictions cannot be attributed to a person and are left out"
            ]
        self.exported: dict[str, int] = partial["exported"]
        self.errors: list[dict[str, Any]] = partial["errors"]
        self.expected: dict[str, Any] = {}
        self.trained: list[str] = []

    def show(self, step: str, **position: Any) -> None:
        """Progress: where this project is, and what it has exported."""
        status = {"project_id": self.project_id, "step": step, **position, "exported": dict(self.exported)}
        self.context.set_custom_status(status)

    def add(self, result: dict[str, Any], *kinds: tuple[str, str]) -> None:
        for source, kind in kinds:
            self.exported[kind] = self.exported.get(kind, 0) + int(result.get(source, 0))
        # Errors name ids; keep the history bounded when a whole project fails file by file.
        for error in result.get("errors", []):
            if len(self.errors) < MAX_ERRORS_PER_PROJECT:
                self.errors.append(error)
            else:
                self.partial["errors_omitted"] = self.partial.get("errors_omitted", 0) + 1

    def paged(
        self, step: str, iteration_id: str | None, pages: int, kinds: Sequence[tuple[str, str]]
    ) -> Callable[[int, Any], None]:
        """``on_result`` for one listing's pages: count each page as it finishes and show how far it is."""
        position: dict[str, Any] = {"listing": iteration_id or "workspace", "pages": pages, "pages_done": 0}
        self.show(step, **position)

        def page_done(_index: int, result: Any) -> None:
            self.add(result, *kinds)
            position["pages_done"] += 1
            self.show(step, **position)

        return page_done

    def commit(self, listing: c.Listing, iteration_id: str | None, pages: int) -> Task:
        payload: c.CommitJsonl = {**self.base, "listing": listing, "iteration_id": iteration_id, "pages": pages}
        return activity(self.context, names.COMMIT_JSONL, payload)

    def details(self) -> Orchestration:
        """Project, tags, iterations, performance, exports; and the API's counts to check against."""
        self.show("details")
        payload: c.ProjectDetails = {**self.base, "include": self.include, "count_images": not self.selector}
        details = yield activity(self.context, names.EXPORT_PROJECT_DETAILS, payload)
        self.expected = details["expected"]
        self.exported.update(details["exported"])
        self.errors.extend(details["errors"])
        self.partial["iterations"] = details["iterations"]
        self.partial["expected"] = _flatten(self.expected)
        self.trained = [entry["id"] for entry in details["iterations"] if entry["trained"]]

    def images(self) -> Orchestration:
        """The workspace's pages, then each trained iteration's snapshot (so snapshot pages copy only
        the files the workspace did not have); a data subject's selection reads its id pages instead."""
        page_task = {**self.base, "with_files": "image_files" in self.include}
        if self.selector:
            selection = yield activity(
                self.context, names.EXPORT_SELECT_IMAGES, {**self.base, "selector": self.selector}
            )
            self.expected[Count.IMAGES] = selection["workspace"]
            self.expected[Count.ITERATION_IMAGES] = selection["iterations"]
            self.partial["expected"] = _flatten(self.expected)
            # Every listing reads the same id pages; each keeps the ids it holds.
            listings = [(iteration_id, int(selection["images"])) for iteration_id in [None, *self.trained]]
            page_task["ids_path"] = selection["ids_path"]
        else:
            snapshots = self.expected.get(Count.ITERATION_IMAGES, {})
            listings = [(None, int(self.expected.get(Count.IMAGES, 0)))]
            listings += [(iteration_id, int(snapshots.get(iteration_id, 0))) for iteration_id in self.trained]
        name = names.EXPORT_SELECTED_IMAGE_PAGE if self.selector else names.EXPORT_IMAGE_PAGE
        for iteration_id, total in listings:
            pages = _page_count(total)
            tasks = [(name, {**page_task, "iteration_id": iteration_id, "page": page}) for page in range(pages)]
            kinds = _image_counters(iteration_id, selective=bool(self.selector))
            yield from in_batches(self.context, tasks, self.width, self.paged("images", iteration_id, pages, kinds))
            yield self.commit("images", iteration_id, pages)

    def datasets(self) -> Orchestration:
        """COCO, Azure ML and CSV datasets from the committed listings (``shared.datasets``)."""
        self.show("datasets")
        payload: c.Datasets = {**self.base, "iteration_ids": self.trained, "formats": self.formats}
        result = yield activity(self.context, names.EXPORT_DATASETS, payload)
        self.partial["datasets"] = result["files"]

    def image_performances(self) -> Orchestration:
        for iteration_id in self.trained:
            pages = _page_count(int(self.expected.get(Count.IMAGE_PERFORMANCES, {}).get(iteration_id, 0)))
            tasks = [
                (names.EXPORT_IMAGE_PERFORMANCE_PAGE, {**self.base, "iteration_id": iteration_id, "page": page})
                for page in range(pages)
            ]
            kinds = [(Count.IMAGE_PERFORMANCES, Count.IMAGE_PERFORMANCES)]
            on_page = self.paged("image_performances", iteration_id, pages, kinds)
            yield from in_batches(self.context, tasks, self.width, on_page)
            yield self.commit("image_performances", iteration_id, pages)

    def predictions(self) -> Orchestration:
        """Stored predictions, following the query's continuation token."""
        continuation: dict[str, Any] | None = None
        part = 0
        while True:
            self.show("predictions", parts_done=part)
            payload: c.PredictionPages = {
                **self.base,
                "continuation": continuation,
                "first_part": part,
                "with_files": "image_files" in self.include,
            }
            result = yield activity(self.context, names.EXPORT_PREDICTION_PAGES, payload)
            self.add(result, (Count.PREDICTIONS, Count.PREDICTIONS), ("files", Count.PREDICTION_FILES))
            part += int(result["parts"])
            continuation = result["next"]
            if continuation is None:
                break
        yield self.commit("predictions", None, part)


def _image_counters(iteration_id: str | None, *, selective: bool) -> list[tuple[str, str]]:
    """(page result key, counter) of an image listing: the workspace counts tagged and untagged
    images too (unless it reads a selection); a snapshot counts its images apart."""
    if iteration_id is not None:
        return [(Count.IMAGES, Count.ITERATION_IMAGES), ("files", Count.IMAGE_FILES)]
    if selective:
        return [(Count.IMAGES, Count.IMAGES), ("files", Count.IMAGE_FILES)]
    return [
        (Count.IMAGES, Count.IMAGES),
        (Count.TAGGED_IMAGES, Count.TAGGED_IMAGES),
        (Count.UNTAGGED_IMAGES, Count.UNTAGGED_IMAGES),
        ("files", Count.IMAGE_FILES),
    ]


def _flatten(expected: dict[str, Any]) -> dict[str, int]:
    """Per-iteration expectations summed into one number per kind, as the manifest compares them."""
    return {kind: (sum(value.values()) if isinstance(value, dict) else int(value)) for kind, value in expected.items()}
