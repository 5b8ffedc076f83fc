"""Image performances of a trained iteration (the per-image predictions the training run made)."""

from __future__ import annotations

from typing import Any

from shared.customvision import MAX_TAKE
from shared.results import layout
from shared.results.store import jsonl_bytes
from shared.step import Step

from .files import for_export


def image_performances_path(request_id: str, project_id: str, iteration_id: str) -> str:
    return layout.iteration_file(request_id, project_id, iteration_id, "image-performances.jsonl")


async def export_image_performance_page(
    step: Step, project_id: str, iteration_id: str, page: int, *, page_size: int = MAX_TAKE
) -> dict[str, Any]:
    """One page into ``image-performances.jsonl`` (assembled by ``commit_jsonl``)."""
    items = await step.client.get_image_performances(project_id, iteration_id, skip=page * page_size, take=page_size)
    path = image_performances_path(step.request_id, project_id, iteration_id)
    await step.store.stage_part(path, page, jsonl_bytes(for_export(items)))
    return {"image_performances": len(items)}
