"""Deterministic, plausible model output: prediction scores and iteration performance.

No model exists, so numbers derive from hashes of the inputs: the same image sent to the same
iteration always gets the same scores, and the same iteration always reports the same precision.
Multiclass scores sum to 1; multilabel scores are independent; detection adds bounding boxes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from local.simulator.records import ImageRecord, PredictionScore, TagRecord


def unit_interval(*parts: str) -> float:
    """A deterministic number in [0, 1) derived from strings."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _clip(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 6)


def classification_scores(
    content_key: str, tags: Iterable[TagRecord], *, multilabel: bool, favour: str | None = None
) -> tuple[PredictionScore, ...]:
    """Scores for every tag, highest first. `favour` (a tag id) gets the top score, as for training images."""
    tag_list = list(tags)
    raw = {tag.id: 0.05 + unit_interval("score", content_key, tag.id) for tag in tag_list}
    if favour in raw:
        raw[favour] = max(raw.values()) * 3
    if not multilabel and raw:
        total = sum(raw.values())
        raw = {tag_id: value / total for tag_id, value in raw.items()}
    else:
        raw = {tag_id: min(0.99, value) for tag_id, value in raw.items()}
    scores = [PredictionScore(tag.id, tag.name, tag.type, _clip(raw[tag.id])) for tag in tag_list]
    return tuple(sorted(scores, key=lambda score: (-score.probability, score.tag_id)))


def detection_scores(
    content_key: str, tags: Iterable[TagRecord], image: ImageRecord | None = None
) -> tuple[PredictionScore, ...]:
    """One box per tag (or the image's own regions when known), highest probability first."""
    scores: list[PredictionScore] = []
    by_id = {tag.id: tag for tag in tags}
    if image is not None and image.regions:
        for region in image.regions:
            tag = by_id.get(region.tag_id)
            if tag is not None:
                probability = _clip(0.8 + 0.19 * unit_interval("box", content_key, region.region_id))
                box = (region.left, region.top, region.width, region.height)
                scores.append(PredictionScore(tag.id, tag.name, tag.type, probability, box))
    else:
        for tag in by_id.values():
            left = round(0.6 * unit_interval("left", content_key, tag.id), 6)
            top = round(0.6 * unit_interval("top", content_key, tag.id), 6)
            width = round(0.1 + 0.3 * unit_interval("width", content_key, tag.id), 6)
            height = round(0.1 + 0.3 * unit_interval("height", content_key, tag.id), 6)
            probability = _clip(unit_interval("probability", content_key, tag.id))
            scores.append(PredictionScore(tag.id, tag.name, tag.type, probability, (left, top, width, height)))
    return tuple(sorted(scores, key=lambda score: (-score.probability, score.tag_id)))


@dataclass(frozen=True)
class Metrics:
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


def tag_metrics(iteration_id: str, tag_id: str, threshold: float, overlap_threshold: float) -> Metrics:
    """Per-tag metrics: a higher threshold trades recall for precision, like a real model."""
    base_precision = 0.70 + 0.25 * unit_interval("precision", iteration_id, tag_id)
    base_recall = 0.65 + 0.30 * unit_interval("recall", iteration_id, tag_id)
    shift = threshold - 0.5
    overlap_penalty = max(0.0, overlap_threshold - 0.3) * 0.2
    precision = _clip(base_precision + 0.2 * shift)
    recall = _clip(base_recall - 0.3 * shift - overlap_penalty)
    return Metrics(
        precision=precision,
        precision_std_deviation=_clip(0.01 + 0.04 * unit_interval("precision-sd", iteration_id, tag_id)),
        recall=recall,
        recall_std_deviation=_clip(0.01 + 0.04 * unit_interval("recall-sd", iteration_id, tag_id)),
        average_precision=_clip((base_precision + base_recall) / 2),
    )


def overall_metrics(per_tag: list[Metrics]) -> Metrics:
    if not per_tag:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0.0)
    count = len(per_tag)
    return Metrics(
        precision=_clip(sum(m.precision for m in per_tag) / count),
        precision_std_deviation=_clip(sum(m.precision_std_deviation for m in per_tag) / count),
        recall=_clip(sum(m.recall for m in per_tag) / count),
        recall_std_deviation=_clip(sum(m.recall_std_deviation for m in per_tag) / count),
        average_precision=_clip(sum(m.average_precision for m in per_tag) / count),
    )
