"""Erase orchestrators (``shared.orchestration.erase``) replayed by the Durable library.

Why: an erase is only as good as its order. A whole project must be unpublished before its images go,
its images must be gone (the service deletes them in the background: waited for with durable timers,
never an activity that sleeps) before its predictions, tags, iterations and the project itself, and the
read-back comes last. A data subject's images are deleted in bounded batches from a stored id list.
These tests pin that order, the payloads, the polling schedule, and what a project reports when a
step fails for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.orchestration import names

from . import scenarios as s
from .harness import Call, EventType, Failure, Late, Orchestration, parse_time


def _order(run: Orchestration) -> list[str]:
    return [call.name or "timer" for call in run.calls]


def _timer_gaps(run: Orchestration) -> list[float]:
    """Seconds from each timer's creation (the clock of the episode that asked for it) to its fire time."""
    gaps = []
    for index, event in enumerate(run.events):
        if event["EventType"] == EventType.TIMER_CREATED and any(
            c.kind == "timer" and c.event_id == event["EventId"] for c in run.calls
        ):
            created = parse_time(event["Timestamp"])
            gaps.append((parse_time(event["FireAt"]) - created).total_seconds())
            assert index > 0
    return gaps


def test_whole_project_erase_runs_its_steps_in_order_and_waits_with_timers():
    """unpublish → delete all images → poll the background deletion (timers of 1 s, then 2 s) until
    nothing remains → predictions until ``more`` is false → tags → iterations → project → verify."""
    run, respond = s.run_erase_project()
    run.cross_check = True
    state = run.drive(respond)

    assert _order(run) == [
        names.ERASE_PLAN_PROJECT,
        names.ERASE_UNPUBLISH,
        names.ERASE_ALL_IMAGES,
        names.ERASE_REMAINING_IMAGES,
        "timer",
        names.ERASE_REMAINING_IMAGES,
        "timer",
        names.ERASE_REMAINING_IMAGES,
        names.ERASE_PREDICTIONS,
        names.ERASE_PREDICTIONS,
        names.ERASE_TAGS,
        names.ERASE_ITERATIONS,
        names.ERASE_PROJECT,
        names.ERASE_VERIFY,
    ]
    b = s.BASE
    payloads = {call.name: call.input for call in run.calls if call.kind == "activity"}
    assert payloads == {
        names.ERASE_PLAN_PROJECT: {**b, "selector": None},
        names.ERASE_UNPUBLISH: {**b, "iteration_ids": ["it-1"]},
        names.ERASE_ALL_IMAGES: b,
        names.ERASE_REMAINING_IMAGES: {**b, "ids_path": None, "iteration_ids": ["it-1", "it-2"]},
        names.ERASE_PREDICTIONS: b,
        names.ERASE_TAGS: b,
        names.ERASE_ITERATIONS: {**b, "iteration_ids": None},
        names.ERASE_PROJECT: b,
        names.ERASE_VERIFY: {**b, "mode": "project"},
    }
    assert _timer_gaps(run) == [1.0, 2.0]
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    summary = state.output
    assert [step["step"] for step in summary["steps"]] == [
        "unpublish",
        "delete_images",
        "wait_for_images",
        "delete_predictions",
        "delete_tags",
        "delete_iterations",
        "delete_project",
    ]
    results = {step["step"]: step["result"] for step in summary["steps"]}
    assert results["wait_for_images"] == {"remaining": 0, "polls": 3}
    assert results["delete_predictions"] == {"deleted": 107}
    times = [datetime.fromisoformat(step["at"]) for step in summary["steps"]]
    assert times == sorted(times), "each step is stamped with the orchestration clock when it ended"
    assert summary["plan"] == s.PROJECT_PLAN
    assert summary["checks"] == s.PROJECT_CHECKS
    assert summary["errors"] == []
    assert state.custom_status == {"project_id": s.PROJECT, "steps_done": list(results), "step": "done"}


def test_whole_project_erase_skips_unpublish_and_predictions_when_there_are_none_to_do():
    """No published iteration: no unpublish call; ``predictions`` not in ``include``: predictions are
    left alone (the order of the other steps is unchanged)."""
    plan = {**s.PROJECT_PLAN, "published_iterations": []}
    task = s.project_task("erase", include=["projects", "images", "tags", "iterations"])
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    run.drive(s.erase_answers(plan, [0]))
    assert _order(run) == [
        names.ERASE_PLAN_PROJECT,
        names.ERASE_ALL_IMAGES,
        names.ERASE_REMAINING_IMAGES,
        names.ERASE_TAGS,
        names.ERASE_ITERATIONS,
        names.ERASE_PROJECT,
        names.ERASE_VERIFY,
    ]


