"""Queue behaviour of the peer, driven through the real (sync) azure-servicebus SDK over AMQP."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import MessageLockLostError, ServiceBusAuthenticationError

from local.servicebus_peer import ServiceBusPeer

from .conftest import QUEUE, PeerFactory, queue_sender, receive_exactly, wait_until


def test_send_one_and_receive_with_all_properties(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    body = json.dumps({"schema_version": 1, "request_id": "PRIV-1", "type": "export"})
    before = datetime.now(UTC)
    with client.get_queue_sender(QUEUE) as sender:  # SDK defaults (the other tests turn keep-alive off)
        sender.send_messages(
            ServiceBusMessage(
                body,
                message_id="PRIV-1",
                correlation_id="TICKET-9",
                subject="dsr.request",
                content_type="application/json",
                application_properties={"type": "export", "attempt": 3, "urgent": True, "ratio": 0.5},
            )
        )
    [stored] = peer.messages(QUEUE)
    assert (stored.message_id, stored.correlation_id, stored.subject) == ("PRIV-1", "TICKET-9", "dsr.request")
    assert stored.content_type == "application/json"
    assert stored.application_properties == {"type": "export", "attempt": 3, "urgent": True, "ratio": 0.5}
    assert stored.json() == json.loads(body)
    assert (stored.state, stored.delivery_count, stored.sequence_number) == ("active", 0, 1)

    with client.get_queue_receiver(QUEUE) as receiver:
        [message] = receive_exactly(receiver, 1)
        assert str(message) == body
        assert message.message_id == "PRIV-1"
        assert message.correlation_id == "TICKET-9"
        assert message.subject == "dsr.request"
        assert message.content_type == "application/json"
        assert message.application_properties == {b"type": b"export", b"attempt": 3, b"urgent": True, b"ratio": 0.5}
        assert message.delivery_count == 0
        assert message.sequence_number == 1
        assert message.enqueued_time_utc is not None
        assert before - timedelta(seconds=1) <= message.enqueued_time_utc <= datetime.now(UTC)
        assert message.locked_until_utc is not None
        assert message.locked_until_utc > datetime.now(UTC) + timedelta(seconds=20)  # default lock: 30 s
        # The delivery tag is the lock token: 16 bytes, read as a little-endian UUID.
        assert isinstance(message.lock_token, uuid.UUID)
        assert len(message._delivery_tag) == 16
        assert message.lock_token == uuid.UUID(bytes_le=message._delivery_tag)
        assert [m.state for m in peer.messages(QUEUE)] == ["locked"]

        receiver.complete_message(message)
    assert peer.messages(QUEUE) == []


def test_batch_arrives_as_separate_messages(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    with queue_sender(client) as sender:
        batch = sender.create_message_batch()
        for i in range(3):
            batch.add_message(ServiceBusMessage(f"body-{i}", message_id=f"id-{i}", application_properties={"index": i}))
        sender.send_messages(batch)
        sender.send_messages([ServiceBusMessage("list-a", message_id="a"), ServiceBusMessage("list-b")])

    stored = peer.messages(QUEUE)
    assert [m.message_id for m in stored[:4]] == ["id-0", "id-1", "id-2", "a"]
    assert isinstance(stored[4].message_id, str)  # the SDK assigns a uuid when none is given
    assert [m.body for m in stored] == [b"body-0", b"body-1", b"body-2", b"list-a", b"list-b"]
    assert [m.application_properties for m in stored[:3]] == [{"index": 0}, {"index": 1}, {"index": 2}]
    assert [m.sequence_number for m in stored] == [1, 2, 3, 4, 5]

    with client.get_queue_receiver(QUEUE) as receiver:
        messages = receive_exactly(receiver, 5)
        assert [str(m) for m in messages] == ["body-0", "body-1", "body-2", "list-a", "list-b"]
        assert [m.application_properties for m in messages[:3]] == [{b"index": i} for i in range(3)]
        assert len({m.lock_token for m in messages}) == 5
        for message in messages:
            receiver.complete_message(message)
    assert peer.messages(QUEUE) == []


def test_abandon_redelivers_with_incremented_delivery_count(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    with queue_sender(client) as sender:
        sender.send_messages(ServiceBusMessage("retry me", message_id="m1"))
    with client.get_queue_receiver(QUEUE) as receiver:
        [first] = receive_exactly(receiver, 1)
        assert first.delivery_count == 0
        receiver.abandon_message(first)
        [second] = receive_exactly(receiver, 1)
        assert (second.message_id, second.delivery_count) == ("m1", 1)
        assert second.lock_token != first.lock_token
        receiver.abandon_message(second)
        [third] = receive_exactly(receiver, 1)
        assert third.delivery_count == 2
        receiver.complete_message(third)
    assert peer.messages(QUEUE) == []


def test_explicit_dead_letter_lands_in_the_dead_letter_queue(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    with queue_sender(client) as sender:
        sender.send_messages(ServiceBusMessage("poison", message_id="p1", application_properties={"type": "erase"}))
    with client.get_queue_receiver(QUEUE) as receiver:
        [message] = receive_exactly(receiver, 1)
        receiver.dead_letter_message(message, reason="SchemaInvalid", error_description="unknown field 'x'")
    assert peer.messages(QUEUE) == []
    [dead] = peer.dead_letters(QUEUE)
    assert (dead.message_id, dead.dead_letter_reason) == ("p1", "SchemaInvalid")
    assert dead.dead_letter_error_description == "unknown field 'x'"
    assert dead.application_properties["type"] == "erase"

    with client.get_queue_receiver(QUEUE, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        [received] = receive_exactly(dlq, 1)
        assert (received.message_id, str(received)) == ("p1", "poison")
        assert received.dead_letter_reason == "SchemaInvalid"
        assert received.dead_letter_error_description == "unknown field 'x'"
        assert (received.application_properties or {})[b"type"] == b"erase"
        dlq.complete_message(received)
    assert peer.dead_letters(QUEUE) == []


def test_max_delivery_count_moves_the_message_to_the_dead_letter_queue(make_peer: PeerFactory) -> None:
    peer = make_peer(max_delivery_count=3)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with queue_sender(client) as sender:
            sender.send_messages(ServiceBusMessage("never works", message_id="m1"))
        with client.get_queue_receiver(QUEUE) as receiver:
            for attempt in range(3):
                [message] = receive_exactly(receiver, 1)
                assert message.delivery_count == attempt
                receiver.abandon_message(message)
            assert receiver.receive_messages(max_message_count=1, max_wait_time=0.3) == []
    assert peer.messages(QUEUE) == []
    [dead] = peer.dead_letters(QUEUE)
    assert (dead.message_id, dead.delivery_count) == ("m1", 3)
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert dead.dead_letter_error_description == "Message could not be consumed after 3 delivery attempts."


def test_receive_and_delete_removes_on_receipt(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    large = bytes(range(256)) * 800  # 200 KiB: crosses many 32 KiB frames in both directions
    with queue_sender(client) as sender:
        sender.send_messages([ServiceBusMessage(f"m{i}", message_id=f"m{i}") for i in range(2)])
        sender.send_messages(ServiceBusMessage(large, message_id="m2"))
    assert peer.messages(QUEUE)[2].body == large
    with client.get_queue_receiver(QUEUE, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as receiver:
        messages = receive_exactly(receiver, 3)
        assert [m.message_id for m in messages] == ["m0", "m1", "m2"]
        assert b"".join(messages[2].body) == large
        assert peer.messages(QUEUE) == []
        assert all(m.locked_until_utc is None for m in messages)
        with pytest.raises(ValueError, match="RECEIVE_AND_DELETE"):
            receiver.complete_message(messages[0])
    assert peer.messages(QUEUE) == []


def test_lock_expiry_redelivers_and_a_stale_lock_cannot_be_renewed(make_peer: PeerFactory) -> None:
    peer = make_peer(lock_duration_seconds=1.2)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with queue_sender(client) as sender:
            sender.send_messages(ServiceBusMessage("slow", message_id="m1"))
        with client.get_queue_receiver(QUEUE) as receiver:
            [held] = receive_exactly(receiver, 1)
            first_until = held.locked_until_utc
            assert first_until is not None
            renewed_until = receiver.renew_message_lock(held)  # through $management
            assert renewed_until > first_until
            wait_until(lambda: [m.state for m in peer.messages(QUEUE)] == ["active"], timeout=5)
            assert peer.messages(QUEUE)[0].delivery_count == 1
            [again] = receive_exactly(receiver, 1)
            assert (again.message_id, again.delivery_count) == ("m1", 1)
            assert again.lock_token != held.lock_token
            with pytest.raises(MessageLockLostError):
                receiver.renew_message_lock(held)
            receiver.complete_message(again)
    assert peer.messages(QUEUE) == []


def test_defer_peek_and_receive_deferred(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    with queue_sender(client) as sender:
        sender.send_messages([ServiceBusMessage("first", message_id="a"), ServiceBusMessage("second", message_id="b")])
    with client.get_queue_receiver(QUEUE) as receiver:
        first, second = receive_exactly(receiver, 2)
        receiver.defer_message(first)
        peeked = receiver.peek_messages(max_message_count=10, sequence_number=1)
        assert [(m.message_id, m.sequence_number) for m in peeked] == [("a", 1), ("b", 2)]
        assert [m.state for m in peer.messages(QUEUE)] == ["deferred", "locked"]
        assert first.sequence_number is not None
        [deferred] = receiver.receive_deferred_messages([first.sequence_number])
        assert (deferred.message_id, str(deferred)) == ("a", "first")
        receiver.complete_message(deferred)  # settled through $management with its lock token
        receiver.complete_message(second)
    assert peer.messages(QUEUE) == []


def test_unknown_entity_is_refused_at_put_token(peer: ServiceBusPeer) -> None:
    # Service Bus answers the $cbs put-token for a missing entity with 404; the SDK raises that as an
    # authentication error whose inner TokenAuthFailure carries the status.
    with ServiceBusClient.from_connection_string(peer.connection_string, retry_total=0) as client:
        with pytest.raises(ServiceBusAuthenticationError) as queue_error, client.get_queue_sender("nope") as sender:
            sender.send_messages(ServiceBusMessage("x"))
        with pytest.raises(ServiceBusAuthenticationError) as subscription_error:
            with client.get_subscription_receiver("dsr-events", "missing") as receiver:
                receiver.receive_messages(max_wait_time=1)
    assert getattr(queue_error.value.inner_exception, "status_code", None) == 404
    assert getattr(subscription_error.value.inner_exception, "status_code", None) == 404
    assert "dsr-events/Subscriptions/missing' could not be found" in str(subscription_error.value.inner_exception)
    assert peer.messages(QUEUE) == []


def test_entity_names_are_case_insensitive(peer: ServiceBusPeer, client: ServiceBusClient) -> None:
    with client.get_queue_sender("DSR-Requests") as sender:
        sender.send_messages(ServiceBusMessage("x", message_id="m1"))
    assert [m.message_id for m in peer.messages("dsr-REQUESTS")] == ["m1"]
    assert peer.wait_for(QUEUE, 1, timeout=1)[0].message_id == "m1"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        peer.wait_for(QUEUE, 2, timeout=0.2)
    assert time.monotonic() - start < 2
