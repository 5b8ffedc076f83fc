"""The Art. 15 information file: its model, its published schema, and how a bad file is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.privacy_info import FIELDS, NOT_CONFIGURED, PrivacyInfo, json_schema, missing, statement
from shared.settings import SettingsError, load_resources

ROOT = Path(__file__).parents[2]
SCHEMA_FILE = ROOT / "shared" / "schemas" / "privacy-info.v1.schema.json"
EXAMPLE = ROOT / "docs" / "privacy-info.example.json"
BASE = {"CUSTOMVISION__PROD__ENDPOINT": "https://cv.example", "CUSTOMVISION__PROD__TRAININGKEY": "k"}


def write(tmp_path: Path, document: Any, name: str = "prod.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_the_committed_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), "run: python -m shared.privacy_info > " + str(
        SCHEMA_FILE
    )


def test_the_documented_example_is_valid_for_the_model_and_the_schema() -> None:
    document = json.loads(EXAMPLE.read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)
    info = PrivacyInfo.model_validate(document)
    assert missing(info) == []
    assert set(statement(info)) == set(FIELDS)


def test_a_resource_reads_its_file_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, json.loads(EXAMPLE.read_text()))
    resource = load_resources({**BASE, "CUSTOMVISION__PROD__PRIVACY_INFO": path})["prod"]
    assert resource.privacy is not None
    assert resource.privacy.controller is not None
    assert resource.privacy.controller.email == "privacy@contoso.example"
    assert load_resources(BASE)["prod"].privacy is None


def test_a_file_is_read_once_per_version_and_a_changed_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resources load in every activity: an unchanged file is not read and validated each time, and an
    edited one (or one that became invalid) is seen at the next load."""
    path = write(tmp_path, json.loads(EXAMPLE.read_text()))
    environ = {**BASE, "CUSTOMVISION__PROD__PRIVACY_INFO": path}
    first = load_resources(environ)["prod"].privacy
    reads: list[Path] = []
    original = Path.read_bytes

    def counted(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counted)
    assert load_resources(environ)["prod"].privacy is first
    assert reads == []
    edited = json.loads(EXAMPLE.read_text()) | {"retention": "two years after the last order, then deleted"}
    write(tmp_path, edited)
    assert load_resources(environ)["prod"].privacy.retention == edited["retention"]  # type: ignore[union-attr]
    write(tmp_path, "{not json")
    with pytest.raises(SettingsError, match="is not JSON"):
        load_resources(environ)


def test_what_is_left_out_is_not_configured_never_invented() -> None:
    info = PrivacyInfo.model_validate({"schema_version": 1, "retention": "30 days"})
    stated = statement(info)
    assert stated["retention"] == "30 days"
    assert [name for name, value in stated.items() if value == NOT_CONFIGURED] == missing(info)
    assert "retention" not in missing(info)
    assert "controller" in missing(info)
    assert missing(None) == list(FIELDS)


@pytest.mark.parametrize(
    ("document", "rule"),
    [
        ("{not json", "is not JSON"),
        ({"schema_version": 2}, "$.schema_version"),
        ({"schema_version": 1, "retention_days": 30}, "$.retention_days: Extra inputs are not permitted"),
        ({"schema_version": 1, "controller": {"name": "Contoso"}}, "a contact needs"),
        ({"schema_version": 1, "transfers": {"region": "East US", "outside_eea": True}}, "needs its safeguards"),
        ({"schema_version": 1, "automated_decision_making": {"used": True}}, "logic and consequences"),
        ({"schema_version": 1, "purposes": []}, "$.purposes"),
        ([1, 2], "does not match the schema"),
    ],
)
def test_a_bad_file_stops_at_load_naming_the_setting_and_rule_not_the_value(
    tmp_path: Path, document: Any, rule: str
) -> None:
    path = write(tmp_path, document, "secret-name-7f3a.json")
    with pytest.raises(SettingsError) as raised:
        load_resources({**BASE, "CUSTOMVISION__PROD__PRIVACY_INFO": path})
    message = str(raised.value)
    assert message.startswith("CUSTOMVISION__PROD__PRIVACY_INFO ")
    assert rule in message
    assert "secret-name-7f3a" not in message
    assert "East US" not in message
    assert "Contoso" not in message


def test_a_missing_or_unreadable_file_is_refused_without_its_path(tmp_path: Path) -> None:
    for path in (str(tmp_path / "absent-9c1e.json"), str(tmp_path)):
        with pytest.raises(SettingsError, match="names a file that cannot be read") as raised:
            load_resources({**BASE, "CUSTOMVISION__PROD__PRIVACY_INFO": path})
        assert str(tmp_path) not in str(raised.value)
    not_utf8 = tmp_path / "latin1.json"
    not_utf8.write_bytes(b'{"schema_version": 1, "source": "caf\xe9"}')
    with pytest.raises(SettingsError, match="is not UTF-8"):
        load_resources({**BASE, "CUSTOMVISION__PROD__PRIVACY_INFO": str(not_utf8)})
