"""Keyed fingerprints of the values that identify a person, and of a request's identity.

A tag name or metadata value chosen to find a person's images ("subject eq 'alice'") is itself personal
data, and so is the ticketing system's subject reference. cvdsr keeps them in clear only in the
request's private work blob, which is removed when the request ends; everything that outlives the
request (orchestration history, ``request.json``, the certificate, events) holds HMAC-SHA256
fingerprints instead. Unkeyed hashes would not do: ``sha256("alice")`` is a dictionary look-up away.

The same key makes a request's *binding*: a fingerprint of everything that decides what the request
does (type, resources, scope, include, flags, callback; a field added later that changes what a
request does belongs in ``BOUND_FIELDS``). A request id names exactly one request: a repeat whose
binding differs is a conflict, not a duplicate.

The key is ``CVDSR_FINGERPRINT_KEY`` (in Azure a Key Vault reference) or, when unset, 32 random bytes
created once in the state container (``CVDSR_STATE_CONTAINER``, default ``cvdsr-state``), which has no
lifecycle rule: losing the key would turn every repeat of an old request into a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared.connections import state_container
from shared.settings import app_settings

PREFIX = "hmac-sha256:"
KEY_BLOB = "fingerprint-key"
# The fields that decide what a request does. Two messages with the same id and the same binding are
# one request delivered twice; anything else under that id is refused.
BOUND_FIELDS = (
    "type",
    "resources",
    "scope",
    "include",
    "dry_run",
    "confirm",
    "export_zip",
    "delete_affected_iterations",
    "callback",
)

_cache: dict[str, Fingerprinter] = {}


class Fingerprinter:
    """HMAC-SHA256 with the installation's key. ``repr`` never shows the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Fingerprinter(key=***)"

    def of(self, value: str) -> str:
        return PREFIX + hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def selector(self, selector: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """An image selector with tag names and metadata values fingerprinted. Image ids stay: they
        are random UUIDs of the images themselves, what an erase deletes and its certificate lists."""
        if not selector:
            return None
        return {
            "image_ids": list(selector.get("image_ids", [])),
            "tag_names": [self.of(name) for name in selector.get("tag_names", [])],
            "metadata": {key: self.of(value) for key, value in (selector.get("metadata") or {}).items()},
        }

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request as it may be kept: what identifies the person replaced by fingerprints."""
        kept = dict(request)
        scope = dict(kept.get("scope") or {})
        scope["images"] = self.selector(scope.get("images"))
        kept["scope"] = scope
        if kept.get("subject"):
            kept["subject"] = {"reference": self.of(kept["subject"]["reference"])}
        return kept

    def binding(self, request: Mapping[str, Any]) -> str:
        """The fingerprint of what the request does, normalised so that order and case that change
        nothing (resource names, the include list, listed projects) change nothing here either."""
        kept = self.request(request)
        bound: dict[str, Any] = {field: kept.get(field) for field in BOUND_FIELDS}
        bound["resources"] = sorted(str(name).lower() for name in bound["resources"] or [])
        bound["include"] = sorted(bound["include"] or [])
        if isinstance(bound["confirm"], str):
            bound["confirm"] = [bound["confirm"]]
        bound["confirm"] = sorted(str(name).lower() for name in bound["confirm"] or [])
        scope = dict(bound["scope"] or {})
        if isinstance(scope.get("projects"), list):
            scope["projects"] = sorted(scope["projects"])
        if scope.get("images"):
            images = scope["images"]
            scope["images"] = {
                "image_ids": sorted(images["image_ids"]),
                "tag_names": sorted(images["tag_names"]),
                "metadata": images["metadata"],
            }
        bound["scope"] = scope
        # Bound only when asked for, so a request from before the field existed keeps its binding.
        if kept.get("formats"):
            bound["formats"] = sorted(kept["formats"])
        canonical = json.dumps(bound, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return self.of(canonical)

    def matches(self, fingerprinted: Mapping[str, Any] | None, clear: Mapping[str, Any] | None) -> bool:
        """Whether ``clear`` is the selector that ``fingerprinted`` was made from."""
        return self.selector(clear) == (dict(fingerprinted) if fingerprinted else None)


async def load(service: BlobServiceClient, environ: Mapping[str, str] | None = None) -> Fingerprinter:
    """The installation's fingerprinter, read once per process."""
    configured = app_settings(environ).fingerprint_key
    if configured:
        return Fingerprinter(configured.get_secret_value().encode("utf-8"))
    container = state_container(service, environ)
    cache_key = container.url
    if cache_key in _cache:
        return _cache[cache_key]
    try:
        await container.create_container()
    except ResourceExistsError:
        pass
    blob = container.get_blob_client(KEY_BLOB)
    try:
        # Created once: two processes racing here agree on whichever upload came first.
        await blob.upload_blob(secrets.token_bytes(32), overwrite=False)
    except ResourceExistsError:
        pass
    try:
        key = await (await blob.download_blob()).readall()
    except ResourceNotFoundError:  # pragma: no cover - deleted between the two calls
        raise RuntimeError("the fingerprint key disappeared while it was read; try again") from None
    fingerprinter = Fingerprinter(key)
    _cache[cache_key] = fingerprinter
    return fingerprinter
