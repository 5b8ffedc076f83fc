"""Typed views of the Training API's responses (v3.3 ``definitions``).

The models accept unknown fields (``extra="allow"``: v3.4-preview adds some, and an export must not
drop data it does not understand) and keep enum-like fields as plain strings (the spec marks its enums
``modelAsString``, so new values are legal). ``model_dump(mode="json", by_alias=True)`` gives back the
API's own camelCase JSON, which is what cvdsr writes into an export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Values the spec lists today; fields stay ``str`` so tomorrow's values still parse.
ITERATION_STATUS_COMPLETED = "Completed"
EXPORT_STATUS_DONE = "Done"
EXPORT_STATUS_EXPORTING = "Exporting"
EXPORT_STATUS_FAILED = "Failed"


class ApiModel(BaseModel):
    """Base: camelCase aliases, unknown fields kept, snake_case names in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)

    def to_api_json(self) -> dict[str, Any]:
        """The object as the API spells it (camelCase), including unknown fields."""
        return self.model_dump(mode="json", by_alias=True)


class BoundingBox(ApiModel):
    left: float
    top: float
    width: float
    height: float


class Domain(ApiModel):
    """A project's domain: ``type`` is ``Classification`` or ``ObjectDetection``."""

    id: str
    name: str | None = None
    type: str | None = None
    exportable: bool | None = None
    enabled: bool | None = None


class ProjectSettings(ApiModel):
    domain_id: str | None = None
    classification_type: str | None = None
    target_export_platforms: list[str] | None = None
    use_negative_set: bool | None = None
    detection_parameters: str | None = None
    image_processing_settings: dict[str, Any] | None = None


class Project(ApiModel):
    id: str
    name: str
    description: str | None = None
    settings: ProjectSettings | None = None
    created: datetime | None = None
    last_modified: datetime | None = None
    thumbnail_uri: str | None = None
    dr_mode_enabled: bool | None = Field(default=None, alias="drModeEnabled")
    status: str | None = None


class Iteration(ApiModel):
    id: str
    name: str
    status: str | None = None
    created: datetime | None = None
    last_modified: datetime | None = None
    trained_at: datetime | None = None
    project_id: str | None = None
    exportable: bool | None = None
    exportable_to: list[str] | None = None
    domain_id: str | None = None
    classification_type: str | None = None
    training_type: str | None = None
    reserved_budget_in_hours: int | None = None
    training_time_in_minutes: int | None = None
    publish_name: str | None = None
    original_publish_resource_id: str | None = None

    @property
    def is_published(self) -> bool:
        """Published iterations have a non-empty ``publishName`` (the spec's examples use ``""``)."""
        return bool(self.publish_name)


class TagPerformance(ApiModel):
    id: str | None = None
    name: str | None = None
    precision: float | None = None
    precision_std_deviation: float | None = None
    recall: float | None = None
    recall_std_deviation: float | None = None
    average_precision: float | None = None


class IterationPerformance(ApiModel):
    per_tag_performance: list[TagPerformance] = []
    precision: float | None = None
    precision_std_deviation: float | None = None
    recall: float | None = None
    recall_std_deviation: float | None = None
    average_precision: float | None = None


class Tag(ApiModel):
    id: str
    name: str
    description: str | None = None
    type: str | None = None
    image_count: int | None = None


class ImageTag(ApiModel):
    tag_id: str
    tag_name: str | None = None
    created: datetime | None = None


class ImageRegion(ApiModel):
    region_id: str | None = None
    tag_name: str | None = None
    created: datetime | None = None
    tag_id: str
    left: float
    top: float
    width: float
    height: float


class Image(ApiModel):
    id: str
    created: datetime | None = None
    width: int | None = None
    height: int | None = None
    resized_image_uri: str | None = None
    thumbnail_uri: str | None = None
    original_image_uri: str | None = None
    tags: list[ImageTag] | None = None
    regions: list[ImageRegion] | None = None
    metadata: dict[str, str] | None = None


class Prediction(ApiModel):
    probability: float | None = None
    tag_id: str | None = None
    tag_name: str | None = None
    bounding_box: BoundingBox | None = None
    tag_type: str | None = None


class ImagePerformance(ApiModel):
    predictions: list[Prediction] | None = None
    id: str
    created: datetime | None = None
    width: int | None = None
    height: int | None = None
    image_uri: str | None = None
    thumbnail_uri: str | None = None
    tags: list[ImageTag] | None = None
    regions: list[ImageRegion] | None = None


class Export(ApiModel):
    platform: str | None = None
    status: str | None = None
    download_uri: str | None = None
    flavor: str | None = None
    newer_version_available: bool | None = None


class StoredImagePrediction(ApiModel):
    resized_image_uri: str | None = None
    thumbnail_uri: str | None = None
    original_image_uri: str | None = None
    domain: str | None = None
    id: str
    project: str | None = None
    iteration: str | None = None
    created: datetime | None = None
    predictions: list[Prediction] | None = None


class PredictionQueryTag(ApiModel):
    id: str
    min_threshold: float | None = None
    max_threshold: float | None = None


class PredictionQueryToken(ApiModel):
    """The QueryPredictions request body; ``continuation`` pages through results."""

    session: str | None = None
    continuation: str | None = None
    max_count: int | None = None
    order_by: str | None = None
    tags: list[PredictionQueryTag] | None = None
    iteration_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    application: str | None = None


class PredictionQueryResult(ApiModel):
    token: PredictionQueryToken | None = None
    results: list[StoredImagePrediction] = []
