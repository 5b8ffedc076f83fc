"""The self-test's checks, in order, each printed as it ends; the scratch project is removed at the end
whatever happened.

1. the project list is readable (the only read of the account's own data);
2. a scratch project with generated images (and, with ``--train``, a trained iteration);
3. an export of that project only, through the app: its manifest's counts and every image file's
   SHA-256 against what was uploaded;
4. a confirmed erase of that project, through the app: a verified certificate that counts what was
   uploaded, and the project reads 404.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from azure.core.exceptions import AzureError

from shared.connections import blob_service, results_container
from shared.erase.certificate import digest
from shared.results.store import ResultStore
from shared.settings import load_resources

from .scratch import Scratch, ScratchClient, ScratchError

TERMINAL = {"Completed", "Failed", "Terminated"}
EXPORT_KINDS = ["projects", "tags", "iterations", "images", "image_files"]


class CheckFailed(RuntimeError):
    """One check did not hold: the message says what was seen, never a key or a link."""


@dataclass(frozen=True)
class Target:
    """Where the app runs and how to call it; where its results are read."""

    app_url: str
    function_key: str | None
    environ: Mapping[str, str]  # the resource's endpoint and key, the results storage
    timeout: float = 600.0


class Selftest:
    def __init__(self, target: Target, resource: str, *, train: bool, out: Callable[[str], None]) -> None:
        resources = load_resources(target.environ)
        settings = resources.get(resource.lower())
        if settings is None:
            raise CheckFailed(f"resource {resource!r} is not configured (CUSTOMVISION__{resource.upper()}__ENDPOINT)")
        self.target = target
        self.resource = settings.name
        self.train = train
        self.out = out
        self.scratch_client = ScratchClient(settings.endpoint, settings.training_key)
        self.scratch: Scratch | None = None
        self.run_id = uuid.uuid4().hex[:8]
        self._manifest: dict[str, Any] | None = None

    async def run(self) -> bool:
        """True when every check passed. The scratch project is removed in every case."""
        try:
            for name, check in self.checks():
                try:
                    detail = await check()
                # ValueError: an answer that is not JSON, a bad setting; KeyError: an answer without a field.
                except (CheckFailed, ScratchError, httpx.HTTPError, AzureError, ValueError, KeyError) as error:
                    self.out(f"FAIL {name}: {error}")
                    self.out(f"selftest failed: {name}")
                    return False
                self.out(f"ok   {name}" + (f" ({detail})" if detail else ""))
            self.out("selftest passed")
            return True
        finally:
            await self.cleanup()
            await self.scratch_client.aclose()

    def checks(self) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("project list readable", self.read_projects),
            ("scratch project created", self.create_scratch),
            ("images uploaded", self.upload),
        ]
        if self.train:
            steps.append(("project trained", self.train_scratch))
        steps += [
            ("export finished", self.export),
            ("export counts match", self.export_counts),
            ("export files match", self.export_files),
            ("erase finished", self.erase),
            ("erasure certificate verified", self.erase_certificate),
            ("project gone", self.project_gone),
        ]
        return steps

    # -- the scratch project ----------------------------------------------------------------------
    async def read_projects(self) -> str:
        return f"{await self.scratch_client.project_count()} projects"

    async def create_scratch(self) -> str:
        self.scratch = await self.scratch_client.create(f"cvdsr-selftest-{self.run_id}")
        return self.scratch.name

    async def upload(self) -> str:
        scratch = self._scratch()
        await self.scratch_client.upload(scratch)
        return f"{len(scratch.images)} images, {len(scratch.tags)} tags"

    async def train_scratch(self) -> str:
        scratch = self._scratch()
        await self.scratch_client.train(scratch, self.target.timeout)
        return f"iteration {scratch.iteration_id}"

    async def cleanup(self) -> None:
        if self.scratch is None:
            return
        try:
            await self.scratch_client.remove(self.scratch.project_id)
        except (ScratchError, httpx.HTTPError) as error:
            self.out(f"FAIL cleanup: {error}; delete project {self.scratch.name} by hand")
            return
        self.out(f"ok   cleanup (project {self.scratch.name} is gone)")

    # -- through the app --------------------------------------------------------------------------
    async def export(self) -> str:
        outcome = await self.submit("export", include=EXPORT_KINDS)
        return f"request {outcome['request_id']}"

    async def export_counts(self) -> str:
        scratch = self._scratch()
        manifest = await self.export_manifest()
        counts, mismatches = manifest.get("counts") or {}, manifest.get("count_mismatches") or []
        if mismatches:
            raise CheckFailed(f"the manifest reports count mismatches: {json.dumps(mismatches)}")
        expected = {"projects": 1, "tags": len(scratch.tags), "images": len(scratch.images)}
        expected["image_files"] = len(scratch.images)
        wrong = {kind: counts.get(kind) for kind, count in expected.items() if counts.get(kind) != count}
        if wrong:
            raise CheckFailed(f"counts {wrong}, expected {expected}")
        return ", ".join(f"{kind} {count}" for kind, count in expected.items())

    async def export_files(self) -> str:
        scratch = self._scratch()
        manifest = await self.export_manifest()
        prefix = f"{self.request_id('export')}/data/projects/{scratch.project_id}/images/"
        listed = {
            f["path"].removeprefix(prefix).rsplit(".", 1)[0]: f
            for f in manifest["files"]
            if f["path"].startswith(prefix)
        }
        for image_id, uploaded in scratch.images.items():
            entry = listed.get(image_id)
            if entry is None:
                raise CheckFailed(f"image {image_id} has no file in the export")
            if entry["sha256"] != uploaded:
                raise CheckFailed(f"image {image_id}: the manifest's SHA-256 is not the uploaded file's")
            if await self.result_sha256(entry["path"]) != uploaded:
                raise CheckFailed(f"image {image_id}: the stored file is not the uploaded file")
        return f"{len(scratch.images)} files, SHA-256 each"

    async def erase(self) -> str:
        outcome = await self.submit("erase", confirm=self.resource)
        return f"request {outcome['request_id']}"

    async def erase_certificate(self) -> str:
        scratch = self._scratch()
        document = await self.result(f"{self.request_id('erase')}/erasure-certificate.json")
        certificate = document.get("certificate") or {}
        if document.get("sha256") != digest(certificate):
            raise CheckFailed("the certificate's digest does not verify")
        if certificate.get("verified") is not True:
            raise CheckFailed("the certificate is not verified")
        deleted = certificate.get("deleted") or {}
        if deleted.get("projects") != 1 or deleted.get("images") != len(scratch.images):
            raise CheckFailed(f"the certificate counts {deleted}, expected 1 project and {len(scratch.images)} images")
        return f"{deleted.get('images')} images, 1 project"

    async def project_gone(self) -> str:
        if await self.scratch_client.exists(self._scratch().project_id):
            raise CheckFailed("the project still exists after the erase")
        return "GetProject: 404"

    # -- plumbing ---------------------------------------------------------------------------------
    def _scratch(self) -> Scratch:
        if self.scratch is None:
            raise CheckFailed("no scratch project")
        return self.scratch

    def request_id(self, kind: str) -> str:
        return f"selftest-{self.run_id}-{kind}"

    async def submit(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a request for the scratch project only and wait for its end; it must have succeeded."""
        request = {
            "schema_version": 1,
            "request_id": self.request_id(kind),
            "type": kind,
            "resources": [self.resource],
            "scope": {"projects": [self._scratch().project_id]},
            "ticket": {"system": "cvdsr-selftest", "id": self.request_id(kind)},
            **fields,
        }
        headers = {"x-functions-key": self.target.function_key} if self.target.function_key else {}
        base = self.target.app_url.rstrip("/")
        async with httpx.AsyncClient(timeout=60, headers=headers) as http:
            answer = await http.post(f"{base}/api/requests", json=request)
            if answer.status_code not in (200, 202):
                raise CheckFailed(f"the app answered {answer.status_code} to the {kind} request: {answer.text[:300]}")
            deadline = time.monotonic() + self.target.timeout
            while time.monotonic() < deadline:
                status = await http.get(f"{base}/api/requests/{request['request_id']}")
                document = status.json() if status.status_code == 200 else {}
                if document.get("runtime_status") in TERMINAL:
                    if document.get("status") != "succeeded":
                        raise CheckFailed(f"the {kind} ended {document.get('status') or document['runtime_status']}")
                    return dict(document)
                await asyncio.sleep(1)
        raise CheckFailed(f"the {kind} did not end within {self.target.timeout:.0f} s")

    async def result(self, path: str) -> dict[str, Any]:
        async with blob_service(self.target.environ) as service:
            data: dict[str, Any] = await ResultStore(results_container(service, self.target.environ)).read_json(path)
            return data

    async def result_sha256(self, path: str) -> str:
        async with blob_service(self.target.environ) as service:
            sha256, _size = await ResultStore(results_container(service, self.target.environ)).digest(path)
            return sha256

    async def export_manifest(self) -> dict[str, Any]:
        """The export's manifest, read once for the checks that need it."""
        if self._manifest is None:
            self._manifest = await self.result(f"{self.request_id('export')}/manifest.json")
        return self._manifest
