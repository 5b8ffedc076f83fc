"""``cvdsr submit``, ``cvdsr status`` and ``cvdsr extend``: talk to a running host like a ticketing system would.

``submit`` puts a request on the Storage queue ``dsr-requests`` (or POSTs it to the host) and, with
``--wait``, prints the completion event. ``status`` prints ``GET /api/requests/{id}``. Settings come
from the environment or ``local.settings.json`` in the current directory (``AzureWebJobsStorage``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from shared.connections import expand_development_storage
from shared.deadlines import JURISDICTIONS
from shared.events.lifecycle import TYPES as LIFECYCLE
from shared.status import summary

DEFAULT_HOST_URL = "http://127.0.0.1:7071"
TERMINAL = {"Completed", "Failed", "Terminated"}


def local_setting(name: str, default: str | None = None) -> str | None:
    """The environment, then local.settings.json Values (as the host reads them)."""
    import os

    if os.environ.get(name):
        return os.environ[name]
    path = Path("local.settings.json")
    if path.exists():
        values = json.loads(path.read_text()).get("Values") or {}
        if values.get(name):
            return str(values[name])
    return default


def storage_connection() -> str:
    return expand_development_storage(local_setting("AzureWebJobsStorage", "UseDevelopmentStorage=true") or "")


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("type", choices=["export", "erase"])
    parser.add_argument("--resource", action="append", required=True, help="configured resource name (repeatable)")
    parser.add_argument("--request-id", help="default: a generated id")
    parser.add_argument("--project", action="append", help="project id (repeatable; default: all projects)")
    parser.add_argument("--image-id", action="append", help="a data subject's image id (repeatable)")
    parser.add_argument("--tag", action="append", help="a data subject's tag name (repeatable)")
    parser.add_argument("--metadata", action="append", metavar="KEY=VALUE", help="a data subject's metadata")
    parser.add_argument("--include", action="append", help="data kind (repeatable; default: all)")
    parser.add_argument("--dry-run", action="store_true", help="erase: plan only, change nothing")
    parser.add_argument("--confirm", action="append", help="erase: the resource name(s), for account-wide erasure")
    parser.add_argument("--zip", action="store_true", help="export: also build export.zip")
    parser.add_argument(
        "--format",
        action="append",
        choices=["coco", "azureml", "csv"],
        help="export: also write this dataset format (repeatable)",
    )
    parser.add_argument("--jurisdiction", choices=JURISDICTIONS, help="the statutory clock: computes the due date")
    parser.add_argument("--ticket-system", default="cli")
    parser.add_argument("--ticket-id")
    parser.add_argument("--via", choices=["queue", "http"], default="queue")
    parser.add_argument("--host-url", default=DEFAULT_HOST_URL, help=f"the host (default {DEFAULT_HOST_URL})")
    parser.add_argument("--wait", action="store_true", help="wait for the completion event and print it")
    parser.add_argument("--timeout", type=float, default=600.0)


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    request_id = args.request_id or f"CLI-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    selector: dict[str, Any] = {}
    if args.image_id:
        selector["image_ids"] = args.image_id
    if args.tag:
        selector["tag_names"] = args.tag
    if args.metadata:
        pairs = [item.split("=", 1) for item in args.metadata]
        if any(len(pair) != 2 for pair in pairs):
            raise SystemExit("--metadata takes KEY=VALUE")
        selector["metadata"] = dict(pairs)
    request: dict[str, Any] = {
        "schema_version": 1,
        "request_id": request_id,
        "type": args.type,
        "resources": args.resource,
        "scope": {"projects": args.project or "all", "images": selector or None},
        "ticket": {"system": args.ticket_system, "id": args.ticket_id or request_id},
        "received_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if args.include:
        request["include"] = args.include
    if args.format:
        request["formats"] = args.format
    if args.dry_run:
        request["dry_run"] = True
    if args.confirm:
        request["confirm"] = args.confirm[0] if len(args.confirm) == 1 else args.confirm
    if args.zip:
        request["export_zip"] = True
    if args.jurisdiction:
        request["jurisdiction"] = args.jurisdiction
    return request


def enqueue(connection: str, body: dict[str, Any], queue: str = "dsr-requests") -> None:
    """Base64, as the Functions queue trigger expects."""
    with QueueClient.from_connection_string(connection, queue) as client:
        try:
            client.create_queue()
        except ResourceExistsError:
            pass
        client.send_message(base64.b64encode(json.dumps(body).encode()).decode())


def fetch_status(host_url: str, request_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{host_url.rstrip('/')}/api/requests/{request_id}", timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def find_event(connection: str, request_id: str, queue: str = "dsr-events") -> dict[str, Any] | None:
    """The request's completion event on the events queue, read without consuming other messages
    (its lifecycle events, ``cvdsr.request.acknowledged`` and the reminders, are passed over)."""
    with QueueClient.from_connection_string(connection, queue) as client:
        try:
            messages = client.peek_messages(max_messages=32)
        except ResourceNotFoundError:
            return None
        for message in messages:
            try:
                event = json.loads(base64.b64decode(message.content))
            except ValueError:
                continue
            if event.get("subject") == request_id and event.get("type") not in LIFECYCLE:
                return dict(event)
    return None


def wait_for_completion(
    host_url: str,
    connection: str,
    request_id: str,
    timeout: float,
    events_queue: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Poll the status until the request ends (or was rejected); return its completion event.
    ``progress`` receives the status summary line whenever it changes."""
    deadline = time.monotonic() + timeout
    events_queue = events_queue or local_setting("CVDSR_EVENTS_QUEUE", "dsr-events") or "dsr-events"
    shown = ""
    while time.monotonic() < deadline:
        status = fetch_status(host_url, request_id)
        line = summary(status) if status is not None else shown
        if progress is not None and line != shown:
            shown = line
            progress(line)
        event = find_event(connection, request_id, events_queue)
        if event and (status is None or status["runtime_status"] in TERMINAL):
            return event
        time.sleep(1.0)
    raise TimeoutError(f"request {request_id} did not finish within {timeout:.0f}s")


