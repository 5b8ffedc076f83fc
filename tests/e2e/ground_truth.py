"""What the simulator holds, read through Microsoft's own SDK (an independent reader of the account)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken
from msrest.authentication import ApiKeyCredentials

from .support import TRAINING_KEY, sha256


def sdk(endpoint: str) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": TRAINING_KEY}))


def account(endpoint: str) -> dict[str, Any]:
    """Per project: image ids and file digests (workspace), tag names, iteration ids, snapshot image ids,
    prediction ids."""
    client = sdk(endpoint)
    projects: dict[str, Any] = {}
    for project in client.get_projects():
        images = _all(lambda skip, p=project: client.get_images(p.id, take=256, skip=skip))
        iterations = client.get_iterations(project.id)
        snapshots = {
            it.id: sorted(
                i.id
                for i in _all(
                    lambda skip, p=project, it=it: client.get_images(p.id, iteration_id=it.id, take=256, skip=skip)
                )
            )
            for it in iterations
            if it.status == "Completed"
        }
        predictions = _predictions(client, project.id)
        projects[project.id] = {
            "name": project.name,
            "images": sorted(i.id for i in images),
            "files": {i.id: sha256(httpx.get(i.original_image_uri).content) for i in images},
            "tags": sorted(t.name for t in client.get_tags(project.id)),
            "iterations": sorted(it.id for it in iterations),
            "snapshots": snapshots,
            "predictions": sorted(p.id for p in predictions),
        }
    return projects


def _predictions(client: Any, project_id: str) -> list[Any]:
    """Every stored prediction, two at a time (so any page cap the simulator is given still answers)."""
    found: list[Any] = []
    token = PredictionQueryToken(max_count=2, order_by="Oldest")
    while True:
        page = client.query_predictions(project_id, token)
        found += page.results or []
        if not page.results or not page.token or not page.token.continuation:
            return found
        token = page.token
        token.max_count = 2


def _all(fetch: Any) -> list[Any]:
    found: list[Any] = []
    while True:
        page = fetch(len(found))
        found.extend(page)
        if len(page) < 256:
            return found


def subjects_images(env: Any, subject: str) -> dict[str, str]:
    """``{image id: sha256 of its file}`` of the images whose metadata names ``subject``, in the
    workspace or in a trained iteration's snapshot, read through Microsoft's SDK."""
    client = sdk(env.simulator.base_url)
    found: dict[str, str] = {}
    for project in client.get_projects():
        trained = [i.id for i in client.get_iterations(project.id) if i.status == "Completed"]
        for iteration_id in [None, *trained]:
            skip = 0
            while True:
                page = client.get_images(project.id, iteration_id=iteration_id, take=256, skip=skip)
                for image in page:
                    if (image.metadata or {}).get("subject") == subject and image.id not in found:
                        found[image.id] = hashlib.sha256(httpx.get(image.original_image_uri).content).hexdigest()
                if len(page) < 256:
                    break
                skip += 256
    return found
