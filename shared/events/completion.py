"""Sending a request's outcome on every configured channel (README "Completion event")."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared import connectors, deadlines, extensions, register
from shared.connections import blob_service, results_container
from shared.results.links import read_link
from shared.settings import app_settings

from . import channels
from .callbacks import CallbackPolicy, CallbackRefused
from .cloudevent import build_event

logger = logging.getLogger(__name__)


def event_data(
    request: Mapping[str, Any],
    outcome: Mapping[str, Any],
    result: Mapping[str, Any],
    extensions: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The event's ``data``; the deadline (``due_at``, ``days_left`` at completion, ``extended`` and its
    reason) counts the request's extensions (``shared.extensions``)."""
    # Counted to the completion, so that the same outcome sent again is the same event.
    ended = deadlines.instant(outcome.get("completed_at")) or datetime.now(UTC)
    clock = deadlines.clock(request, extensions, ended)
    return {
        "request_id": request["request_id"],
        "type": request.get("type"),
        "status": outcome["status"],
        "ticket": request.get("ticket"),
        "resources": request.get("resources", []),
        "counts": outcome.get("counts", {}),
        "expected_counts": outcome.get("expected_counts", {}),
        "result": dict(result),
        "errors": outcome.get("errors", []),
        "received_at": request.get("received_at"),
        "started_at": outcome.get("started_at"),
        "completed_at": outcome.get("completed_at"),
        **{key: clock[key] for key in ("jurisdiction", "due_at", "days_left", "extended", "extension_reason")},
    }


async def result_links(
    service: BlobServiceClient, container: str, outcome: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``result`` object: container, manifest path and a fresh read link to the package (or the
    manifest, when no package was built)."""
    result = outcome.get("result") or {}
    target = result.get("package") or result.get("manifest")
    links: dict[str, Any] = {
        "container": container,
        "manifest": result.get("manifest"),
        "package_url": None,
        "expires_at": None,
    }
    settings = app_settings(environ)
    if not target or settings.result_links == "none":
        return links
    url, expires_at = await read_link(service, container, target, timedelta(hours=settings.result_link_hours))
    return {**links, "package_url": url, "expires_at": expires_at}


async def send_completion(
    event: Mapping[str, Any], request: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Deliver ``event`` on each configured channel; returns ``{channel: "sent" | "error: …"}``.

    A channel's failure is reported, not raised, so one broken webhook does not stop the Service Bus
    event (and the activity does not re-send the others on retry).
    """
    delivery: dict[str, str] = {}
    settings = app_settings(environ)
    servicebus = channels.servicebus_connection(environ)
    if servicebus:
        delivery["servicebus"] = await _attempt(channels.send_servicebus(servicebus, settings.events_topic, event))
    connection = channels.storage_connection(environ)
    # An empty app setting counts as unset (the portal writes them), so "none" is how to turn it off.
    if connection and settings.events_queue != "none":
        encode = settings.events_queue_encoding == "base64"
        sent = channels.send_queue(connection, settings.events_queue, event, base64_encode=encode)
        delivery["queue"] = await _attempt(sent)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    operator = settings.webhook_url
    callback = (request.get("callback") or {}).get("webhook")
    policy = CallbackPolicy.from_settings(environ)
    for index, url in enumerate(dict.fromkeys(u for u in (operator, callback) if u)):
        name = "webhook" if index == 0 else f"webhook{index + 1}"
        if not secret:
            delivery[name] = "error: CVDSR_WEBHOOK_SECRET is not set; webhooks are always signed"
            continue
        # The operator's URL is trusted configuration (it may be a private endpoint in the VNet); a URL
        # that came with the request is held to the callback policy.
        checked = None if url == operator else policy
        delivery[name] = await _attempt(channels.send_webhook(url, secret, event, policy=checked))
    return delivery


async def _attempt(sending: Any) -> str:
    try:
        await sending
    except CallbackRefused as error:  # the reason names the rule only, never the URL
        logger.warning("request callback refused: %s", error.reason)
        return f"error: refused: {error.reason}"
    except Exception as error:  # any channel failure is reported per channel; see send_completion
        logger.warning("event delivery failed: %s", type(error).__name__)
        return f"error: {type(error).__name__}"
    return "sent"


async def deliver_outcome(
    request: Mapping[str, Any], outcome: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Sign a fresh result link and send the outcome's event on every channel (per-channel delivery
    comes back; the link does not)."""
    async with blob_service(environ) as service:
        container = results_container(service, environ).container_name
        result = await result_links(service, container, outcome, environ)
        extended = await extensions.load(service, str(request["request_id"]))
        # The register's record of the response, before it is sent (a retry appends it again: folded).
        await register.append(service, register.responded_entry(request, outcome), environ)
    delivery = await send_completion(make_event(request, outcome, result, extended), request, environ)
    # The privacy platform whose webhook started the request hears of it through its own API.
    return delivery | await connectors.report(request, outcome, result)


def make_event(
    request: Mapping[str, Any],
    outcome: Mapping[str, Any],
    result: Mapping[str, Any],
    extensions: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    return build_event(event_data(request, outcome, result, extensions))
