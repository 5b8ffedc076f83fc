"""AMQP 1.0 message sections: split what a client sent, re-encode what the peer delivers.

The peer keeps every message as the raw bytes of its sections, so the body, the properties and the
application properties reach the receiver byte for byte as the sender encoded them. Only the sections
the broker owns are rebuilt on delivery: the header (``delivery-count``), the message annotations
(``x-opt-sequence-number``, ``x-opt-enqueued-time``, ``x-opt-locked-until``) and, for a dead-lettered
message, the application properties (``DeadLetterReason``, ``DeadLetterErrorDescription``).

Batches: the SDK sends a batch as one transfer with message-format ``0x80013700`` whose body is a
series of data sections, each one a complete encoded AMQP message. The python-qpid-proton binding does
not expose a delivery's message-format, so :func:`unpack_transfer` recognises a batch by its shape: a
body made only of data sections that each parse, completely, as a sequence of AMQP message sections.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from proton import Array, Data, Described, symbol, timestamp, uint, ulong
from proton import ProtonException as _ProtonException

HEADER = 0x70
DELIVERY_ANNOTATIONS = 0x71
MESSAGE_ANNOTATIONS = 0x72
PROPERTIES = 0x73
APPLICATION_PROPERTIES = 0x74
DATA = 0x75
AMQP_SEQUENCE = 0x76
AMQP_VALUE = 0x77
FOOTER = 0x78

BODY_CODES = frozenset({DATA, AMQP_SEQUENCE, AMQP_VALUE})
_SYMBOLIC_CODES = {
    "amqp:header:list": HEADER,
    "amqp:delivery-annotations:map": DELIVERY_ANNOTATIONS,
    "amqp:message-annotations:map": MESSAGE_ANNOTATIONS,
    "amqp:properties:list": PROPERTIES,
    "amqp:application-properties:map": APPLICATION_PROPERTIES,
    "amqp:data:binary": DATA,
    "amqp:amqp-sequence:list": AMQP_SEQUENCE,
    "amqp:amqp-value:*": AMQP_VALUE,
    "amqp:footer:map": FOOTER,
}

# Message annotations Service Bus stamps on every message it hands out.
X_OPT_SEQUENCE_NUMBER = "x-opt-sequence-number"
X_OPT_ENQUEUED_TIME = "x-opt-enqueued-time"
X_OPT_LOCKED_UNTIL = "x-opt-locked-until"
X_OPT_MESSAGE_STATE = "x-opt-message-state"
# Application properties Service Bus adds to a dead-lettered message.
DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_ERROR_DESCRIPTION = "DeadLetterErrorDescription"

_PROPERTY_FIELDS = (
    "message_id",
    "user_id",
    "to",
    "subject",
    "reply_to",
    "correlation_id",
    "content_type",
    "content_encoding",
    "absolute_expiry_time",
    "creation_time",
    "group_id",
    "group_sequence",
    "reply_to_group_id",
)


class CodecError(ValueError):
    """The bytes are not a well-formed AMQP message."""


@dataclass(frozen=True)
class Section:
    """One section of an encoded message: its descriptor code, decoded value and exact bytes."""

    code: int
    value: Any
    raw: bytes


def _descriptor_code(descriptor: Any) -> int | None:
    if isinstance(descriptor, int):
        return int(descriptor)
    if isinstance(descriptor, str):
        return _SYMBOLIC_CODES.get(str(descriptor))
    return None


def _buffer(value: bytes | bytearray | memoryview) -> bytes:
    # Data.decode hands its argument to cffi's from_buffer, which takes any buffer: passing a
    # memoryview slice avoids copying the rest of a batch once per section.
    return cast(bytes, value)


def materialize(value: Any) -> Any:
    """Copy binary values out of proton's buffers.

    ``Data.get_binary`` returns a memoryview into memory the ``Data`` object owns; it must be copied
    before that object goes away.
    """
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, Described):
        return Described(materialize(value.descriptor), materialize(value.value))
    if isinstance(value, Array):
        return Array(value.descriptor, value.type, *[materialize(v) for v in value.elements])
    if isinstance(value, dict):
        return {materialize(k): materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v) for v in value]
    return value


def decode_value(buffer: bytes | bytearray | memoryview) -> Any:
    """Decode one AMQP value (a whole encoded value, e.g. a management request body)."""
    data = Data()
    try:
        data.decode(_buffer(buffer))
    except _ProtonException as exc:
        raise CodecError(f"undecodable AMQP data: {exc}") from exc
    data.rewind()
    data.next()
    return materialize(data.get_object())


def split_sections(buffer: bytes | bytearray | memoryview) -> list[Section]:
    """Split an encoded message into its sections, keeping each section's bytes."""
    view = memoryview(buffer)
    sections: list[Section] = []
    offset = 0
    while offset < len(view):
        data = Data()
        try:
            consumed = data.decode(_buffer(view[offset:]))
        except _ProtonException as exc:
            raise CodecError(f"undecodable AMQP data at byte {offset}: {exc}") from exc
        if consumed <= 0:
            raise CodecError(f"undecodable AMQP data at byte {offset}")
        data.rewind()
        data.next()
        value = materialize(data.get_object())
        if not isinstance(value, Described):
            raise CodecError(f"byte {offset}: a message section must be a described type")
        code = _descriptor_code(value.descriptor)
        if code is None or not HEADER <= code <= FOOTER:
            raise CodecError(f"byte {offset}: unknown message section descriptor {value.descriptor!r}")
        sections.append(Section(code, value.value, bytes(view[offset : offset + consumed])))
        offset += consumed
    return sections


