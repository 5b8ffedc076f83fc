"""Request schema v1: good requests parse, bad ones are rejected with precise reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local.host.replay import instance_id_refusal
from shared.dsr_request import (
    MAX_MESSAGE_BYTES,
    MAX_REASONS,
    DsrRequest,
    RequestRejected,
    is_request_id,
    json_schema,
    parse_request,
)
from shared.orchestration import names
from tests.proof.bodies import HOSTILE_IDS

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
        (request(request_id="PRIV/1"), "$.request_id: must be 1-100 letters, digits"),
        (request(request_id="PRIV#1"), "$.request_id"),
        (request(request_id="a?b"), "$.request_id"),
        (request(request_id="tab\there"), "$.request_id"),
        (request(request_id=""), "$.request_id"),
        (request(request_id="x" * 101), "$.request_id"),
        (request(scope={"projects": ["not-a-uuid"]}), "$.scope.projects[0]: is not an id (a UUID)"),
        (request(scope={"projects": []}), "$.scope.projects"),
        (request(scope={"images": {}}), "an image selector needs"),
        (request(include=["everything"]), "$.include[0]"),
        (request(received_at="2026-11-01T09:00:00"), "$.received_at: Input should have timezone info"),
        (request(due_at="2026-10-01T09:00:00Z"), "due_at is before received_at"),
        (request(callback={"webhook": "ftp://x"}), "$.callback.webhook"),
        (request(resources=["unknown_res"]), "$.resources[0]: not a configured Custom Vision resource"),
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


def test_erasing_listed_projects_needs_confirmation_like_all_of_them() -> None:
    """Finding 7: listing every project id instead of "all" deleted every project unconfirmed."""
    listed = request(type="erase", include=["projects"], scope={"projects": [PROJECT], "images": None})
    assert "confirm" in reject(listed).reasons[0]
    confirmed = parse_request(json.dumps({**listed, "confirm": "contoso_prod"}), configured_resources=CONFIGURED)
    assert confirmed.needs_confirmation
    # A dry run plans and deletes nothing: no confirmation needed to see the plan.
    assert parse_request(json.dumps({**listed, "dry_run": True}), configured_resources=CONFIGURED)


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


@pytest.mark.parametrize("request_id", HOSTILE_IDS)
def test_request_ids_outside_the_strict_alphabet_are_rejected(request_id: str) -> None:
    """Findings 4, 5 and 12 (issue 12 too): ids that alias, decode, collide or cannot be encoded."""
    rejected = reject(request(request_id=request_id))
    assert any(reason.startswith("$.request_id: must be 1-100 letters") for reason in rejected.reasons)
    assert rejected.request_id is None
    assert rejected.record_id.startswith("rejected-")


@pytest.mark.parametrize("request_id", ["PRIV-2026-000123", "a", "A.b_c-1", "9" * 100, "r1..a", "r_"])
def test_request_ids_in_the_alphabet_are_kept_exactly(request_id: str) -> None:
    assert parse_request(json.dumps(request(request_id=request_id)), configured_resources=CONFIGURED).request_id == (
        request_id
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 1000, "nested too deeply"),
        (b"[" * 60_000, "nested too deeply"),
        (b'{"schema_version": ' + b"1" * 4300 + b"}", "$.schema_version"),
        (b'{"schema_version": 1, "request_id": "\\ud800"}', "unpaired UTF-16 surrogate"),
        (b'{"ticket": {"id": "\\udfff"}}', "unpaired UTF-16 surrogate"),
        (b"\xed\xa0\x80", "not UTF-8"),
        (b"", "message is not JSON"),
        (b"null", "must be a JSON object"),
    ],
)
def test_hostile_bodies_are_rejected_not_raised(raw: bytes, reason: str) -> None:
    """Finding 5: these raised (500 on HTTP, five retries and the poison queue on a queue)."""
    rejected = reject(raw)
    assert any(reason in text for text in rejected.reasons), rejected.reasons


def test_a_str_with_a_lone_surrogate_is_rejected() -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_request('{"request_id": "\ud800"}')
    assert caught.value.reasons == ["message is not UTF-8"]


@pytest.mark.parametrize("version", ["true", "1.0", "1e0", "false", "0"])
def test_schema_version_must_be_the_integer_one(version: str) -> None:
    """Finding 12: true, 1.0 and 1e0 compared equal to 1 and were accepted."""
    raw = json.dumps(request()).replace('"schema_version": 1', f'"schema_version": {version}').encode()
    assert any(text.startswith("$.schema_version") for text in reject(raw).reasons)


def test_reasons_never_echo_the_values_they_reject() -> None:
    """Finding 8: a pasted secret in projects and an email in image_ids reached logs, records, events."""
    secret, email = "sk-live-51Hx9TOPSECRETvalue", "alice@example.com"
    document = request(
        scope={"projects": [secret], "images": {"image_ids": [email], "metadata": {"email": ""}}},
        **{"type": "delete", secret.replace("-", "_"): 1, "Sneaky Key " + email: 2},
    )
    rejected = reject(document)
    text = json.dumps(rejected.reasons)
    for value in (secret, email, "delete", "Sneaky"):
        assert value not in text
    assert "$.scope.projects[0]: is not an id (a UUID)" in rejected.reasons
    assert "$.scope.images.metadata.*: String should have at least 1 character" in rejected.reasons


def test_reasons_are_capped_so_every_event_fits_every_channel() -> None:
    """Finding 8: 6,000 bad ids gave a 406 KB manifest and an event too large for the queue."""
    document = request(scope={"projects": "all", "images": {"image_ids": [str(i) for i in range(6000)]}})
    rejected = reject(document)
    assert len(rejected.reasons) == MAX_REASONS
    assert rejected.reasons[-1] == "and 5981 more problems"
    assert len(json.dumps(rejected.reasons)) < 8 * 1024


def test_every_instance_id_cvdsr_starts_keeps_the_extensions_rules() -> None:
    """The Durable extension refuses an instance id with a leading @, /, \\, #, ?, a control character
    or more than 256 UTF-16 units (the development host holds the same rules). The longest request id,
    resource name and project id give the longest child ids cvdsr starts."""
    request_ids = ["a", "A" * 100, "a.b-c_d", "9" + "_" * 98 + "9"]
    for request_id in request_ids:
        assert is_request_id(request_id)
        resource = names.resource_instance_id(request_id, "r" * 64)
        project = names.project_instance_id(resource, "00000000-0000-4000-8000-000000000000")
        for instance_id in (request_id, resource, project):
            assert instance_id_refusal(instance_id) is None, instance_id
    for refused in ("@a", "a/b", "a#b", "a?b", "a\\b", "a\tb"):
        assert not is_request_id(refused)
        assert instance_id_refusal(refused) is not None


def test_formats_ask_an_export_for_datasets() -> None:
    parsed = parse_request(json.dumps(request(formats=["coco", "azureml", "csv"])), configured_resources=CONFIGURED)
    assert parsed.formats == ["coco", "azureml", "csv"]
    assert parse_request(json.dumps(request()), configured_resources=CONFIGURED).formats == []
    images_only = request(formats=["csv"], include=["images"])
    assert parse_request(json.dumps(images_only), configured_resources=CONFIGURED).formats == ["csv"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"formats": ["yolo"]}, "$.formats[0]"),
        ({"formats": "coco"}, "$.formats"),
        ({"formats": ["coco", "coco"]}, "each format may be named once"),
        ({"formats": ["csv"], "include": ["projects", "tags"]}, "include must list images"),
        ({"formats": ["coco", "csv"], "include": ["images"]}, "coco name the image files"),
        (
            {"formats": ["csv"], "type": "erase", "scope": {"images": {"image_ids": [PROJECT]}}},
            "written by an export, not an erase",
        ),
    ],
)
def test_bad_formats_are_refused_with_the_reason(changes: dict[str, Any], reason: str) -> None:
    assert any(reason in line for line in reject(request(**changes)).reasons)


def test_formats_are_part_of_the_binding_without_changing_older_requests() -> None:
    from shared.fingerprints import Fingerprinter

    fingerprinter = Fingerprinter(b"k" * 32)
    plain = parse_request(json.dumps(request()), configured_resources=CONFIGURED).to_json()
    older = {key: value for key, value in plain.items() if key != "formats"}
    assert fingerprinter.binding(plain) == fingerprinter.binding(older)
    coco = parse_request(json.dumps(request(formats=["coco", "csv"])), configured_resources=CONFIGURED).to_json()
    reordered = {**coco, "formats": ["csv", "coco"]}
    assert fingerprinter.binding(coco) != fingerprinter.binding(plain)
    assert fingerprinter.binding(coco) == fingerprinter.binding(reordered)
