"""The dataset converters on known images: COCO loads in pycocotools with the right boxes and labels,
Azure ML lines have the documented shapes, CSV rows are defused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from shared.datasets import azureml, coco, rows
from shared.datasets.source import WORKSPACE, DatasetImage, Listing, dataset_images


def record(
    image_id: str,
    *,
    tags: tuple[str, ...] = (),
    regions: tuple[dict[str, Any], ...] = (),
    width: int = 200,
    height: int = 100,
) -> dict[str, Any]:
    return {
        "id": image_id,
        "width": width,
        "height": height,
        "tags": [{"tagId": f"id-{name}", "tagName": name} for name in tags],
        "regions": list(regions),
    }


def region(tag: str, left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {"tagId": f"id-{tag}", "tagName": tag, "left": left, "top": top, "width": width, "height": height}


LISTINGS = {
    "ws.jsonl": [
        record("a", regions=(region("box", 0.1, 0.2, 0.5, 0.4), region("can", 0.0, 0.0, 0.25, 0.5))),
        record("b", regions=(region("box", 0.5, 0.5, 0.5, 0.5),)),
    ],
    "it1.jsonl": [record("b"), record("c", regions=(region("old", 0.2, 0.2, 0.2, 0.2),))],
}
FILES = {"a": "data/projects/p/images/a.png", "b": "data/projects/p/images/b.png", "c": "data/projects/p/images/c.jpg"}


async def records(path: str) -> AsyncIterator[dict[str, Any]]:
    for entry in LISTINGS[path]:
        yield entry


def images() -> AsyncIterator[DatasetImage]:
    return dataset_images([Listing(WORKSPACE, "ws.jsonl"), Listing("it1", "it1.jsonl")], records, FILES)


async def test_each_image_once_workspace_first_snapshot_only_marked() -> None:
    found = [image async for image in images()]
    assert [(image.image_id, image.source) for image in found] == [("a", WORKSPACE), ("b", WORKSPACE), ("c", "it1")]
    assert found[1].regions[0].tag == "box"  # the workspace's record, not the snapshot's


async def test_coco_detection_loads_in_pycocotools_with_pixel_boxes(tmp_path: Path) -> None:
    path = tmp_path / "coco.json"
    path.write_bytes(
        b"".join([chunk async for chunk in coco.coco_chunks(images, ["box", "can"], detection=True, description="t")])
    )
    dataset = COCO(str(path))
    assert len(dataset.getImgIds()) == 3
    assert len(dataset.getAnnIds()) == 4
    names = {cat["id"]: cat["name"] for cat in dataset.loadCats(dataset.getCatIds())}
    assert sorted(names.values()) == ["box", "can", "old"]  # "old": a tag only a snapshot still has
    [first] = dataset.loadImgs([1])
    assert (first["file_name"], first["width"], first["height"]) == (FILES["a"], 200, 100)
    assert first["custom_vision"] == {"image_id": "a", "source": WORKSPACE}
    boxes = sorted(
        (names[ann["category_id"]], ann["bbox"], ann["area"]) for ann in dataset.loadAnns(dataset.getAnnIds(imgIds=[1]))
    )
    assert boxes == [("box", [20.0, 20.0, 100.0, 40.0], 4000.0), ("can", [0.0, 0.0, 50.0, 50.0], 2500.0)]
    box_id = next(key for key, name in names.items() if name == "box")
    assert sorted(dataset.getImgIds(catIds=[box_id])) == [1, 2]


async def test_coco_classification_has_image_level_annotations(tmp_path: Path) -> None:
    LISTINGS["cls.jsonl"] = [record("x", tags=("cat",)), record("y", tags=("cat", "dog")), record("z")]

    def classified() -> AsyncIterator[DatasetImage]:
        return dataset_images([Listing(WORKSPACE, "cls.jsonl")], records, {})

    path = tmp_path / "coco.json"
    path.write_bytes(
        b"".join(
            [chunk async for chunk in coco.coco_chunks(classified, ["cat", "dog"], detection=False, description="t")]
        )
    )
    dataset = COCO(str(path))
    assert len(dataset.getImgIds()) == 3
    annotations = dataset.loadAnns(dataset.getAnnIds())
    assert len(annotations) == 3
    assert all("bbox" not in ann for ann in annotations)
    dog = dataset.getCatIds(catNms=["dog"])
    assert dataset.getImgIds(catIds=dog) == [2]
    json.loads(path.read_text())  # one valid document


async def test_azureml_lines_have_the_documented_shapes() -> None:
    found = [image async for image in images()]
    url = "https://acct.blob.core.windows.net/dsr-results/REQ-1"
    line = azureml.line(found[0], "detection", url)
    assert line == {
        "image_url": f"{url}/{FILES['a']}",
        "image_details": {"format": "png", "width": "200px", "height": "100px"},
        "label": [
            {"label": "box", "topX": 0.1, "topY": 0.2, "bottomX": 0.6, "bottomY": 0.6, "isCrowd": 0},
            {"label": "can", "topX": 0.0, "topY": 0.0, "bottomX": 0.25, "bottomY": 0.5, "isCrowd": 0},
        ],
    }
    assert "sig=" not in json.dumps(line)
    tagged = DatasetImage.from_record(record("t", tags=("cat", "dog")), WORKSPACE, "data/t.jpg")
    assert azureml.line(tagged, "multiclass", url)["label"] == "cat"  # type: ignore[index]
    assert azureml.line(tagged, "multilabel", url)["label"] == ["cat", "dog"]  # type: ignore[index]
    untagged = DatasetImage.from_record(record("u"), WORKSPACE, "data/u.jpg")
    assert azureml.line(untagged, "multiclass", url) is None
    assert (
        azureml.line(DatasetImage.from_record(record("n", tags=("cat",)), WORKSPACE, None), "multiclass", url) is None
    )
    assert azureml.task_of(detection=False, classification_type="Multilabel") == "multilabel"


@pytest.mark.parametrize("tag", ['=HYPERLINK("http://x")', "+1", "@sum"])
def test_csv_rows_are_defused(tag: str) -> None:
    image = DatasetImage.from_record(record("i", regions=(region(tag, 0.5, 0.25, 0.1, 0.2),)), "it9", "f.png")
    cells = rows.row(image)
    assert cells[:5] == ["i", "it9", "f.png", "200", "100"]
    assert cells[6].startswith("'")
    assert len(cells) == len(rows.COLUMNS)
