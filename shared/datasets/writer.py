"""One project's datasets, written after its image listings are committed (``dsr_export_datasets``).

Reads the project's type from the API (the domain says detection or classification; the project
says multi-class or multi-label), then streams the committed listings into each format asked for.
A re-run writes the same bytes over the same blobs. Returns the files with their digests, which the
manifest lists like every other file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from shared.export.files import without_query
from shared.export.images import images_jsonl_path
from shared.export.tables import csv_line, file_index, jsonl_records
from shared.results import layout
from shared.step import Step

from . import azureml, coco, rows
from .source import WORKSPACE, DatasetImage, Listing, dataset_images


async def write_datasets(
    step: Step, project_id: str, iteration_ids: Sequence[str], formats: Sequence[str]
) -> dict[str, Any]:
    client, store, request_id = step.client, step.store, step.request_id
    project = await client.get_project(project_id)
    settings = project.settings
    domain = await client.get_domain(settings.domain_id) if settings and settings.domain_id else None
    detection = domain is not None and domain.type == "ObjectDetection"
    tag_names = [tag.name for tag in await client.get_tags(project_id)]

    listings = [Listing(WORKSPACE, images_jsonl_path(request_id, project_id, None))]
    listings += [Listing(it, images_jsonl_path(request_id, project_id, it)) for it in iteration_ids]
    listings = [listing for listing in listings if await store.exists(listing.path)]
    folder = f"{layout.project_dir(request_id, project_id)}/images/"
    files = {image_id: path for image_id, (path, _digest) in (await file_index(store, request_id, folder)).items()}

    def images() -> AsyncIterator[DatasetImage]:
        return dataset_images(listings, lambda path: jsonl_records(store, path), files)

    written: list[dict[str, Any]] = []

    async def put(fmt: str, name: str, chunks: AsyncIterator[bytes], content_type: str) -> None:
        stored = await store.put_stream(layout.dataset_file(request_id, project_id, name), chunks, content_type)
        written.append({"format": fmt, "path": stored.path, "sha256": stored.sha256})

    if "coco" in formats:
        description = f"Custom Vision project {project.name} ({project_id}), exported by cvdsr"
        await put(
            "coco",
            "coco.json",
            coco.coco_chunks(images, tag_names, detection=detection, description=description),
            "application/json",
        )
    if "azureml" in formats:
        task = azureml.task_of(
            detection=detection, classification_type=settings.classification_type if settings else None
        )
        base = f"{without_query(store.container.url)}/{request_id}"

        async def lines() -> AsyncIterator[bytes]:
            async for image in images():
                line = azureml.line(image, task, base)
                if line is not None:
                    yield azureml.jsonl_line(line)

        await put("azureml", "azureml/images.jsonl", lines(), "application/x-ndjson")
        stored = await store.put_bytes(
            layout.dataset_file(request_id, project_id, "azureml/MLTable"), azureml.MLTABLE.encode(), "text/yaml"
        )
        written.append({"format": "azureml", "path": stored.path, "sha256": stored.sha256})
    if "csv" in formats:

        async def table() -> AsyncIterator[bytes]:
            yield csv_line(rows.COLUMNS)
            async for image in images():
                yield csv_line(rows.row(image))

        await put("csv", "dataset.csv", table(), "text/csv; charset=utf-8")
    return {"files": written, "task": "detection" if detection else "classification"}
