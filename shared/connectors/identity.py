"""Identity mapping: how the identifier a privacy platform sends (an email, a phone number, an external
id) finds the person's images in Custom Vision.

Per resource (``CUSTOMVISION__<NAME>__SUBJECT_*``, read by ``shared.settings.load_resources``): the
image metadata key that holds the identifier, or a tag name template such as ``subject:{value}``; the
identifier is normalised and then optionally hashed (``sha256``, or ``hmac-sha256`` with a secret, hex
or base64), because teams rarely store raw emails in image metadata. Several identifiers of one person
become several tag names (an image with any of them matches). A metadata mapping matches one identifier:
an image selector's metadata pairs must all match, so two values of one key would match nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from shared.settings import ConnectorSettings, ResourceSettings, SettingsError, SubjectMapping, load_resources

_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


class NoMapping(SettingsError):
    """A connector names a resource with no identity mapping, or resources that map people differently."""


def normalise(value: str, kind: str | None = None) -> str:
    """The identifier as it is matched: Unicode NFC, trimmed; an email lower-cased (mail providers treat
    the local part case-insensitively, and so does every privacy platform's intake); a phone number without
    spaces, dots, dashes or brackets."""
    text = unicodedata.normalize("NFC", value).strip()
    kind = (kind or "").lower()
    if kind == "email" or (not kind and "@" in text):
        return text.casefold()
    if kind == "phone":
        return _PHONE_PUNCTUATION.sub("", text)
    return text


def matched_value(mapping: SubjectMapping, value: str) -> str:
    """What the resource stores for this (normalised) identifier."""
    if mapping.hash == "none":
        return value
    if mapping.hash == "sha256":
        digest = hashlib.sha256(value.encode()).digest()
    else:
        digest = hmac.new((mapping.secret or "").encode(), value.encode(), hashlib.sha256).digest()
    return digest.hex() if mapping.encoding == "hex" else base64.b64encode(digest).decode()


def image_selector(mapping: SubjectMapping, identifiers: Sequence[str]) -> dict[str, Any]:
    """The request's ``scope.images`` for the person with these (normalised) identifiers."""
    values = sorted({matched_value(mapping, identifier) for identifier in identifiers})
    if not values:
        raise ValueError("no identifier to match")
    if mapping.tag_template is not None:
        return {"tag_names": [mapping.tag_template.replace("{value}", value) for value in values]}
    if len(values) > 1:
        raise ValueError("a metadata mapping matches one identifier; map the subject by tag to combine several")
    return {"metadata": {str(mapping.metadata_key): values[0]}}


def shared_mapping(resources: Mapping[str, ResourceSettings], names: Sequence[str], setting: str) -> SubjectMapping:
    """The one mapping of the resources a connector searches. One request carries one image selector, so
    the resources must map people the same way. Checked at start-up; ``setting`` names the connector's
    resources setting in the error."""
    mappings: dict[str, SubjectMapping] = {}
    for name in names:
        resource = resources.get(name)
        if resource is None:
            raise NoMapping(f"{setting} names a resource that is not configured")
        if resource.subject is None:
            raise NoMapping(
                f"{setting}: resource {name!r} has no identity mapping "
                f"(CUSTOMVISION__{name.upper()}__SUBJECT_METADATA_KEY or __SUBJECT_TAG)"
            )
        mappings[name] = resource.subject
    if len(set(mappings.values())) > 1:
        raise NoMapping(f"{setting}: the resources map people differently; one request carries one selector")
    return next(iter(mappings.values()))


def resources_setting(platform: str) -> str:
    return f"CVDSR_{platform.upper()}__RESOURCES"


def subject_selector(
    section: ConnectorSettings, platform: str, identifiers: Sequence[tuple[str, str | None]]
) -> dict[str, Any]:
    """The image selector of the person a platform names by ``(identifier, kind)`` pairs, for the
    resources its connector searches."""
    mapping = shared_mapping(load_resources(), section.resource_names, resources_setting(platform))
    return image_selector(mapping, [normalise(value, kind) for value, kind in identifiers])


def field(document: Any, path: str) -> Any:
    """The value at a dotted path of a JSON document (None where the path leads nowhere)."""
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def identifiers_at(document: Mapping[str, Any], paths: str) -> list[tuple[str, str | None]]:
    """``(value, kind)`` for each identifier at the comma-separated dotted ``paths`` (a string or a list
    of them), for platforms whose payload shape is configured; the kind is the path's last part
    (``email``, ``phone_number``), which says how to normalise."""
    found: list[tuple[str, str | None]] = []
    for path in (p.strip() for p in paths.split(",") if p.strip()):
        value = field(document, path)
        values = value if isinstance(value, list) else [value]
        kind = path.rsplit(".", 1)[-1].replace("phone_number", "phone")
        found += [(v, kind) for v in values if isinstance(v, str) and v.strip()]
    return found


def subject_request(
    section: ConnectorSettings,
    platform: str,
    *,
    request_id: str,
    kind: str,
    identifiers: Sequence[tuple[str, str | None]],
    ticket: Mapping[str, str],
    files: bool = True,
    package: bool = True,
) -> dict[str, Any]:
    """The request v1 a platform's access (``kind`` export) or erasure (erase) of one person asks for:
    their images in every project of the connector's resources. An export holds the image records,
    their files unless ``files`` is off, and a package when ``package`` (one link to hand over)."""
    if not identifiers:
        raise ValueError("no identifier of the person")
    request: dict[str, Any] = {
        "schema_version": 1,
        "request_id": request_id,
        "type": kind,
        "resources": section.resource_names,
        "scope": {"projects": "all", "images": subject_selector(section, platform, identifiers)},
        "ticket": {"system": platform, **ticket},
    }
    if kind == "export":
        request["include"] = ["images", "image_files"] if files else ["images"]
        request["export_zip"] = package
    return request
