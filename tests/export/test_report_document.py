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


async def test_the_rights_and_the_complaint_follow_the_requests_law(store: ResultStore) -> None:
    """A CCPA request is told its rights under the Civil Code and where Californians complain; a UK one
    the UK GDPR's articles and the ICO; a request without a jurisdiction the GDPR's."""
    expected = {
        "ccpa": ("Cal. Civ. Code §1798.105", "California Privacy Protection Agency"),
        "uk_gdpr": ("UK GDPR Art. 17", "Information Commissioner's Office"),
        None: ("GDPR Art. 17", "European Data Protection Board"),
    }
    for index, (jurisdiction, (deletion, authority)) in enumerate(expected.items()):
        request_id = f"REP-LAW-{index}"
        request = {"request_id": request_id, "type": "export", "resources": ["prod"], "jurisdiction": jurisdiction}
        resources = [{"resource": "prod", "projects": [], "expected": {}, "exported": {}}]
        await finalize_export(
            store, request, "2026-12-01T00:00:00Z", resources, zip_package=False, api_version="3.3", privacy={}
        )
        report = await store.read_json(layout.report_json(request_id))
        assert report["jurisdiction"] == jurisdiction
        assert deletion in [right["article"] for right in report["rights"]]
        assert authority in report["how_to_complain"]
        html = (await store.read_bytes(layout.report(request_id))).decode()
        assert deletion in html
        assert authority.replace("'", "&#x27;") in html
