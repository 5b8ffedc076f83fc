"""Records → JSON exactly as the v3.3 Swagger names and shapes them (camelCase, wire timestamps).

Conventions, chosen to satisfy the Swagger strictly (see tests/fidelity/test_swagger.py):
properties marked `x-nullable: true` are written as null when empty (Image.tags/regions/metadata,
Iteration.trainedAt/domainId/classificationType, Export.flavor, Prediction.boundingBox); other
properties are omitted rather than null when they have no value (Export.downloadUri while Exporting).
URIs are absolute, signed and fresh on every response, like the service's SAS URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local.simulator.blob_signing import BlobSigner
from local.simulator.records import (
    Domain,
    ExportRecord,
    ImageRecord,
    IterationRecord,
    PredictionScore,
    StoredPrediction,
    TagRecord,
)
from local.simulator.state import ProjectState
from local.simulator.timefmt import format_wire

JsonObject = dict[str, Any]

AUGMENTATION_METHODS = {
    "rotation": True,
    "scaling": True,
    "translation": True,
    "horizontal flip": True,
    "equalize": True,
    "solarize": True,
    "padtosquare": True,
}


@dataclass(frozen=True)
class UriFactory:
    """Builds signed absolute blob URLs for one response."""

    signer: BlobSigner
    base_url: str
    now: datetime

    def training_image(self, project_id: str, image_id: str, variant: str) -> str:
        return self.signer.sign(self.base_url, f"/_blobs/images/{project_id}/{image_id}/{variant}", self.now)

    def prediction_image(self, project_id: str, prediction_id: str, variant: str) -> str:
        path = f"/_blobs/predictions/{project_id}/{prediction_id}/{variant}"
        return self.signer.sign(self.base_url, path, self.now)

    def project_thumbnail(self, project_id: str) -> str:
        return self.signer.sign(self.base_url, f"/_blobs/projects/{project_id}/thumbnail", self.now)

    def blob(self, path: str) -> str:
        return self.signer.sign(self.base_url, path, self.now)


def domain_json(domain: Domain) -> JsonObject:
    return {
        "id": domain.id,
        "name": domain.name,
        "type": domain.type,
        "exportable": domain.exportable,
        "enabled": domain.enabled,
    }


def project_json(project: ProjectState, uris: UriFactory) -> JsonObject:
    settings: JsonObject = {
        "domainId": project.domain.id,
        "classificationType": project.classification_type,
        "targetExportPlatforms": list(project.target_export_platforms),
        "useNegativeSet": not project.is_object_detection,
        "imageProcessingSettings": {"augmentationMethods": dict(AUGMENTATION_METHODS)},
    }
    if project.is_object_detection:
        settings["detectionParameters"] = "Standard"
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "settings": settings,
        "created": format_wire(project.created),
        "lastModified": format_wire(project.last_modified),
        "thumbnailUri": uris.project_thumbnail(project.id),
        "drModeEnabled": False,
        "status": "Succeeded",
    }


def tag_json(tag: TagRecord, image_count: int) -> JsonObject:
    return {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description,
        "type": tag.type,
        "imageCount": image_count,
    }


def _tag_name(tags: Mapping[str, TagRecord], tag_id: str) -> str:
    tag = tags.get(tag_id)
    return tag.name if tag else ""


def image_tags_json(record: ImageRecord, tags: Mapping[str, TagRecord]) -> list[JsonObject] | None:
    """Explicit tags plus the tags of the image's regions (object detection images are tagged by regions)."""
    links: dict[str, datetime] = {link.tag_id: link.created for link in record.tags}
    for region in record.regions:
        links.setdefault(region.tag_id, region.created)
    if not links:
        return None
    return [
        {"tagId": tag_id, "tagName": _tag_name(tags, tag_id), "created": format_wire(created)}
        for tag_id, created in links.items()
    ]


def image_regions_json(record: ImageRecord, tags: Mapping[str, TagRecord]) -> list[JsonObject] | None:
    if not record.regions:
        return None
    return [
        {
            "regionId": region.region_id,
            "tagName": _tag_name(tags, region.tag_id),
            "created": format_wire(region.created),
            "tagId": region.tag_id,
            "left": region.left,
            "top": region.top,
            "width": region.width,
            "height": region.height,
        }
        for region in record.regions
    ]


