"""Completion events: CloudEvents shape, signed webhooks against a real receiver, the Storage queue."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from azure.storage.queue import QueueClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.http_server import serve
from shared.connections import AZURITE_CONNECTION_STRING
from shared.events import channels
from shared.events.cloudevent import build_event, event_type
from shared.events.completion import send_completion
from shared.settings import app_settings

SECRET = "whsec-test-0123456789"


def sample_event(status: str = "succeeded") -> dict[str, Any]:
    return build_event(
        {
            "request_id": "PRIV-1",
            "type": "export",
            "status": status,
            "ticket": {"system": "servicenow", "id": "PRIV0012345"},
            "resources": ["contoso_prod"],
            "counts": {"images": 3},
        }
    )


def test_event_types_and_stable_ids() -> None:
    assert event_type("export", "succeeded") == "cvdsr.export.completed"
    assert event_type("export", "partially_succeeded") == "cvdsr.export.completed"
    assert event_type("erase", "failed") == "cvdsr.erase.failed"
    assert event_type(None, "rejected") == "cvdsr.request.rejected"
    event = sample_event()
    assert event["specversion"] == "1.0"
    assert event["subject"] == "PRIV-1"
    assert event["type"] == "cvdsr.export.completed"
    assert event["id"] == sample_event()["id"], "a re-sent event keeps its id"
    assert event["id"] != sample_event("failed")["id"]


def test_signature_round_trip_and_tampering() -> None:
    body = channels.event_body(sample_event())
    timestamp = str(int(time.time()))
    signature = channels.sign(SECRET, timestamp, body)
    assert signature.startswith("sha256=")
    assert channels.verify(SECRET, timestamp, body, signature)
    assert not channels.verify(SECRET, timestamp, body + b" ", signature)
    assert not channels.verify("other", timestamp, body, signature)
    assert not channels.verify(SECRET, str(int(time.time()) - 3600), body, signature), "replay window"


class Receiver:
    """A webhook endpoint that fails ``failures`` times, then verifies and keeps what it got."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0

    async def endpoint(self, request: Request) -> Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return Response(status_code=503)
        body = await request.body()
        ok = channels.verify(SECRET, request.headers["X-Cvdsr-Timestamp"], body, request.headers["X-Cvdsr-Signature"])
        if not ok:
            return Response(status_code=401)
        assert request.headers["content-type"] == "application/cloudevents+json"
        self.received.append(json.loads(body))
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])


async def test_webhook_is_signed_and_retried_after_server_errors() -> None:
    receiver = Receiver(failures=2)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    with serve(receiver.app()) as base:
        status = await channels.send_webhook(f"{base}/hook", SECRET, sample_event(), sleep=sleep)
    assert status == 204
    assert receiver.attempts == 3
    assert len(sleeps) == 2
    assert receiver.received == [sample_event() | {"time": receiver.received[0]["time"]}]


async def test_webhook_client_errors_are_not_retried_and_name_no_secret() -> None:
    receiver = Receiver()
    with serve(receiver.app()) as base:
        with pytest.raises(channels.WebhookError) as caught:
            await channels.send_webhook(f"{base}/hook?token=abc123", "wrong-secret", sample_event())
    assert receiver.attempts == 1
    assert "401" in str(caught.value)
    assert "abc123" not in str(caught.value)


async def test_webhook_gives_up_after_bounded_attempts() -> None:
    def always_down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def no_sleep(_: float) -> None:
        return None

    with pytest.raises(channels.WebhookError, match="after 3 attempts"):
        await channels.send_webhook(
            "https://hooks.example/x",
            SECRET,
            sample_event(),
            attempts=3,
            transport=httpx.MockTransport(always_down),
            sleep=no_sleep,
        )


async def test_send_completion_uses_every_configured_channel(azurite) -> None:
    receiver = Receiver()
    with serve(receiver.app()) as base:
        environ = {
            "AzureWebJobsStorage": azurite.connection_string,
            "CVDSR_EVENTS_QUEUE": "dsr-events-test",
            "CVDSR_WEBHOOK_URL": f"{base}/hook",
            "CVDSR_WEBHOOK_SECRET": SECRET,
        }
        delivery = await send_completion(sample_event(), {"callback": None}, environ)
    assert delivery == {"queue": "sent", "webhook": "sent"}
    assert len(receiver.received) == 1
    queue = QueueClient.from_connection_string(azurite.connection_string, "dsr-events-test")
    messages = list(queue.receive_messages())
    assert len(messages) == 1
    assert json.loads(base64.b64decode(messages[0].content))["subject"] == "PRIV-1"


async def test_none_turns_the_queue_channel_off(azurite) -> None:
    """``CVDSR_EVENTS_QUEUE=none`` sends nothing to a queue; an empty setting is unset (the default queue)."""
    environ = {"AzureWebJobsStorage": azurite.connection_string, "CVDSR_EVENTS_QUEUE": "none"}
    assert await send_completion(sample_event(), {"callback": None}, environ) == {}
    assert app_settings({"CVDSR_EVENTS_QUEUE": ""}).events_queue == "dsr-events"
    on = {**environ, "CVDSR_EVENTS_QUEUE": "dsr-events-on-test"}
    assert await send_completion(sample_event(), {"callback": None}, on) == {"queue": "sent"}


async def test_a_webhook_without_a_secret_is_refused_not_sent_unsigned() -> None:
    environ = {"CVDSR_EVENTS_QUEUE": "none", "CVDSR_WEBHOOK_URL": "https://hooks.example/x"}
    delivery = await send_completion(sample_event(), {}, environ)
    assert delivery["webhook"].startswith("error: CVDSR_WEBHOOK_SECRET is not set")


def test_the_queue_channel_uses_identity_based_storage_in_azure() -> None:
    identity = {
        "AzureWebJobsStorage__queueServiceUri": "https://stcvdsr.queue.core.windows.net",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
    }
    assert channels.storage_connection(identity) == {
        "queue_service_uri": "https://stcvdsr.queue.core.windows.net",
        "client_id": "00000000-0000-0000-0000-000000000001",
    }
    assert channels.storage_connection({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}) == {
        "connection_string": AZURITE_CONNECTION_STRING
    }
    assert channels.storage_connection({}) is None


async def test_webhook_honours_retry_after_with_the_clients_retry_policy() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(204)])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    transport = httpx.MockTransport(lambda request: next(answers))
    status = await channels.send_webhook(
        "https://hooks.example.com/x", SECRET, sample_event(), transport=transport, sleep=sleep
    )
    assert status == 204
    (waited,) = sleeps
    assert 2.0 <= waited <= 3.0, "Retry-After, plus up to half of it as jitter"
    assert channels.WEBHOOK_RETRY.max_attempts == 5