def encode_section(code: int, value: Any) -> bytes:
    data = Data()
    data.put_object(Described(ulong(code), value))
    return bytes(data.encode())


def encode_value(value: Any) -> bytes:
    """Encode one plain AMQP value (used for management response bodies)."""
    data = Data()
    data.put_object(value)
    return bytes(data.encode())


def _padded(values: Any, size: int) -> list[Any]:
    items = list(values) if isinstance(values, list | tuple) else []
    return (items + [None] * size)[:size]


@dataclass(frozen=True)
class AmqpMessage:
    """A message as a sender encoded it, kept section by section."""

    header: tuple[Any, ...]
    message_annotations: Mapping[Any, Any]
    properties: tuple[Any, ...]
    properties_raw: bytes
    application_properties: Mapping[str, Any]
    application_properties_raw: bytes
    body: tuple[Section, ...]
    footer_raw: bytes

    @classmethod
    def from_sections(cls, sections: Iterable[Section]) -> AmqpMessage:
        header: list[Any] = [None] * 5
        annotations: dict[Any, Any] = {}
        properties: list[Any] = [None] * len(_PROPERTY_FIELDS)
        properties_raw = b""
        app_properties: dict[str, Any] = {}
        app_properties_raw = b""
        body: list[Section] = []
        footer_raw = b""
        for section in sections:
            if section.code == HEADER:
                header = _padded(section.value, 5)
            elif section.code == DELIVERY_ANNOTATIONS:
                continue  # per hop: a broker does not forward them
            elif section.code == MESSAGE_ANNOTATIONS:
                annotations = dict(section.value or {})
            elif section.code == PROPERTIES:
                properties = _padded(section.value, len(_PROPERTY_FIELDS))
                properties_raw = section.raw
            elif section.code == APPLICATION_PROPERTIES:
                app_properties = {str(k): v for k, v in dict(section.value or {}).items()}
                app_properties_raw = section.raw
            elif section.code in BODY_CODES:
                body.append(section)
            elif section.code == FOOTER:
                footer_raw = section.raw
        return cls(
            header=tuple(header),
            message_annotations=annotations,
            properties=tuple(properties),
            properties_raw=properties_raw,
            application_properties=app_properties,
            application_properties_raw=app_properties_raw,
            body=tuple(body),
            footer_raw=footer_raw,
        )

    @classmethod
    def decode(cls, buffer: bytes | bytearray | memoryview) -> AmqpMessage:
        return cls.from_sections(split_sections(buffer))

    def field(self, name: str) -> Any:
        """A field of the properties section by its AMQP name (``message_id``, ``subject``, ...)."""
        return self.properties[_PROPERTY_FIELDS.index(name)]

    @property
    def message_id(self) -> Any:
        return self.field("message_id")

    @property
    def body_type(self) -> str:
        if not self.body:
            return "none"
        return {DATA: "data", AMQP_SEQUENCE: "sequence", AMQP_VALUE: "value"}[self.body[0].code]

    @property
    def body_value(self) -> Any:
        """Data sections joined as bytes; an amqp-value as its value; amqp-sequences as one list."""
        kind = self.body_type
        if kind == "data":
            return b"".join(bytes(s.value) for s in self.body if s.code == DATA)
        if kind == "value":
            return self.body[0].value
        if kind == "sequence":
            return [item for s in self.body for item in (s.value or [])]
        return None

    def encode(
        self,
        *,
        delivery_count: int,
        annotations: Mapping[str, Any],
        extra_application_properties: Mapping[str, Any] | None = None,
    ) -> bytes:
        """Encode the message for delivery with a fresh header and broker annotations."""
        header = list(self.header)
        header[4] = uint(delivery_count)
        merged_annotations: dict[Any, Any] = dict(self.message_annotations)
        for key, value in annotations.items():
            merged_annotations[symbol(key)] = value
        parts = [encode_section(HEADER, header)]
        if merged_annotations:
            parts.append(encode_section(MESSAGE_ANNOTATIONS, merged_annotations))
        parts.append(self.properties_raw)
        if extra_application_properties:
            app_properties = dict(self.application_properties)
            app_properties.update(extra_application_properties)
            parts.append(encode_section(APPLICATION_PROPERTIES, app_properties))
        else:
            parts.append(self.application_properties_raw)
        parts.extend(s.raw for s in self.body)
        parts.append(self.footer_raw)
        return b"".join(parts)