def image_json(project_id: str, record: ImageRecord, tags: Mapping[str, TagRecord], uris: UriFactory) -> JsonObject:
    return {
        "id": record.id,
        "created": format_wire(record.created),
        "width": record.width,
        "height": record.height,
        "resizedImageUri": uris.training_image(project_id, record.id, "resized"),
        "thumbnailUri": uris.training_image(project_id, record.id, "thumbnail"),
        "originalImageUri": uris.training_image(project_id, record.id, "original"),
        "tags": image_tags_json(record, tags),
        "regions": image_regions_json(record, tags),
        "metadata": dict(record.metadata) if record.metadata else None,
    }


def iteration_json(iteration: IterationRecord, now: datetime) -> JsonObject:
    status = iteration.status_at(now)
    return {
        "id": iteration.id,
        "name": iteration.name,
        "status": status,
        "created": format_wire(iteration.created),
        "lastModified": format_wire(iteration.last_modified),
        "trainedAt": format_wire(iteration.trained_at) if status == "Completed" else None,
        "projectId": iteration.project_id,
        "exportable": iteration.exportable,
        "exportableTo": list(iteration.exportable_to),
        "domainId": iteration.domain_id,
        "classificationType": iteration.classification_type,
        "trainingType": iteration.training_type,
        "reservedBudgetInHours": iteration.reserved_budget_in_hours,
        "trainingTimeInMinutes": iteration.training_time_in_minutes,
        "publishName": iteration.publish_name,
        "originalPublishResourceId": iteration.publish_resource_id,
    }


def workspace_iteration_json(project: ProjectState) -> JsonObject:
    """The untrained workspace iteration ("New"), reachable only by its id (see training/iterations.py)."""
    return {
        "id": project.workspace_iteration_id,
        "name": "Workspace",
        "status": "New",
        "created": format_wire(project.created),
        "lastModified": format_wire(project.last_modified),
        "trainedAt": None,
        "projectId": project.id,
        "exportable": False,
        "exportableTo": [],
        "domainId": None,
        "classificationType": project.classification_type,
        "trainingType": "Regular",
        "reservedBudgetInHours": 0,
        "trainingTimeInMinutes": 0,
        "publishName": "",
        "originalPublishResourceId": "",
    }


def export_json(export: ExportRecord, now: datetime, uris: UriFactory) -> JsonObject:
    body: JsonObject = {
        "platform": export.platform,
        "status": export.status(now),
        "flavor": export.flavor,
        "newerVersionAvailable": False,
    }
    if body["status"] == "Done":
        body["downloadUri"] = uris.blob(export.blob_path)
    return body


def prediction_score_json(score: PredictionScore) -> JsonObject:
    box = None
    if score.box is not None:
        left, top, width, height = score.box
        box = {"left": left, "top": top, "width": width, "height": height}
    return {
        "probability": score.probability,
        "tagId": score.tag_id,
        "tagName": score.tag_name,
        "boundingBox": box,
        "tagType": score.tag_type,
    }


def stored_prediction_json(prediction: StoredPrediction, uris: UriFactory) -> JsonObject:
    return {
        "resizedImageUri": uris.prediction_image(prediction.project_id, prediction.id, "resized"),
        "thumbnailUri": uris.prediction_image(prediction.project_id, prediction.id, "thumbnail"),
        "originalImageUri": uris.prediction_image(prediction.project_id, prediction.id, "original"),
        "domain": prediction.domain_id,
        "id": prediction.id,
        "project": prediction.project_id,
        "iteration": prediction.iteration_id,
        "created": format_wire(prediction.created),
        "predictions": [prediction_score_json(score) for score in prediction.scores],
    }


def image_prediction_json(prediction: StoredPrediction) -> JsonObject:
    """The Prediction API's answer (ImagePrediction)."""
    return {
        "id": prediction.id,
        "project": prediction.project_id,
        "iteration": prediction.iteration_id,
        "created": format_wire(prediction.created),
        "predictions": [prediction_score_json(score) for score in prediction.scores],
    }
