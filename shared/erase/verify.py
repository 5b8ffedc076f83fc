"""Read-back after erasing: each check records what was expected, what the API answered, and when.

Anything still there fails the check, with the ids, so the request ends ``partially_succeeded`` or
``failed`` and never as a silent success.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.customvision import NotFoundError
from shared.selection import read_ids
from shared.step import Step

MAX_IDS_REPORTED = 100


def _check(name: str, target: str, expected: str, observed: str, passed: bool, **extra: Any) -> dict[str, Any]:
    return {
        "check": name,
        "target": target,
        "expected": expected,
        "observed": observed,
        "passed": passed,
        "time": datetime.now(UTC).isoformat(),
        **extra,
    }


async def verify_project_deleted(step: Step, project_id: str) -> list[dict[str, Any]]:
    client = step.client
    checks = []
    try:
        await client.get_project(project_id)
    except NotFoundError as error:
        checks.append(_check("GetProject", project_id, "NotFound", error.code or "NotFound", True))
        return checks
    checks.append(_check("GetProject", project_id, "NotFound", "200 OK", False))
    count = await client.get_image_count(project_id)
    checks.append(_check("GetImageCount", project_id, "0", str(count), count == 0))
    return checks


async def verify_images_deleted(
    step: Step, project_id: str, ids_path: str, iteration_ids: list[str], deleted_iterations: list[str]
) -> list[dict[str, Any]]:
    client = step.client
    ids = await read_ids(step.store, ids_path, 0, 10**9)
    checks = []
    for iteration_id in [None, *iteration_ids]:
        target = project_id if iteration_id is None else f"{project_id}/iterations/{iteration_id}"
        if iteration_id in deleted_iterations:
            try:
                await client.get_iteration(project_id, iteration_id)
            except NotFoundError as error:
                checks.append(_check("GetIteration", target, "NotFound", error.code or "NotFound", True))
            else:
                checks.append(_check("GetIteration", target, "NotFound", "200 OK", False))
            continue
        try:
            still = [
                image.id
                async for page in client.iter_images_by_ids(project_id, ids, iteration_id=iteration_id)
                for image in page
            ]
        except NotFoundError as error:
            checks.append(_check("GetImagesByIds", target, "none of the ids", error.code or "NotFound", True))
            continue
        checks.append(
            _check(
                "GetImagesByIds",
                target,
                "none of the ids",
                f"{len(still)} of {len(ids)}",
                not still,
                remaining_ids=still[:MAX_IDS_REPORTED],
            )
        )
    return checks
