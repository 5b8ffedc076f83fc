"""report.html with the longest values an account can hold (unbroken names, ids, error lines) still
prints on A4 without a cut-off table and passes axe-core; a resource without information shows
"not configured". The realistic export is checked the same way in tests/e2e/test_report.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared.export.finalize import finalize_export
from shared.privacy_info import NOT_CONFIGURED, PrivacyInfo
from shared.results import layout
from shared.results.store import ResultStore
from tests.support.browser import Chromium

REQUEST = "REP-LONG-1"
PROJECT = "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"
LONG = "x" * 400
EXAMPLE = Path(__file__).parents[2] / "docs" / "privacy-info.example.json"


async def build(connection_string: str, into: Path) -> Path:
    async with BlobServiceClient.from_connection_string(connection_string) as service:
        container = service.get_container_client(f"rep{abs(hash(into)) % 10**12}")
        await container.create_container()
        store = ResultStore(container)
        await store.put_json(
            layout.project_file(REQUEST, PROJECT, "project.json"), {"id": PROJECT, "name": LONG, "description": LONG}
        )
        await store.put_json(
            layout.project_file(REQUEST, PROJECT, "tags.json"), [{"name": LONG, "type": "Regular", "imageCount": 1}]
        )
        await store.put_bytes(layout.image_file(REQUEST, PROJECT, "a" * 36, "png"), b"\x89PNG", "image/png")
        await store.put_bytes(layout.project_file(REQUEST, PROJECT, "images.jsonl"), b"{}\n", "application/x-ndjson")
        info = json.loads(EXAMPLE.read_text())
        info["retention"] = LONG
        resource = {
            "resource": "prod",
            "expected": {},
            "exported": {"images": 1},
            "projects": [
                {
                    "project_id": PROJECT,
                    "iterations": [],
                    "errors": [{"kind": "image_files", "image_id": LONG, "error": LONG}],
                }
            ],
        }
        await finalize_export(
            store,
            {"request_id": REQUEST, "type": "export", "resources": ["prod", "test"]},
            "2026-12-01T00:00:00Z",
            [resource, {"resource": "test", "projects": []}],
            zip_package=False,
            api_version="3.3",
            privacy={"prod": PrivacyInfo.model_validate(info), "test": None},
        )
        async for blob in container.list_blobs(name_starts_with=f"{REQUEST}/"):
            target = into / blob.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(await store.read_bytes(blob.name))
    return into / REQUEST / "report.html"


def test_long_values_wrap_and_the_page_stays_accessible(azurite: Any, browser: Chromium, tmp_path: Path) -> None:
    report = asyncio.run(build(azurite.connection_string, tmp_path))
    found = browser.inspect(report)
    assert list(found.sections)[:5] == [
        "Summary",
        "What could not be exported",
        "How your data is processed (resource prod)",
        "How your data is processed (resource test)",
        "Your rights",
    ]
    assert all(found.sections.values()), found.sections
    assert found.refused == []
    assert found.too_wide == [], found.too_wide
    assert found.violations == [], json.dumps(found.violations, indent=2)
    assert found.pdf.startswith(b"%PDF-")
    assert report.read_text().count(f">{NOT_CONFIGURED}<") == 10
