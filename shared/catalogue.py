"""The catalogue of data kinds: Microsoft's table of what Custom Vision holds, plus what cvdsr adds.

One place for each kind's facts: the ``include`` name that selects it, the Training API operations
that export it, the counter it produces, the API counts it is checked against, the erase step that
removes it and the read-back that verifies it. The erase orchestration records its steps by
``EraseStep``; the certificate's counts read them by the same names, so a renamed step cannot
silently zero them. The README's table of what is exported and erased is ``markdown_table()``,
checked by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EraseStep(StrEnum):
    """The erase steps of a project, in the order the API accepts them."""

    UNPUBLISH = "unpublish"
    DELETE_IMAGES = "delete_images"
    WAIT_FOR_IMAGES = "wait_for_images"  # background deletion, polled with durable timers
    DELETE_PREDICTIONS = "delete_predictions"
    DELETE_TAGS = "delete_tags"
    DELETE_ITERATIONS = "delete_iterations"
    DELETE_PROJECT = "delete_project"
    VERIFY = "verify"  # the read-back


class Count(StrEnum):
    """The counters of exports and erasures: one per kind, and the image counts the API gives apart."""

    ACCOUNT = "account"
    PROJECTS = "projects"
    TAGS = "tags"
    ITERATIONS = "iterations"
    PERFORMANCE = "performance"
    IMAGE_PERFORMANCES = "image_performances"
    IMAGES = "images"
    TAGGED_IMAGES = "tagged_images"  # of the workspace's images, GetTaggedImageCount
    UNTAGGED_IMAGES = "untagged_images"  # GetUntaggedImageCount
    ITERATION_IMAGES = "iteration_images"  # in trained iterations' snapshots
    IMAGE_FILES = "image_files"
    EXPORTS = "exports"
    EXPORT_FILES = "export_files"
    PREDICTIONS = "predictions"
    PREDICTION_FILES = "prediction_files"


@dataclass(frozen=True)
class DataKind:
    counter: Count  # the key in counts, expected_counts and the manifest
    include: str  # the request's ``include`` name that selects it
    exported_by: tuple[str, ...]  # Training API (or ARM) operations
    checked_against: tuple[str, ...]  # the API's own counts the export is compared with
    erased_by: str  # the erase step (or why there is none)
    verified_by: str  # the read-back after an erase


KINDS: tuple[DataKind, ...] = (
    DataKind(
        Count.ACCOUNT,
        "account",
        ("ARM Accounts_Get (key names, never key values)",),
        ("one row per resource with an ARM id",),
        "ARM Accounts_Delete, then DeletedAccounts_Purge (opt-in, confirmed, last)",
        "ARM Accounts_Get → NotFound",
    ),
    DataKind(
        Count.PROJECTS,
        "projects",
        ("GetProjects", "GetProject"),
        ("the projects in scope",),
        f"DeleteProject ({EraseStep.DELETE_PROJECT})",
        "GetProject → NotFound",
    ),
    DataKind(
        Count.TAGS,
        "tags",
        ("GetTags",),
        ("GetTags",),
        f"DeleteTag ({EraseStep.DELETE_TAGS})",
        "with the project",
    ),
    DataKind(
        Count.ITERATIONS,
        "iterations",
        ("GetIterations", "GetIteration"),
        ("GetIterations",),
        f"UnpublishIteration ({EraseStep.UNPUBLISH}), DeleteIteration ({EraseStep.DELETE_ITERATIONS})",
        "with the project",
    ),
    DataKind(
        Count.PERFORMANCE,
        "performance",
        ("GetIterationPerformance",),
        ("one per trained iteration",),
        "with its iteration",
        "with the project",
    ),
    DataKind(
        Count.IMAGE_PERFORMANCES,
        "performance",
        ("GetImagePerformances (paged)",),
        ("GetImagePerformanceCount",),
        "with its iteration",
        "with the project",
    ),
    DataKind(
        Count.IMAGES,
        "images",
        (
            "GetImages (workspace and each trained iteration's snapshot, paged)",
            "GetImagesByIds, GetImages by tagIds or metadata $filter (a data subject's selection)",
        ),
        ("GetImageCount", "GetTaggedImageCount", "GetUntaggedImageCount"),
        f"DeleteImages, allImages or 256 ids with allIterations ({EraseStep.DELETE_IMAGES})",
        "counts → 0, GetImagesByIds → none",
    ),
    DataKind(
        Count.IMAGE_FILES,
        "image_files",
        ("the image's originalImageUri (a storage link, no key)",),
        ("one per exported image",),
        "with its image",
        "with its image",
    ),
    DataKind(
        Count.EXPORTS,
        "exports",
        ("GetExports",),
        ("GetExports",),
        "with its iteration",
        "with the project",
    ),
    DataKind(
        Count.EXPORT_FILES,
        "exports",
        ("the export's downloadUri",),
        ("one per finished export",),
        "not by API: deleted with the account (the certificate says so)",
        "not verifiable by API",
    ),
    DataKind(
        Count.PREDICTIONS,
        "predictions",
        ("QueryPredictions (continuation token)",),
        ("the query's own pages",),
        f"DeletePrediction, 64 ids a call ({EraseStep.DELETE_PREDICTIONS}), until QueryPredictions reads none",
        "with the project (a data subject's erase leaves them: they cannot be tied to a person)",
    ),
    DataKind(
        Count.PREDICTION_FILES,
        "predictions",
        ("the prediction's originalImageUri",),
        ("one per stored prediction",),
        "with its prediction",
        "with its prediction",
    ),
)

BY_COUNTER = {kind.counter: kind for kind in KINDS}


def markdown_table() -> str:
    """The README's table, from the catalogue."""
    lines = [
        "| kind (`include`) | exported by | checked against | erased by | verified by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        name = kind.counter if kind.counter == kind.include else f"{kind.counter} (`{kind.include}`)"
        lines.append(
            f"| {name} | {'; '.join(kind.exported_by)} | {'; '.join(kind.checked_against)} "
            f"| {kind.erased_by} | {kind.verified_by} |"
        )
    return "\n".join(lines)
