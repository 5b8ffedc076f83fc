"""State changes shared by the API handlers and the seeders.

Handlers validate requests and map failures to error codes; these functions assume valid input and
only change state, so seeding a demo account goes through exactly the same code paths as the API.
Callers hold `simulator.lock`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from local.simulator.domains import EXPORT_FLAVORS
from local.simulator.identifiers import canonical_uuid
from local.simulator.image_sets import ImageSet
from local.simulator.records import (
    EMPTY_METADATA,
    Domain,
    ExportRecord,
    ImageRecord,
    ImageTagLink,
    IterationRecord,
    RegionRecord,
    StoredPrediction,
    TagRecord,
    TagType,
)
from local.simulator.scoring import classification_scores, detection_scores
from local.simulator.state import ExportBlob, ProjectState, Simulator


def create_project(
    simulator: Simulator,
    *,
    name: str,
    description: str | None,
    domain: Domain,
    classification_type: str | None,
    target_export_platforms: tuple[str, ...] = (),
    project_id: str | None = None,
    created: datetime | None = None,
    workspace: ImageSet | None = None,
) -> ProjectState:
    project = ProjectState(
        project_id=project_id or simulator.ids.new(),
        name=name,
        description=description,
        domain=domain,
        classification_type=classification_type if domain.type == "Classification" else None,
        target_export_platforms=target_export_platforms,
        created=created or simulator.now(),
        workspace_iteration_id=simulator.ids.new(),
        workspace=workspace,
    )
    simulator.projects[project.id] = project
    return project


def delete_project(simulator: Simulator, project: ProjectState) -> None:
    simulator.projects.pop(project.id, None)


def create_tag(
    simulator: Simulator,
    project: ProjectState,
    *,
    name: str,
    description: str | None = None,
    tag_type: TagType = "Regular",
    tag_id: str | None = None,
    created: datetime | None = None,
) -> TagRecord:
    now = created or simulator.now()
    tag = TagRecord(tag_id or simulator.ids.new(), name, description, tag_type, now)
    project.tags[tag.id] = tag
    project.changed(now)
    return tag


def delete_tag(simulator: Simulator, project: ProjectState, tag_id: str) -> None:
    project.tags.pop(tag_id, None)
    project.workspace.drop_tag(tag_id)
    project.changed(simulator.now())


def content_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def add_image(
    simulator: Simulator,
    project: ProjectState,
    *,
    width: int,
    height: int,
    content: bytes | None = None,
    tag_ids: Iterable[str] = (),
    regions: Iterable[tuple[str, float, float, float, float]] = (),
    metadata: Mapping[str, str] | None = None,
    image_id: str | None = None,
    created: datetime | None = None,
) -> ImageRecord:
    """Add a new image to the workspace; `regions` are (tag id, left, top, width, height)."""
    now = created or simulator.now()
    record = ImageRecord(
        id=image_id or simulator.ids.new(),
        created=now,
        width=width,
        height=height,
        tags=tuple(ImageTagLink(tag_id, now) for tag_id in dict.fromkeys(tag_ids)),
        regions=tuple(
            RegionRecord(simulator.ids.new(), tag_id, left, top, box_width, box_height, now)
            for tag_id, left, top, box_width, box_height in regions
        ),
        metadata=dict(metadata) if metadata else EMPTY_METADATA,
        content=content,
        content_sha256=content_digest(content) if content is not None else None,
    )
    project.workspace.put(record)
    project.changed(now)
    return record


def tag_image(simulator: Simulator, project: ProjectState, record: ImageRecord, tag_id: str) -> ImageRecord:
    updated = replace(record, tags=(*record.tags, ImageTagLink(tag_id, simulator.now())))
    project.workspace.put(updated)
    project.changed(simulator.now())
    return updated


def untag_image(simulator: Simulator, project: ProjectState, record: ImageRecord, tag_ids: set[str]) -> None:
    updated = replace(record, tags=tuple(link for link in record.tags if link.tag_id not in tag_ids))
    if updated != record:
        project.workspace.put(updated)
        project.changed(simulator.now())


def add_region(
    simulator: Simulator,
    project: ProjectState,
    record: ImageRecord,
    tag_id: str,
    box: tuple[float, float, float, float],
) -> tuple[ImageRecord, RegionRecord]:
    region = RegionRecord(simulator.ids.new(), tag_id, *box, created=simulator.now())
    updated = replace(record, regions=(*record.regions, region))
    project.workspace.put(updated)
    project.changed(simulator.now())
    return updated, region


def set_metadata(
    simulator: Simulator, project: ProjectState, record: ImageRecord, metadata: Mapping[str, str]
) -> ImageRecord:
    updated = replace(record, metadata={**record.metadata, **metadata})
    project.workspace.put(updated)
    project.changed(simulator.now())
    return updated


def remove_images(project: ProjectState, image_ids: Iterable[str], *, all_iterations: bool) -> int:
    """Remove images from the workspace (and from every snapshot when `all_iterations`)."""
    removed = 0
    for image_id in image_ids:
        for images in project.image_sets() if all_iterations else (project.workspace,):
            removed += images.remove(image_id)
    return removed


def clear_images(project: ProjectState, *, all_iterations: bool) -> None:
    project.workspace.clear()
    if all_iterations:
        for iteration in project.iterations.values():
            iteration.images.clear()


def train(
    simulator: Simulator,
    project: ProjectState,
    *,
    training_type: str = "Regular",
    reserved_budget_in_hours: int = 0,
    iteration_id: str | None = None,
    trained_at: datetime | None = None,
) -> IterationRecord:
    """Snapshot the workspace into a new iteration: completed at ``trained_at`` when given (seeds),
    otherwise ``training_seconds`` from now (``Training`` until then)."""
    now = trained_at or simulator.now()
    finished = now if trained_at else now + timedelta(seconds=simulator.config.training_seconds)
    project.trained_count += 1
    domain = project.domain
    iteration = IterationRecord(
        id=iteration_id or simulator.ids.new(),
        name=f"Iteration {project.trained_count}",
        project_id=project.id,
        created=now,
        last_modified=now,
        trained_at=finished,
        domain_id=domain.id,
        classification_type=project.classification_type,
        training_type=training_type,
        reserved_budget_in_hours=reserved_budget_in_hours,
        training_time_in_minutes=max(1, len(project.workspace) // 1000),
        exportable=domain.exportable,
        exportable_to=domain.exportable_platforms,
        images=project.workspace.copy(),
        tags=dict(project.tags),
        workspace_version=project.workspace_version,
    )
    project.iterations[iteration.id] = iteration
    project.last_modified = now
    return iteration


def publish(iteration: IterationRecord, publish_name: str, resource_id: str, now: datetime) -> None:
    iteration.publish_name = publish_name
    iteration.publish_resource_id = resource_id
    iteration.last_modified = now


def unpublish(iteration: IterationRecord, now: datetime) -> None:
    iteration.publish_name = ""
    iteration.last_modified = now


def start_export(
    simulator: Simulator,
    project: ProjectState,
    iteration: IterationRecord,
    platform: str,
    flavor: str | None,
    *,
    requested_at: datetime | None = None,
) -> ExportRecord:
    assert flavor in EXPORT_FLAVORS[platform]
    now = requested_at or simulator.now()
    iteration.exports = [
        export for export in iteration.exports if (export.platform, export.flavor) != (platform, flavor)
    ]
    serial = simulator.ids.new()[:8]
    blob_path = f"/_blobs/exports/{project.id}/{iteration.id}/{platform}-{flavor or 'default'}-{serial}.zip"
    export = ExportRecord(platform, flavor, now, now + timedelta(seconds=simulator.config.export_seconds), blob_path)
    iteration.exports.append(export)
    simulator.export_blobs[blob_path] = ExportBlob(
        project.name, iteration.name, platform, flavor, tuple(tag.name for tag in iteration.tags.values())
    )
    return export


def predict(
    simulator: Simulator,
    project: ProjectState,
    iteration: IterationRecord,
    *,
    content: bytes,
    width: int,
    height: int,
    application: str | None,
    store: bool,
    created: datetime | None = None,
    prediction_id: str | None = None,
) -> StoredPrediction:
    """Score an image against an iteration; keep it for QueryPredictions when `store`."""
    key = content_digest(content)
    tags = list(iteration.tags.values())
    if project.is_object_detection:
        scores = detection_scores(key, tags)
    else:
        multilabel = iteration.classification_type == "Multilabel"
        scores = classification_scores(key, tags, multilabel=multilabel)
    prediction = StoredPrediction(
        id=prediction_id or simulator.ids.new(),
        project_id=project.id,
        iteration_id=iteration.id,
        domain_id=iteration.domain_id,
        created=created or simulator.now(),
        scores=scores,
        content=content,
        width=width,
        height=height,
        application=application,
    )
    if store:
        project.predictions[prediction.id] = prediction
    return prediction


def is_arm_resource_id(value: str) -> bool:
    """A prediction resource id looks like /subscriptions/{guid}/resourceGroups/{rg}/providers/…/accounts/{n}."""
    parts = value.strip("/").split("/")
    return (
        len(parts) == 8
        and parts[0].lower() == "subscriptions"
        and canonical_uuid(parts[1]) is not None
        and parts[2].lower() == "resourcegroups"
        and parts[4].lower() == "providers"
        and parts[5].lower() == "microsoft.cognitiveservices"
        and parts[6].lower() == "accounts"
        and bool(parts[7])
    )
