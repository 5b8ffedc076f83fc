"""The scratch project: what the self-test creates on the user's resource, and removes again.

It is the only thing the self-test writes, and besides the project list the only thing it reads:
``cvdsr-selftest-<random>``, a few generated images (tagged, untagged, with metadata), optionally one
trained iteration. Calls the Training API directly (the product's client only reads and deletes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field

import httpx

from local.simulator.imaging import placeholder_png
from shared.customvision.redaction import redact_url

API = "customvision/v3.3/training"
SUBJECT = {"cvdsr_selftest": "subject-1"}  # metadata of the images a data subject "owns"
TAGS = ("selftest-a", "selftest-b")
PER_TAG = 5  # Custom Vision trains a classifier only with at least 5 images for each of 2 tags


class ScratchError(RuntimeError):
    """A call on the scratch project failed; the message names the operation and status, never the key."""


@dataclass
class Scratch:
    """The scratch project and what was uploaded to it: image id -> SHA-256 of its bytes."""

    project_id: str
    name: str
    images: dict[str, str] = field(default_factory=dict)
    subject_images: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)
    iteration_id: str | None = None


class ScratchClient:
    """The few write calls the self-test needs, with the training key, on one resource."""

    def __init__(self, endpoint: str, training_key: str, transport: httpx.AsyncBaseTransport | None = None):
        self._http = httpx.AsyncClient(
            base_url=f"{endpoint.rstrip('/')}/{API}",
            headers={"Training-Key": training_key},
            timeout=60,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, operation: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = await self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
        if response.status_code == 429:  # the resource is busy: wait as it asks, once
            await asyncio.sleep(float(response.headers.get("Retry-After", "1") or 1))
            response = await self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
        if response.is_error:
            code = ""
            try:
                code = str(response.json().get("code") or "")
            except ValueError:
                pass
            raise ScratchError(f"{operation}: HTTP {response.status_code} {code}".strip())
        return response

    async def project_count(self) -> int:
        return len((await self._call("GetProjects", "GET", "/projects")).json())

    async def create(self, name: str) -> Scratch:
        created = await self._call("CreateProject", "POST", "/projects", params={"name": name})
        scratch = Scratch(str(created.json()["id"]), name)
        for tag in TAGS:
            made = await self._call("CreateTag", "POST", f"/projects/{scratch.project_id}/tags", params={"name": tag})
            scratch.tags[tag] = str(made.json()["id"])
        return scratch

    async def upload(self, scratch: Scratch) -> None:
        """Five images per tag, one untagged, and one untagged with the data subject's metadata."""
        seed = 0
        batches: list[tuple[list[str], dict[str, str] | None, int]] = [
            ([tid], None, PER_TAG) for tid in scratch.tags.values()
        ]
        batches += [([], None, 1), ([], SUBJECT, 1)]
        for tag_ids, metadata, count in batches:
            entries, digests = [], []
            for _ in range(count):
                seed += 1
                content = placeholder_png(f"cvdsr-selftest-{seed}")  # a distinct image each (no duplicates)
                digests.append(hashlib.sha256(content).hexdigest())
                entries.append({"name": f"selftest-{seed}.png", "contents": base64.b64encode(content).decode()})
            body: dict[str, object] = {"images": entries, "tagIds": tag_ids}
            if metadata:
                body["metadata"] = metadata
            summary = (
                await self._call(
                    "CreateImagesFromFiles", "POST", f"/projects/{scratch.project_id}/images/files", json=body
                )
            ).json()
            results = summary.get("images") or []
            if not summary.get("isBatchSuccessful") or len(results) != count:
                statuses = sorted({str(r.get("status")) for r in results})
                raise ScratchError(f"CreateImagesFromFiles: not every image was created ({', '.join(statuses)})")
            for result, digest in zip(results, digests, strict=True):
                image_id = str(result["image"]["id"])
                scratch.images[image_id] = digest
                if metadata:
                    scratch.subject_images.add(image_id)

    async def train(self, scratch: Scratch, within_seconds: float) -> None:
        trained = await self._call("TrainProject", "POST", f"/projects/{scratch.project_id}/train")
        scratch.iteration_id = str(trained.json()["id"])
        deadline = asyncio.get_running_loop().time() + within_seconds
        while True:
            iteration = await self._call(
                "GetIteration", "GET", f"/projects/{scratch.project_id}/iterations/{scratch.iteration_id}"
            )
            status = iteration.json().get("status")
            if status == "Completed":
                return
            if status not in ("Training", "Queued", "New") or asyncio.get_running_loop().time() > deadline:
                raise ScratchError(f"TrainProject: the iteration ended {status!r}")
            await asyncio.sleep(2)

    async def exists(self, project_id: str) -> bool:
        response = await self._http.get(f"/projects/{project_id}")
        if response.status_code == 404:
            return False
        if response.is_error:
            raise ScratchError(f"GetProject: HTTP {response.status_code}")
        return True

    async def remove(self, project_id: str) -> None:
        """Whatever the self-test left behind: the project and its iterations (none is published)."""
        if not await self.exists(project_id):
            return
        response = await self._http.delete(f"/projects/{project_id}")
        if response.is_error and response.status_code != 404:
            raise ScratchError(f"DeleteProject: HTTP {response.status_code} ({redact_url(str(response.url))})")