def broker_annotations(
    *,
    sequence_number: int,
    enqueued_time_ms: int,
    locked_until_ms: int | None = None,
    state: int | None = None,
) -> dict[str, Any]:
    annotations: dict[str, Any] = {
        X_OPT_SEQUENCE_NUMBER: int(sequence_number),
        X_OPT_ENQUEUED_TIME: timestamp(enqueued_time_ms),
    }
    if locked_until_ms is not None:
        annotations[X_OPT_LOCKED_UNTIL] = timestamp(locked_until_ms)
    if state is not None:
        annotations[X_OPT_MESSAGE_STATE] = int(state)
    return annotations


def _as_batch(sections: list[Section]) -> list[AmqpMessage] | None:
    body = [s for s in sections if s.code in BODY_CODES]
    if not body or any(s.code != DATA for s in body):
        return None
    if any(s.code == APPLICATION_PROPERTIES for s in sections):
        return None  # the SDK's batch envelope never carries application properties
    inner: list[AmqpMessage] = []
    for section in body:
        payload = section.value
        if not isinstance(payload, bytes | bytearray | memoryview) or len(payload) < 3 or payload[0] != 0:
            return None  # every encoded section starts with the described-type constructor 0x00
        try:
            inner_sections = split_sections(payload)
        except CodecError:
            return None
        if not any(s.code in BODY_CODES for s in inner_sections):
            return None
        codes = [s.code for s in inner_sections]
        if codes != sorted(codes):
            return None  # sections of a message come in the order the specification fixes
        inner.append(AmqpMessage.from_sections(inner_sections))
    return inner


def unpack_transfer(buffer: bytes | bytearray | memoryview) -> tuple[list[AmqpMessage], bool]:
    """Decode one transfer into the messages it carries and whether it was a batch envelope."""
    sections = split_sections(buffer)
    batch = _as_batch(sections)
    if batch is not None:
        return batch, True
    return [AmqpMessage.from_sections(sections)], False


def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def plain(value: Any) -> Any:
    """Turn proton's wrapper types into plain Python values for inspection."""
    if value is None or isinstance(value, bool | uuid.UUID):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def json_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        return json.loads(bytes(body).decode("utf-8"))
    if isinstance(body, str):
        return json.loads(body)
    return body
