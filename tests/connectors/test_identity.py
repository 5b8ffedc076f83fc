"""Identity mapping: a platform's identifier of a person becomes the image selector of each resource."""

from __future__ import annotations

import pytest

from shared.connectors import check_settings, identity
from shared.settings import SettingsError, SubjectMapping, load_resources

RESOURCE = {"CUSTOMVISION__PROD__ENDPOINT": "https://prod.example", "CUSTOMVISION__PROD__TRAININGKEY": "k-1"}


def test_identifiers_are_normalised_before_matching() -> None:
    assert identity.normalise("  Jane.Doe@Example.TEST ") == "jane.doe@example.test"
    assert identity.normalise("Jane.Doe@Example.TEST", "email") == "jane.doe@example.test"
    assert identity.normalise("+1 (555) 010-2030", "phone") == "+15550102030"
    assert identity.normalise("+44 20.7946.0000", "phone") == "+442079460000"
    assert identity.normalise(" U-7781 ", "username") == "U-7781", "other identifiers keep their case"
    assert identity.normalise("Jose\u0301") == "Jos\u00e9", "one Unicode spelling (NFC)"


def test_hmac_sha256_matches_the_rfc_4231_vector_in_hex_and_base64() -> None:
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    data = "what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    hexed = SubjectMapping(metadata_key="subject", hash="hmac-sha256", secret="Jefe")
    assert identity.matched_value(hexed, data) == expected
    b64 = SubjectMapping(metadata_key="subject", hash="hmac-sha256", secret="Jefe", encoding="base64")
    assert identity.matched_value(b64, data) == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
    # FIPS 180-2's "abc" vector.
    plain = SubjectMapping(metadata_key="subject", hash="sha256")
    assert identity.matched_value(plain, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert identity.matched_value(SubjectMapping(metadata_key="subject"), "abc") == "abc"


def test_several_identifiers_become_several_tags_and_a_metadata_key_matches_one() -> None:
    tags = SubjectMapping(tag_template="subject:{value}")
    assert identity.image_selector(tags, ["b@x.test", "a@x.test", "a@x.test"]) == {
        "tag_names": ["subject:a@x.test", "subject:b@x.test"]
    }
    metadata = SubjectMapping(metadata_key="email")
    assert identity.image_selector(metadata, ["a@x.test"]) == {"metadata": {"email": "a@x.test"}}
    with pytest.raises(ValueError, match="matches one identifier"):
        identity.image_selector(metadata, ["a@x.test", "b@x.test"])
    with pytest.raises(ValueError, match="no identifier"):
        identity.image_selector(metadata, [])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SUBJECT_METADATA_KEY": "subject", "SUBJECT_TAG": "s:{value}"}, "not both"),
        ({"SUBJECT_TAG": "subject"}, "{value} exactly once"),
        ({"SUBJECT_TAG": "{value}-{value}"}, "{value} exactly once"),
        ({"SUBJECT_METADATA_KEY": "subject", "SUBJECT_HASH": "md5"}, "must be one of none, sha256, hmac-sha256"),
        ({"SUBJECT_METADATA_KEY": "subject", "SUBJECT_HASH": "hmac-sha256"}, "SUBJECT_HASH_SECRET is needed"),
        ({"SUBJECT_METADATA_KEY": "subject", "SUBJECT_HASH_SECRET": "s3cr3t-value"}, "SUBJECT_HASH_SECRET is needed"),
        ({"SUBJECT_METADATA_KEY": "subject", "SUBJECT_HASH_ENCODING": "hex2"}, "must be one of hex, base64"),
        ({"SUBJECT_HASH": "sha256"}, "needs CUSTOMVISION__PROD__SUBJECT_METADATA_KEY"),
    ],
)
def test_a_half_configured_mapping_stops_the_app_naming_the_setting(settings: dict[str, str], message: str) -> None:
    environ = RESOURCE | {f"CUSTOMVISION__PROD__{name}": value for name, value in settings.items()}
    with pytest.raises(SettingsError, match=message.replace("{", r"\{").replace("}", r"\}")) as raised:
        load_resources(environ)
    assert "s3cr3t-value" not in str(raised.value)


def test_the_mapping_is_read_with_its_defaults_and_never_shows_the_secret() -> None:
    environ = RESOURCE | {
        "CUSTOMVISION__PROD__SUBJECT_TAG": "person:{value}",
        "customvision__prod__subject_hash": "HMAC-SHA256",
        "CUSTOMVISION__PROD__SUBJECT_HASH_SECRET": "s3cr3t-value",
    }
    subject = load_resources(environ)["prod"].subject
    assert subject == SubjectMapping(tag_template="person:{value}", hash="hmac-sha256", secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(load_resources(environ)["prod"])
    assert load_resources(RESOURCE)["prod"].subject is None


TRANSCEND = {
    "CVDSR_TRANSCEND__SOMBRA_URL": "https://multi-tenant.sombra.transcend.io",
    "CVDSR_TRANSCEND__API_KEY": "tk_live_not-shown",
    "CVDSR_TRANSCEND__AUDIENCE": "acme",
    "CVDSR_TRANSCEND__RESOURCES": "prod, other",
}
OTHER = {"CUSTOMVISION__OTHER__ENDPOINT": "https://other.example", "CUSTOMVISION__OTHER__TRAININGKEY": "k-2"}


def test_a_connector_searching_a_resource_without_a_mapping_stops_the_app() -> None:
    with pytest.raises(identity.NoMapping, match="resource 'prod' has no identity mapping"):
        check_settings(RESOURCE | OTHER | TRANSCEND)
    with pytest.raises(identity.NoMapping, match="names a resource that is not configured"):
        check_settings(RESOURCE | TRANSCEND | {"CUSTOMVISION__PROD__SUBJECT_METADATA_KEY": "subject"})
    differing = (
        RESOURCE
        | OTHER
        | TRANSCEND
        | {
            "CUSTOMVISION__PROD__SUBJECT_METADATA_KEY": "subject",
            "CUSTOMVISION__OTHER__SUBJECT_METADATA_KEY": "email",
        }
    )
    with pytest.raises(identity.NoMapping, match="map people differently"):
        check_settings(differing)
    agreeing = differing | {"CUSTOMVISION__OTHER__SUBJECT_METADATA_KEY": "subject"}
    check_settings(agreeing)
    check_settings(RESOURCE)  # no connector configured: nothing to check
