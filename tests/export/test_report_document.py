"""finalize_export's report.json and manifest warnings, for a resource with its information and one without."""

from __future__ import annotations

import json
from pathlib import Path

from shared.export.finalize import finalize_export
from shared.privacy_info import FIELDS, NOT_CONFIGURED, PrivacyInfo
from shared.results import layout
from shared.results.store import ResultStore

EXAMPLE = Path(__file__).parents[2] / "docs" / "privacy-info.example.json"


async def test_a_resource_without_information_is_not_configured_everywhere(store: ResultStore) -> None:
    request = {"request_id": "REP-1", "type": "export", "resources": ["Prod", "test"]}
    info = PrivacyInfo.model_validate(json.loads(EXAMPLE.read_text()))
    resources = [
        {"resource": "prod", "projects": [], "expected": {}, "exported": {}},
        {"resource": "test", "projects": [], "expected": {}, "exported": {}},
        {"resource": "(account)", "projects": [], "expected": {}, "exported": {}},
    ]
    outcome = await finalize_export(
        store,
        request,
        "2026-12-01T00:00:00Z",
        resources,
        zip_package=False,
        api_version="3.3",
        privacy={"prod": info, "test": None, "other": info},
    )
    assert outcome["result"]["report_json"] == layout.report_json("REP-1")
    report = await store.read_json(layout.report_json("REP-1"))
    stated = {entry["resource"]: entry["privacy_information"] for entry in report["resources"]}
    assert set(stated) == {"prod", "test"}, "the resources the request named, no other configured one"
    assert NOT_CONFIGURED not in stated["prod"].values()
    assert stated["test"] == dict.fromkeys(FIELDS, NOT_CONFIGURED)
    manifest = await store.read_json(layout.manifest("REP-1"))
    assert manifest["warnings"] == [
        {"resource": "test", "field": field, "warning": "privacy information not configured"} for field in FIELDS
    ]
    assert layout.report_json("REP-1") in {entry["path"] for entry in manifest["files"]}
    html = (await store.read_bytes(layout.report("REP-1"))).decode()
    assert html.count(f">{NOT_CONFIGURED}<") == len(FIELDS)
    assert "Autoriteit Persoonsgegevens" in html