def test_waiting_for_background_deletion_backs_off_to_15_s_and_gives_up_after_15_minutes():
    """The poll interval doubles up to 15 s and stays there; once 15 minutes have passed on the
    orchestration clock the wait ends with what remains (the read-back reports it) and the erase
    carries on. (The seventh poll's answer arrives 15 minutes late, so the deadline is reached in a
    few polls.)"""
    answers = s.erase_answers(s.PROJECT_PLAN, [7] * 10)
    polled = 0

    def respond(call: Call) -> Any:
        nonlocal polled
        if call.name != names.ERASE_REMAINING_IMAGES:
            return answers(call)
        polled += 1
        return Late(15 * 60, answers(call)) if polled == 7 else answers(call)

    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, s.project_task("erase"), instance_id=s.PROJECT_INSTANCE)
    state = run.drive(respond)

    assert _timer_gaps(run) == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    wait = next(step for step in state.output["steps"] if step["step"] == "wait_for_images")
    polls = run.asked(names.ERASE_REMAINING_IMAGES)
    assert wait["result"] == {"remaining": 7, "polls": 7}
    assert len(polls) == 7
    # The deadline counts from the first poll's scheduling; it is checked when a poll's answer arrives.
    started = parse_time(run.events[_completion_index(run, run.asked(names.ERASE_ALL_IMAGES)[0])]["Timestamp"])
    answered = [parse_time(run.events[_completion_index(run, poll)]["Timestamp"]) for poll in polls]
    assert answered[-1] - started >= timedelta(minutes=15) > answered[-2] - started
    assert _order(run)[-5:] == [
        names.ERASE_PREDICTIONS,
        names.ERASE_TAGS,
        names.ERASE_ITERATIONS,
        names.ERASE_PROJECT,
        names.ERASE_VERIFY,
    ]
    assert state.done
    assert state.error is None


def _completion_index(run: Orchestration, call: Call) -> int:
    """Index of the OrchestratorStarted of the episode in which ``call`` completed."""
    index = next(
        i
        for i, e in enumerate(run.events)
        if e["EventType"] == EventType.TASK_COMPLETED and e.get("TaskScheduledId") == call.event_id
    )
    return max(i for i in range(index) if run.events[i]["EventType"] == EventType.ORCHESTRATOR_STARTED)


def test_a_data_subjects_images_are_deleted_in_batches_then_waited_for_then_verified():
    """Selection mode: ceil(600 / 256) = 3 batch deletes of the stored ids, ``page_width`` (2) at a
    time (the next batch only once both are done), the wait polls the selected ids, the iterations the
    images were trained into are deleted when asked to, and verify reads back the same ids."""
    task = s.project_task("erase", images=s.SELECTOR, page_width=2, delete_affected_iterations=True)
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE, cross_check=True)
    respond = s.erase_answers(s.SELECTION_PLAN, [0])
    b = s.BASE

    (plan,) = run.replay().new
    assert plan.input == {**b, "selector": s.SELECTOR}
    run.complete(plan, respond(plan))
    state = run.replay()
    batch = {**b, "ids_path": s.IDS_PATH}
    assert [(c.name, c.input) for c in state.new] == [
        (names.ERASE_IMAGE_BATCH, {**batch, "batch": 0}),
        (names.ERASE_IMAGE_BATCH, {**batch, "batch": 1}),
    ]
    assert state.custom_status == {
        "project_id": s.PROJECT,
        "steps_done": [],
        "step": "delete_images",
        "batches": 3,
        "batches_done": 0,
    }
    first, second = state.new
    run.complete(second, respond(second))
    assert run.replay().new == [], "a batch waits for all its deletes"
    run.complete(first, respond(first))
    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [(names.ERASE_IMAGE_BATCH, {**batch, "batch": 2})]
    assert state.custom_status["batches_done"] == 2
    state = run.drive(respond)

    assert _order(run)[4:] == [names.ERASE_REMAINING_IMAGES, names.ERASE_ITERATIONS, names.ERASE_VERIFY]
    payloads = {call.name: call.input for call in run.calls}
    assert payloads[names.ERASE_REMAINING_IMAGES] == {**b, "ids_path": s.IDS_PATH, "iteration_ids": ["it-1"]}
    assert payloads[names.ERASE_ITERATIONS] == {**b, "iteration_ids": ["it-1"]}
    assert payloads[names.ERASE_VERIFY] == {
        **b,
        "mode": "images",
        "ids_path": s.IDS_PATH,
        "iteration_ids": ["it-1"],
        "deleted_iterations": ["it-1"],
    }
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    steps = {step["step"]: step["result"] for step in state.output["steps"]}
    assert list(steps) == ["delete_images", "wait_for_images", "delete_iterations"]
    assert steps["delete_images"] == {"requested": 600, "batches": 3}
    assert state.output["checks"] == s.IMAGE_CHECKS


