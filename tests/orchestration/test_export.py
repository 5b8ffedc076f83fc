"""Export orchestrators (``shared.orchestration.export``) replayed by the Durable library.

Why: what an export copies, and in which order, is decided only here (workspace pages before snapshot
pages so snapshot pages copy only the files the workspace lacked; commits after their pages; a data
subject's export leaves out what cannot be tied to a person). These tests pin the scheduled activities'
names and payloads, and what the project and resource report, including when a step fails for good.
"""

from __future__ import annotations

from typing import Any

from shared.orchestration import names

from . import scenarios as s
from .harness import Call, Failure, Orchestration


def _steps(run: Orchestration) -> list[tuple[str, Any]]:
    return [(call.name, call.input) for call in run.calls]


def test_project_export_pages_the_workspace_then_each_trained_snapshot_then_performances_and_predictions():
    """The full-scope export of one project: every listing paged by its expected count (256 a page),
    each listing committed after its pages, untrained iterations skipped, predictions followed by
    continuation until ``next`` is None; the counts add up in ``exported``."""
    run, respond = s.run_export_project()
    state = run.drive(respond)

    b = s.BASE
    workspace = {**b, "iteration_id": None, "with_files": True}
    snapshot = {**b, "iteration_id": "it-1", "with_files": True}
    assert _steps(run) == [
        (names.EXPORT_PROJECT_DETAILS, {**b, "include": s.ALL_KINDS, "count_images": True}),
        (names.EXPORT_IMAGE_PAGE, {**workspace, "page": 0}),
        (names.EXPORT_IMAGE_PAGE, {**workspace, "page": 1}),
        (names.COMMIT_JSONL, {**b, "listing": "images", "iteration_id": None, "pages": 2}),
        (names.EXPORT_IMAGE_PAGE, {**snapshot, "page": 0}),
        (names.EXPORT_IMAGE_PAGE, {**snapshot, "page": 1}),
        (names.COMMIT_JSONL, {**b, "listing": "images", "iteration_id": "it-1", "pages": 2}),
        (names.EXPORT_IMAGE_PERFORMANCE_PAGE, {**b, "iteration_id": "it-1", "page": 0}),
        (names.COMMIT_JSONL, {**b, "listing": "image_performances", "iteration_id": "it-1", "pages": 1}),
        (names.EXPORT_PREDICTION_PAGES, {**b, "continuation": None, "first_part": 0, "with_files": True}),
        (
            names.EXPORT_PREDICTION_PAGES,
            {**b, "continuation": {"token": "page-3"}, "first_part": 2, "with_files": True},
        ),
        (names.COMMIT_JSONL, {**b, "listing": "predictions", "iteration_id": None, "pages": 3}),
    ]
    retry = {
        "firstRetryIntervalInMilliseconds": 5000,
        "maxNumberOfAttempts": 4,
        "backoffCoefficient": 2.0,
        "maxRetryIntervalInMilliseconds": 60000,
    }
    assert all(call.retry == retry for call in run.calls)
    assert state.done
    assert state.error is None
    assert state.output == {
        "resource": s.RESOURCE,
        "project_id": s.PROJECT,
        "iterations": s.DETAILS["iterations"],
        "expected": {
            "project": 1,
            "tags": 3,
            "iterations": 2,
            "images": 300,
            "tagged_images": 290,
            "untagged_images": 10,
            "iteration_images": 257,
            "image_performances": 40,
        },
        "exported": {
            "project": 1,
            "tags": 3,
            "iterations": 2,
            "images": 300,
            "tagged_images": 290,
            "untagged_images": 10,
            "image_files": 300,
            "iteration_images": 257,
            "image_performances": 40,
            "predictions": 15,
            "prediction_files": 15,
        },
        "errors": [],
    }
    assert state.custom_status == {"project_id": s.PROJECT, "step": "done", "exported": state.output["exported"]}


