"""COCO (the detection format of cocodataset.org, read by pycocotools, torchvision, Detectron2, ...).

Object detection projects: one annotation per region, ``bbox`` in pixels ``[x, y, width, height]``
from Custom Vision's normalized ``left, top, width, height``, ``area`` = width x height, ``iscrowd`` 0.
Classification projects (COCO has no image-level task): one annotation per tag with the category and
no ``bbox`` or ``segmentation``: pycocotools loads it, and ``getImgIds(catIds=...)`` answers "which
images carry this tag". Each image keeps its Custom Vision id and source under ``custom_vision``.

The file is streamed: categories first (known from the tags), then the images, then a second pass
for the annotations, so ids agree without holding the listing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from .source import DatasetImage

Images = Callable[[], AsyncIterator[DatasetImage]]  # a fresh pass over the project's images


def categories(tag_names: Sequence[str]) -> list[dict[str, Any]]:
    """COCO categories, ids from 1 in the order given (ids must not be 0 for most tools)."""
    return [{"id": index, "name": name, "supercategory": "none"} for index, name in enumerate(tag_names, start=1)]


def image_entry(image: DatasetImage, coco_id: int) -> dict[str, Any]:
    return {
        "id": coco_id,
        "file_name": image.file or "",
        "width": image.width,
        "height": image.height,
        "custom_vision": {"image_id": image.image_id, "source": image.source},
    }


def annotations_of(
    image: DatasetImage, coco_id: int, category_ids: dict[str, int], *, detection: bool
) -> list[dict[str, Any]]:
    """The image's annotations (without their ``id``, which the writer numbers)."""
    if not detection:
        return [{"image_id": coco_id, "category_id": category_ids[tag], "iscrowd": 0} for tag in image.tags]
    entries = []
    for region in image.regions:
        x, y = region.left * image.width, region.top * image.height
        width, height = region.width * image.width, region.height * image.height
        entries.append(
            {
                "image_id": coco_id,
                "category_id": category_ids[region.tag],
                "bbox": [round(x, 2), round(y, 2), round(width, 2), round(height, 2)],
                "area": round(width * height, 2),
                "iscrowd": 0,
                "segmentation": [],
            }
        )
    return entries


async def coco_chunks(
    images: Images, tag_names: Sequence[str], *, detection: bool, description: str
) -> AsyncIterator[bytes]:
    """The COCO document as UTF-8 chunks. Tags an image names that ``tag_names`` lacks (a tag deleted
    since a snapshot) are added as categories on the first pass."""
    names = list(dict.fromkeys(tag_names))
    async for image in images():
        for label in image.labels:
            if label not in names:
                names.append(label)
    cats = categories(names)
    category_ids = {entry["name"]: entry["id"] for entry in cats}
    head = {"info": {"description": description, "version": "1.0"}, "licenses": [], "categories": cats}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "images": ['
    count = 0
    async for image in images():
        count += 1
        yield (b"" if count == 1 else b",") + _dumps(image_entry(image, count))
    yield b'], "annotations": ['
    annotation_id = 0
    coco_id = 0
    async for image in images():
        coco_id += 1
        for entry in annotations_of(image, coco_id, category_ids, detection=detection):
            annotation_id += 1
            yield (b"" if annotation_id == 1 else b",") + _dumps({"id": annotation_id, **entry})
    yield b"]}"


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