def test_a_data_subjects_erase_keeps_affected_iterations_unless_asked():
    """Without ``delete_affected_iterations`` no iteration is deleted and verify is told so."""
    task = s.project_task("erase", images=s.SELECTOR)
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    run.drive(s.erase_answers(s.SELECTION_PLAN, [3, 0]))
    assert names.ERASE_ITERATIONS not in _order(run)
    assert run.asked(names.ERASE_VERIFY)[0].input["deleted_iterations"] == []
    assert [call.input["batch"] for call in run.asked(names.ERASE_IMAGE_BATCH)] == [0, 1, 2]


@pytest.mark.parametrize(
    ("plan", "dry_run"),
    [({**s.PROJECT_PLAN}, True), ({"project_id": s.PROJECT, "exists": False}, False)],
    ids=["dry-run", "project-already-gone"],
)
def test_a_dry_run_or_a_missing_project_stops_after_the_plan(plan: dict[str, Any], dry_run: bool):
    """The plan is the whole answer of a dry run, and of a project that does not exist: nothing is
    deleted, nothing is verified."""
    task = s.project_task("erase", dry_run=dry_run)
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE)
    state = run.drive(s.erase_answers(plan, []))
    assert _order(run) == [names.ERASE_PLAN_PROJECT]
    assert state.done
    assert state.error is None
    assert state.output == {
        "resource": s.RESOURCE,
        "project_id": s.PROJECT,
        "plan": plan,
        "steps": [],
        "checks": [],
        "errors": [],
    }


def test_a_step_failing_after_its_retries_ends_the_project_with_the_steps_done_and_the_error():
    """Deleting tags failing on every attempt: the project stops there (no iteration or project
    delete on top of a half-done erase, no verify), keeps the steps it did, records the error, and
    returns normally so the request can finalize it."""
    answers = s.erase_answers(s.PROJECT_PLAN, [0])

    def respond(call: Call) -> Any:
        return Failure("CustomVisionError: 503 ServiceUnavailable") if call.name == names.ERASE_TAGS else answers(call)

    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, s.project_task("erase"), instance_id=s.PROJECT_INSTANCE)
    state = run.drive(respond)
    assert _order(run)[-1] == names.ERASE_TAGS
    assert run.asked(names.ERASE_TAGS)[0].attempts == 4
    assert state.done
    assert state.error is None
    summary = state.output
    assert [step["step"] for step in summary["steps"]] == [
        "unpublish",
        "delete_images",
        "wait_for_images",
        "delete_predictions",
    ]
    assert summary["checks"] == []
    assert summary["errors"] == [
        {
            "kind": "project",
            "project_id": s.PROJECT,
            "error": "Activity function 'dsr_erase_tags' failed: CustomVisionError: 503 ServiceUnavailable",
        }
    ]


def test_resource_erase_runs_a_project_orchestration_per_project_and_missing_ones_are_not_errors():
    """A listed project that is not there is already erased: reported in ``missing_projects`` only."""
    task = s.resource_task("erase", projects=["a", "zz"])
    run = Orchestration(names.ERASE_RESOURCE_ORCHESTRATOR, task, instance_id=s.RESOURCE_INSTANCE)

    def respond(call: Call) -> Any:
        if call.name == names.LIST_PROJECTS:
            return {"project_ids": ["a"], "missing": ["zz"]}
        return {"project_id": call.input["project_id"], "steps": [], "checks": []}

    state = run.drive(respond)
    (project,) = run.asked(names.ERASE_PROJECT_ORCHESTRATOR)
    assert project.instance_id == f"{s.RESOURCE_INSTANCE}:a"
    assert project.input == {**task, "project_id": "a"}
    assert project.input["dry_run"] is False
    assert project.input["delete_affected_iterations"] is False
    assert state.output == {
        "resource": s.RESOURCE,
        "projects": [{"project_id": "a", "steps": [], "checks": []}],
        "missing_projects": ["zz"],
        "errors": [],
    }
    assert state.custom_status["phase"] == "erasing"
