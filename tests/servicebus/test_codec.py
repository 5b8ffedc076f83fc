"""Unit tests of the section codec: what counts as a batch, what survives re-encoding."""

from __future__ import annotations

import uuid

import pytest
from azure.servicebus._pyamqp._decode import decode_payload
from azure.servicebus._pyamqp._encode import encode_payload
from azure.servicebus._pyamqp.message import BatchMessage, Message, Properties
from azure.servicebus._pyamqp.utils import add_batch

from local.servicebus_peer import codec


def sdk_encode(message: Message | BatchMessage) -> bytes:
    return bytes(encode_payload(bytearray(), message))


def test_a_batch_envelope_is_split_into_its_messages() -> None:
    batch = BatchMessage(data=[], properties=Properties(message_id="first"))
    for i in range(3):
        add_batch(batch, Message(data=[f"body-{i}".encode()], properties=Properties(message_id=f"id-{i}")))
    messages, is_batch = codec.unpack_transfer(sdk_encode(batch))
    assert is_batch
    assert [m.message_id for m in messages] == ["id-0", "id-1", "id-2"]
    assert [m.body_value for m in messages] == [b"body-0", b"body-1", b"body-2"]


@pytest.mark.parametrize(
    "body",
    [
        [b'{"request_id": "PRIV-1"}'],
        [b"\x00\x53\x75 not really a section"],  # starts like a section, does not parse as one
        [b"part one", b"part two"],
    ],
)
def test_ordinary_data_bodies_are_not_mistaken_for_batches(body: list[bytes]) -> None:
    encoded = sdk_encode(Message(data=body, properties=Properties(message_id="m")))
    [message], is_batch = codec.unpack_transfer(encoded)
    assert not is_batch
    assert message.body_value == b"".join(body)


def test_value_bodies_and_properties_survive_re_encoding() -> None:
    original = Message(
        value={"lock-tokens": [uuid.UUID(int=7)], "n": 1},
        properties=Properties(message_id=uuid.UUID(int=1), correlation_id=b"\x00\xffbin", subject="s"),
        application_properties={"type": "export", "count": 3},
        message_annotations={b"x-opt-partition-key": "pk"},
    )
    [message], _ = codec.unpack_transfer(sdk_encode(original))
    payload = message.encode(
        delivery_count=4,
        annotations=codec.broker_annotations(sequence_number=9, enqueued_time_ms=1_700_000_000_000),
        extra_application_properties={"DeadLetterReason": "why"},
    )
    decoded = decode_payload(memoryview(payload))
    header, properties = decoded.header, decoded.properties
    annotations, app_properties = decoded.message_annotations, decoded.application_properties
    assert header is not None
    assert properties is not None
    assert annotations is not None
    assert app_properties is not None
    assert header.delivery_count == 4
    assert properties.message_id == uuid.UUID(int=1)
    assert properties.correlation_id == b"\x00\xffbin"
    assert decoded.value == {b"lock-tokens": [uuid.UUID(int=7)], b"n": 1}
    assert app_properties == {b"type": b"export", b"count": 3, b"DeadLetterReason": b"why"}
    assert annotations[b"x-opt-partition-key"] == b"pk"
    assert annotations[b"x-opt-sequence-number"] == 9
    assert annotations[b"x-opt-enqueued-time"] == 1_700_000_000_000


def test_garbage_is_a_codec_error() -> None:
    with pytest.raises(codec.CodecError):
        codec.unpack_transfer(b"\x00\x53\x77\xff\xff")
    with pytest.raises(codec.CodecError):
        codec.unpack_transfer(b"\xa1\x03abc")  # a value, not a described section
