"""Delivering an event: Service Bus topic, Storage queue, webhook. Each channel is optional.

Settings:
- ``CVDSR_EVENTS_SERVICEBUS``: name of the connection setting prefix (default ``ServiceBusConnection``);
  the connection is ``<prefix>`` (a connection string, local) or ``<prefix>__fullyQualifiedNamespace``
  (managed identity, Azure). ``CVDSR_EVENTS_TOPIC`` (default ``dsr-events``). Off when unset.
- ``CVDSR_EVENTS_QUEUE`` (default ``dsr-events``; ``none`` turns it off) on ``AzureWebJobsStorage``.
- ``CVDSR_WEBHOOK_URL`` and/or the request's ``callback.webhook``, signed with ``CVDSR_WEBHOOK_SECRET``;
  a request's callback is held to a ``CallbackPolicy`` (``shared/events/callbacks.py``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from shared.connections import azure_credential, expand_development_storage, setting
from shared.customvision.redaction import redact_url
from shared.customvision.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from shared.settings import app_settings

from .cloudevent import CONTENT_TYPE, dedupe_key

if TYPE_CHECKING:  # callbacks imports this module (for WebhookError); at run time only the objects are used
    from .callbacks import CallbackPolicy, Resolver

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Cvdsr-Signature"
# A receiver that is down for a minute still gets the event. (A channel that fails is reported in the
# delivery result, not retried by the activity: one broken channel must not re-send the others.)
WEBHOOK_RETRY = RetryPolicy(max_attempts=5, max_elapsed_seconds=60.0, base_delay_seconds=0.5, max_delay_seconds=8.0)
TIMESTAMP_HEADER = "X-Cvdsr-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">``: what a receiver recomputes to verify."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_seconds: int = 300) -> bool:
    """Receiver side (documented for integrators, used by the tests): constant-time, with replay window."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(sign(secret, timestamp, body), signature)


def event_body(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


async def send_webhook(
    url: str,
    secret: str,
    event: Mapping[str, Any],
    *,
    retry: RetryPolicy = WEBHOOK_RETRY,
    attempts: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    policy: CallbackPolicy | None = None,
    resolver: Resolver | None = None,
) -> int:
    """POST the event, retrying what the client's ``RetryPolicy`` retries (408, 429, 5xx, connection
    errors) with its backoff and the receiver's ``Retry-After``; returns the status. ``attempts``
    overrides the policy's count.

    Each attempt is signed afresh (new timestamp), so a receiver's replay window stays meaningful.
    Redirects are never followed: a 3xx is a failure, not retried (it could point anywhere).
    With a ``policy`` (a request's callback), each attempt resolves the host, refuses non-public
    addresses (``CallbackRefused``, not retried) and connects to the address it checked.
    """
    body = event_body(event)
    # A request's callback URL may carry its own secret in the path: only its host is ever shown.
    # The operator's configured URL is shown without its query's credentials.
    shown = redact_url(url) if policy is None else f"request callback on {urlsplit(url).hostname or '?'}"
    limit = attempts or retry.max_attempts
    rng = random.Random()
    deadline = time.monotonic() + retry.max_elapsed_seconds
    async with httpx.AsyncClient(timeout=15.0, transport=transport, follow_redirects=False) as client:
        for attempt in range(1, limit + 1):
            retry_after: float | None = None
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": CONTENT_TYPE,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            try:
                if policy is None:
                    response = await client.post(url, content=body, headers=headers)
                else:
                    target = await policy.resolve(url, resolver)  # CallbackRefused propagates: no retry
                    response = await client.post(
                        target.url, content=body, headers=headers | target.headers, extensions=target.extensions
                    )
            except (httpx.TransportError, OSError) as error:  # OSError: a failed DNS lookup
                outcome = type(error).__name__
            else:
                if response.is_success:
                    return response.status_code
                if response.status_code not in RETRYABLE_STATUS and response.status_code < 500:
                    raise WebhookError(f"webhook {shown} answered HTTP {response.status_code}")
                outcome = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            # The receiver's Retry-After is honoured up to the time left; past the deadline, give up.
            delay = min(retry.delay(attempt, retry_after, rng), deadline - time.monotonic())
            if attempt == limit or delay <= 0:
                raise WebhookError(f"webhook {shown} failed after {attempt} attempts ({outcome})")
            logger.warning("webhook %s: %s on attempt %d; retrying in %.1fs", shown, outcome, attempt, delay)
            await sleep(delay)
    raise AssertionError("unreachable")


class WebhookError(RuntimeError):
    """The webhook could not be delivered. The message names the URL without credentials."""


async def send_servicebus(connection: Mapping[str, str], topic: str, event: Mapping[str, Any]) -> None:
    """One message on the topic: ``message_id`` = ``{request_id}:{status}`` (a rejection adds its digest,
    ``cloudevent.dedupe_key``) for duplicate detection,
    correlation id = ticket id, subject = event type, filterable application properties."""
    from azure.servicebus import ServiceBusMessage
    from azure.servicebus.aio import ServiceBusClient

    data = event["data"]
    ticket = data.get("ticket") or {}
    message = ServiceBusMessage(
        event_body(event),
        message_id=dedupe_key(data),
        correlation_id=ticket.get("id"),
        subject=event["type"],
        content_type=CONTENT_TYPE,
        application_properties={
            "type": event["type"],
            "status": data["status"],
            "ticket_system": ticket.get("system") or "",
        },
    )
    if "connection_string" in connection:
        client = ServiceBusClient.from_connection_string(connection["connection_string"])
    else:
        credential = azure_credential(connection.get("client_id"))
        client = ServiceBusClient(connection["namespace"], credential)
    async with client, client.get_topic_sender(topic) as sender:
        await sender.send_messages(message)


async def send_queue(
    connection: Mapping[str, str], queue: str, event: Mapping[str, Any], *, base64_encode: bool
) -> None:
    """One message on a Storage queue (base64 by default, as a Functions queue trigger expects)."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue.aio import QueueClient

    text = event_body(event).decode()
    if base64_encode:
        text = base64.b64encode(text.encode()).decode()
    if "connection_string" in connection:
        client = QueueClient.from_connection_string(connection["connection_string"], queue)
    else:
        credential = azure_credential(connection.get("client_id"))
        client = QueueClient(connection["queue_service_uri"], queue, credential=credential)
    async with client:
        try:
            await client.create_queue()
        except ResourceExistsError:
            pass
        await client.send_message(text)


def servicebus_connection(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    prefix = app_settings(environ).events_servicebus
    connection_string = setting(prefix, environ=environ)
    if connection_string:
        return {"connection_string": connection_string}
    namespace = setting(f"{prefix}__fullyQualifiedNamespace", environ=environ)
    if namespace:
        client_id = setting(f"{prefix}__clientId", environ=environ)
        return {"namespace": namespace, **({"client_id": client_id} if client_id else {})}
    return None


def storage_connection(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """``AzureWebJobsStorage`` as a connection string (local) or, identity-based, its queue service URI."""
    value = setting("AzureWebJobsStorage", environ=environ)
    if value:
        return {"connection_string": expand_development_storage(value)}
    queue_service_uri = setting("AzureWebJobsStorage__queueServiceUri", environ=environ)
    if queue_service_uri:
        client_id = setting("AzureWebJobsStorage__clientId", environ=environ)
        return {"queue_service_uri": queue_service_uri, **({"client_id": client_id} if client_id else {})}
    return None
