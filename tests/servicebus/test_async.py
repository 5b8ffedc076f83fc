"""The peer through the asyncio SDK (azure.servicebus.aio)."""

from __future__ import annotations

import asyncio

from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage, ServiceBusSubQueue
from azure.servicebus.aio import ServiceBusClient, ServiceBusReceiver

from local.servicebus_peer import ServiceBusPeer

from .conftest import QUEUE, SUBSCRIPTION, SUBSCRIPTION_PATH, TOPIC


async def receive_exactly(
    receiver: ServiceBusReceiver, count: int, within: float = 10.0
) -> list[ServiceBusReceivedMessage]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    received: list[ServiceBusReceivedMessage] = []
    while len(received) < count:
        remaining = deadline - loop.time()
        assert remaining > 0, f"received {len(received)} of {count} message(s) within {within} s"
        received += await receiver.receive_messages(max_message_count=count - len(received), max_wait_time=remaining)
    return received


async def test_async_queue_round_trip(peer: ServiceBusPeer) -> None:
    async with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        async with client.get_queue_sender(QUEUE, keep_alive=None) as sender:
            batch = await sender.create_message_batch()
            for i in range(3):
                batch.add_message(ServiceBusMessage(f"m{i}", message_id=f"m{i}", application_properties={"i": i}))
            await sender.send_messages(batch)
        async with client.get_queue_receiver(QUEUE) as receiver:
            first, second, third = await receive_exactly(receiver, 3)
            assert [m.message_id for m in (first, second, third)] == ["m0", "m1", "m2"]
            assert third.application_properties == {b"i": 2}
            await receiver.complete_message(first)
            await receiver.abandon_message(second)
            await receiver.dead_letter_message(third, reason="bad", error_description="async")
            [again] = await receive_exactly(receiver, 1)
            assert (again.message_id, again.delivery_count) == ("m1", 1)
            await receiver.complete_message(again)
        async with client.get_queue_receiver(QUEUE, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
            [dead] = await receive_exactly(dlq, 1)
            assert (dead.message_id, dead.dead_letter_reason, dead.dead_letter_error_description) == (
                "m2",
                "bad",
                "async",
            )
            await dlq.complete_message(dead)
    assert peer.messages(QUEUE) == []
    assert peer.dead_letters(QUEUE) == []


async def test_async_topic_subscription(peer: ServiceBusPeer) -> None:
    async with ServiceBusClient.from_connection_string(peer.connection_string) as client:
        async with client.get_topic_sender(TOPIC, keep_alive=None) as sender:
            await sender.send_messages(
                ServiceBusMessage(
                    "{}",
                    message_id="PRIV-9:succeeded",
                    application_properties={"type": "erase", "status": "succeeded", "ticket_system": "onetrust"},
                )
            )
            await sender.send_messages(ServiceBusMessage("{}", message_id="PRIV-9:succeeded"))  # duplicate
        async with client.get_subscription_receiver(TOPIC, SUBSCRIPTION) as receiver:
            [event] = await receive_exactly(receiver, 1)
            assert event.application_properties == {
                b"type": b"erase",
                b"status": b"succeeded",
                b"ticket_system": b"onetrust",
            }
            await receiver.complete_message(event)
            assert await receiver.receive_messages(max_message_count=1, max_wait_time=0.3) == []
    assert peer.messages(SUBSCRIPTION_PATH) == []