def run_submit(args: argparse.Namespace) -> int:
    request = build_request(args)
    connection = storage_connection()
    if args.via == "queue":
        enqueue(connection, request)
    else:
        response = httpx.post(f"{args.host_url.rstrip('/')}/api/requests", json=request, timeout=30)
        if response.status_code == 400:
            print(json.dumps(response.json(), indent=2))
            return 1
        response.raise_for_status()
    print(f"submitted {request['type']} request {request['request_id']}", file=sys.stderr)
    if not args.wait:
        print(request["request_id"])
        return 0
    event = wait_for_completion(
        args.host_url,
        connection,
        request["request_id"],
        args.timeout,
        progress=lambda line: print(line, file=sys.stderr),
    )
    print(json.dumps(event, indent=2))
    return 0 if event["data"]["status"] in ("succeeded", "partially_succeeded") else 1


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request_id")
    parser.add_argument("--host-url", default=DEFAULT_HOST_URL)


def add_extend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request_id")
    parser.add_argument("--until", required=True, type=date.fromisoformat, help="the new due date, YYYY-MM-DD")
    parser.add_argument("--reason", required=True, help="why, as the person is told")
    parser.add_argument("--host-url", default=DEFAULT_HOST_URL)


def refusal(response: httpx.Response) -> str:
    """Why the host refused: its JSON ``error``, else the HTTP reason phrase."""
    try:
        reason = response.json().get("error")
    except ValueError:
        reason = None
    return str(reason or response.reason_phrase)


def run_extend(args: argparse.Namespace) -> int:
    """``POST /api/requests/{id}/extend``: prints the new clock, or why the extension was refused."""
    body = {"until": args.until.isoformat(), "reason": args.reason}
    try:
        response = httpx.post(f"{args.host_url}/api/requests/{args.request_id}/extend", json=body, timeout=30)
    except httpx.HTTPError as error:
        print(f"not extended: the host did not answer ({type(error).__name__})", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"not extended ({response.status_code}): {refusal(response)}", file=sys.stderr)
        return 1
    clock = response.json()
    print(f"{args.request_id} is due {clock['due_at']} ({clock['days_left']} days left): {clock['extension_reason']}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = fetch_status(args.host_url, args.request_id)
    if status is None:
        print(f"no request {args.request_id}", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2))
    return 0
