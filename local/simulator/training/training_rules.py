"""TrainProject's validation: what the workspace must hold before the service will train it.

`service` applies the minimums Microsoft documents for Custom Vision (*docs*: "at least two tags and
five images per tag" for a classifier; 15 images per tag for an object detector, the figure Learn's
comparison of Custom Vision with Image Analysis 4.0 gives), with the v3.3 Swagger's error codes.
Which tags count is *inference*: regular tags that hold at least one image (a tag nobody used is not
trained on), never the Negative tag. `lenient` keeps the simulator's older rule, one tagged image,
so that small test fixtures can train.
"""

from __future__ import annotations

from local.simulator.errors import ApiError
from local.simulator.image_query import ImageQuery
from local.simulator.state import ProjectState

CLASSIFIER_MIN_TAGS = 2
CLASSIFIER_MIN_IMAGES_PER_TAG = 5
DETECTOR_MIN_IMAGES_PER_TAG = 15


def check(project: ProjectState, rules: str) -> None:
    """Raise the service's validation error when the workspace cannot train under ``rules``."""
    if project.workspace.count(ImageQuery(tagging="Tagged")) == 0:
        raise ApiError("BadRequestTrainingValidationFailed", "Training needs at least one tagged image.")
    if rules == "lenient":
        return
    histogram = project.workspace.tag_histogram()
    counts = {
        tag.name: histogram[tag_id]
        for tag_id, tag in project.tags.items()
        if tag.type == "Regular" and histogram[tag_id] > 0
    }
    if project.is_object_detection:
        _per_tag(counts, DETECTOR_MIN_IMAGES_PER_TAG, "BadRequestDetectionTrainingValidationFailed", "tagged regions")
        return
    if len(counts) < CLASSIFIER_MIN_TAGS:
        raise ApiError(
            "BadRequestClassificationTrainingValidationFailed",
            f"A classifier needs at least {CLASSIFIER_MIN_TAGS} tags with images; the workspace has {len(counts)}.",
        )
    code = (
        "BadRequestMultiLabelClassificationTrainingValidationFailed"
        if project.classification_type == "Multilabel"
        else "BadRequestMultiClassClassificationTrainingValidationFailed"
    )
    _per_tag(counts, CLASSIFIER_MIN_IMAGES_PER_TAG, code, "images")


def _per_tag(counts: dict[str, int], minimum: int, code: str, what: str) -> None:
    short = sorted((name, count) for name, count in counts.items() if count < minimum)
    if short:
        name, count = short[0]
        raise ApiError(code, f"Tag '{name}' has {count} {what}; training needs at least {minimum} per tag.")
