"""Resource settings: names are case-insensitive, errors name settings and never values."""

from __future__ import annotations

import json

import pytest

from shared.dsr_request import DsrRequest, parse_request
from shared.intake import fan_out
from shared.settings import SettingsError, load_resources


def test_resources_are_read_case_insensitively() -> None:
    env = {
        "CUSTOMVISION__CONTOSO_PROD__ENDPOINT": "https://contoso.cognitiveservices.azure.com/",
        "customvision__contoso_prod__trainingkey": "k-123",
        "CUSTOMVISION__Contoso_Prod__ARMRESOURCEID": "/subscriptions/s/resourceGroups/r/accounts/a",
        "CUSTOMVISION__OTHER__ENDPOINT": "http://127.0.0.1:8089",
        "CUSTOMVISION__OTHER__TRAININGKEY": "k-456",
        "UNRELATED": "x",
    }
    resources = load_resources(env)
    assert sorted(resources) == ["contoso_prod", "other"]
    prod = resources["contoso_prod"]
    assert prod.endpoint == "https://contoso.cognitiveservices.azure.com"
    assert prod.training_key == "k-123"
    assert prod.arm_resource_id == "/subscriptions/s/resourceGroups/r/accounts/a"
    assert "k-123" not in repr(prod)


def test_missing_key_is_reported_by_setting_name_without_values() -> None:
    env = {"CUSTOMVISION__A__ENDPOINT": "https://a.example", "CUSTOMVISION__B__TRAININGKEY": "secret-b"}
    with pytest.raises(SettingsError) as caught:
        load_resources(env)
    message = str(caught.value)
    assert "CUSTOMVISION__A__TRAININGKEY" in message
    assert "secret-b" not in message


def test_endpoint_must_be_a_url() -> None:
    env = {"CUSTOMVISION__A__ENDPOINT": "a.example", "CUSTOMVISION__A__TRAININGKEY": "k"}
    with pytest.raises(SettingsError, match="ENDPOINT must be an http"):
        load_resources(env)


def _request(kind: str) -> DsrRequest:
    body = {"schema_version": 1, "request_id": f"W-{kind}", "type": kind, "resources": ["a"]}
    if kind == "erase":
        body["confirm"] = "a"
    return parse_request(json.dumps(body).encode(), configured_resources={"a": None})


def test_fan_out_widths_default_by_request_type_and_can_be_set() -> None:
    assert fan_out(_request("export"), {}) == {"project_width": 2, "page_width": 8}
    assert fan_out(_request("erase"), {}) == {"project_width": 4, "page_width": 8}
    env = {"CVDSR_PROJECT_PARALLELISM": "3", "CVDSR_PAGE_PARALLELISM": "16"}
    assert fan_out(_request("erase"), env) == {"project_width": 3, "page_width": 16}


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5", "65"])
def test_a_bad_width_setting_falls_back_to_the_default_and_says_so(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"CVDSR_PROJECT_PARALLELISM": value, "CVDSR_PAGE_PARALLELISM": value}
    with caplog.at_level("WARNING", logger="shared.intake"):
        settings = fan_out(_request("export"), env)
    assert settings == {"project_width": 2, "page_width": 8}
    assert "CVDSR_PROJECT_PARALLELISM must be a whole number" in caplog.text
    assert "CVDSR_PAGE_PARALLELISM must be a whole number" in caplog.text
