"""Concurrency and failure behaviour: competing receivers, vanished clients, shutdown, bad ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage

from local.servicebus_peer import PeerError, ServiceBusPeer, UnknownEntityError, run_peer

from .conftest import QUEUE, PeerFactory, queue_sender, receive_exactly, wait_until


def send_numbered(peer: ServiceBusPeer, count: int, prefix: str = "m") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(count)]
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with queue_sender(client) as sender:
            sender.send_messages([ServiceBusMessage(i, message_id=i) for i in ids])
    return ids


def test_competing_receivers_share_the_queue_without_overlap(peer: ServiceBusPeer) -> None:
    with (
        ServiceBusClient.from_connection_string(peer.connection_string) as client,
        client.get_queue_receiver(QUEUE, prefetch_count=5) as first,
        client.get_queue_receiver(QUEUE, prefetch_count=5) as second,
    ):
        # An empty receive leaves each receiver's link credit (prefetch + 1) outstanding at the peer.
        assert first.receive_messages(max_message_count=1, max_wait_time=0.2) == []
        assert second.receive_messages(max_message_count=1, max_wait_time=0.2) == []
        ids = send_numbered(peer, 10)
        # The peer hands messages to the links with credit in turn: five each.
        got_first = receive_exactly(first, 5)
        got_second = receive_exactly(second, 5)
        first_ids = {m.message_id for m in got_first}
        second_ids = {m.message_id for m in got_second}
        assert first_ids.isdisjoint(second_ids)
        assert first_ids | second_ids == set(ids)
        assert {m.lock_token for m in got_first}.isdisjoint({m.lock_token for m in got_second})
        for message in got_first:
            first.complete_message(message)
        for message in got_second:
            second.complete_message(message)
    assert peer.messages(QUEUE) == []


def test_prefetched_messages_are_released_uncounted_when_the_receiver_closes(peer: ServiceBusPeer) -> None:
    send_numbered(peer, 4)
    with (
        ServiceBusClient.from_connection_string(peer.connection_string) as client,
        client.get_queue_receiver(QUEUE, prefetch_count=10) as receiver,
    ):
        [first] = receive_exactly(receiver, 1)
        wait_until(lambda: [m.state for m in peer.messages(QUEUE)] == ["locked"] * 4)  # all prefetched
        receiver.complete_message(first)
    # On close the SDK releases what it prefetched but never handed out: back well before the 30 s
    # lock would expire, and not counted as a failed delivery.
    expected = [("m1", "active", 0), ("m2", "active", 0), ("m3", "active", 0)]
    wait_until(lambda: [(m.message_id, m.state, m.delivery_count) for m in peer.messages(QUEUE)] == expected)


def test_concurrent_clients_in_threads(peer: ServiceBusPeer) -> None:
    senders = 4

    def send(prefix: str) -> list[str]:
        return send_numbered(peer, 10, prefix)

    with ThreadPoolExecutor(senders) as pool:
        sent = [i for ids in pool.map(send, [f"s{n}-" for n in range(senders)]) for i in ids]
    stored = peer.messages(QUEUE)
    assert sorted(m.message_id for m in stored) == sorted(sent)
    assert sorted(m.sequence_number for m in stored) == list(range(1, len(sent) + 1))

    seen: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def consume(slot: int) -> None:
        try:
            with ServiceBusClient.from_connection_string(peer.connection_string) as client:
                with client.get_queue_receiver(QUEUE) as receiver:
                    while True:
                        batch: list[ServiceBusReceivedMessage] = receiver.receive_messages(
                            max_message_count=3, max_wait_time=0.5
                        )
                        if not batch:
                            return
                        for message in batch:
                            seen[slot].append(str(message.message_id))
                            receiver.complete_message(message)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(sent)
    assert peer.messages(QUEUE) == []


ABRUPT_CLIENT = textwrap.dedent(
    """
    import os, sys
    from azure.servicebus import ServiceBusClient
    with ServiceBusClient.from_connection_string(sys.argv[1]) as client:
        receiver = client.get_queue_receiver("dsr-requests")
        receiver.__enter__()
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=10)
        # Ask for more, so the link holds credit too, then vanish without closing anything.
        receiver._amqp_transport.reset_link_credit(receiver._handler, 5)
        receiver._handler.do_work()
        print(message.message_id, message.lock_token, flush=True)
        os._exit(0)
    """
)


def test_client_that_dies_mid_receive(make_peer: PeerFactory) -> None:
    peer = make_peer(lock_duration_seconds=1.5)
    send_numbered(peer, 1)
    child = subprocess.run(
        [sys.executable, "-c", ABRUPT_CLIENT, peer.connection_string],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    message_id, _lock_token = child.stdout.split()
    assert message_id == "m0"
    assert peer.running
    # Its lock outlives the connection, as in Service Bus; the credit it held does not.
    assert [m.state for m in peer.messages(QUEUE)] == ["locked"]
    send_numbered(peer, 1, prefix="late")
    wait_until(lambda: [m.state for m in peer.messages(QUEUE)] == ["active", "active"], timeout=5)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with client.get_queue_receiver(QUEUE) as receiver:
            back, late = receive_exactly(receiver, 2)
            assert (back.message_id, back.delivery_count) == ("m0", 1)
            assert (late.message_id, late.delivery_count) == ("late0", 0)
            receiver.complete_message(back)
            receiver.complete_message(late)
    assert peer.messages(QUEUE) == []


def test_receiver_closed_while_holding_a_lock(make_peer: PeerFactory) -> None:
    peer = make_peer(lock_duration_seconds=1.5, max_delivery_count=1)
    send_numbered(peer, 1)
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with client.get_queue_receiver(QUEUE) as receiver:
            [held] = receive_exactly(receiver, 1)
            assert held.message_id == "m0"
        # The link is gone but the lock stands until it expires; max_delivery_count=1 then dead-letters.
        assert [m.state for m in peer.messages(QUEUE)] == ["locked"]
    wait_until(lambda: len(peer.dead_letters(QUEUE)) == 1, timeout=5)
    [dead] = peer.dead_letters(QUEUE)
    assert (dead.message_id, dead.delivery_count, dead.dead_letter_reason) == ("m0", 1, "MaxDeliveryCountExceeded")
    assert peer.messages(QUEUE) == []


def test_stop_with_an_idle_client_connected(make_peer: PeerFactory) -> None:
    peer = make_peer()
    port = peer.port
    with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        with queue_sender(client) as sender:
            sender.send_messages(ServiceBusMessage("x"))
            started = time.monotonic()
            peer.stop()
            assert time.monotonic() - started < 5
            assert not peer.running
            assert peer.error is None
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
    peer.stop()  # idempotent


def test_start_on_a_busy_port_fails_clearly(peer: ServiceBusPeer) -> None:
    with pytest.raises(PeerError, match=f"could not listen on 127.0.0.1:{peer.port}"):
        with run_peer(port=peer.port):
            pass
    assert peer.running


def test_inspection_rejects_unknown_names_and_topics(peer: ServiceBusPeer) -> None:
    with pytest.raises(UnknownEntityError, match="no queue, subscription or dead-letter queue"):
        peer.messages("nope")
    with pytest.raises(UnknownEntityError, match="is a topic"):
        peer.messages("dsr-events")
    assert "dsr-events/Subscriptions/all/$DeadLetterQueue" in peer.entities
    assert peer.connection_string == (
        f"Endpoint=sb://127.0.0.1:{peer.port};SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
    )
