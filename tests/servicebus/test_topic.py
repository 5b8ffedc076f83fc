"""Topic and subscription behaviour of the peer, as cvdsr publishes completion events (README "Completion event")."""

from __future__ import annotations

import json
import time

from azure.servicebus import ServiceBusClient, ServiceBusMessage

from local.servicebus_peer import ServiceBusPeer

from .conftest import SUBSCRIPTION, SUBSCRIPTION_PATH, TOPIC, PeerFactory, queue_sender, receive_exactly, topic_sender


def completion_event(request_id: str, status: str, ticket: str = "PRIV0012345") -> ServiceBusMessage:
    event_type = "cvdsr.export.completed" if status == "succeeded" else "cvdsr.export.failed"
    body = {"specversion": "1.0", "type": event_type, "subject": request_id, "data": {"status": status}}
    return ServiceBusMessage(
        json.dumps(body),
        message_id=f"{request_id}:{status}",
        correlation_id=ticket,
        subject=event_type,
        content_type="application/cloudevents+json",
        application_properties={"type": "export", "status": status, "ticket_system": "servicenow"},
    )


def test_event_reaches_every_subscription_with_its_properties(make_peer: PeerFactory) -> None:
    peer = make_peer(topics={TOPIC: (SUBSCRIPTION, "audit")})
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with topic_sender(client) as sender:
            sender.send_messages(completion_event("PRIV-1", "succeeded"))
        assert [m.message_id for m in peer.messages(f"{TOPIC}/Subscriptions/audit")] == ["PRIV-1:succeeded"]
        with client.get_subscription_receiver(TOPIC, SUBSCRIPTION) as receiver:
            [event] = receive_exactly(receiver, 1)
            assert event.message_id == "PRIV-1:succeeded"
            assert event.correlation_id == "PRIV0012345"
            assert event.subject == "cvdsr.export.completed"
            assert event.content_type == "application/cloudevents+json"
            assert event.application_properties == {
                b"type": b"export",
                b"status": b"succeeded",
                b"ticket_system": b"servicenow",
            }
            assert json.loads(str(event))["subject"] == "PRIV-1"
            receiver.complete_message(event)
    assert peer.messages(SUBSCRIPTION_PATH) == []
    # Completing in one subscription leaves the other subscription's copy alone.
    [audit_copy] = peer.messages(f"{TOPIC}/subscriptions/AUDIT")
    assert audit_copy.application_properties == {"type": "export", "status": "succeeded", "ticket_system": "servicenow"}


def test_duplicate_message_id_is_dropped_within_the_window(make_peer: PeerFactory) -> None:
    peer = make_peer(duplicate_detection_window_seconds=1.5)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with topic_sender(client) as sender:
            sender.send_messages(completion_event("PRIV-1", "succeeded"))
            sender.send_messages(completion_event("PRIV-1", "succeeded"))  # a repeat: dropped, still accepted
            sender.send_messages(completion_event("PRIV-1", "failed"))  # another status: another id
            batch = sender.create_message_batch()
            batch.add_message(completion_event("PRIV-2", "succeeded"))
            batch.add_message(completion_event("PRIV-2", "succeeded"))
            sender.send_messages(batch)
            assert [m.message_id for m in peer.messages(SUBSCRIPTION_PATH)] == [
                "PRIV-1:succeeded",
                "PRIV-1:failed",
                "PRIV-2:succeeded",
            ]
            time.sleep(1.6)  # the window has passed: the same id is a new message again
            sender.send_messages(completion_event("PRIV-1", "succeeded"))
    assert [m.message_id for m in peer.messages(SUBSCRIPTION_PATH)][-1] == "PRIV-1:succeeded"
    assert len(peer.messages(SUBSCRIPTION_PATH)) == 4


def test_duplicate_detection_can_be_turned_off_and_is_off_for_queues(make_peer: PeerFactory) -> None:
    peer = make_peer(duplicate_detection_window_seconds=0)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with topic_sender(client) as sender:
            sender.send_messages([completion_event("PRIV-1", "succeeded"), completion_event("PRIV-1", "succeeded")])
        with queue_sender(client) as sender:
            sender.send_messages([ServiceBusMessage("a", message_id="same"), ServiceBusMessage("b", message_id="same")])
    assert len(peer.messages(SUBSCRIPTION_PATH)) == 2
    assert [m.body for m in peer.messages("dsr-requests")] == [b"a", b"b"]


def test_subscription_dead_letter_queue(peer: ServiceBusPeer) -> None:
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with topic_sender(client) as sender:
            sender.send_messages(completion_event("PRIV-3", "failed"))
        with client.get_subscription_receiver(TOPIC, SUBSCRIPTION) as receiver:
            [event] = receive_exactly(receiver, 1)
            receiver.dead_letter_message(event, reason="NoHandler", error_description="nobody listens")
    [dead] = peer.dead_letters(SUBSCRIPTION_PATH)
    assert (dead.message_id, dead.dead_letter_reason) == ("PRIV-3:failed", "NoHandler")
    assert peer.messages(SUBSCRIPTION_PATH) == []
