"""Validation of request bodies shared by the image operations (tags, regions, metadata, id arrays).

Limits are the documented ones: 20 tags per batch, 100 tags and 300 regions per image, metadata of at
most 50 pairs with keys ≤ 256 and values ≤ 512 characters. Codes for unknown tags/images
(`NotFoundTag`/`NotFoundImage`) are *inference*; the service does not document them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from local.simulator.errors import ApiError, not_found
from local.simulator.identifiers import canonical_uuid
from local.simulator.state import ProjectState

MAX_TAGS_PER_BATCH = 20
MAX_TAGS_PER_IMAGE = 100
MAX_REGIONS_PER_IMAGE = 300
MAX_METADATA_PAIRS = 50
MAX_METADATA_KEY = 256
MAX_METADATA_VALUE = 512

Box = tuple[float, float, float, float]
RegionSpec = tuple[str, float, float, float, float]


def uuid_array(raw: Any, field: str, *, max_items: int | None = None) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError("BadRequest", f"'{field}' must be an array of ids.")
    ids: list[str] = []
    for value in raw:
        canonical = canonical_uuid(value) if isinstance(value, str) else None
        if canonical is None:
            raise ApiError("BadRequestInvalidIds", f"'{value}' in '{field}' is not a valid id.")
        if canonical not in ids:
            ids.append(canonical)
    if max_items is not None and len(ids) > max_items:
        raise ApiError("BadRequestExceededBatchSize", f"'{field}' is limited to {max_items} ids.")
    return ids


def require_tags(project: ProjectState, tag_ids: Iterable[str]) -> None:
    for tag_id in tag_ids:
        if tag_id not in project.tags:
            raise not_found("Tag", tag_id)


def mixes_negative(project: ProjectState, tag_ids: Iterable[str]) -> bool:
    """True if a Negative tag would sit on an image together with another tag."""
    types = [project.tags[tag_id].type for tag_id in tag_ids if tag_id in project.tags]
    return "Negative" in types and len(types) > 1


def _coordinate(entry: dict[str, Any], name: str) -> float:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError("BadRequestImageRegions", f"Region '{name}' must be a number.")
    return float(value)


def box_of(entry: dict[str, Any]) -> Box:
    left, top = _coordinate(entry, "left"), _coordinate(entry, "top")
    width, height = _coordinate(entry, "width"), _coordinate(entry, "height")
    epsilon = 1e-6
    if min(left, top) < 0 or width <= 0 or height <= 0 or left + width > 1 + epsilon or top + height > 1 + epsilon:
        raise ApiError(
            "BadRequestImageRegions", "Region coordinates are normalised: 0 ≤ left, top and left+width, top+height ≤ 1."
        )
    return left, top, width, height


def regions(project: ProjectState, raw: Any) -> list[RegionSpec]:
    """Regions of an image-create entry, validated; only object detection projects take regions."""
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise ApiError("BadRequestImageRegions", "'regions' must be an array of regions.")
    if not project.is_object_detection:
        raise ApiError("BadRequestImageRegions", "Regions are only supported by object detection projects.")
    specs: list[RegionSpec] = []
    for entry in raw:
        tag_id = canonical_uuid(str(entry.get("tagId", "")))
        if tag_id is None:
            raise ApiError("BadRequestInvalidIds", "A region's tagId is not a valid id.")
        require_tags(project, [tag_id])
        specs.append((tag_id, *box_of(entry)))
    return specs


def metadata(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError("BadRequest", "'metadata' must be an object of strings.")
    result: dict[str, str] = {}
    for key, value in raw.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise ApiError("BadRequestImageMetadataKey", f"Metadata keys must have 1 to {MAX_METADATA_KEY} characters.")
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise ApiError(
                "BadRequestImageMetadataValue",
                f"Metadata values must be strings of at most {MAX_METADATA_VALUE} characters.",
            )
        result[key] = value
    if len(result) > MAX_METADATA_PAIRS:
        raise ApiError("BadRequestImageMetadataKey", f"At most {MAX_METADATA_PAIRS} metadata pairs per image.")
    return result
