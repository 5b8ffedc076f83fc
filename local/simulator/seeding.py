"""Seed data: `none`, `demo` and `synthetic:PROJECTS:IMAGES`. Ids and timestamps are fixed.

`demo`, a small realistic account for demos and end-to-end tests:

* "Pet door classifier" (Multiclass, General (compact)): tags cat and dog; six tagged and two untagged
  images, several with metadata `subject` = alice/bob/carol; "Iteration 1" published as `pet-door`,
  with one Done ONNX export and three stored predictions. One image (alice, `camera` = back-door) was
  deleted from the workspace after training, so it exists only in the iteration's snapshot: a DSR that
  reads only the workspace misses it.
* "Shelf stock detector" (object detection, General (compact)): tags bottle and can, four images with
  regions (one with `subject` = alice), one untagged, "Iteration 1" trained but not published.
* "Sandbox" (Multilabel, General): one tag, no images.

`synthetic:P:N`: P projects named `synthetic-000`… with tags alpha, beta, gamma and N lazily generated
images each (see synthetic.py for how image i looks). No iterations or predictions. Seeding 100,000
images costs a few objects, not 100,000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.simulator import actions
from local.simulator.config import SeedSpec
from local.simulator.domains import (
    DOMAINS_BY_ID,
    GENERAL_CLASSIFICATION,
    GENERAL_COMPACT_CLASSIFICATION,
    GENERAL_COMPACT_OBJECT_DETECTION,
)
from local.simulator.identifiers import SyntheticIdCodec, seeded_id
from local.simulator.image_sets import ImageSet
from local.simulator.imaging import placeholder_png
from local.simulator.state import ProjectState, Simulator
from local.simulator.synthetic import SyntheticRange

DEMO_BASE_TIME = datetime(2025, 11, 3, 8, 0, 0, tzinfo=UTC)
SYNTHETIC_BASE_TIME = datetime(2025, 6, 1, 0, 0, 0, tzinfo=UTC)
SYNTHETIC_TAGS = ("alpha", "beta", "gamma")

DEMO_PETS_PROJECT_ID = seeded_id("demo", "project", "pets")
DEMO_SHELF_PROJECT_ID = seeded_id("demo", "project", "shelf")
DEMO_SANDBOX_PROJECT_ID = seeded_id("demo", "project", "sandbox")
DEMO_PUBLISH_NAME = "pet-door"
#: The image that exists only in the pets project's iteration snapshot.
DEMO_SNAPSHOT_ONLY_IMAGE_ID = seeded_id("demo", "image", "pets", "back-door-alice")


def apply_seed(simulator: Simulator, seed: SeedSpec) -> None:
    with simulator.lock:
        if seed.kind == "demo":
            seed_demo(simulator)
        elif seed.kind == "synthetic":
            seed_synthetic(simulator, seed.projects, seed.images)


def prediction_resource_id(simulator: Simulator) -> str:
    config = simulator.config
    return (
        f"/subscriptions/{config.subscription_id}/resourceGroups/{config.resource_group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{config.account_name}-prediction"
    )


def _at(minutes: float) -> datetime:
    return DEMO_BASE_TIME + timedelta(minutes=minutes)


def _seed_pets(simulator: Simulator) -> None:
    project = actions.create_project(
        simulator,
        name="Pet door classifier",
        description="Which pet is at the door (demo data).",
        domain=DOMAINS_BY_ID[GENERAL_COMPACT_CLASSIFICATION],
        classification_type="Multiclass",
        target_export_platforms=("ONNX",),
        project_id=DEMO_PETS_PROJECT_ID,
        created=_at(0),
    )
    cat = actions.create_tag(
        simulator, project, name="cat", tag_id=seeded_id("demo", "tag", "pets", "cat"), created=_at(1)
    )
    dog = actions.create_tag(
        simulator, project, name="dog", tag_id=seeded_id("demo", "tag", "pets", "dog"), created=_at(1)
    )
    tagged = [
        ("cat-1", cat.id, {"subject": "alice", "camera": "front-door"}),
        ("cat-2", cat.id, {"subject": "bob", "camera": "front-door"}),
        ("cat-3", cat.id, {"camera": "garden"}),
        ("dog-1", dog.id, {"subject": "alice", "camera": "garden"}),
        ("dog-2", dog.id, {"camera": "front-door"}),
        ("dog-3", dog.id, {}),
    ]
    for minute, (name, tag_id, metadata) in enumerate(tagged, start=2):
        actions.add_image(
            simulator,
            project,
            width=320,
            height=240,
            tag_ids=[tag_id],
            metadata=metadata,
            image_id=seeded_id("demo", "image", "pets", name),
            created=_at(minute),
        )
    actions.add_image(
        simulator,
        project,
        width=320,
        height=240,
        tag_ids=[cat.id],
        metadata={"subject": "alice", "camera": "back-door"},
        image_id=DEMO_SNAPSHOT_ONLY_IMAGE_ID,
        created=_at(9),
    )
    iteration = actions.train(
        simulator, project, iteration_id=seeded_id("demo", "iteration", "pets", "1"), trained_at=_at(30)
    )
    actions.publish(iteration, DEMO_PUBLISH_NAME, prediction_resource_id(simulator), _at(31))
    actions.start_export(simulator, project, iteration, "ONNX", "ONNX12", requested_at=_at(32))
    actions.remove_images(project, [DEMO_SNAPSHOT_ONLY_IMAGE_ID], all_iterations=False)
    for minute, (name, metadata) in enumerate([("unknown-1", {"subject": "carol"}), ("unknown-2", {})], start=40):
        actions.add_image(
            simulator,
            project,
            width=320,
            height=240,
            metadata=metadata,
            image_id=seeded_id("demo", "image", "pets", name),
            created=_at(minute),
        )
    for number, application in enumerate(["door-cam", "door-cam", None], start=1):
        content = placeholder_png(f"demo-prediction-{number}", 160, 120)
        actions.predict(
            simulator,
            project,
            iteration,
            content=content,
            width=160,
            height=120,
            application=application,
            store=True,
            created=_at(60 + number),
            prediction_id=seeded_id("demo", "prediction", "pets", str(number)),
        )
    project.last_modified = _at(45)


def _seed_shelf(simulator: Simulator) -> None:
    project = actions.create_project(
        simulator,
        name="Shelf stock detector",
        description="Bottles and cans on shop shelves (demo data).",
        domain=DOMAINS_BY_ID[GENERAL_COMPACT_OBJECT_DETECTION],
        classification_type=None,
        project_id=DEMO_SHELF_PROJECT_ID,
        created=_at(100),
    )
    bottle = actions.create_tag(
        simulator, project, name="bottle", tag_id=seeded_id("demo", "tag", "shelf", "bottle"), created=_at(101)
    )
    can = actions.create_tag(
        simulator, project, name="can", tag_id=seeded_id("demo", "tag", "shelf", "can"), created=_at(101)
    )
    shelves = [
        ("aisle-1", [(bottle.id, 0.1, 0.2, 0.3, 0.4), (can.id, 0.5, 0.5, 0.2, 0.3)], {"store": "amsterdam-01"}),
        ("aisle-2", [(bottle.id, 0.05, 0.1, 0.25, 0.5)], {"store": "amsterdam-01", "subject": "alice"}),
        ("aisle-3", [(can.id, 0.4, 0.3, 0.2, 0.2), (can.id, 0.7, 0.3, 0.2, 0.2)], {"store": "utrecht-02"}),
        ("aisle-4", [(bottle.id, 0.2, 0.2, 0.2, 0.6)], {}),
    ]
    for minute, (name, regions, metadata) in enumerate(shelves, start=102):
        actions.add_image(
            simulator,
            project,
            width=400,
            height=300,
            regions=regions,
            metadata=metadata,
            image_id=seeded_id("demo", "image", "shelf", name),
            created=_at(minute),
        )
    actions.add_image(
        simulator,
        project,
        width=400,
        height=300,
        image_id=seeded_id("demo", "image", "shelf", "aisle-5"),
        created=_at(110),
    )
    actions.train(simulator, project, iteration_id=seeded_id("demo", "iteration", "shelf", "1"), trained_at=_at(120))


def _seed_sandbox(simulator: Simulator) -> None:
    project = actions.create_project(
        simulator,
        name="Sandbox",
        description=None,
        domain=DOMAINS_BY_ID[GENERAL_CLASSIFICATION],
        classification_type="Multilabel",
        project_id=DEMO_SANDBOX_PROJECT_ID,
        created=_at(200),
    )
    actions.create_tag(
        simulator, project, name="misc", tag_id=seeded_id("demo", "tag", "sandbox", "misc"), created=_at(201)
    )


def seed_demo(simulator: Simulator) -> None:
    _seed_pets(simulator)
    _seed_shelf(simulator)
    _seed_sandbox(simulator)


def seed_synthetic(simulator: Simulator, projects: int, images: int) -> list[ProjectState]:
    created: list[ProjectState] = []
    for number in range(projects):
        project_id = seeded_id("synthetic", "project", str(number))
        tag_ids = tuple(seeded_id("synthetic", "tag", str(number), name) for name in SYNTHETIC_TAGS)
        base_time = SYNTHETIC_BASE_TIME + timedelta(days=number)
        workspace = ImageSet(SyntheticRange(SyntheticIdCodec(project_id), images, tag_ids, base_time))
        project = actions.create_project(
            simulator,
            name=f"synthetic-{number:03d}",
            description=f"{images} generated images.",
            domain=DOMAINS_BY_ID[GENERAL_COMPACT_CLASSIFICATION],
            classification_type="Multiclass",
            project_id=project_id,
            created=base_time - timedelta(hours=1),
            workspace=workspace,
        )
        for tag_id, name in zip(tag_ids, SYNTHETIC_TAGS, strict=True):
            actions.create_tag(simulator, project, name=name, tag_id=tag_id, created=base_time - timedelta(minutes=30))
        project.last_modified = base_time + timedelta(seconds=max(0, images - 1))
        created.append(project)
    return created
