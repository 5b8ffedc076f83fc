"""The erase steps, in the order the API accepts (README "What an erase does"):

unpublish every published iteration → delete images (from every iteration) → wait until the
background deletion is done → delete stored predictions → delete tags → delete iterations → delete
the project. Every step is idempotent: NotFound means "already done", so a re-run after a crash
continues where the last run stopped. That includes the project itself being gone: a step delivered
again after a crash may run after ``delete_project`` did (its completion was not recorded yet), and
a project that no longer exists has no images, predictions, tags or iterations left
(``_project_gone``). What each call did is in ``audit.jsonl`` (the client's observer);
the steps return counts only.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from shared.customvision import MAX_IMAGE_IDS, DeleteOutcome, NotFoundError
from shared.customvision.models import ITERATION_STATUS_COMPLETED
from shared.selection import read_ids, select_images
from shared.step import Step

PREDICTION_ROUNDS_PER_STEP = 20
NOTHING_DELETED = {"deleted": 0, "already_absent": 0}
P = ParamSpec("P")


def _project_gone(
    nothing_left: dict[str, Any],
) -> Callable[[Callable[P, Awaitable[dict[str, Any]]]], Callable[P, Awaitable[dict[str, Any]]]]:
    """The step's answer when the project is already deleted (``NotFoundProject``): nothing left to do.
    The read-back after the erase still checks that the project is gone."""

    def wrap(step: Callable[P, Awaitable[dict[str, Any]]]) -> Callable[P, Awaitable[dict[str, Any]]]:
        @functools.wraps(step)
        async def run(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
            try:
                return await step(*args, **kwargs)
            except NotFoundError as error:
                if error.code != "NotFoundProject":
                    raise
                return dict(nothing_left)

        return run

    return wrap


async def plan_project(step: Step, project_id: str, selector: dict[str, Any] | None) -> dict[str, Any]:
    """What an erase of this project would delete (also the dry run's answer). Mutates nothing."""
    client = step.client
    try:
        await client.get_project(project_id)
    except NotFoundError:
        return {"project_id": project_id, "exists": False}
    iterations = await client.get_iterations(project_id)
    plan: dict[str, Any] = {
        "project_id": project_id,
        "exists": True,
        "mode": "project" if selector is None else "images",
        "published_iterations": [i.id for i in iterations if i.is_published],
        "trained_iterations": [i.id for i in iterations if i.status == ITERATION_STATUS_COMPLETED],
        "iterations": len(iterations),
    }
    if selector is None:
        plan["images"] = await client.get_image_count(project_id)
        plan["iteration_images"] = {
            i: await client.get_image_count(project_id, iteration_id=i) for i in plan["trained_iterations"]
        }
        plan["tags"] = len(await client.get_tags(project_id))
        plan["predictions"] = await count_predictions(step, project_id)
    else:
        selection = await select_images(client, step.store, step.request_id, project_id, selector)
        plan["images"] = selection["images"]
        plan["affected_iterations"] = selection["affected_iterations"]
        plan["ids_path"] = selection["ids_path"]
    return plan


async def count_predictions(step: Step, project_id: str) -> int:
    return sum([len(page) async for page in step.client.iter_prediction_pages(project_id)])


@_project_gone(NOTHING_DELETED)
async def unpublish(step: Step, project_id: str, iteration_ids: list[str]) -> dict[str, Any]:
    outcomes = [await step.client.unpublish_iteration(project_id, i) for i in iteration_ids]
    return _tally(outcomes)


@_project_gone({"requested": "all"})
async def delete_all_images(step: Step, project_id: str) -> dict[str, Any]:
    """``allImages`` + ``allIterations``: the service finishes in the background; poll with
    ``remaining_images``."""
    await step.client.delete_all_images(project_id, all_iterations=True)
    return {"requested": "all"}


@_project_gone({"requested": 0})
async def delete_image_batch(step: Step, project_id: str, ids_path: str, batch: int) -> dict[str, Any]:
    """Batch ``batch`` (256 ids) of the selection, from the workspace and every iteration."""
    ids = await read_ids(step.store, ids_path, batch * MAX_IMAGE_IDS, MAX_IMAGE_IDS)
    if ids:
        await step.client.delete_images(project_id, ids, all_iterations=True)
    return {"requested": len(ids)}


@_project_gone({"remaining": 0})
async def remaining_images(
    step: Step, project_id: str, *, ids_path: str | None, iteration_ids: list[str]
) -> dict[str, Any]:
    """How many of the images to erase are still visible, workspace and snapshots together."""
    client = step.client
    ids = await read_ids(step.store, ids_path, 0, 10**9) if ids_path is not None else []
    remaining = 0
    for iteration_id in [None, *iteration_ids]:
        if ids_path is None:
            try:
                remaining += await client.get_image_count(project_id, iteration_id=iteration_id)
            except NotFoundError:
                continue  # the iteration is gone already
        else:
            async for page in client.iter_images_by_ids(project_id, ids, iteration_id=iteration_id):
                remaining += len(page)
    return {"remaining": remaining}


@_project_gone({"deleted": 0, "more": False})
async def delete_predictions(step: Step, project_id: str) -> dict[str, Any]:
    """Delete stored predictions, always re-reading from the start (the set shrinks as we delete).

    Bounded per call; ``more`` says whether to call again.
    """
    deleted = 0
    for _ in range(PREDICTION_ROUNDS_PER_STEP):
        page = await step.client.query_predictions(project_id)
        if not page.results:
            return {"deleted": deleted, "more": False}
        await step.client.delete_predictions(project_id, [p.id for p in page.results])
        deleted += len(page.results)
    return {"deleted": deleted, "more": True}


@_project_gone(NOTHING_DELETED)
async def delete_tags(step: Step, project_id: str) -> dict[str, Any]:
    tags = await step.client.get_tags(project_id)
    return _tally([await step.client.delete_tag(project_id, tag.id) for tag in tags])


@_project_gone(NOTHING_DELETED)
async def delete_iterations(step: Step, project_id: str, iteration_ids: list[str] | None = None) -> dict[str, Any]:
    """Every iteration (or the listed ones). Published ones are unpublished first: an iteration
    published between planning and now would otherwise block the delete."""
    client = step.client
    iterations = await client.get_iterations(project_id)
    chosen = [i for i in iterations if iteration_ids is None or i.id in iteration_ids]
    outcomes = []
    for iteration in chosen:
        if iteration.is_published:
            await client.unpublish_iteration(project_id, iteration.id)
        outcomes.append(await client.delete_iteration(project_id, iteration.id))
    return _tally(outcomes)


async def delete_project(step: Step, project_id: str) -> dict[str, Any]:
    return _tally([await step.client.delete_project(project_id)])


def _tally(outcomes: list[DeleteOutcome]) -> dict[str, int]:
    return {
        "deleted": sum(1 for o in outcomes if o is DeleteOutcome.DELETED),
        "already_absent": sum(1 for o in outcomes if o is DeleteOutcome.ALREADY_ABSENT),
    }
