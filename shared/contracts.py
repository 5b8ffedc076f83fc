"""The orchestrator ↔ activity contract: the payload each activity takes, as ``TypedDict``s.

What crosses orchestration history stays plain JSON (history outlives a refactor): these types only
let mypy check, on both sides, that the orchestrators build the keys the activities read. Results are
documented by the functions that make them.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Listing = Literal["images", "image_performances", "predictions"]


class OnRequest(TypedDict):
    request_id: str


class OnResource(OnRequest):
    resource: str


class OnProject(OnResource):
    project_id: str


class WithRequest(TypedDict):
    """The request as history holds it (fingerprinted, ``shared.fingerprints``)."""

    request: dict[str, Any]


# -- export ---------------------------------------------------------------------------------------


class ListProjects(OnResource):
    projects: Literal["all"] | list[str]


class ProjectDetails(OnProject):
    include: list[str]
    count_images: NotRequired[bool]


class SelectImages(OnProject):
    selector: dict[str, Any]  # fingerprinted; the clear values come from the work blob


class ImagePage(OnProject):
    iteration_id: str | None
    page: int
    with_files: bool


class SelectedImagePage(ImagePage):
    ids_path: str


class ImagePerformancePage(OnProject):
    iteration_id: str
    page: int


class PredictionPages(OnProject):
    continuation: dict[str, Any] | None
    first_part: int
    with_files: bool


class Datasets(OnProject):
    iteration_ids: list[str]  # the trained iterations whose snapshot listings were committed
    formats: list[str]


class CommitJsonl(OnProject):
    listing: Listing
    iteration_id: str | None  # None for the workspace's images and for predictions
    pages: int


class ExportAccount(OnRequest):
    resources: list[str]


# -- erase ----------------------------------------------------------------------------------------


class ErasePlan(OnProject):
    selector: dict[str, Any] | None


class Unpublish(OnProject):
    iteration_ids: list[str]


class Iterations(OnProject):
    iteration_ids: list[str] | None  # None: every iteration of the project


class ImageBatch(OnProject):
    ids_path: str
    batch: int


class RemainingImages(OnProject):
    ids_path: str | None  # None: the whole project's images
    iteration_ids: list[str]


class VerifyProject(OnProject):
    mode: Literal["project"]


class VerifyImages(OnProject):
    mode: Literal["images"]
    ids_path: str
    iteration_ids: list[str]
    deleted_iterations: list[str]


EraseVerify = VerifyProject | VerifyImages


# -- the request's end ----------------------------------------------------------------------------


class Finalize(WithRequest):
    started_at: str
    resources: list[dict[str, Any]]
    own_copies: NotRequired[list[dict[str, Any]]]  # an erase's: shared.erase.own_copies


class OwnCopies(OnRequest):
    subject: str | None  # the fingerprint of subject.reference
    ticket_system: NotRequired[str | None]  # whose id the reference is
    dry_run: bool


class RecordFailure(WithRequest):
    started_at: str
    reason: str


class SendCompletion(WithRequest):
    outcome: dict[str, Any]
