"""The request message, schema version 1 (README "Sending a request"): parsing, validation, and precise rejections.

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
from typing import Annotated, Any, Literal, Protocol, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from shared.deadlines import Jurisdiction

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

# A request id is the orchestration's instance id, a blob folder name and a URL path segment. One
# strict alphabet keeps all three exact: nothing a URL decodes (``%41`` is not ``A``), nothing the
# Durable extension refuses (a leading ``@``), no ``.``/``..`` folders, and never the ``:`` that
# sub-orchestration ids use (``names.resource_instance_id``), so no request can forge or collide with one.
# An id does not end with "." (some storage clients trim it, so "abc." and "abc" would share a folder)
# and does not start with "rejected-", the prefix of rejection records of messages without a usable id.
REQUEST_ID_RULE = (
    "must be 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit, not ending with '.',"
    " and not starting with 'rejected-'"
)
_REQUEST_ID = re.compile(r"(?!rejected-)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9_-])?")
_RESOURCE_NAME = r"^[A-Za-z0-9_]{1,64}$"
# Rejection reasons go to logs, records and events: few, short, and never the rejected values.
MAX_REASONS = 20
MAX_REASON_CHARS = 200


def is_request_id(value: object) -> bool:
    """The one check every entry point applies: intake, the status route, the CLI."""
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


def _check_request_id(value: str) -> str:
    if not is_request_id(value):
        raise ValueError(REQUEST_ID_RULE)
    return value


def _check_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("is not an id (a UUID)") from None


def _exact_int(value: object) -> object:
    """``true``, ``1.0`` and ``1e0`` equal 1 in Python but are not the integer the schema names."""
    if type(value) is not int:
        raise ValueError("must be the integer 1")
    return value


RequestId = Annotated[
    str,
    AfterValidator(_check_request_id),
    Field(json_schema_extra={"pattern": f"^{_REQUEST_ID.pattern}$", "minLength": 1, "maxLength": 100}),
]
ResourceName = Annotated[str, StringConstraints(pattern=_RESOURCE_NAME)]
EntityId = Annotated[str, AfterValidator(_check_uuid)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Datasets an export also writes, in formats other tools read (shared/datasets).
DatasetFormat = Literal["coco", "azureml", "csv"]


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

    schema_version: Annotated[Literal[1], BeforeValidator(_exact_int)]
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
    # The statutory clock (shared/deadlines.py): without due_at, the jurisdiction's rule computes it.
    jurisdiction: Jurisdiction | None = None
    received_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    callback: Callback | None = None
    formats: Annotated[list[DatasetFormat], Field(max_length=3)] = Field(default_factory=list)

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
        self._check_formats()
        if self.received_at and self.due_at and self.due_at < self.received_at:
            raise ValueError("due_at is before received_at")
        if self.type == "erase" and self.needs_confirmation and not self.dry_run:
            expected = sorted(lowered)
            given = [self.confirm] if isinstance(self.confirm, str) else list(self.confirm or [])
            if sorted(name.lower() for name in given) != expected:
                raise ValueError(
                    "confirm: an erase of whole projects or of the account must be confirmed: "
                    "set confirm to the name(s) in resources"
                )
        return self

    def _check_formats(self) -> None:
        if not self.formats:
            return
        if self.type != "export":
            raise ValueError("formats: datasets are written by an export, not an erase")
        if len(set(self.formats)) != len(self.formats):
            raise ValueError("formats: each format may be named once")
        if "images" not in self.include:
            raise ValueError("formats: a dataset is made of images: include must list images")
        pointing = [name for name in self.formats if name in ("coco", "azureml")]
        if pointing and "image_files" not in self.include:
            raise ValueError(f"formats: {', '.join(pointing)} name the image files: include must list image_files")

    @property
    def needs_confirmation(self) -> bool:
        """Whole projects go (no image selector), however they are named: ``"all"`` or every id listed
        is the same deletion. Or the account itself."""
        return self.scope.images is None or "account" in self.include

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
        self.raw = raw  # never stored: the register reads only its type and jurisdiction
        self.record_id = request_id or "rejected-" + self.digest


class UrlCheck(Protocol):
    """What intake asks of the callback policy (``shared.events.callbacks.CallbackPolicy``)."""

    def check_url(self, url: str) -> str | None: ...


def parse_request(
    raw: bytes | str,
    *,
    configured_resources: Mapping[str, object] | None = None,
    callbacks: UrlCheck | None = None,
) -> DsrRequest:
    """Parse and validate a raw message body.

    ``configured_resources`` (names in lower case) rejects resources that have no settings, so a typo
    fails at intake and not halfway through the work. ``callbacks`` refuses a callback URL that the
    completion event must not be sent to (its reason names the rule, not the URL).
    """
    # A str with a lone surrogate becomes bytes that are not UTF-8, and is rejected as such below.
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(body) > MAX_MESSAGE_BYTES:
        raise RequestRejected(
            [f"message is {len(body)} bytes; the limit is {MAX_MESSAGE_BYTES}"], request_id=None, raw=body
        )
    document = _json_object(body)
    request_id = _usable_request_id(document.get("request_id"))
    try:
        # Strict JSON types: "1" is not 1 and "true" is not true; dates are ISO 8601 strings with a zone.
        request = DsrRequest.model_validate_json(body)
    except ValidationError as error:
        raise RequestRejected(_reasons(error), request_id=request_id, raw=body) from None
    except Exception:  # the validator itself gave up on the input: still the input's fault
        raise RequestRejected(["message could not be validated"], request_id=request_id, raw=body) from None
    if configured_resources is not None:
        unknown = [i for i, name in enumerate(request.resources) if name.lower() not in configured_resources]
        if unknown:
            raise RequestRejected(
                [f"$.resources[{i}]: not a configured Custom Vision resource" for i in unknown],
                request_id=request_id,
                raw=body,
            )
    if callbacks is not None and request.callback is not None:
        refused = callbacks.check_url(request.callback.webhook)
        if refused:
            raise RequestRejected([f"$.callback.webhook: {refused}"], request_id=request_id, raw=body)
    return request


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a rejection. Whatever the parser raises on hostile input (deep
    nesting, a 4,300-digit number, a lone surrogate) is the message's fault, never a crash."""

    def rejected(reason: str) -> RequestRejected:
        return RequestRejected([reason], request_id=None, raw=body)

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise rejected("message is not UTF-8") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise rejected(f"message is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise rejected("message is not JSON: nested too deeply") from None
    except ValueError:
        raise rejected("message is not JSON: a number is too long") from None
    if not isinstance(document, dict):
        raise rejected("message must be a JSON object")
    try:
        # An escaped lone surrogate ("\ud800") decodes to a str that cannot be stored or sent anywhere.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise rejected("message holds an unpaired UTF-16 surrogate escape") from None
    return document


def _usable_request_id(value: object) -> str | None:
    return value if isinstance(value, str) and is_request_id(value) else None


def _field_names() -> frozenset[str]:
    names: set[str] = set()
    for model in (DsrRequest, Scope, ImageSelector, Ticket, Subject, Callback):
        names.update(model.model_fields)
    return frozenset(names)


_FIELDS = _field_names()
_FIELD_LIKE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _reasons(error: ValidationError) -> list[str]:
    """Where and which rule, never what: a location part that is not one of the schema's own field
    names (an unknown field, a metadata key) is shown as ``*``, and pydantic's messages do not carry
    the input. Capped, so that every rejection event fits every channel."""
    reasons = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        unknown = item["type"] == "extra_forbidden"
        parts: list[str | int] = []
        for part in item["loc"]:
            if isinstance(part, int):
                parts.append(part)
            elif not re.search(r"[\[(]", part):  # union branches add type names ("literal['all']"): drop them
                # An unknown field is named when it looks like a field name (a typo is the usual case).
                # Unknown keys of the schema's own objects are meant as field names (a typo, usually);
                # metadata keys, the one free-form map, never reach this branch.
                named = part in _FIELDS or (unknown and part == item["loc"][-1] and _FIELD_LIKE.fullmatch(part))
                parts.append(part if named else "*")
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
        message = "unknown field" if unknown else item["msg"].removeprefix("Value error, ")
        reasons.append((f"${location}: {message}" if location else message)[:MAX_REASON_CHARS])
    return cap_reasons(list(dict.fromkeys(reasons)))


def cap_reasons(reasons: list[str]) -> list[str]:
    if len(reasons) <= MAX_REASONS:
        return reasons
    return [*reasons[: MAX_REASONS - 1], f"and {len(reasons) - MAX_REASONS + 1} more problems"]


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
