"""A small async client for the simulator's Training API, used by the behaviour tests."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from local.simulator.config import DEFAULT_TRAINING_KEY
from local.simulator.domains import GENERAL_COMPACT_CLASSIFICATION, GENERAL_COMPACT_OBJECT_DETECTION
from local.simulator.imaging import placeholder_png
from local.simulator.state import Simulator

TRAINING = "/customvision/v3.3/training"
PREDICTION = "/customvision/v3.1/prediction"
KEY = DEFAULT_TRAINING_KEY
PREDICTION_RESOURCE = (
    "/subscriptions/00000000-0000-4000-8000-00000000c0de/resourceGroups/rg"
    "/providers/Microsoft.CognitiveServices/accounts/prediction"
)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "message"}, body
    return str(body["code"])


class Api:
    """Raw calls with the training key; helpers return parsed JSON and assert success."""

    def __init__(self, client: httpx.AsyncClient, simulator: Simulator, key: str = KEY) -> None:
        self.client = client
        self.simulator = simulator
        self.key = key

    @property
    def headers(self) -> dict[str, str]:
        return {"Training-Key": self.key}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(TRAINING + path, params=params, headers=self.headers)

    async def delete(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.delete(TRAINING + path, params=params, headers=self.headers)

    async def post(
        self, path: str, json: Any = None, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.post(TRAINING + path, json=json, params=params, headers=headers, **kwargs)

    async def patch(self, path: str, json: Any) -> httpx.Response:
        return await self.client.patch(TRAINING + path, json=json, headers=self.headers)

    async def ok(self, response_coro: Any) -> Any:
        response = await response_coro
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    # --- scenario helpers -----------------------------------------------------------------------
    async def create_project(self, name: str = "project", *, detection: bool = False, **params: Any) -> dict[str, Any]:
        domain = GENERAL_COMPACT_OBJECT_DETECTION if detection else GENERAL_COMPACT_CLASSIFICATION
        return await self.ok(self.post("/projects", params={"name": name, "domainId": domain, **params}))  # type: ignore[no-any-return]

    async def create_tag(self, project_id: str, name: str, **params: Any) -> dict[str, Any]:
        return await self.ok(self.post(f"/projects/{project_id}/tags", params={"name": name, **params}))  # type: ignore[no-any-return]

    async def upload(
        self,
        project_id: str,
        seed: str,
        *,
        tag_ids: list[str] | None = None,
        metadata: dict[str, str] | None = None,
        regions: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": f"{seed}.png", "contents": base64.b64encode(placeholder_png(seed)).decode()}
        if regions:
            entry["regions"] = regions
        body: dict[str, Any] = {"images": [entry], "tagIds": tag_ids or []}
        if metadata:
            body["metadata"] = metadata
        summary = await self.ok(self.post(f"/projects/{project_id}/images/files", json=body))
        assert summary["images"][0]["status"] == "OK", summary
        return summary["images"][0]["image"]  # type: ignore[no-any-return]

    async def train(self, project_id: str, **params: Any) -> dict[str, Any]:
        return await self.ok(self.post(f"/projects/{project_id}/train", params=params))  # type: ignore[no-any-return]

    async def publish(self, project_id: str, iteration_id: str, name: str = "prod") -> None:
        response = await self.post(
            f"/projects/{project_id}/iterations/{iteration_id}/publish",
            params={"publishName": name, "predictionId": PREDICTION_RESOURCE},
        )
        assert response.status_code == 200, response.text
        assert response.json() is True

    async def count(self, project_id: str, kind: str = "", **params: Any) -> int:
        suffix = f"/{kind}" if kind else ""
        return await self.ok(self.get(f"/projects/{project_id}/images{suffix}/count", **params))  # type: ignore[no-any-return]

    async def predict(self, project_id: str, publish_name: str, seed: str, *, store: bool = True) -> httpx.Response:
        suffix = "" if store else "/nostore"
        return await self.client.post(
            f"{PREDICTION}/{project_id}/classify/iterations/{publish_name}/image{suffix}",
            content=placeholder_png(seed),
            headers={"Prediction-Key": self.key, "Content-Type": "application/octet-stream"},
        )
