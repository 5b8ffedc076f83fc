"""Stored predictions (images sent to a published model, kept 30 days) and their image files.

The API pages them with a continuation token, so they cannot be read in parallel. A step reads a
bounded number of pages and hands the token back; the orchestrator calls the next step with it. Only
the token (small, opaque, no credential) passes through orchestration history.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.catalogue import Count
from shared.customvision.models import PredictionQueryToken, StoredImagePrediction
from shared.results import layout
from shared.results.store import jsonl_bytes
from shared.step import Step

from .files import copy_counted, copy_file, for_export
from .images import FILE_CONCURRENCY

logger = logging.getLogger(__name__)

PAGES_PER_STEP = 20


def predictions_path(request_id: str, project_id: str) -> str:
    return layout.project_file(request_id, project_id, "predictions.jsonl")


async def export_prediction_pages(
    step: Step,
    project_id: str,
    *,
    continuation: dict[str, Any] | None,
    first_part: int,
    with_files: bool,
    pages: int = PAGES_PER_STEP,
) -> dict[str, Any]:
    """Up to ``pages`` pages from ``continuation`` (None = the start).

    Returns counts, ``parts`` (the part indexes staged) and ``next`` (the token for the next step,
    None when done).
    """
    query = (
        PredictionQueryToken.model_validate(continuation) if continuation else PredictionQueryToken(order_by="Oldest")
    )
    path = predictions_path(step.request_id, project_id)
    result: dict[str, Any] = {
        Count.PREDICTIONS: 0,
        "files": 0,
        "file_bytes": 0,
        "errors": [],
        "parts": 0,
        "next": None,
    }
    for offset in range(pages):
        page = await step.client.query_predictions(project_id, query)
        if with_files:
            await _copy_files(step, project_id, page.results, result)
        await step.store.stage_part(path, first_part + offset, jsonl_bytes(for_export(page.results)))
        result[Count.PREDICTIONS] += len(page.results)
        result["parts"] += 1
        token = page.token
        if not page.results or token is None or not token.continuation or token.continuation == query.continuation:
            return result
        query = token
    result["next"] = query.model_dump(mode="json", by_alias=True, exclude_none=True)
    return result


async def _copy_files(
    step: Step, project_id: str, predictions: list[StoredImagePrediction], result: dict[str, Any]
) -> None:
    semaphore = asyncio.Semaphore(FILE_CONCURRENCY)

    async def copy(prediction: StoredImagePrediction) -> None:
        if not prediction.original_image_uri:
            return
        async with semaphore:
            copying = copy_file(
                step.client,
                step.store,
                project_id,
                prediction.original_image_uri,
                lambda ext: layout.prediction_file(step.request_id, project_id, prediction.id, ext),
                default_extension="jpg",
            )
            await copy_counted(copying, result, {"kind": Count.PREDICTIONS, "prediction_id": prediction.id})

    await asyncio.gather(*(copy(p) for p in predictions))
