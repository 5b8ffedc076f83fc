"""The simulated account's data, as plain records.

Image-level records are frozen: a change replaces the record. That is what makes an iteration snapshot
cheap (copying a dict of references) and safe (later changes to the workspace never leak into it).
Project-level containers (tags, iterations, exports, predictions) are mutable and owned by
`ProjectState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from local.simulator.image_sets import ImageSet

TagType = Literal["Regular", "Negative", "GeneralProduct"]
DomainType = Literal["Classification", "ObjectDetection"]

EMPTY_METADATA: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    name: str
    type: DomainType
    exportable: bool
    enabled: bool = True
    exportable_platforms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TagRecord:
    id: str
    name: str
    description: str | None
    type: TagType
    created: datetime


@dataclass(frozen=True, slots=True)
class ImageTagLink:
    """An image's membership of a tag (Image.tags[])."""

    tag_id: str
    created: datetime


@dataclass(frozen=True, slots=True)
class RegionRecord:
    region_id: str
    tag_id: str
    left: float
    top: float
    width: float
    height: float
    created: datetime


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One training image. `content` None means the bytes are generated from the id on download."""

    id: str
    created: datetime
    width: int
    height: int
    tags: tuple[ImageTagLink, ...] = ()
    regions: tuple[RegionRecord, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=lambda: EMPTY_METADATA)
    content: bytes | None = None
    content_sha256: str | None = None

    @property
    def tag_ids(self) -> tuple[str, ...]:
        return tuple(link.tag_id for link in self.tags)

    @property
    def is_tagged(self) -> bool:
        """Tagged means having a tag or a region (object detection images are tagged by regions)."""
        return bool(self.tags) or bool(self.regions)

    def all_tag_ids(self) -> frozenset[str]:
        return frozenset(self.tag_ids) | {region.tag_id for region in self.regions}


@dataclass(frozen=True, slots=True)
class PredictionScore:
    tag_id: str
    tag_name: str
    tag_type: TagType
    probability: float
    box: tuple[float, float, float, float] | None = None  # left, top, width, height


@dataclass(frozen=True, slots=True)
class StoredPrediction:
    """An image sent to a published iteration's prediction endpoint, kept for QueryPredictions."""

    id: str
    project_id: str
    iteration_id: str
    domain_id: str
    created: datetime
    scores: tuple[PredictionScore, ...]
    content: bytes | None
    width: int
    height: int
    application: str | None = None


@dataclass
class ExportRecord:
    """An iteration export. `ready_at` is when it turns from Exporting to Done."""

    platform: str
    flavor: str | None
    requested_at: datetime
    ready_at: datetime
    blob_path: str

    def status(self, now: datetime) -> Literal["Exporting", "Done"]:
        return "Done" if now >= self.ready_at else "Exporting"


@dataclass
class IterationRecord:
    """A trained iteration: metadata plus the snapshot of the workspace taken when training started.

    ``trained_at`` is when training finishes: before it, the iteration is ``Training``."""

    id: str
    name: str
    project_id: str
    created: datetime
    last_modified: datetime
    trained_at: datetime
    domain_id: str
    classification_type: str | None
    training_type: str
    reserved_budget_in_hours: int
    training_time_in_minutes: int
    exportable: bool
    exportable_to: tuple[str, ...]
    images: ImageSet
    tags: dict[str, TagRecord]
    workspace_version: int
    publish_name: str = ""
    publish_resource_id: str = ""
    exports: list[ExportRecord] = field(default_factory=list)

    @property
    def is_published(self) -> bool:
        return bool(self.publish_name)

    def status_at(self, now: datetime) -> str:
        """``Training`` until ``trained_at`` (when training finishes), then ``Completed``."""
        return "Completed" if now >= self.trained_at else "Training"
