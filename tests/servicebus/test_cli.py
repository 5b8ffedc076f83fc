"""``python -m local.servicebus_peer`` runs the peer in the foreground until it is told to stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from azure.servicebus import ServiceBusClient, ServiceBusMessage

ROOT = Path(__file__).resolve().parents[2]


def test_command_line_peer_serves_its_entities_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.servicebus_peer", "--port", "0", "--queue", "jobs", "--topic", "news:a,b"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        connection_string = process.stdout.readline().strip()
        assert connection_string.startswith("Endpoint=sb://127.0.0.1:")
        assert connection_string.endswith(";UseDevelopmentEmulator=true")
        with ServiceBusClient.from_connection_string(connection_string) as client:
            with client.get_topic_sender("news") as sender:
                sender.send_messages(ServiceBusMessage("hello", message_id="n1"))
            with client.get_subscription_receiver("news", "b") as receiver:
                [message] = receiver.receive_messages(max_message_count=1, max_wait_time=10)
                assert (message.message_id, str(message)) == ("n1", "hello")
                receiver.complete_message(message)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "jobs, jobs/$DeadLetterQueue" in stderr
    assert "news/Subscriptions/a" in stderr
    assert "news: received a transfer of 1 message(s): 1 accepted" in stderr