def test_pages_of_one_listing_run_in_batches_of_the_page_width():
    """``page_width`` bounds the fan-out: 300 workspace images at width 1 are two batches of one page,
    the second asked for only when the first is done; progress shows the pages done."""
    task = s.project_task(include=["images"], page_width=1)
    run = Orchestration(names.EXPORT_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    (details,) = run.replay().new
    run.complete(details, {**s.DETAILS, "iterations": []})
    first = run.replay()
    assert [call.input["page"] for call in first.new] == [0]
    assert first.custom_status["step"] == "images"
    assert first.custom_status["listing"] == "workspace"
    assert (first.custom_status["pages"], first.custom_status["pages_done"]) == (2, 0)
    run.complete(first.new[0], s.export_answers(first.new[0]))
    second = run.replay()
    assert [call.input["page"] for call in second.new] == [1]
    assert second.custom_status["pages_done"] == 1
    assert second.custom_status["exported"]["images"] == 256


def test_a_data_subjects_export_reads_the_selection_pages_of_every_listing_and_nothing_else():
    """With ``scope.images`` the project exports only the selected images: the selection first, then
    the same id pages against the workspace and each trained snapshot; no performances, no
    predictions (they cannot be attributed to a person), and a note saying so."""
    task = s.project_task(images=s.SELECTOR)
    run = Orchestration(names.EXPORT_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    state = run.drive(s.selection_answers)

    b = s.BASE
    kinds = ["projects", "iterations", "tags", "images", "image_files", "exports"]
    page = {**b, "with_files": True, "ids_path": s.IDS_PATH, "page": 0}
    assert _steps(run) == [
        (names.EXPORT_PROJECT_DETAILS, {**b, "include": kinds, "count_images": False}),
        (names.EXPORT_SELECT_IMAGES, {**b, "selector": s.SELECTOR}),
        (names.EXPORT_SELECTED_IMAGE_PAGE, {**page, "iteration_id": None}),
        (names.COMMIT_JSONL, {**b, "listing": "images", "iteration_id": None, "pages": 1}),
        (names.EXPORT_SELECTED_IMAGE_PAGE, {**page, "iteration_id": "it-1"}),
        (names.COMMIT_JSONL, {**b, "listing": "images", "iteration_id": "it-1", "pages": 1}),
    ]
    output = state.output
    assert state.done
    assert state.error is None
    assert output["expected"] == {"project": 1, "tags": 3, "iterations": 2, "images": 3, "iteration_images": 2}
    assert output["exported"] == {
        "project": 1,
        "tags": 3,
        "iterations": 2,
        "images": 3,
        "image_files": 3,
        "iteration_images": 2,
    }
    assert output["errors"] == []
    assert "cannot be attributed to a person" in output["notes"][0]


def test_datasets_are_written_once_every_image_listing_is_committed_and_only_when_asked_for():
    """``formats`` adds one step after the last image commit (the writer reads the committed listings),
    with the trained iterations' ids and the formats: nothing proportional to the project in history."""
    task = s.project_task(images=s.SELECTOR, formats=["coco", "csv"])
    run = Orchestration(names.EXPORT_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    files = [{"format": "coco", "path": "REQ/data/projects/p/datasets/coco.json", "sha256": "0" * 64}]

    def respond(call: Call) -> Any:
        if call.name == names.EXPORT_DATASETS:
            return {"files": files, "task": "detection"}
        return s.selection_answers(call)

    state = run.drive(respond)
    steps = _steps(run)
    assert steps[-2] == (names.COMMIT_JSONL, {**s.BASE, "listing": "images", "iteration_id": "it-1", "pages": 1})
    assert steps[-1] == (names.EXPORT_DATASETS, {**s.BASE, "iteration_ids": ["it-1"], "formats": ["coco", "csv"]})
    assert state.output["datasets"] == files
    without = Orchestration(
        names.EXPORT_PROJECT_ORCHESTRATOR, s.project_task(images=s.SELECTOR), instance_id=s.PROJECT_INSTANCE
    )
    without.drive(s.selection_answers)
    assert names.EXPORT_DATASETS not in {call.name for call in without.calls}


def test_a_page_failing_after_its_retries_ends_the_project_with_what_it_has():
    """A page that fails on every attempt (4, each after a retry timer) does not fail the
    orchestration: the project returns what was exported before its batch, the failure recorded with
    the activity and the exception (no stack), and nothing after it is asked for."""

    def respond(call: Call) -> Any:
        if call.name == names.EXPORT_IMAGE_PAGE and call.input["page"] == 1:
            return Failure("CustomVisionError: 500 InternalServerError")
        return s.export_answers(call)

    run, _ = s.run_export_project()
    state = run.drive(respond)

    failed = [call for call in run.asked(names.EXPORT_IMAGE_PAGE) if call.input["page"] == 1]
    assert [call.attempts for call in failed] == [4]
    assert [call.name for call in run.calls] == [
        names.EXPORT_PROJECT_DETAILS,
        names.EXPORT_IMAGE_PAGE,
        names.EXPORT_IMAGE_PAGE,
    ]
    assert state.done
    assert state.error is None
    assert state.output["exported"] == {"project": 1, "tags": 3, "iterations": 2}, "page 0's batch never finished"
    assert state.output["errors"] == [
        {
            "kind": "project",
            "project_id": s.PROJECT,
            "error": "Activity function 'dsr_export_image_page' failed: CustomVisionError: 500 InternalServerError",
        }
    ]
    assert state.output["expected"]["images"] == 300, "the manifest can still compare"


def test_page_errors_are_kept_up_to_a_bound_and_the_rest_counted():
    """Errors of individual files come back in page results; past 100 per project they are only
    counted (``errors_omitted``), so a project failing file by file keeps the history small."""

    def respond(call: Call) -> Any:
        if call.name == names.EXPORT_IMAGE_PAGE and call.input["iteration_id"] is None:
            errors = [{"kind": "file", "id": f"{call.input['page']}-{n}"} for n in range(60)]
            return {"images": 10, "files": 0, "errors": errors}
        return s.export_answers(call)

    run = Orchestration(names.EXPORT_PROJECT_ORCHESTRATOR, s.project_task(include=["images"]), instance_id="x")
    state = run.drive(respond)
    assert len(state.output["errors"]) == 100
    assert state.output["errors_omitted"] == 20


def test_resource_export_lists_then_runs_a_window_of_project_orchestrations():
    """The resource lists its projects, runs one sub-orchestration per project (instance
    ``{resource instance}:{project}``, the task plus ``project_id``) at most ``project_width`` at a
    time, starting the next as one finishes; results come back in listing order whatever the finishing
    order, and a listed project that does not exist is an error of the export."""
    task = s.resource_task(projects=["a", "b", "c", "zz"])
    run = Orchestration(names.EXPORT_RESOURCE_ORCHESTRATOR, task, instance_id=s.RESOURCE_INSTANCE, cross_check=True)
    (listing,) = run.replay().new
    assert (listing.name, listing.input) == (
        names.LIST_PROJECTS,
        {"request_id": s.REQUEST_ID, "resource": s.RESOURCE, "projects": ["a", "b", "c", "zz"]},
    )
    run.complete(listing, {"project_ids": ["a", "b", "c"], "missing": ["zz"]})
    state = run.replay()
    assert [(c.name, c.instance_id) for c in state.new] == [
        (names.EXPORT_PROJECT_ORCHESTRATOR, f"{s.RESOURCE_INSTANCE}:a"),
        (names.EXPORT_PROJECT_ORCHESTRATOR, f"{s.RESOURCE_INSTANCE}:b"),
    ]
    assert state.new[0].input == {**task, "project_id": "a"}
    assert state.custom_status == {
        "phase": "exporting",
        "projects": 3,
        "projects_done": 0,
        "running": ["a", "b"],
        "done": {},
    }
    a, b = state.new

    run.complete(a, {"project_id": "a", "exported": {"images": 5, "tags": 1}})
    state = run.replay()
    assert [(c.instance_id, c.input["project_id"]) for c in state.new] == [(f"{s.RESOURCE_INSTANCE}:c", "c")]
    assert state.custom_status["running"] == ["b", "c"]
    assert state.custom_status["done"] == {"images": 5, "tags": 1}
    (c,) = state.new

    run.complete(c, {"project_id": "c", "exported": {"images": 2}})
    assert run.replay().new == []
    run.complete(b, {"project_id": "b", "exported": {}})
    state = run.replay()
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    assert state.output == {
        "resource": s.RESOURCE,
        "projects": [
            {"project_id": "a", "exported": {"images": 5, "tags": 1}},
            {"project_id": "b", "exported": {}},
            {"project_id": "c", "exported": {"images": 2}},
        ],
        "missing_projects": ["zz"],
        "errors": [{"kind": "projects", "project_id": "zz", "error": "not found in the resource"}],
        "expected": {"projects": 4},
    }
    assert state.custom_status == {
        "phase": "exporting",
        "projects": 3,
        "projects_done": 3,
        "running": [],
        "done": {"images": 7, "tags": 1},
    }


def test_projects_are_expected_only_when_their_rows_are_asked_for():
    """A data subject's export asks for their images alone: no project row is written, so none is
    expected (else every such export would end partially_succeeded)."""
    task = s.resource_task(include=["images", "image_files"], images={"metadata": {"subject": "fp"}})
    run = Orchestration(names.EXPORT_RESOURCE_ORCHESTRATOR, task, instance_id=s.RESOURCE_INSTANCE)
    (listing,) = run.replay().new
    run.complete(listing, {"project_ids": ["a"], "missing": ["zz"]})
    (a,) = run.replay().new
    run.complete(a, {"project_id": "a", "exported": {"images": 2}})
    state = run.replay()
    assert state.done
    assert state.output["expected"] == {}
    assert state.output["errors"] == [{"kind": "projects", "project_id": "zz", "error": "not found in the resource"}]


def test_a_refused_key_ends_the_resource_at_once_with_the_reason():
    """The listing answers that the key was refused (no retry would make it right): the resource ends
    with that reason, as if the listing had failed after its retries, without waiting for them."""
    refused = "get_projects: HTTP 401 Unauthorized: Access denied due to invalid subscription key."
    run = Orchestration(names.EXPORT_RESOURCE_ORCHESTRATOR, s.resource_task(), instance_id=s.RESOURCE_INSTANCE)
    state = run.drive(lambda call: {"refused": refused})
    assert [call.name for call in run.calls] == [names.LIST_PROJECTS]
    assert state.done
    assert state.output["projects"] == []
    assert state.output["errors"] == [{"kind": "resource", "resource": s.RESOURCE, "error": refused}]


def test_a_resource_that_cannot_be_listed_is_reported_not_raised():
    """The listing failing on every attempt ends the resource with the reason in ``errors`` and
    nothing exported, so the request still finalizes the other resources."""
    run = Orchestration(names.EXPORT_RESOURCE_ORCHESTRATOR, s.resource_task(), instance_id=s.RESOURCE_INSTANCE)
    state = run.drive(lambda call: Failure("CustomVisionError: 401 Unauthorized"))
    assert [call.name for call in run.calls] == [names.LIST_PROJECTS]
    assert state.done
    assert state.error is None
    assert state.output == {
        "resource": s.RESOURCE,
        "projects": [],
        "missing_projects": [],
        "errors": [
            {
                "kind": "resource",
                "resource": s.RESOURCE,
                "error": "Activity function 'dsr_list_projects' failed: CustomVisionError: 401 Unauthorized",
            }
        ],
        "expected": {},
    }
