"""The in-memory account: projects with their workspace, tags, iterations and stored predictions.

`Simulator` is the object behind `app.state.simulator`. It owns the data, the request log, the
throttle, the fault injector, the URL signer and the queue of background jobs. Background work
(allImages/allIterations deletes, exports) is time-based rather than task-based: `settle()` runs every
job whose time has come and is called at the start of each request and by every reader, so results do
not depend on an event loop being alive and tests can drive time with a ManualClock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from local.simulator.blob_signing import BlobSigner
from local.simulator.clock import Clock, SystemClock
from local.simulator.config import RuntimeSettings, SimulatorConfig
from local.simulator.domains import DOMAINS_BY_ID
from local.simulator.errors import ApiError, ErrorStatusMap, not_found
from local.simulator.faults import FaultInjector
from local.simulator.identifiers import IdFactory, canonical_uuid
from local.simulator.image_query import ImageQuery
from local.simulator.image_sets import ImageSet
from local.simulator.records import (
    Domain,
    ImageRecord,
    IterationRecord,
    StoredPrediction,
    TagRecord,
)
from local.simulator.request_log import RequestLog
from local.simulator.throttle import Throttle

#: S0 limits from the service's quota page (training-api-notes.md §7).
MAX_PROJECTS = 100
MAX_ITERATIONS_PER_PROJECT = 20
MAX_TAGS_PER_PROJECT = 500
MAX_IMAGES_PER_PROJECT = 100_000


class ImageView(NamedTuple):
    """The images and tags seen through an optional iterationId."""

    images: ImageSet
    tags: Mapping[str, TagRecord]
    iteration: IterationRecord | None


@dataclass
class ExportBlob:
    """What an export's download serves; kept per account (exports outlive their iteration's deletion)."""

    project_name: str
    iteration_name: str
    platform: str
    flavor: str | None
    tag_names: tuple[str, ...]


@dataclass
class _PendingJob:
    due: float
    description: str
    action: Callable[[], None]


class ProjectState:
    """One project: settings, the workspace, tags, trained iterations and stored predictions."""

    def __init__(
        self,
        *,
        project_id: str,
        name: str,
        description: str | None,
        domain: Domain,
        classification_type: str | None,
        target_export_platforms: tuple[str, ...],
        created: datetime,
        workspace_iteration_id: str,
        workspace: ImageSet | None = None,
    ) -> None:
        self.id = project_id
        self.name = name
        self.description = description
        self.domain = domain
        self.classification_type = classification_type
        self.target_export_platforms = target_export_platforms
        self.created = created
        self.last_modified = created
        self.workspace_iteration_id = workspace_iteration_id
        self.workspace = workspace if workspace is not None else ImageSet()
        self.tags: dict[str, TagRecord] = {}
        self.iterations: dict[str, IterationRecord] = {}
        self.predictions: dict[str, StoredPrediction] = {}
        self.workspace_version = 0
        self.trained_count = 0
        self.pending_deletes = 0

    @property
    def is_object_detection(self) -> bool:
        return self.domain.type == "ObjectDetection"

    def changed(self, now: datetime) -> None:
        """Record a change to the workspace (images or tags): training is needed again."""
        self.workspace_version += 1
        self.last_modified = now

    def is_workspace(self, iteration_id: str) -> bool:
        return iteration_id == self.workspace_iteration_id

    def iteration(self, iteration_id: str) -> IterationRecord:
        iteration = self.iterations.get(iteration_id)
        if iteration is None:
            raise not_found("Iteration", iteration_id)
        return iteration

    def view(self, iteration_id: str | None) -> ImageView:
        if iteration_id is None or self.is_workspace(iteration_id):
            return ImageView(self.workspace, self.tags, None)
        iteration = self.iteration(iteration_id)
        return ImageView(iteration.images, iteration.tags, iteration)

    def tag(self, tag_id: str) -> TagRecord:
        tag = self.tags.get(tag_id)
        if tag is None:
            raise not_found("Tag", tag_id)
        return tag

    def image_sets(self) -> Iterator[ImageSet]:
        yield self.workspace
        for iteration in self.iterations.values():
            yield iteration.images

    def find_image(self, image_id: str) -> ImageRecord | None:
        """An image in the workspace or in any snapshot (for downloads)."""
        for images in self.image_sets():
            record = images.get(image_id)
            if record is not None:
                return record
        return None

    def published(self) -> list[IterationRecord]:
        return [iteration for iteration in self.iterations.values() if iteration.is_published]


@dataclass
class AccountState:
    """The Cognitive Services account resource as ARM sees it."""

    created: datetime
    status: Literal["active", "deleting", "soft_deleted", "purging", "purged"] = "active"
    deleted_at: datetime | None = None
    etag_counter: int = 1
    secondary_key: str = ""


class Simulator:
    """The simulated Custom Vision account and the simulator's machinery (see module docstring)."""

    def __init__(self, config: SimulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.settings = RuntimeSettings.from_config(config)
        self.lock = threading.RLock()
        self.ids = IdFactory(config.random_seed)
        self.errors = ErrorStatusMap(dict(config.error_status_overrides))
        self.request_log = RequestLog()
        self.throttle = Throttle(self.settings.tps, self.settings.burst)
        self.faults = FaultInjector(config.random_seed)
        self.signer = BlobSigner(config.uri_ttl_seconds)
        self.domains: dict[str, Domain] = dict(DOMAINS_BY_ID)
        self.projects: dict[str, ProjectState] = {}
        self.export_blobs: dict[str, ExportBlob] = {}
        self.account = AccountState(created=self.clock.now(), secondary_key=self.ids.new().replace("-", ""))
        self._pending: list[_PendingJob] = []

    # --- time and background work -----------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def schedule(self, delay_seconds: float, description: str, action: Callable[[], None]) -> None:
        with self.lock:
            self._pending.append(_PendingJob(self.clock.monotonic() + delay_seconds, description, action))
            self._pending.sort(key=lambda job: job.due)

    def settle(self) -> None:
        """Run every background job that is due."""
        with self.lock:
            now = self.clock.monotonic()
            while self._pending and self._pending[0].due <= now:
                self._pending.pop(0).action()

    def pending_jobs(self) -> list[str]:
        with self.lock:
            return [job.description for job in self._pending]

    # --- lookups ------------------------------------------------------------------------------
    def project(self, project_id: str) -> ProjectState:
        canonical = canonical_uuid(project_id)
        if canonical is None:
            raise ApiError("BadRequestInvalidIds", f"'{project_id}' is not a valid project id.")
        project = self.projects.get(canonical)
        if project is None:
            raise not_found("Project", canonical)
        return project

    def is_active(self) -> bool:
        """The data plane answers until the account's deletion has finished."""
        return self.account.status in ("active", "deleting")

    def update_settings(
        self,
        *,
        tps: float | None,
        burst: int | None,
        latency_ms: float,
        fault_rate: float,
    ) -> None:
        with self.lock:
            self.settings = RuntimeSettings(tps, burst, latency_ms, fault_rate)
            self.throttle.reconfigure(tps, burst)

    def purge(self) -> None:
        """Remove every project and export file (ARM purge of the soft-deleted account)."""
        with self.lock:
            self.projects.clear()
            self.export_blobs.clear()
            self._pending.clear()

    # --- introspection ------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts per project for `GET /_simulator/summary` and for tests."""
        self.settle()
        with self.lock:
            projects = []
            for project in self.projects.values():
                workspace = project.workspace
                projects.append(
                    {
                        "id": project.id,
                        "name": project.name,
                        "workspaceIterationId": project.workspace_iteration_id,
                        "images": len(workspace),
                        "materialisedImages": workspace.materialised_count(),
                        "tagged": workspace.count(ImageQuery(tagging="Tagged")),
                        "untagged": workspace.count(ImageQuery(tagging="Untagged")),
                        "tags": len(project.tags),
                        "predictions": len(project.predictions),
                        "iterations": len(project.iterations),
                        "published": len(project.published()),
                        "snapshotImages": sum(len(it.images) for it in project.iterations.values()),
                        "exports": sum(len(it.exports) for it in project.iterations.values()),
                        "pendingDeletes": project.pending_deletes,
                    }
                )
            return {
                "account": {"name": self.config.account_name, "status": self.account.status},
                "projects": projects,
                "exportFiles": len(self.export_blobs),
                "pendingJobs": [job.description for job in self._pending],
            }
