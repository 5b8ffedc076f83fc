"""Azure Machine Learning AutoML for images: a JSONL per project and the ``MLTable`` that reads it.

The line shapes are Azure ML's ("Data schemas to train computer vision models with automated ML"):
multi-class ``label`` is a string, multi-label a list of strings, object detection a list of boxes
``{label, topX, topY, bottomX, bottomY, isCrowd}`` normalized to 0..1 (Custom Vision's regions are
normalized too, so no pixel arithmetic). ``image_url`` is the blob URL of the exported file in the
results container, with no SAS: Azure ML reads it with its own identity (a datastore over the
container), and a token must never be written into a blob. ``image_details`` carries the format and
the size in pixels as Azure ML writes them (``"640px"``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .source import DatasetImage

Task = Literal["multiclass", "multilabel", "detection"]

MLTABLE = """\
# Azure ML reads this folder as a table: `mltable.load("./")`, or a data asset of type mltable.
paths:
  - file: ./images.jsonl
transformations:
  - read_json_lines:
      encoding: utf8
      invalid_lines: error
      include_path_column: false
  - convert_column_types:
      - columns: image_url
        column_type: stream_info
"""


def task_of(*, detection: bool, classification_type: str | None) -> Task:
    if detection:
        return "detection"
    return "multilabel" if classification_type == "Multilabel" else "multiclass"


def line(image: DatasetImage, task: Task, container_url: str) -> dict[str, Any] | None:
    """One JSONL record, or None for an image Azure ML cannot train on (no file, or no label for a
    multi-class task)."""
    if image.file is None:
        return None
    extension = image.file.rsplit(".", 1)[-1].lower()
    record: dict[str, Any] = {
        "image_url": f"{container_url.rstrip('/')}/{image.file}",
        "image_details": {"format": extension, "width": f"{image.width}px", "height": f"{image.height}px"},
    }
    if task == "detection":
        record["label"] = [
            {
                "label": region.tag,
                "topX": round(region.left, 6),
                "topY": round(region.top, 6),
                "bottomX": round(min(1.0, region.left + region.width), 6),
                "bottomY": round(min(1.0, region.top + region.height), 6),
                "isCrowd": 0,
            }
            for region in image.regions
        ]
    elif task == "multilabel":
        record["label"] = list(image.tags)
    else:
        if not image.tags:
            return None
        record["label"] = image.tags[0]
    return record


def jsonl_line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
