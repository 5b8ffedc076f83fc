"""The request message, schema version 1 (DESIGN §4): parsing, validation, and precise rejections.

Every intake channel (Storage queue, Service Bus queue, HTTP) hands the raw body to ``parse_request``.
A bad message raises ``RequestRejected`` with reasons that point at the offending field; it is never
retried and never reaches the Custom Vision API. The published JSON Schema
(``shared/schemas/dsr-request.v1.schema.json``) is generated from ``DsrRequest``; a test keeps the two equal.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

MAX_MESSAGE_BYTES = 64 * 1024
SCHEMA_VERSION = 1

DataKind = Literal[
    "projects",
    "iterations",
    "performance",
    "tags",
    "images",
    "image_files",
    "exports",
    "predictions",
    "account",
]
ALL_KINDS: tuple[DataKind, ...] = get_args(DataKind)

# Instance ids and blob folder names: no path separators, no URL specials, no control characters.
_REQUEST_ID = re.compile(r"^[^/\\#?\x00-\x1f\x7f]{1,100}$")
_RESOURCE_NAME = r"^[A-Za-z0-9_]{1,64}$"


def _check_request_id(value: str) -> str:
    if not _REQUEST_ID.fullmatch(value):
        raise ValueError("must be 1-100 characters without / \\ # ? or control characters")
    if value != value.strip():
        raise ValueError("must not start or end with white space")
    return value


def _check_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an id (a UUID)") from None


RequestId = Annotated[str, AfterValidator(_check_request_id)]
ResourceName = Annotated[str, StringConstraints(pattern=_RESOURCE_NAME)]
EntityId = Annotated[str, AfterValidator(_check_uuid)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ImageSelector(_Strict):
    """The data-subject case: the person appears in some images, not the whole account.

    An image matches when it has one of ``image_ids``, or one of the tags in ``tag_names``, or all of
    the ``metadata`` key/value pairs.
    """

    image_ids: list[EntityId] = Field(default_factory=list, max_length=10_000)
    tag_names: list[ShortText] = Field(default_factory=list, max_length=100)
    metadata: dict[ShortText, ShortText] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _not_empty(self) -> ImageSelector:
        if not (self.image_ids or self.tag_names or self.metadata):
            raise ValueError("an image selector needs image_ids, tag_names or metadata (or use null for all images)")
        return self


class Scope(_Strict):
    projects: Literal["all"] | Annotated[list[EntityId], Field(min_length=1, max_length=100)] = "all"
    images: ImageSelector | None = None


class Ticket(_Strict):
    system: ShortText
    id: ShortText
    url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://")] | None = None


class Subject(_Strict):
    reference: ShortText


class Callback(_Strict):
    webhook: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://")]


class DsrRequest(_Strict):
    """A validated data subject request."""

    schema_version: Literal[1]
    request_id: RequestId
    type: Literal["export", "erase"]
    resources: Annotated[list[ResourceName], Field(min_length=1, max_length=20)]
    scope: Scope = Field(default_factory=Scope)
    include: Annotated[list[DataKind], Field(min_length=1)] = list(ALL_KINDS)
    dry_run: bool = False
    confirm: ShortText | list[ShortText] | None = None
    export_zip: bool = False
    delete_affected_iterations: bool = False
    ticket: Ticket | None = None
    subject: Subject | None = None
    received_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    callback: Callback | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DsrRequest:
        if self.type == "erase" and "include" not in self.model_fields_set:
            # Reading the account row is part of a full export; deleting the account never is by
            # default. (Set while validating: the model is frozen afterwards.)
            object.__setattr__(self, "include", [kind for kind in ALL_KINDS if kind != "account"])
        lowered = [name.lower() for name in self.resources]
        if len(set(lowered)) != len(lowered):
            raise ValueError("resources: each resource may be named once")
        if len(set(self.include)) != len(self.include):
            raise ValueError("include: each data kind may be named once")
        if self.delete_affected_iterations and (self.type != "erase" or self.scope.images is None):
            raise ValueError("delete_affected_iterations applies to an erase with an image selector")
        if self.received_at and self.due_at and self.due_at < self.received_at:
            raise ValueError("due_at is before received_at")
        if self.type == "erase" and self.needs_confirmation and not self.dry_run:
            expected = sorted(lowered)
            given = [self.confirm] if isinstance(self.confirm, str) else list(self.confirm or [])
            if sorted(name.lower() for name in given) != expected:
                raise ValueError(
                    "confirm: an account-wide erase must be confirmed with the resource name(s): "
                    + ", ".join(self.resources)
                )
        return self

    @property
    def needs_confirmation(self) -> bool:
        """Account-wide erasure: every project with no image selector, or the account itself."""
        return (self.scope.projects == "all" and self.scope.images is None) or "account" in self.include

    @property
    def resource_names(self) -> list[str]:
        """Resource names as configured (lower case)."""
        return [name.lower() for name in self.resources]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, document: Mapping[str, Any]) -> DsrRequest:
        """Rebuild a request that was validated before (``to_json`` output passed between functions)."""
        return cls.model_validate(document, strict=False)


class RequestRejected(ValueError):
    """The message is not a valid request. ``reasons`` are precise and safe to send back."""

    def __init__(self, reasons: list[str], *, request_id: str | None, raw: bytes) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.request_id = request_id
        # Where the rejection is recorded: the request's own id if it had a valid one, else an id
        # derived from the body, so a redelivered bad message lands in the same place.
        self.digest = hashlib.sha256(raw).hexdigest()[:24]
        self.record_id = request_id or "rejected-" + self.digest


def parse_request(raw: bytes | str, *, configured_resources: Mapping[str, object] | None = None) -> DsrRequest:
    """Parse and validate a raw message body.

    ``configured_resources`` (names in lower case) rejects resources that have no settings, so a typo
    fails at intake and not halfway through the work.
    """
    body = raw.encode() if isinstance(raw, str) else raw
    if len(body) > MAX_MESSAGE_BYTES:
        raise RequestRejected(
            [f"message is {len(body)} bytes; the limit is {MAX_MESSAGE_BYTES}"], request_id=None, raw=body
        )
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestRejected(["message is not UTF-8"], request_id=None, raw=body) from None
    except json.JSONDecodeError as error:
        raise RequestRejected(
            [f"message is not JSON: {error.msg} at line {error.lineno} column {error.colno}"],
            request_id=None,
            raw=body,
        ) from None
    if not isinstance(document, dict):
        raise RequestRejected(["message must be a JSON object"], request_id=None, raw=body)
    request_id = _usable_request_id(document.get("request_id"))
    try:
        # Strict JSON types: "1" is not 1 and "true" is not true; dates are ISO 8601 strings with a zone.
        request = DsrRequest.model_validate_json(body)
    except ValidationError as error:
        raise RequestRejected(_reasons(error), request_id=request_id, raw=body) from None
    if configured_resources is not None:
        unknown = [name for name in request.resources if name.lower() not in configured_resources]
        if unknown:
            raise RequestRejected(
                [f"resources: {name!r} is not a configured Custom Vision resource" for name in unknown],
                request_id=request_id,
                raw=body,
            )
    return request


def _usable_request_id(value: object) -> str | None:
    if isinstance(value, str):
        try:
            return _check_request_id(value)
        except ValueError:
            return None
    return None


def _reasons(error: ValidationError) -> list[str]:
    reasons = []
    for item in error.errors(include_url=False):
        # Union branches add their type names ("literal['all']", "list[...]") to the path; drop them.
        parts = [part for part in item["loc"] if isinstance(part, int) or not re.search(r"[\[(]", part)]
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        reasons.append(f"${location}: {message}" if location else message)
    return list(dict.fromkeys(reasons))


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the request message."""
    schema = DsrRequest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://cvdsr.dev/schemas/dsr-request.v1.schema.json"
    schema["title"] = "cvdsr data subject request, schema version 1"
    return schema


def main() -> None:
    """Print the JSON Schema: ``python -m shared.dsr_request > shared/schemas/dsr-request.v1.schema.json``."""
    print(json.dumps(json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
