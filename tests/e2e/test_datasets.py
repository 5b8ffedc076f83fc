"""Datasets on export (issue 15): the demo account's export with formats coco, azureml and csv writes
files that pycocotools loads with the simulator's own boxes and labels, Azure ML lines of the
documented shape pointing at the exported files, and a CSV row per image; the manifest lists them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from local.simulator import SimulatorConfig

from . import ground_truth
from .support import TRAINING_KEY, Environment, environment

pytestmark = pytest.mark.timeout(300)


def simulator_images(env: Environment) -> dict[str, dict[str, Any]]:
    """Per project, the images a dataset must hold (workspace, then snapshot-only), as the SDK sees them."""
    client = ground_truth.sdk(env.simulator.base_url)
    projects: dict[str, dict[str, Any]] = {}
    for project in client.get_projects():
        domain = client.get_domain(project.settings.domain_id)
        found: dict[str, Any] = {}
        listings = [None] + [it.id for it in client.get_iterations(project.id) if it.status == "Completed"]
        for iteration_id in listings:
            skip = 0
            while page := client.get_images(project.id, iteration_id=iteration_id, take=256, skip=skip):
                for image in page:
                    found.setdefault(image.id, (image, iteration_id or "workspace"))
                skip += len(page)
        projects[project.id] = {"detection": domain.type == "ObjectDetection", "images": found}
    return projects


def test_an_export_writes_datasets_that_their_tools_load(env: Environment, tmp_path: Path) -> None:
    request_id = "EXP-DATASETS-1"
    env.send_queue(env.request(request_id, formats=["coco", "azureml", "csv"]))
    status = env.wait(request_id)
    assert status["status"] == "succeeded", status
    manifest = env.json(f"{request_id}/manifest.json")
    listed = {entry["path"]: entry for entry in manifest["files"]}
    report = env.blob(f"{request_id}/report.html").decode()
    truth = simulator_images(env)
    assert any(p["detection"] for p in truth.values()), "the demo account has a detector"
    checked_boxes = 0
    for project_id, expected in truth.items():
        base = f"{request_id}/data/projects/{project_id}/datasets"
        for name in ("coco.json", "azureml/images.jsonl", "azureml/MLTable", "dataset.csv"):
            assert f"{base}/{name}" in listed, name
        assert "datasets/coco.json" in report

        path = tmp_path / f"{project_id}.json"
        path.write_bytes(env.blob(f"{base}/coco.json"))
        coco = COCO(str(path))
        images = {entry["custom_vision"]["image_id"]: entry for entry in coco.loadImgs(coco.getImgIds())}
        assert set(images) == set(expected["images"])
        names = {cat["id"]: cat["name"] for cat in coco.loadCats(coco.getCatIds())}
        for image_id, (image, source) in expected["images"].items():
            entry = images[image_id]
            assert entry["custom_vision"]["source"] == source
            assert (entry["width"], entry["height"]) == (image.width, image.height)
            assert f"{request_id}/{entry['file_name']}" in listed, "file_name names the exported file"
            annotations = coco.loadAnns(coco.getAnnIds(imgIds=[entry["id"]]))
            if expected["detection"]:
                boxes = sorted((names[a["category_id"]], a["bbox"]) for a in annotations)
                want = sorted(
                    (
                        r.tag_name,
                        [
                            round(r.left * image.width, 2),
                            round(r.top * image.height, 2),
                            round(r.width * image.width, 2),
                            round(r.height * image.height, 2),
                        ],
                    )
                    for r in image.regions or []
                )
                assert boxes == want, image_id
                checked_boxes += len(boxes)
            else:
                assert sorted(names[a["category_id"]] for a in annotations) == sorted(
                    t.tag_name for t in image.tags or []
                )

        lines = [json.loads(line) for line in env.blob(f"{base}/azureml/images.jsonl").splitlines()]
        for line in lines:
            assert set(line) == {"image_url", "image_details", "label"}
            assert "?" not in line["image_url"], "no SAS in a dataset"
            assert line["image_url"].split(f"/{request_id}/", 1)[1] in {e["file_name"] for e in images.values()}
            if expected["detection"]:
                assert all(0 <= box["topX"] <= box["bottomX"] <= 1 for box in line["label"])
            else:
                assert isinstance(line["label"], str)
        assert "read_json_lines" in env.blob(f"{base}/azureml/MLTable").decode()

        rows = list(csv.reader(io.StringIO(env.blob(f"{base}/dataset.csv").decode())))
        assert rows[0][:3] == ["image_id", "source", "file"]
        assert sorted(row[0] for row in rows[1:]) == sorted(expected["images"])
    assert checked_boxes > 0


def test_a_data_subjects_export_puts_only_their_images_in_the_datasets(env: Environment, tmp_path: Path) -> None:
    request_id = "EXP-DATASETS-ALICE"
    expected = ground_truth.subjects_images(env, "alice")
    assert expected, "the demo account has images of alice"
    body = env.request(
        request_id,
        scope={"images": {"metadata": {"subject": "alice"}}},
        include=["images", "image_files"],
        formats=["coco", "csv"],
    )
    env.send_queue(body)
    assert env.wait(request_id)["status"] == "succeeded"
    in_coco: set[str] = set()
    in_csv: set[str] = set()
    for name in env.blob_names(f"{request_id}/data/projects/"):
        if name.endswith("/datasets/coco.json"):
            path = tmp_path / "coco.json"
            path.write_bytes(env.blob(name))
            coco = COCO(str(path))
            in_coco |= {entry["custom_vision"]["image_id"] for entry in coco.loadImgs(coco.getImgIds())}
        elif name.endswith("/datasets/dataset.csv"):
            rows = list(csv.reader(io.StringIO(env.blob(name).decode())))
            in_csv |= {row[0] for row in rows[1:]}
    assert in_coco == in_csv == set(expected)


def test_a_synthetic_accounts_datasets_hold_every_page_of_images(azurite: Any, tmp_path: Path) -> None:
    """Two projects of 600 images (three pages each): every image once, each tag an annotation."""
    config = SimulatorConfig(seed="synthetic:2:600", training_key=TRAINING_KEY)
    with environment(azurite, simulator=config, process=True) as env:
        request_id = "EXP-DATASETS-SYN"
        include = ["projects", "tags", "images", "image_files"]
        env.send_queue(env.request(request_id, include=include, formats=["coco", "azureml"]))
        assert env.wait(request_id, timeout=240)["status"] == "succeeded"
        truth = simulator_images(env)
        assert len(truth) == 2
        for project_id, expected in truth.items():
            assert len(expected["images"]) == 600
            base = f"{request_id}/data/projects/{project_id}/datasets"
            path = tmp_path / f"{project_id}.json"
            path.write_bytes(env.blob(f"{base}/coco.json"))
            coco = COCO(str(path))
            assert {e["custom_vision"]["image_id"] for e in coco.loadImgs(coco.getImgIds())} == set(expected["images"])
            tagged = sum(len(image.tags or []) for image, _source in expected["images"].values())
            assert len(coco.getAnnIds()) == tagged > 0
            lines = env.blob(f"{base}/azureml/images.jsonl").splitlines()
            assert len(lines) == sum(1 for image, _ in expected["images"].values() if image.tags)
