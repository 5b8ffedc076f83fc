"""Finding a data subject's images: by id, by tag name, or by metadata, in the workspace and in every
trained iteration's snapshot. Both a selective export and a selective erase start here.

The ids are collected before anything is deleted (paging with ``skip`` over a set that shrinks under
deletes would skip images) and kept in a work blob, not in orchestration history. Only ids are kept:
erasure never copies the content it erases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from shared import fingerprints
from shared.customvision import TrainingClient, metadata_filter
from shared.customvision.models import ITERATION_STATUS_COMPLETED, Image
from shared.results import layout
from shared.results.store import ResultStore

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobServiceClient


class SelectorUnavailable(RuntimeError):
    """The clear selector is gone or is not the one this request was started with. Nothing is selected:
    selecting with another request's values could export or erase another person's images."""


def work_ids_path(request_id: str, project_id: str) -> str:
    return f"{layout.work_prefix(request_id)}projects/{project_id}/image-ids.txt"


async def clear_selector(
    service: BlobServiceClient, store: ResultStore, request_id: str, fingerprinted: Mapping[str, Any]
) -> dict[str, Any]:
    """The selector in clear, from the request's private work blob, checked against the fingerprints
    the orchestration carries (history holds only those)."""
    try:
        private = await store.read_json(layout.private_request(request_id))
    except ResourceNotFoundError:
        raise SelectorUnavailable("the request's private selector is gone (the request already ended)") from None
    clear = (private.get("scope") or {}).get("images")
    fingerprinter = await fingerprints.load(service)
    if not isinstance(clear, dict) or not fingerprinter.matches(fingerprinted, clear):
        raise SelectorUnavailable("the request's private selector does not match its fingerprints")
    return clear


async def _matching(
    client: TrainingClient,
    project_id: str,
    selector: Mapping[str, Any],
    iteration_id: str | None,
    tag_ids: list[str],
) -> AsyncIterator[list[Image]]:
    if selector.get("image_ids"):
        async for page in client.iter_images_by_ids(project_id, selector["image_ids"], iteration_id=iteration_id):
            yield page
    for tag_id in tag_ids:
        async for page in client.iter_image_pages(project_id, iteration_id=iteration_id, tag_ids=[tag_id]):
            yield page
    if selector.get("metadata"):
        expression = metadata_filter(selector["metadata"])
        async for page in client.iter_image_pages(project_id, iteration_id=iteration_id, metadata_filter=expression):
            yield page


async def select_images(
    client: TrainingClient, store: ResultStore, request_id: str, project_id: str, selector: Mapping[str, Any]
) -> dict[str, Any]:
    """Write the matching image ids (workspace and snapshots, de-duplicated) to the work blob.

    Returns the number of distinct images, how many of them each listing holds (``workspace`` and
    ``iterations`` by id), the trained iterations that learned from any of them, and the blob path.
    """
    wanted_tags = {name.casefold() for name in selector.get("tag_names", [])}
    iterations = [i for i in await client.get_iterations(project_id) if i.status == ITERATION_STATUS_COMPLETED]
    found: dict[str, None] = {}
    per_listing: dict[str | None, int] = {}
    for iteration_id in [None, *(i.id for i in iterations)]:
        tags = await client.get_tags(project_id, iteration_id=iteration_id) if wanted_tags else []
        tag_ids = [tag.id for tag in tags if tag.name.casefold() in wanted_tags]
        here: set[str] = set()
        async for page in _matching(client, project_id, selector, iteration_id, tag_ids):
            here.update(image.id for image in page)
        found.update(dict.fromkeys(sorted(here - found.keys())))
        per_listing[iteration_id] = len(here)
    path = work_ids_path(request_id, project_id)
    await store.put_bytes(path, "".join(f"{image_id}\n" for image_id in found).encode(), "text/plain")
    snapshots = {iteration_id: count for iteration_id, count in per_listing.items() if iteration_id is not None}
    return {
        "images": len(found),
        "workspace": per_listing[None],
        "iterations": snapshots,
        "affected_iterations": [iteration_id for iteration_id, count in snapshots.items() if count],
        "ids_path": path,
    }


async def read_ids(store: ResultStore, path: str, start: int, count: int) -> list[str]:
    """Ids ``start`` to ``start + count`` of a work blob (a data subject's images: a short file)."""
    downloader = await store.container.get_blob_client(path).download_blob()
    lines = (await downloader.readall()).decode().split()
    return lines[start : start + count]
