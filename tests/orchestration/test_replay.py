"""Properties of the orchestrators under the library's replay, rather than what they do.

Why: Durable replays an orchestrator from its history on every event, and the 1.x Python library keeps
its own task numbering that must stay in step with the extension's. A retried activity adds timers and
attempts to that numbering; azure-functions-durable-python#603 (closed, won't fix) is an orchestration
that hangs when retried tasks and new work get out of step. cvdsr only starts new work once a whole
batch of retried activities has ended (``in_batches``); these tests show that this holds up: the work
after a batch with retries is scheduled and resumes the orchestrator, with the extension's numbering
(cross-checked against the development host's model of the shim). And the same history must always
give the same actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from shared.orchestration import names

from . import scenarios as s
from .harness import HANDLES, Orchestration
from .scenarios import Respond

PAGE = {"images": 256, "tagged_images": 250, "untagged_images": 6, "files": 256, "errors": []}


def _project(include: list[str]) -> Orchestration:
    task = s.project_task(include=include, page_width=2)
    return Orchestration(names.EXPORT_PROJECT_ORCHESTRATOR, task, instance_id=s.PROJECT_INSTANCE, cross_check=True)


def _details(images: int, iteration_images: int) -> dict[str, Any]:
    return {
        "expected": {"images": images, "iteration_images": {"it-1": iteration_images}},
        "exported": {"project": 1},
        "errors": [],
        "iterations": [{"id": "it-1", "trained": True}],
    }


def test_after_a_batch_of_retried_pages_the_next_work_is_scheduled_and_resumes_the_orchestrator():
    """The #603 pattern, done the safe way: a batch of two retried pages where both fail, one is
    retried twice, their retry timers and new attempts interleave, and only then the batch ends; the
    next batch (page 2), the commit and the snapshot pages are each scheduled under the ids the
    extension gives them and each completion moves the orchestration on, to its end."""
    run = _project(["images", "image_files"])
    (details,) = run.replay().new
    run.complete(details, _details(600, 257))

    state = run.replay()
    assert [(c.name, c.input["page"]) for c in state.new] == [
        (names.EXPORT_IMAGE_PAGE, 0),
        (names.EXPORT_IMAGE_PAGE, 1),
    ]
    page0, page1 = state.new

    run.fail(page0, "429 Too Many Requests")  # both fail in one episode: two retry timers
    run.fail(page1, "429 Too Many Requests")
    assert run.replay().new == []
    assert run.retry(page0)
    assert run.retry(page1)
    assert run.replay().new == []
    run.fail(page1, "429 Too Many Requests")  # page 1 fails again while page 0's attempt runs
    run.complete(page0, PAGE)
    assert run.replay().new == [], "half a batch is not a batch"
    assert run.retry(page1)
    run.complete(page1, PAGE)

    state = run.replay()  # the batch is done: new work
    assert [(c.name, c.input["page"]) for c in state.new] == [(names.EXPORT_IMAGE_PAGE, 2)]
    assert (page0.attempts, page1.attempts) == (2, 3)
    # ids so far: details 0, pages 1-2, retry timers 3-4, attempts 5-6, timer 7, attempt 8: page 2 is 9.
    assert state.new[0].event_id == 9
    run.complete(state.new[0], {**PAGE, "images": 88, "tagged_images": 88, "untagged_images": 0, "files": 88})

    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [
        (names.COMMIT_JSONL, {**s.BASE, "listing": "images", "iteration_id": None, "pages": 3})
    ]
    run.complete(state.new[0], {"path": "images.jsonl"})
    state = run.replay()
    assert [(c.input["iteration_id"], c.input["page"]) for c in state.new] == [("it-1", 0), ("it-1", 1)]
    snapshot0, snapshot1 = state.new
    run.fail(snapshot1, "429 Too Many Requests")
    run.complete(snapshot0, {"images": 256, "files": 0, "errors": []})
    assert run.replay().new == []
    assert run.retry(snapshot1)
    run.complete(snapshot1, {"images": 1, "files": 0, "errors": []})
    state = run.replay()
    assert [(c.name, c.input["iteration_id"]) for c in state.new] == [(names.COMMIT_JSONL, "it-1")]
    run.complete(state.new[0], {"path": "it-1/images.jsonl"})

    state = run.replay()
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    assert state.output["exported"] == {
        "project": 1,
        "images": 600,
        "tagged_images": 588,
        "untagged_images": 12,
        "image_files": 600,
        "iteration_images": 257,
    }
    assert state.output["errors"] == []


def test_a_page_failing_for_good_while_its_sibling_still_retries_ends_the_project_cleanly():
    """One page of a batch uses up its attempts while the other is between attempts: the library
    fails the batch at the first error and the project returns what it has (no exception); the
    extension completes the instance only once the sibling has ended too, and nothing new is asked."""
    run = _project(["images"])
    (details,) = run.replay().new
    run.complete(details, _details(300, 0))
    page0, page1 = run.replay().new
    run.fail(page0, "429 Too Many Requests")
    run.fail(page1, "500 InternalServerError")
    assert run.retry(page0)
    assert run.retry(page1)
    for _attempt in range(3):
        run.fail(page1, "500 InternalServerError")
        run.retry(page1)
    assert page1.ended
    assert page1.attempts == 4

    state = run.replay()
    assert state.done
    assert state.error is None
    assert state.new == []
    assert state.extension_walk_finished is False, "the shim still waits for page 0's attempt"
    assert state.output["errors"] == [
        {
            "kind": "project",
            "project_id": s.PROJECT,
            "error": "Activity function 'dsr_export_image_page' failed: 500 InternalServerError",
        }
    ]
    run.complete(page0, PAGE)
    final = run.replay()
    assert final.done
    assert final.new == []
    assert final.extension_walk_finished
    assert final.output == state.output


RUNS: dict[str, Callable[[], tuple[Orchestration, Respond]]] = {
    "request": s.run_request,
    "export_resource": s.run_export_resource,
    "export_project": s.run_export_project,
    "erase_resource": s.run_erase_resource,
    "erase_project": s.run_erase_project,
}


@pytest.mark.parametrize("which", list(RUNS))
def test_the_same_history_always_gives_the_same_state(which: str):
    """Every episode's history, replayed twice more by fresh handles, gives exactly the state it gave
    the first time (actions with their payloads, output, custom status): nothing in the orchestrators
    reads a clock, a random number or the environment outside the context."""
    run, respond = RUNS[which]()
    final = run.drive(respond)
    assert final.done
    assert final.error is None
    assert len(run.contexts) == len(run.states) >= 3
    for context, state in zip(run.contexts, run.states, strict=True):
        first, second = run.invoke(context), run.invoke(context)
        assert first == second == state.raw


def test_the_blueprint_registers_each_orchestrator_under_its_name():
    """The Functions host calls the blueprint's handles (``functions.orchestrators``); each must run
    the generator these tests drive under the name history refers to, giving the same states."""
    from azure.functions.decorators.function_app import FunctionBuilder

    import functions.orchestrators as blueprint

    built = [value.build() for value in vars(blueprint).values() if isinstance(value, FunctionBuilder)]
    handles = {function.get_function_name(): function.get_user_function() for function in built}
    assert set(handles) == set(HANDLES)
    for which, make in RUNS.items():
        run, respond = make()
        run.drive(respond)
        for context, state in zip(run.contexts, run.states, strict=True):
            assert json.loads(handles[run.name](context)) == state.raw, which


def test_the_retry_policy_reaches_the_extension_with_its_backoff():
    """What the extension's retry interceptor gets is only what the action carries."""
    run = Orchestration(names.ERASE_PROJECT_ORCHESTRATOR, s.project_task("erase"), instance_id=s.PROJECT_INSTANCE)
    (plan,) = run.replay().new
    assert plan.retry == {
        "firstRetryIntervalInMilliseconds": 5000,
        "maxNumberOfAttempts": 4,
        "backoffCoefficient": 2.0,
        "maxRetryIntervalInMilliseconds": 60000,
    }
