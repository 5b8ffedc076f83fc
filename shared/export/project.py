"""Per-project metadata: project, tags, iterations, performance, model exports, and the counts the
manifest checks the export against."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from shared.catalogue import Count
from shared.customvision import CustomVisionClientError, NotFoundError
from shared.customvision.models import EXPORT_STATUS_DONE, ITERATION_STATUS_COMPLETED
from shared.results import layout
from shared.step import Step

from .files import copy_file, describe_failure, for_export

logger = logging.getLogger(__name__)


async def list_project_ids(step: Step, projects: str | list[str]) -> dict[str, Any]:
    """The projects in scope: every project, or the listed ones that exist (the others are reported)."""
    existing = [project.id for project in await step.client.get_projects()]
    if projects == "all":
        return {"project_ids": existing, "missing": []}
    wanted = [project_id.lower() for project_id in projects]
    present = {project_id.lower() for project_id in existing}
    return {
        "project_ids": [p for p in wanted if p in present],
        "missing": [p for p in wanted if p not in present],
    }


async def export_project_details(
    step: Step, project_id: str, include: Collection[str], *, count_images: bool = True
) -> dict[str, Any]:
    """Write project.json, tags.json, iterations.json and per-iteration files; return ids and counts.

    Returns ``iterations`` (id and whether it was trained; at most 20 per project), ``expected`` (the
    API's own counts) and ``exported`` (what was written), plus ``errors``. ``count_images`` is off for
    a data subject's export, whose expected image counts come from the selection instead.
    """
    client, store, request_id = step.client, step.store, step.request_id
    exported: dict[str, int] = {}
    expected: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    project = await client.get_project(project_id)
    if "projects" in include:
        await store.put_json(layout.project_file(request_id, project_id, "project.json"), for_export(project))
        exported[Count.PROJECTS] = 1

    if "tags" in include:
        tags = await client.get_tags(project_id)
        await store.put_json(layout.project_file(request_id, project_id, "tags.json"), for_export(tags))
        exported[Count.TAGS] = len(tags)
        expected[Count.TAGS] = len(tags)

    iterations = await client.get_iterations(project_id)
    if "iterations" in include:
        await store.put_json(
            layout.project_file(request_id, project_id, "iterations.json"),
            for_export(iterations),
        )
        expected[Count.ITERATIONS] = len(iterations)
        exported[Count.ITERATIONS] = 0

    summaries = []
    for listed in iterations:
        iteration_id = listed.id
        trained = listed.status == ITERATION_STATUS_COMPLETED
        summaries.append({"id": iteration_id, "trained": trained})

        def path(name: str, iteration_id: str = iteration_id) -> str:
            return layout.iteration_file(request_id, project_id, iteration_id, name)

        if "iterations" in include:
            iteration = await client.get_iteration(project_id, iteration_id)
            await store.put_json(path("iteration.json"), for_export(iteration))
            exported[Count.ITERATIONS] += 1
        if "tags" in include and trained:
            iteration_tags = await client.get_tags(project_id, iteration_id=iteration_id)
            await store.put_json(path("tags.json"), for_export(iteration_tags))
        if "performance" in include and trained:
            try:
                performance = await client.get_iteration_performance(project_id, iteration_id)
            except NotFoundError as error:
                errors.append(
                    {"kind": Count.PERFORMANCE, "iteration_id": iteration_id, "error": describe_failure(error)}
                )
            else:
                await store.put_json(path("performance.json"), for_export(performance))
                exported[Count.PERFORMANCE] = exported.get(Count.PERFORMANCE, 0) + 1
                count = await client.get_image_performance_count(project_id, iteration_id)
                expected.setdefault(Count.IMAGE_PERFORMANCES, {})[iteration_id] = count
        if "exports" in include and trained:
            await _export_models(step, project_id, iteration_id, exported, errors)
        if "images" in include and trained and count_images:
            count = await client.get_image_count(project_id, iteration_id=iteration_id)
            expected.setdefault(Count.ITERATION_IMAGES, {})[iteration_id] = count

    if "images" in include and count_images:
        expected[Count.IMAGES] = await client.get_image_count(project_id)
        expected[Count.TAGGED_IMAGES] = await client.get_tagged_image_count(project_id)
        expected[Count.UNTAGGED_IMAGES] = await client.get_untagged_image_count(project_id)

    return {
        "project_id": project_id,
        "iterations": summaries,
        "expected": expected,
        "exported": exported,
        "errors": errors,
    }


async def _export_models(
    step: Step, project_id: str, iteration_id: str, exported: dict[str, int], errors: list[dict[str, str]]
) -> None:
    """exports.json, and each finished model file (what "exported models" holds)."""
    client, store, request_id = step.client, step.store, step.request_id
    exports = await client.get_exports(project_id, iteration_id)
    await store.put_json(
        layout.iteration_file(request_id, project_id, iteration_id, "exports.json"),
        for_export(exports),
    )
    exported[Count.EXPORTS] = exported.get(Count.EXPORTS, 0) + len(exports)
    for export in exports:
        if export.status != EXPORT_STATUS_DONE or not export.download_uri:
            continue
        name = f"{export.platform or 'model'}-{export.flavor or 'default'}".lower()

        def path_for(extension: str, name: str = name) -> str:
            return layout.iteration_file(request_id, project_id, iteration_id, f"exports/{name}.{extension}")

        async def refresh(platform: str | None = export.platform, flavor: str | None = export.flavor) -> str | None:
            for fresh in await client.get_exports(project_id, iteration_id):
                if fresh.platform == platform and fresh.flavor == flavor:
                    return fresh.download_uri
            return None

        try:
            await copy_file(
                client,
                store,
                project_id,
                export.download_uri,
                path_for,
                refresh_uri=refresh,
                default_extension="zip",
            )
        except CustomVisionClientError as error:  # one file failing must not lose the rest; reported
            logger.warning(
                "model export file of iteration %s could not be copied: %s",
                iteration_id,
                describe_failure(error),
            )
            errors.append({"kind": Count.EXPORTS, "iteration_id": iteration_id, "error": describe_failure(error)})
        else:
            exported[Count.EXPORT_FILES] = exported.get(Count.EXPORT_FILES, 0) + 1
