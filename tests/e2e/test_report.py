"""The Art. 15 report of a real export: report.json with the configured information, "not configured"
and manifest warnings for what is not, and images.csv / predictions.csv equal to their JSONL; and the
same export's report.html, downloaded, in headless Chromium (tests/support/browser.py): every section
shows, nothing is fetched from outside the folder, it prints on A4 without a table cut off, and
axe-core finds nothing serious."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.export import tables
from shared.export.rights import RIGHTS
from shared.privacy_info import FIELDS, NOT_CONFIGURED
from tests.support.browser import Chromium

from .support import Environment, environment, sha256

REQUEST_ID = "EXP-REPORT-1"
# Configured in part: the rest must read "not configured", never an invented value.
PRIVACY = {
    "schema_version": 1,
    "controller": {"name": "<script>alert(1)</script> Contoso B.V.", "email": "privacy@contoso.example"},
    "purposes": [{"purpose": "Defect detection", "legal_basis": "Art. 6(1)(f) GDPR: legitimate interests"}],
    "retention": "30 days after the model is retired",
    "transfers": {"region": "East US", "outside_eea": True, "safeguards": "Standard Contractual Clauses (2021/914)"},
}
CONFIGURED = {"controller", "purposes", "retention", "transfers"}


@pytest.fixture(scope="module")
def env(azurite: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    info = tmp_path_factory.mktemp("privacy") / "demo.json"
    info.write_text(json.dumps(PRIVACY))
    with environment(azurite, CUSTOMVISION__DEMO__PRIVACY_INFO=str(info)) as running:
        yield running


@pytest.fixture(scope="module")
def exported(env: Environment) -> dict[str, Any]:
    env.send_queue(env.request(REQUEST_ID))
    assert env.wait(REQUEST_ID)["status"] == "succeeded"
    manifest: dict[str, Any] = env.json(f"{REQUEST_ID}/manifest.json")
    return manifest


def download(env: Environment, into: Path) -> Path:
    """The request folder as a person downloads it; returns report.html's path."""
    for name in env.blob_names(f"{REQUEST_ID}/"):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(env.blob(name))
    return into / REQUEST_ID / "report.html"


def test_report_json_carries_the_configured_information_and_the_rights(
    env: Environment, exported: dict[str, Any]
) -> None:
    listed = {f["path"]: f for f in exported["files"]}
    body = env.blob(f"{REQUEST_ID}/report.json")
    entry = listed[f"{REQUEST_ID}/report.json"]
    assert (entry["bytes"], entry["sha256"]) == (len(body), sha256(body))
    report = json.loads(body)
    assert report["request_id"] == REQUEST_ID
    assert report["status"] == "succeeded"
    assert report["counts"] == exported["counts"]
    (resource,) = report["resources"]
    assert resource["resource"] == "demo"
    stated = resource["privacy_information"]
    assert set(stated) == set(FIELDS)
    for name in CONFIGURED:
        assert stated[name] == PRIVACY[name]
    assert {name for name, value in stated.items() if value == NOT_CONFIGURED} == set(FIELDS) - CONFIGURED
    assert [right["right"] for right in report["rights"]] == [right["right"] for right in RIGHTS]
    assert {"rectification", "erasure", "restriction", "objection", "portability", "complaint"} <= {
        right["right"] for right in report["rights"]
    }
    assert all(right["article"].startswith("GDPR Art. ") for right in report["rights"])
    assert report["how_to_complain"]


def test_what_is_not_configured_is_a_manifest_warning(exported: dict[str, Any]) -> None:
    warned = {(w["resource"], w["field"]) for w in exported["warnings"]}
    assert warned == {("demo", name) for name in set(FIELDS) - CONFIGURED}


def test_report_html_shows_the_information_escaped(env: Environment, exported: dict[str, Any]) -> None:
    html = env.blob(f"{REQUEST_ID}/report.html").decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Contoso B.V." in html
    assert "<script" not in html
    assert html.count(NOT_CONFIGURED) == len(set(FIELDS) - CONFIGURED)
    for right in RIGHTS:
        assert right["article"] in html


def test_each_csv_has_the_rows_of_its_jsonl_and_is_in_the_manifest(env: Environment, exported: dict[str, Any]) -> None:
    listed = {f["path"]: f for f in exported["files"]}
    jsonl = [path for path in listed if path.endswith(("/images.jsonl", "/predictions.jsonl"))]
    assert any(path.endswith("/predictions.jsonl") for path in jsonl)
    assert any("/iterations/" in path for path in jsonl), "snapshot listings have their CSV too"
    files = {path.removeprefix(f"{REQUEST_ID}/"): entry["sha256"] for path, entry in listed.items()}
    for path in jsonl:
        csv_path = path.removesuffix(".jsonl") + ".csv"
        body = env.blob(csv_path)
        assert (listed[csv_path]["bytes"], listed[csv_path]["sha256"]) == (len(body), sha256(body))
        assert listed[csv_path]["content_type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
        records = env.jsonl(path)
        project_id = path.split("/")[3]
        header = tables.IMAGE_COLUMNS if path.endswith("/images.jsonl") else tables.PREDICTION_COLUMNS
        to_row = tables.image_row if path.endswith("/images.jsonl") else tables.prediction_row
        index = {
            record["id"]: next(((p, d) for p, d in files.items() if f"/{record['id']}." in p), ("", ""))
            for record in records
        }
        assert rows == [header, *(to_row(record, project_id, index) for record in records)], csv_path
        if path.endswith("/images.jsonl"):
            assert all(row[-2] and files[row[-2]] == row[-1] for row in rows[1:]), "every image names its file"


def test_report_html_in_a_browser(
    env: Environment, exported: dict[str, Any], browser: Chromium, tmp_path: Path
) -> None:
    report = download(env, tmp_path)
    found = browser.inspect(report)
    headings = list(found.sections)
    assert headings[:3] == ["Summary", "How your data is processed (resource demo)", "Your rights"], headings
    projects = [h for h in headings if h.startswith("Project ")]
    assert len(projects) == len({p.split("/")[3] for p in (f["path"] for f in exported["files"]) if "/projects/" in p})
    assert all(found.sections.values()), found.sections
    assert found.refused == [], "the report loads nothing from outside its own folder"
    assert found.requests[0] == report.resolve().as_uri()
    assert all(url.startswith("file://") for url in found.requests)
    assert found.violations == [], json.dumps(found.violations, indent=2)
    assert found.too_wide == [], found.too_wide
    assert found.pdf.startswith(b"%PDF-")
    assert found.pdf.count(b"/Type /Page\n") + found.pdf.count(b"/Type /Page ") + found.pdf.count(b"/Type/Page") >= 1


def test_report_html_is_self_contained(env: Environment, exported: dict[str, Any]) -> None:
    html = env.blob(f"{REQUEST_ID}/report.html").decode().lower()
    for external in ("<script", "<link", "@import", "url(", "<iframe", "<object", "http://", "//fonts"):
        assert external not in html, external
