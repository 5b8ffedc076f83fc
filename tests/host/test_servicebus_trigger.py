"""Service Bus queue trigger through the real azure-servicebus SDK against the project's AMQP peer:
peek-lock, complete on success, abandon on failure, and the broker dead-letters after its max delivery
count."""

from __future__ import annotations

import uuid

from azure.servicebus import ServiceBusClient, ServiceBusMessage

from local.host import HostConfig, run_host
from local.servicebus_peer import run_peer

from .helpers import APPS, records, wait_until


def test_service_bus_queue_trigger(azurite, tmp_path):
    record = tmp_path / "record.txt"
    queue = "intake-" + uuid.uuid4().hex[:6]
    with run_peer(queues=[queue], max_delivery_count=3) as peer:
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "ServiceBusConnection": peer.connection_string,
            "TEST_SB_QUEUE": queue,
            "HOST_TEST_RECORD": str(record),
        }
        with run_host(HostConfig(project_dir=APPS / "servicebus", port=0, env=env)):
            with (
                ServiceBusClient.from_connection_string(peer.connection_string) as client,
                client.get_queue_sender(queue) as sender,
            ):
                sender.send_messages(ServiceBusMessage("ok-1", message_id="m-ok", application_properties={"kind": "a"}))
                sender.send_messages(ServiceBusMessage("fail-1", message_id="m-fail"))
            dead = peer.wait_for(f"{queue}/$DeadLetterQueue", 1, timeout=30)
            assert [m.text() for m in dead] == ["fail-1"]
            wait_until(lambda: peer.messages(queue) == [], 10, "the queue to be empty")
        lines = [line.split() for line in records(record)]
        # Completed on the first delivery: exactly one execution, with the application property.
        oks = [line for line in lines if line[0] == "ok-1"]
        assert len(oks) == 1
        assert (oks[0][1], oks[0][3]) == ("m-ok", "a")
        # Abandoned on each failure: delivered max-delivery-count (3) times, then dead-lettered.
        fails = [line for line in lines if line[0] == "fail-1"]
        assert len(fails) == 3
        counts = [int(line[2]) for line in fails]
        assert counts == sorted(counts)
        assert len(set(counts)) == 3


def test_service_bus_trigger_without_connection_setting_is_disabled(azurite, tmp_path, caplog):
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_SB_QUEUE": "q",
        "HOST_TEST_RECORD": str(tmp_path / "r.txt"),
    }
    with (
        caplog.at_level("WARNING", logger="cvdsr.host"),
        run_host(HostConfig(project_dir=APPS / "servicebus", port=0, env={**env, "ServiceBusConnection": ""})),
    ):
        pass
    assert "Service Bus connection setting 'ServiceBusConnection' is not configured" in caplog.text
