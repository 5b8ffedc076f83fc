"""App and resource settings: names are case-insensitive, defaults in one place, errors name settings and
rules and never values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.dsr_request import DsrRequest, parse_request
from shared.intake import fan_out
from shared.settings import SettingsError, app_settings, load_resources

ROOT = Path(__file__).resolve().parents[1]


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
def test_a_bad_width_is_reported_by_name_and_rule(value: str) -> None:
    env = {"CVDSR_PROJECT_PARALLELISM": value, "CVDSR_PAGE_PARALLELISM": value}
    with pytest.raises(SettingsError) as caught:
        fan_out(_request("export"), env)
    message = str(caught.value)
    assert "CVDSR_PROJECT_PARALLELISM: " in message
    assert "CVDSR_PAGE_PARALLELISM: " in message


def test_the_settings_have_their_defaults_in_one_place_and_empty_means_unset() -> None:
    defaults = app_settings({})
    assert defaults == app_settings({"CVDSR_RESULTS_CONTAINER": "", "CVDSR_PAGE_PARALLELISM": ""})
    assert (defaults.results_container, defaults.page_parallelism, defaults.api_rate_per_second) == (
        "dsr-results",
        8,
        8.0,
    )
    assert defaults.export_zip is False
    assert defaults.webhook_secret is None


def test_names_are_case_insensitive_and_other_settings_are_ignored() -> None:
    settings = app_settings({"cvdsr_export_zip": "true", "CVDSR_Page_Parallelism": "3", "CVDSR_TASK_HUB": "hub"})
    assert settings.export_zip is True
    assert settings.page_parallelism == 3


def test_the_process_environment_is_read_like_a_mapping_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"CVDSR_RESULTS_CONTAINER": "results-x", "CVDSR_RESULT_LINK_HOURS": "2.5", "CVDSR_EXPORT_ZIP": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert app_settings() == app_settings(env)
    assert app_settings() is app_settings()  # validated once for this configuration
    monkeypatch.setenv("CVDSR_RESULTS_CONTAINER", "results-y")
    assert app_settings().results_container == "results-y"


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("CVDSR_RESULTS_CONTAINER", "Bad_Name", "CVDSR_RESULTS_CONTAINER: String should match pattern"),
        ("CVDSR_API_RATE_PER_SECOND", "-1", "CVDSR_API_RATE_PER_SECOND: Input should be greater than 0"),
        ("CVDSR_RESULT_LINKS", "always", "CVDSR_RESULT_LINKS: Input should be 'sas' or 'none'"),
        ("CVDSR_API_VERSION", "3.0", "CVDSR_API_VERSION: Input should be '3.3' or '3.4-preview'"),
        ("CVDSR_EXPORT_ZIP", "perhaps", "CVDSR_EXPORT_ZIP: Input should be a valid boolean"),
    ],
)
def test_a_bad_value_names_the_setting_and_the_rule_never_the_value(name: str, value: str, rule: str) -> None:
    with pytest.raises(SettingsError) as caught:
        app_settings({name: value, "CVDSR_WEBHOOK_SECRET": "whsec-do-not-show"})
    assert rule in str(caught.value)
    assert value not in str(caught.value)
    assert "whsec-do-not-show" not in str(caught.value)


def test_secrets_are_not_shown_by_the_settings_object() -> None:
    settings = app_settings({"CVDSR_WEBHOOK_SECRET": "whsec-1", "CVDSR_FINGERPRINT_KEY": "fp-2"})
    assert "whsec-1" not in repr(settings)
    assert "fp-2" not in str(settings)
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "whsec-1"


def test_the_app_does_not_start_with_a_bad_setting() -> None:
    """``function_app.py`` validates the settings as it builds the app: the host reports the setting."""
    env = {**os.environ, "CVDSR_PAGE_PARALLELISM": "0", "CVDSR_WEBHOOK_SECRET": "whsec-hidden"}
    ran = subprocess.run(
        [sys.executable, "-c", "import function_app"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode != 0
    assert "SettingsError" in ran.stderr
    assert "CVDSR_PAGE_PARALLELISM: Input should be greater than" in ran.stderr
    assert "whsec-hidden" not in ran.stderr
    fine = subprocess.run(
        [sys.executable, "-c", "import function_app"],
        cwd=ROOT,
        env={**env, "CVDSR_PAGE_PARALLELISM": "4"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert fine.returncode == 0, fine.stderr
