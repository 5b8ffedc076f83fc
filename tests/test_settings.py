"""Resource settings: names are case-insensitive, errors name settings and never values."""

from __future__ import annotations

import pytest

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
