"""Request schema v1: good requests parse, bad ones are rejected with precise reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.dsr_request import MAX_MESSAGE_BYTES, DsrRequest, RequestRejected, json_schema, parse_request

SCHEMA_FILE = Path(__file__).parents[2] / "shared" / "schemas" / "dsr-request.v1.schema.json"
PROJECT = "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"
CONFIGURED = {"contoso_prod": object(), "contoso_test": object()}


def request(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "request_id": "PRIV-2026-000123",
        "type": "export",
        "resources": ["contoso_prod"],
        "scope": {"projects": "all", "images": None},
        "include": [
            "projects",
            "iterations",
            "performance",
            "tags",
            "images",
            "image_files",
            "exports",
            "predictions",
        ],
        "dry_run": False,
        "confirm": None,
        "ticket": {"system": "servicenow", "id": "PRIV0012345", "url": "https://example.service-now.com/x"},
        "subject": {"reference": "opaque-42"},
        "received_at": "2026-11-01T09:00:00Z",
        "due_at": "2026-12-01T09:00:00Z",
        "callback": {"webhook": "https://hooks.example.com/dsr"},
    }
    base.update(changes)
    return base


def reject(document: Any) -> RequestRejected:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(RequestRejected) as caught:
        parse_request(raw, configured_resources=CONFIGURED)
    return caught.value


def test_the_design_example_parses() -> None:
    parsed = parse_request(json.dumps(request()), configured_resources=CONFIGURED)
    assert parsed.request_id == "PRIV-2026-000123"
    assert parsed.resource_names == ["contoso_prod"]
    assert parsed.received_at is not None
    assert parsed.received_at.tzinfo is not None


def test_defaults_include_every_kind_and_all_projects() -> None:
    minimal = {"schema_version": 1, "request_id": "r1", "type": "export", "resources": ["CONTOSO_PROD"]}
    parsed = parse_request(json.dumps(minimal), configured_resources=CONFIGURED)
    assert parsed.scope.projects == "all"
    assert "image_files" in parsed.include
    assert "account" in parsed.include
    assert parsed.resource_names == ["contoso_prod"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"{not json", "message is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (request(extra_field=1), "$.extra_field: unknown field"),
        (request(scope={"projects": "all", "images": None, "tags": []}), "$.scope.tags: unknown field"),
        (request(schema_version=2), "$.schema_version"),
        (request(schema_version="1"), "$.schema_version"),
        (request(dry_run="true"), "$.dry_run: Input should be a valid boolean"),
        (request(resources="contoso_prod"), "$.resources: Input should be a valid array"),
        (request(resources=[]), "$.resources"),
        (request(resources=["contoso-prod"]), "$.resources[0]"),
        (request(resources=["contoso_prod", "CONTOSO_PROD"]), "each resource may be named once"),
        (request(type="delete"), "$.type"),
        (request(request_id="PRIV/1"), "$.request_id: must be 1-100 characters"),
        (request(request_id="PRIV#1"), "$.request_id"),
        (request(request_id="a?b"), "$.request_id"),
        (request(request_id="tab\there"), "$.request_id"),
        (request(request_id=""), "$.request_id"),
        (request(request_id="x" * 101), "$.request_id"),
        (request(scope={"projects": ["not-a-uuid"]}), "$.scope.projects[0]: 'not-a-uuid' is not an id"),
        (request(scope={"projects": []}), "$.scope.projects"),
        (request(scope={"images": {}}), "an image selector needs"),
        (request(include=["everything"]), "$.include[0]"),
        (request(received_at="2026-11-01T09:00:00"), "$.received_at: Input should have timezone info"),
        (request(due_at="2026-10-01T09:00:00Z"), "due_at is before received_at"),
        (request(callback={"webhook": "ftp://x"}), "$.callback.webhook"),
        (request(resources=["unknown_res"]), "'unknown_res' is not a configured Custom Vision resource"),
    ],
)
def test_bad_requests_are_rejected_with_a_precise_reason(document: Any, reason: str) -> None:
    rejected = reject(document)
    assert any(reason in text for text in rejected.reasons), rejected.reasons


def test_oversize_is_rejected_before_parsing() -> None:
    document = request(subject={"reference": "x" * 10})
    raw = json.dumps(document).encode()
    raw = raw[:-1] + b", " + b'"pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'
    rejected = reject(raw)
    assert rejected.reasons == [f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}"]


def test_erase_does_not_include_the_account_unless_asked() -> None:
    minimal = {"schema_version": 1, "request_id": "r1", "type": "erase", "resources": ["contoso_prod"]}
    parsed = parse_request(json.dumps({**minimal, "scope": {"images": {"tag_names": ["alice"]}}}))
    assert "account" not in parsed.include
    assert not parsed.needs_confirmation
    assert "image_files" in parsed.include


def test_account_wide_erase_needs_the_resource_names_as_confirmation() -> None:
    erase = request(type="erase", include=["projects"])
    assert "confirm" in reject(erase).reasons[0]
    assert "confirm" in reject({**erase, "confirm": "contoso_test"}).reasons[0]
    assert parse_request(json.dumps({**erase, "confirm": "Contoso_Prod"}), configured_resources=CONFIGURED)
    both = {
        **erase,
        "resources": ["contoso_prod", "contoso_test"],
        "confirm": ["contoso_test", "contoso_prod"],
    }
    assert parse_request(json.dumps(both), configured_resources=CONFIGURED).needs_confirmation
    # Selective erasure of a data subject's images is not account-wide.
    selective = {**erase, "scope": {"projects": "all", "images": {"tag_names": ["alice"]}}}
    assert not parse_request(json.dumps(selective), configured_resources=CONFIGURED).needs_confirmation
    # Deleting the account itself always needs confirmation.
    account = {**selective, "include": ["account"]}
    assert "confirm" in reject(account).reasons[0]


def test_rejections_are_recorded_under_the_request_id_or_a_stable_derived_id() -> None:
    assert reject(request(extra=1)).record_id == "PRIV-2026-000123"
    first, second = reject(b"{bad"), reject(b"{bad")
    assert first.request_id is None
    assert first.record_id == second.record_id
    assert first.record_id.startswith("rejected-")
    assert reject(b"{worse").record_id != first.record_id


def test_the_published_schema_is_the_models_schema() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), "run: python -m shared.dsr_request > " + str(
        SCHEMA_FILE
    )


def test_the_published_schema_agrees_with_the_parser_on_shape() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert validator.is_valid(request())
    for bad in (
        request(extra_field=1),
        request(type="delete"),
        request(resources=[]),
        request(dry_run="true"),
    ):
        assert not validator.is_valid(bad)
    assert DsrRequest.from_json_dict(request()).type == "export"
