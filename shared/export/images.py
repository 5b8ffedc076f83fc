"""Images, a page (256) at a time: metadata lines into ``images.jsonl`` and the original files.

Pages of one listing run in parallel. Each stages its lines as block ``page`` of the JSONL blob, and
``commit_jsonl`` assembles the blocks in page order once every page is done, so the file is one
ordered JSONL no matter which page finished first, and a re-run page replaces its own block.
Pages are read oldest first: images added during the export land after the pages planned from the
count, and the manifest's count check reports them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.catalogue import Count
from shared.customvision import MAX_TAKE
from shared.customvision.models import Image
from shared.results import layout
from shared.results.store import ResultStore, jsonl_bytes
from shared.selection import read_ids
from shared.step import Step

from .files import copy_counted, copy_file, for_export

logger = logging.getLogger(__name__)

FILE_CONCURRENCY = 8  # storage downloads per page; they do not count against the API's rate limit


def images_jsonl_path(request_id: str, project_id: str, iteration_id: str | None) -> str:
    if iteration_id is None:
        return layout.project_file(request_id, project_id, "images.jsonl")
    return layout.iteration_file(request_id, project_id, iteration_id, "images.jsonl")


async def export_image_page(
    step: Step,
    project_id: str,
    iteration_id: str | None,
    page: int,
    *,
    with_files: bool,
    page_size: int = MAX_TAKE,
) -> dict[str, Any]:
    """One page of the workspace (``iteration_id`` None) or of a trained iteration's snapshot.

    Snapshot pages copy only files the workspace pages did not (images removed from the workspace
    but still in an iteration), so each image file is written once.
    """
    images = await step.client.get_images(project_id, iteration_id=iteration_id, skip=page * page_size, take=page_size)
    return await _write_page(step, project_id, iteration_id, page, images, with_files=with_files)


async def export_selected_image_page(
    step: Step, project_id: str, iteration_id: str | None, ids_path: str, page: int, *, with_files: bool
) -> dict[str, Any]:
    """One page (256 ids) of a data subject's images, from the selection's work blob.

    Same part index and JSONL file as ``export_image_page``, so the rest of the export (commit,
    manifest, report) does not care how the images were chosen. Ids a listing does not hold are
    simply absent from its page.
    """
    ids = await read_ids(step.store, ids_path, page * MAX_TAKE, MAX_TAKE)
    images: list[Image] = []
    async for found in step.client.iter_images_by_ids(project_id, ids, iteration_id=iteration_id):
        images.extend(found)
    return await _write_page(step, project_id, iteration_id, page, images, with_files=with_files)


async def _write_page(
    step: Step, project_id: str, iteration_id: str | None, page: int, images: list[Image], *, with_files: bool
) -> dict[str, Any]:
    tagged = sum(1 for image in images if image.tags or image.regions)
    result: dict[str, Any] = {
        Count.IMAGES: len(images),
        Count.TAGGED_IMAGES: tagged,
        Count.UNTAGGED_IMAGES: len(images) - tagged,
        "files": 0,
        "file_bytes": 0,
        "errors": [],
    }
    if with_files:
        await _copy_files(step, project_id, iteration_id, images, result)
    path = images_jsonl_path(step.request_id, project_id, iteration_id)
    await step.store.stage_part(path, page, jsonl_bytes(for_export(images)))
    return result


async def _copy_files(
    step: Step, project_id: str, iteration_id: str | None, images: list[Image], result: dict[str, Any]
) -> None:
    """Copy the page's original files, a few at a time; failures are recorded per image, not raised."""
    semaphore = asyncio.Semaphore(FILE_CONCURRENCY)

    async def copy(image: Image) -> None:
        async with semaphore:
            if iteration_id is not None and await _file_exists(step, project_id, image.id):
                return
            uri = image.original_image_uri
            if not uri:
                result["errors"].append(
                    {"kind": Count.IMAGE_FILES, "image_id": image.id, "error": "no originalImageUri"}
                )
                return

            async def refresh() -> str | None:
                async for fresh in step.client.iter_images_by_ids(project_id, [image.id], iteration_id=iteration_id):
                    return fresh[0].original_image_uri if fresh else None
                return None

            copying = copy_file(
                step.client,
                step.store,
                project_id,
                uri,
                lambda ext: layout.image_file(step.request_id, project_id, image.id, ext),
                refresh_uri=refresh,
                default_extension="jpg",
            )
            await copy_counted(copying, result, {"kind": Count.IMAGE_FILES, "image_id": image.id})

    await asyncio.gather(*(copy(image) for image in images))


async def _file_exists(step: Step, project_id: str, image_id: str) -> bool:
    prefix = layout.image_file(step.request_id, project_id, image_id, "")
    async for _ in step.store.container.list_blob_names(name_starts_with=prefix):
        return True
    return False


async def commit_jsonl(store: ResultStore, path: str, pages: int) -> dict[str, Any]:
    """Assemble a paged JSONL file from its staged pages; returns its digest for the record."""
    stored = await store.commit_parts(path, list(range(pages)), "application/x-ndjson")
    return {"path": stored.path, "bytes": stored.size, "sha256": stored.sha256}
