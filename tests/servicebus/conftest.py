"""Fixtures for the Service Bus peer tests: every test gets its own peer on a free port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender

from local.servicebus_peer import ServiceBusPeer, run_peer

QUEUE = "dsr-requests"
TOPIC = "dsr-events"
SUBSCRIPTION = "all"
SUBSCRIPTION_PATH = f"{TOPIC}/subscriptions/{SUBSCRIPTION}"

PeerFactory = Callable[..., ServiceBusPeer]


@pytest.fixture
def make_peer() -> Iterator[PeerFactory]:
    """Start peers with custom settings; all are stopped when the test ends."""
    with ExitStack() as stack:

        def factory(**kwargs: Any) -> ServiceBusPeer:
            return stack.enter_context(run_peer(**kwargs))

        yield factory


@pytest.fixture
def peer(make_peer: PeerFactory) -> ServiceBusPeer:
    return make_peer()


@pytest.fixture
def client(peer: ServiceBusPeer) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(peer.connection_string) as sb_client:
        yield sb_client


def queue_sender(client: ServiceBusClient, queue: str = QUEUE) -> ServiceBusSender:
    # keep_alive=None: the SDK's keep-alive thread sleeps in 1 s steps and close() joins it, which costs
    # about 0.5 s per sender. It only pings idle connections; no test depends on it.
    return client.get_queue_sender(queue, keep_alive=None)


def topic_sender(client: ServiceBusClient, topic: str = TOPIC) -> ServiceBusSender:
    return client.get_topic_sender(topic, keep_alive=None)


def receive_exactly(receiver: ServiceBusReceiver, count: int, timeout: float = 10.0) -> list[ServiceBusReceivedMessage]:
    """Receive until ``count`` messages arrived; fail on timeout (never silently return fewer)."""
    deadline = time.monotonic() + timeout
    received: list[ServiceBusReceivedMessage] = []
    while len(received) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"received {len(received)} of {count} message(s) within {timeout} s"
        received += receiver.receive_messages(max_message_count=count - len(received), max_wait_time=remaining)
    return received


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)
