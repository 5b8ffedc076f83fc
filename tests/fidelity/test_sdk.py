"""The official Custom Vision SDK (3.1.1, Training 3.4-preview + Prediction 3.1) against the simulator.

The SDK is the reference client: if its models deserialise every answer with the expected values, the
simulator speaks the service's dialect. One long scenario walks the life of a project from creation to
deletion; further tests cover the SDK's error paths and wiping the demo account with nothing but the SDK.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    Domain,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
    ImageUrlCreateBatch,
    ImageUrlCreateEntry,
    Iteration,
    PredictionQueryTag,
    PredictionQueryToken,
    Project,
    Region,
    Tag,
)
from msrest.authentication import ApiKeyCredentials

from local.simulator import RunningSimulator, SimulatorConfig, run_simulator
from local.simulator.domains import GENERAL_COMPACT_CLASSIFICATION, GENERAL_COMPACT_OBJECT_DETECTION
from local.simulator.imaging import placeholder_png, sniff
from local.simulator.seeding import DEMO_PETS_PROJECT_ID, DEMO_PUBLISH_NAME, DEMO_SNAPSHOT_ONLY_IMAGE_ID

KEY = "sdk-fidelity-key"
RESOURCE = (
    "/subscriptions/00000000-0000-4000-8000-00000000c0de/resourceGroups/rg"
    "/providers/Microsoft.CognitiveServices/accounts/prediction"
)
T = TypeVar("T")


def _wait_for(check: Callable[[], T], *, timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(training_key=KEY, export_seconds=0.1, background_delete_seconds=0.1)
    with run_simulator(config) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def trainer(running: RunningSimulator) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(running.base_url, ApiKeyCredentials(in_headers={"Training-key": KEY}))


@pytest.fixture(scope="module")
def predictor(running: RunningSimulator) -> CustomVisionPredictionClient:
    return CustomVisionPredictionClient(running.base_url, ApiKeyCredentials(in_headers={"Prediction-key": KEY}))


def test_project_lifecycle(
    trainer: CustomVisionTrainingClient, predictor: CustomVisionPredictionClient, running: RunningSimulator
) -> None:
    # Domains and project creation.
    domains = trainer.get_domains()
    assert all(isinstance(domain, Domain) for domain in domains)
    compact = next(d for d in domains if d.id == GENERAL_COMPACT_CLASSIFICATION)
    assert (compact.name, compact.type, compact.exportable, compact.enabled) == (
        "General (compact)",
        "Classification",
        True,
        True,
    )
    project = trainer.create_project(
        "Lifecycle", description="SDK scenario", domain_id=compact.id, classification_type="Multiclass"
    )
    assert isinstance(project, Project)
    assert (project.name, project.description, project.status) == ("Lifecycle", "SDK scenario", "Succeeded")
    assert (project.settings.domain_id, project.settings.classification_type) == (compact.id, "Multiclass")
    assert isinstance(project.created, datetime)
    assert project.created.tzinfo is not None

    # Tags.
    cat = trainer.create_tag(project.id, "cat", description="felines")
    dog = trainer.create_tag(project.id, "dog")
    assert isinstance(cat, Tag)
    assert (cat.name, cat.description, cat.type, cat.image_count) == ("cat", "felines", "Regular", 0)

    # Uploads: from data (multipart), from a file batch, from URLs.
    from_data = trainer.create_images_from_data(project.id, placeholder_png("cat-1"), tag_ids=[cat.id])
    assert from_data.is_batch_successful
    [created] = from_data.images
    assert created.status == "OK"
    cat_1 = created.image
    assert (cat_1.width, cat_1.height) == (64, 48)
    assert [(t.tag_id, t.tag_name) for t in cat_1.tags] == [(cat.id, "cat")]
    batch = ImageFileCreateBatch(
        images=[
            ImageFileCreateEntry(name="dog-1.png", contents=placeholder_png("dog-1"), tag_ids=[dog.id]),
            ImageFileCreateEntry(name="dog-2.png", contents=placeholder_png("dog-2", 80, 60), tag_ids=[dog.id]),
            ImageFileCreateEntry(name="unknown.png", contents=placeholder_png("unknown")),
        ],
        metadata={"subject": "alice"},
    )
    from_files = trainer.create_images_from_files(project.id, batch)
    assert from_files.is_batch_successful
    assert [entry.source_url for entry in from_files.images] == ["dog-1.png", "dog-2.png", "unknown.png"]
    dog_1, dog_2, unknown = (entry.image for entry in from_files.images)
    assert dog_1.metadata == {"subject": "alice"}
    assert (dog_2.width, dog_2.height) == (80, 60)
    assert unknown.tags is None
    url_batch = ImageUrlCreateBatch(
        images=[ImageUrlCreateEntry(url="https://images.example.com/cat-2.jpg", tag_ids=[cat.id])]
    )
    from_urls = trainer.create_images_from_urls(project.id, url_batch)
    assert from_urls.images[0].status == "OK"
    assert from_urls.images[0].source_url == "https://images.example.com/cat-2.jpg"
    cat_2 = from_urls.images[0].image

    # Tagging, metadata and (on a detection project) regions.
    tagged = trainer.create_image_tags(project.id, tags=[ImageTagCreateEntry(image_id=unknown.id, tag_id=cat.id)])
    assert [(entry.image_id, entry.tag_id) for entry in tagged.created] == [(unknown.id, cat.id)]
    trainer.delete_image_tags(project.id, [unknown.id], [cat.id])
    metadata = trainer.update_image_metadata(project.id, [cat_1.id, dog_1.id], {"camera": "front-door"})
    assert metadata.is_batch_successful
    assert [(entry.image_id, entry.status) for entry in metadata.images] == [(cat_1.id, "OK"), (dog_1.id, "OK")]
    assert metadata.images[1].metadata == {"subject": "alice", "camera": "front-door"}

    detector = trainer.create_project("Shelves", domain_id=GENERAL_COMPACT_OBJECT_DETECTION)
    bottle = trainer.create_tag(detector.id, "bottle")
    shelf = (
        trainer.create_images_from_files(
            detector.id,
            ImageFileCreateBatch(
                images=[
                    ImageFileCreateEntry(
                        name="shelf.png",
                        contents=placeholder_png("shelf"),
                        regions=[Region(tag_id=bottle.id, left=0.1, top=0.2, width=0.3, height=0.4)],
                    )
                ]
            ),
        )
        .images[0]
        .image
    )
    assert [(r.tag_name, r.left, r.width) for r in shelf.regions] == [("bottle", 0.1, 0.3)]
    regions = trainer.create_image_regions(
        detector.id,
        regions=[ImageRegionCreateEntry(image_id=shelf.id, tag_id=bottle.id, left=0.5, top=0.5, width=0.2, height=0.2)],
    )
    assert [(r.image_id, r.tag_name, r.top) for r in regions.created] == [(shelf.id, "bottle", 0.5)]
    trainer.delete_image_regions(detector.id, [regions.created[0].region_id])
    assert len(trainer.get_images_by_ids(detector.id, image_ids=[shelf.id])[0].regions) == 1

    # Train, publish, predict.
    iteration = trainer.train_project(project.id)
    assert isinstance(iteration, Iteration)
    assert (iteration.status, iteration.name, iteration.publish_name, iteration.exportable) == (
        "Completed",
        "Iteration 1",
        "",
        True,
    )
    assert "ONNX" in iteration.exportable_to
    assert trainer.publish_iteration(project.id, iteration.id, "lifecycle", RESOURCE) is True
    published = trainer.get_iteration(project.id, iteration.id)
    assert (published.publish_name, published.original_publish_resource_id) == ("lifecycle", RESOURCE)
    results = [predictor.classify_image(project.id, "lifecycle", placeholder_png(f"query-{n}")) for n in range(3)]
    assert {tuple(sorted(p.tag_name for p in r.predictions)) for r in results} == {("cat", "dog")}
    assert all(r.iteration == iteration.id and r.project == project.id for r in results)
    predictor.classify_image_with_no_store(project.id, "lifecycle", placeholder_png("not-stored"))

    # Export, poll until Done, download.
    export = trainer.export_iteration(project.id, iteration.id, "ONNX", flavor="ONNX12")
    assert (export.platform, export.flavor, export.status, export.download_uri) == ("ONNX", "ONNX12", "Exporting", None)
    [done] = _wait_for(lambda: [e for e in trainer.get_exports(project.id, iteration.id) if e.status == "Done"])
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(done.download_uri).content))
    assert "manifest.json" in archive.namelist()

    # List everything.
    assert [p.name for p in trainer.get_projects()] == ["Lifecycle", "Shelves"]
    assert trainer.get_project(project.id).name == "Lifecycle"
    assert [it.id for it in trainer.get_iterations(project.id)] == [iteration.id]
    assert {t.name: t.image_count for t in trainer.get_tags(project.id)} == {"cat": 2, "dog": 2}
    assert trainer.get_tag(project.id, cat.id, iteration_id=iteration.id).image_count == 2
    assert trainer.get_image_count(project.id) == 5
    assert trainer.get_tagged_image_count(project.id) == 4
    assert trainer.get_tagged_image_count(project.id, tag_ids=[dog.id]) == 2
    assert trainer.get_untagged_image_count(project.id) == 1
    assert [i.id for i in trainer.get_untagged_images(project.id)] == [unknown.id]
    assert [i.id for i in trainer.get_tagged_images(project.id, tag_ids=[cat.id], order_by="Oldest")] == [
        cat_1.id,
        cat_2.id,
    ]
    by_ids = trainer.get_images_by_ids(project.id, image_ids=[dog_2.id, cat_1.id])
    assert [i.id for i in by_ids] == [dog_2.id, cat_1.id]
    alice = trainer.get_images(project.id, filter="subject eq 'alice' and camera eq 'front-door'")
    assert [i.id for i in alice] == [dog_1.id]
    assert trainer.get_image_count(project.id, filter="subject eq 'alice'") == 3
    page = trainer.get_images(project.id, take=2, skip=1, order_by="Newest")
    assert [i.id for i in page] == [unknown.id, dog_2.id]
    image = httpx.get(page[0].original_image_uri)
    assert sniff(image.content) is not None
    performance = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    assert sorted(t.name for t in performance.per_tag_performance) == ["cat", "dog"]
    assert 0 < performance.precision <= 1
    image_performances = trainer.get_image_performances(project.id, iteration.id)
    assert len(image_performances) == 4 == trainer.get_image_performance_count(project.id, iteration.id)
    assert all(p.predictions and p.image_uri for p in image_performances)
    project_export = trainer.export_project(project.id)
    assert (project_export.image_count, project_export.tag_count, project_export.iteration_count) == (5, 2, 1)
    assert project_export.token
    first_page = trainer.query_predictions(project.id, PredictionQueryToken(max_count=2, order_by="Oldest"))
    assert [r.id for r in first_page.results] == [r.id for r in results[:2]]
    assert first_page.token.continuation
    second_page = trainer.query_predictions(project.id, first_page.token)
    assert [r.id for r in second_page.results] == [results[2].id]
    assert second_page.token.continuation is None
    stored = second_page.results[0]
    assert (stored.project, stored.iteration, stored.domain) == (project.id, iteration.id, compact.id)
    assert sniff(httpx.get(stored.original_image_uri).content) is not None
    top = results[0].predictions[0]
    filtered = trainer.query_predictions(
        project.id,
        PredictionQueryToken(tags=[PredictionQueryTag(id=top.tag_id, min_threshold=top.probability, max_threshold=1)]),
    )
    assert results[0].id in [r.id for r in filtered.results]

    # Unpublish and delete, as a DSR erase would.
    trainer.unpublish_iteration(project.id, iteration.id)
    assert trainer.get_iteration(project.id, iteration.id).publish_name == ""
    trainer.delete_images(project.id, image_ids=[cat_1.id])
    assert trainer.get_image_count(project.id) == 4
    assert trainer.get_image_count(project.id, iteration_id=iteration.id) == 5
    raw = trainer.delete_images(project.id, all_images=True, all_iterations=True, raw=True)
    assert raw.response.status_code == 202
    _wait_for(lambda: trainer.get_image_count(project.id) == 0)
    assert trainer.get_image_count(project.id, iteration_id=iteration.id) == 0
    trainer.delete_prediction(project.id, [r.id for r in results])
    assert trainer.query_predictions(project.id, PredictionQueryToken()).results == []
    trainer.delete_tag(project.id, cat.id)
    trainer.delete_tag(project.id, dog.id)
    assert trainer.get_tags(project.id) == []
    trainer.delete_iteration(project.id, iteration.id)
    assert trainer.get_iterations(project.id) == []
    trainer.delete_project(project.id)
    trainer.delete_project(detector.id)
    assert trainer.get_projects() == []
    assert running.simulator.summary()["projects"] == []


def _error_code(call: Callable[[], Any]) -> tuple[int, str | None]:
    with pytest.raises(CustomVisionErrorException) as raised:
        call()
    error = raised.value.error
    assert error is not None
    return raised.value.response.status_code, error.code


def test_sdk_error_paths(trainer: CustomVisionTrainingClient, running: RunningSimulator) -> None:
    project = trainer.create_project("Errors", domain_id=GENERAL_COMPACT_CLASSIFICATION)
    tag = trainer.create_tag(project.id, "only")
    trainer.create_images_from_data(project.id, placeholder_png("errors"), tag_ids=[tag.id])
    iteration = trainer.train_project(project.id)
    trainer.publish_iteration(project.id, iteration.id, "errors", RESOURCE)

    assert _error_code(lambda: trainer.delete_iteration(project.id, iteration.id)) == (
        400,
        "BadRequestIterationIsPublished",
    )
    assert _error_code(lambda: trainer.delete_project(project.id)) == (400, "BadRequestIterationIsPublished")
    trainer.unpublish_iteration(project.id, iteration.id)
    assert _error_code(lambda: trainer.unpublish_iteration(project.id, iteration.id)) == (
        400,
        "BadRequestIterationNotPublished",
    )
    trainer.delete_iteration(project.id, iteration.id)
    assert _error_code(lambda: trainer.delete_iteration(project.id, iteration.id)) == (404, "NotFoundIteration")
    trainer.delete_tag(project.id, tag.id)
    assert _error_code(lambda: trainer.delete_tag(project.id, tag.id)) == (404, "NotFoundTag")
    trainer.delete_project(project.id)
    assert _error_code(lambda: trainer.delete_project(project.id)) == (404, "NotFoundProject")
    assert _error_code(lambda: trainer.get_project(project.id)) == (404, "NotFoundProject")

    wrong_key = CustomVisionTrainingClient(running.base_url, ApiKeyCredentials(in_headers={"Training-key": "wrong"}))
    status, code = _error_code(wrong_key.get_projects)
    assert (status, code) == (401, None)  # the gateway's body has no CustomVisionError code


def _is_empty(trainer: CustomVisionTrainingClient, project_id: str) -> bool:
    return bool(trainer.get_image_count(project_id) == 0)


def test_sdk_can_list_and_wipe_the_demo_account() -> None:
    with run_simulator(SimulatorConfig(seed="demo", background_delete_seconds=0.05)) as running:
        trainer = CustomVisionTrainingClient(
            running.base_url, ApiKeyCredentials(in_headers={"Training-key": SimulatorConfig().training_key})
        )
        projects = trainer.get_projects()
        assert sorted(p.name for p in projects) == ["Pet door classifier", "Sandbox", "Shelf stock detector"]
        pets_iteration = trainer.get_iterations(DEMO_PETS_PROJECT_ID)[0]
        assert pets_iteration.publish_name == DEMO_PUBLISH_NAME
        snapshot_only = trainer.get_images_by_ids(
            DEMO_PETS_PROJECT_ID, image_ids=[DEMO_SNAPSHOT_ONLY_IMAGE_ID], iteration_id=pets_iteration.id
        )
        assert snapshot_only[0].metadata["subject"] == "alice"
        assert trainer.get_images_by_ids(DEMO_PETS_PROJECT_ID, image_ids=[DEMO_SNAPSHOT_ONLY_IMAGE_ID]) == []
        assert [e.status for e in trainer.get_exports(DEMO_PETS_PROJECT_ID, pets_iteration.id)] == ["Done"]

        for project in projects:
            iterations = trainer.get_iterations(project.id)
            for iteration in iterations:
                if iteration.publish_name:
                    trainer.unpublish_iteration(project.id, iteration.id)
            before = trainer.get_image_count(project.id) + sum(
                trainer.get_image_count(project.id, iteration_id=it.id) for it in iterations
            )
            if before:
                trainer.delete_images(project.id, all_images=True, all_iterations=True)
                _wait_for(partial(_is_empty, trainer, project.id))
                for iteration in iterations:
                    assert trainer.get_image_count(project.id, iteration_id=iteration.id) == 0
            while True:
                stored = trainer.query_predictions(project.id, PredictionQueryToken(max_count=64)).results
                if not stored:
                    break
                trainer.delete_prediction(project.id, [p.id for p in stored])
            for tag in trainer.get_tags(project.id):
                trainer.delete_tag(project.id, tag.id)
            for iteration in iterations:
                trainer.delete_iteration(project.id, iteration.id)
            trainer.delete_project(project.id)
        assert trainer.get_projects() == []


def test_an_endpoint_with_a_trailing_slash_works(running: RunningSimulator) -> None:
    """The portal shows endpoints ending in '/'; the SDK then requests '…//customvision/…'."""
    client = CustomVisionTrainingClient(running.base_url + "/", ApiKeyCredentials(in_headers={"Training-key": KEY}))
    assert any(domain.name == "General" for domain in client.get_domains())
