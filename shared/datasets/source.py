"""The images of one project's export, each once: workspace images, then images only a trained
iteration's snapshot still holds, each marked with where it came from.

Snapshot images that are also in the workspace are skipped: the workspace's record is the current one.
What is held is the set of image ids already given (a project holds at most 100,000 images, so this
is bounded by the service's own limit, not by the account).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

WORKSPACE = "workspace"

Records = Callable[[str], AsyncIterator[dict[str, Any]]]  # a JSONL blob path -> its records
Exists = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Region:
    tag: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class DatasetImage:
    """One image as every format needs it; ``file`` is relative to the request's folder (or None when
    the export did not copy it)."""

    image_id: str
    source: str  # "workspace" or the id of the iteration whose snapshot alone holds it
    file: str | None
    width: int
    height: int
    tags: tuple[str, ...]
    regions: tuple[Region, ...]

    @classmethod
    def from_record(cls, record: dict[str, Any], source: str, file: str | None) -> DatasetImage:
        """From an ``images.jsonl`` line (the API's Image, camelCase)."""
        tags = tuple(str(tag.get("tagName") or tag["tagId"]) for tag in record.get("tags") or [])
        regions = tuple(
            Region(
                str(region.get("tagName") or region["tagId"]),
                float(region["left"]),
                float(region["top"]),
                float(region["width"]),
                float(region["height"]),
            )
            for region in record.get("regions") or []
        )
        return cls(record["id"], source, file, int(record["width"]), int(record["height"]), tags, regions)

    @property
    def labels(self) -> tuple[str, ...]:
        """The image's labels: its tags, or (object detection) its regions' tags, each once."""
        return tuple(dict.fromkeys(self.tags + tuple(region.tag for region in self.regions)))


@dataclass(frozen=True, slots=True)
class Listing:
    source: str
    path: str


async def dataset_images(
    listings: Sequence[Listing], records: Records, files: dict[str, str]
) -> AsyncIterator[DatasetImage]:
    """Every image of ``listings`` (workspace first) once; ``files`` maps image id -> file path."""
    seen: set[str] = set()
    for listing in listings:
        async for record in records(listing.path):
            image_id = record["id"]
            if image_id in seen:
                continue
            seen.add(image_id)
            yield DatasetImage.from_record(record, listing.source, files.get(image_id))
