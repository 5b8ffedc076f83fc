"""DataGrail's signature recipes, timestamps and field paths, without a host."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from local.platforms.datagrail import FakeDataGrail
from shared.connectors import datagrail, identity
from shared.settings import DataGrailSettings, SettingsError, app_settings

SECRET = "dg-unit-secret"


def settings(**overrides: str) -> DataGrailSettings:
    environ = {"CVDSR_DATAGRAIL__SECRET": SECRET, "CVDSR_DATAGRAIL__RESOURCES": "demo"}
    environ |= {f"CVDSR_DATAGRAIL__{name.upper()}": value for name, value in overrides.items()}
    configured = app_settings(environ).datagrail
    assert configured is not None
    return configured


def test_the_fakes_notification_verifies_with_and_without_the_v1_prefix() -> None:
    fake = FakeDataGrail(secret=SECRET)
    for prefixed in (False, True):
        headers, body = fake.notification("access", email="a@x.test", v1_prefix=prefixed)
        datagrail.verify(settings(), {k.lower(): v for k, v in headers.items()}, body)


@pytest.mark.parametrize(
    ("recipe", "encoding", "signed"),
    [
        ("timestamp:body", "base64", b"1767225600:{}"),
        ("timestamp.body", "hex", b"1767225600.{}"),
        ("body", "base64", b"{}"),
    ],
)
def test_each_recipe_signs_what_it_names(recipe: str, encoding: str, signed: bytes) -> None:
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()
    configured = settings(signed=recipe, signature_encoding=encoding)
    assert datagrail.signature(configured, "1767225600", b"{}") == expected
    datagrail.verify(
        configured, {"x-webhook-timestamp": "1767225600", "x-webhook-signature": expected}, b"{}", now=1767225700
    )


@pytest.mark.parametrize(
    ("headers", "now", "rule"),
    [
        ({"x-webhook-timestamp": "1767225600"}, 1767225600, "are required"),
        ({"x-webhook-timestamp": "yesterday", "x-webhook-signature": "x"}, 1767225600, "not Unix seconds"),
        ({"x-webhook-timestamp": "1767225600", "x-webhook-signature": "x"}, 1767225901, "more than 300 seconds"),
        ({"x-webhook-timestamp": "1767225600", "x-webhook-signature": "x"}, 1767225299, "more than 300 seconds"),
        ({"x-webhook-timestamp": "1767225600", "x-webhook-signature": "AAAA"}, 1767225600, "does not verify"),
    ],
)
def test_a_missing_stale_or_wrong_signature_is_refused(headers: dict[str, str], now: int, rule: str) -> None:
    with pytest.raises(datagrail.Refused, match=rule):
        datagrail.verify(settings(), headers, b"{}", now=now)


def test_identifiers_come_from_the_configured_paths_and_combine() -> None:
    document = {"identifiers": {"email": "Jane@X.test", "phone_number": ["+1 555 0100", ""]}, "email": None}
    assert identity.identifiers_at(document, settings().identifier_fields) == [
        ("Jane@X.test", "email"),
        ("+1 555 0100", "phone"),
    ]
    custom = settings(identifier_fields="subject.external_id")
    assert identity.identifiers_at({"subject": {"external_id": "u-1"}}, custom.identifier_fields) == [
        ("u-1", "external_id")
    ]
    assert identity.identifiers_at({"identifiers": "not an object"}, settings().identifier_fields) == []


def test_the_callback_says_completed_only_for_cvdsrs_succeeded() -> None:
    record = {"webhook_request_id": "w-1", "type": "access"}
    links = {"package_url": "https://results/x.zip?sig=s", "expires_at": "2026-12-04T00:00:00Z"}
    done = datagrail.callback_body(record, "dg-w-1", {"status": "succeeded", "counts": {"iteration_images": 1}}, links)
    assert done["status"] == "completed"
    assert done["no_data"] is False
    assert done["result_url"] == links["package_url"]
    partial = datagrail.callback_body(record, "dg-w-1", {"status": "partially_succeeded", "errors": [{}]}, links)
    assert partial["status"] == "failed"
    assert "result_url" not in partial, "a partial export is not handed over as the answer"
    erased = datagrail.callback_body(
        {"webhook_request_id": "w-2", "type": "deletion"}, "dg-w-2", {"status": "succeeded"}, {}
    )
    assert erased["status"] == "completed"
    assert "result_url" not in erased
    assert json.dumps(erased)


def test_datagrail_settings_are_checked_and_never_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        app_settings({"CVDSR_DATAGRAIL__SECRET": SECRET, "CVDSR_DATAGRAIL__SIGNED": "md5"})
    assert "CVDSR_DATAGRAIL__RESOURCES: Field required" in str(raised.value)
    assert "CVDSR_DATAGRAIL__SIGNED" in str(raised.value)
    assert SECRET not in str(raised.value)
