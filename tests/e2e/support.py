"""An end-to-end environment: Azurite, the Custom Vision simulator, the Service Bus peer, a webhook
receiver and the development host running the real ``function_app.py``."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.host import HostConfig, run_host, start_host_process
from local.http_server import serve
from local.servicebus_peer import run_peer
from local.simulator import SimulatorConfig, run_simulator
from local.simulator.server import RunningSimulator
from shared.events import channels
from shared.events.lifecycle import TYPES as LIFECYCLE

REPO = Path(__file__).parents[2]
TRAINING_KEY = "e2e-training-key-7f3a9c2b5d"
WEBHOOK_SECRET = "e2e-webhook-secret-41d8cd98"
TERMINAL = {"Completed", "Failed", "Terminated"}
# The simulator's account (SimulatorConfig defaults).
ARM_ACCOUNT = (
    "/subscriptions/00000000-0000-4000-8000-00000000c0de/resourceGroups/cvdsr-sim-rg"
    "/providers/Microsoft.CognitiveServices/accounts/cvdsr-sim"
)


@dataclass
class Webhook:
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        if not channels.verify(
            WEBHOOK_SECRET, request.headers["X-Cvdsr-Timestamp"], body, request.headers["X-Cvdsr-Signature"]
        ):
            return Response(status_code=401)
        self.raw.append(body)
        self.received.append(json.loads(body))
        return Response(status_code=204)


@dataclass
class Environment:
    connection_string: str
    simulator: Any
    peer: Any
    host: Any
    webhook: Webhook
    events_queue: str
    settings: dict[str, str]
    # Every event taken off the events queue, by message id: the queue is drained, not peeked (a peek
    # sees 32 messages at most, and each request sends lifecycle events besides its outcome).
    queued: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- sending --------------------------------------------------------------------------------------

    def request(self, request_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "request_id": request_id,
            "type": "export",
            "resources": ["demo"],
            "ticket": {"system": "servicenow", "id": f"T-{request_id}"},
            **fields,
        }

    def send_queue(self, body: dict[str, Any] | bytes) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        queue = QueueClient.from_connection_string(self.connection_string, "dsr-requests")
        try:
            queue.create_queue()
        except ResourceExistsError:
            pass
        queue.send_message(base64.b64encode(raw).decode())

    def send_servicebus(self, body: dict[str, Any]) -> None:
        self.send_servicebus_raw(json.dumps(body).encode())

    def send_servicebus_raw(self, raw: bytes) -> None:
        with (
            ServiceBusClient.from_connection_string(self.peer.connection_string) as client,
            client.get_queue_sender("dsr-requests") as sender,
        ):
            sender.send_messages(ServiceBusMessage(raw))

    def post(self, body: dict[str, Any] | bytes) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.host.base_url}/api/requests", content=raw, timeout=30)

    # -- observing ------------------------------------------------------------------------------------

    def status(self, request_id: str) -> dict[str, Any] | None:
        """The status document; None when there is no such request."""
        for _ in range(20):
            response = httpx.get(f"{self.host.base_url}/api/requests/{request_id}", timeout=30)
            if response.status_code < 500:
                break
            time.sleep(0.5)  # a host busy on 2 cores; the status, not the host's load, is under test
        if response.status_code in (400, 404):  # not a request id, or no such request: none exists
            return None
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def watch(self, request_id: str, timeout: float = 180.0) -> list[dict[str, Any]]:
        """Every status document seen, polling as fast as the host answers, until the request completed."""
        seen: list[dict[str, Any]] = []

        def completed() -> bool:
            document = self.status(request_id)
            if document is not None:
                seen.append(document)
            return document is not None and document["runtime_status"] == "Completed"

        wait_for(completed, timeout=timeout, what=f"{request_id} to complete")
        return seen

    def wait(self, request_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(request_id)
            events = self.events(request_id)
            if last and last["runtime_status"] in TERMINAL and events:
                return last
            if last is None and events and events[0]["type"] == "cvdsr.request.rejected":
                raise AssertionError(f"{request_id} was rejected: {events[0]['data']['errors']}")
            time.sleep(0.25)
        raise AssertionError(f"{request_id} did not finish in {timeout}s: {last}\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """What a timed-out wait reports: messages still waiting in the request queues (not taken by
        any host) and the end of a host process's output."""
        lines = []
        for name in ("dsr-requests", "dsr-requests-poison"):
            queue = QueueClient.from_connection_string(self.connection_string, name)
            try:
                lines.append(f"queue {name}: {queue.get_queue_properties().approximate_message_count} message(s)")
            except ResourceNotFoundError:
                lines.append(f"queue {name}: none")
        output = getattr(self.host, "output", None)
        if callable(output):
            lines.append("host output (end):\n" + str(output())[-3000:])
        return "\n".join(lines)

    def container(self) -> ContainerClient:
        service = BlobServiceClient.from_connection_string(self.connection_string)
        return service.get_container_client(self.settings["CVDSR_RESULTS_CONTAINER"])

    def blob(self, path: str) -> bytes:
        return self.container().download_blob(path).readall()

    def json(self, path: str) -> Any:
        return json.loads(self.blob(path))

    def jsonl(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.blob(path).splitlines() if line.strip()]

    def blob_names(self, prefix: str) -> list[str]:
        return [b.name for b in self.container().list_blobs(name_starts_with=prefix)]

    def events(self, request_id: str, *, lifecycle: bool = False) -> list[dict[str, Any]]:
        """Outcome events for ``request_id`` on the Storage queue, in the order they arrived (with
        ``lifecycle``, the acknowledged / due-soon / overdue events too)."""
        queue = QueueClient.from_connection_string(self.connection_string, self.events_queue)
        try:
            while batch := list(queue.receive_messages(messages_per_page=32, visibility_timeout=300)):
                for message in batch:
                    self.queued.setdefault(message.id, json.loads(base64.b64decode(message.content)))
                    queue.delete_message(message)
        except ResourceNotFoundError:
            return []
        return _ours(self.queued.values(), request_id, lifecycle)

    def bus_events(self, request_id: str, *, lifecycle: bool = False) -> list[dict[str, Any]]:
        found = [json.loads(m.body) for m in self.peer.messages("dsr-events/subscriptions/all")]
        return _ours(found, request_id, lifecycle)

    def hook_events(self, request_id: str, *, lifecycle: bool = False) -> list[dict[str, Any]]:
        return _ours(self.webhook.received, request_id, lifecycle)

    def restart_host(self) -> None:
        """Start the host process again (after a kill), on the same task hub and settings."""
        self.host = start_host_process(REPO, env=self.settings, extra_args=["--no-azurite"])

    def mutations(self) -> list[str]:
        """The mutating Training API calls the simulator has seen, as "METHOD path"."""
        return [
            f"{e.method} {e.path}"
            for e in self.simulator.simulator.request_log.entries()
            if e.path.startswith("/customvision/")
            and e.method in ("DELETE", "POST", "PATCH")
            and "/query" not in e.path
            and "/prediction/" not in e.path
        ]

    def api_calls(self) -> int:
        """Training and Prediction API requests the simulator has seen (not file downloads)."""
        return sum(1 for e in self.simulator.simulator.request_log.entries() if e.path.startswith("/customvision/"))


def _ours(events: Iterable[dict[str, Any]], request_id: str, lifecycle: bool) -> list[dict[str, Any]]:
    return [e for e in events if e["subject"] == request_id and (lifecycle or e["type"] not in LIFECYCLE)]


@contextmanager
def environment(
    azurite: Any,
    *,
    simulator: SimulatorConfig | RunningSimulator | None = None,
    process: bool = False,
    **settings: str,
) -> Iterator[Environment]:
    """Everything running; settings override the defaults given to the host. With ``process`` the host
    runs as a child process (``env.host.kill()`` is a real SIGKILL; ``env.restart_host()`` starts it
    again on the same task hub). Given a running simulator, several environments (installations) work
    on one simulated account, as several instances of the app share one resource."""
    hub = f"e2e{uuid.uuid4().hex[:10]}"
    events_queue = f"ev-{hub}"
    webhook = Webhook()
    app = Starlette(routes=[Route("/hook", webhook.endpoint, methods=["POST"])])
    with ExitStack() as stack:
        sim = (
            simulator
            if isinstance(simulator, RunningSimulator)
            else stack.enter_context(
                run_simulator(simulator or SimulatorConfig(seed="demo", training_key=TRAINING_KEY))
            )
        )
        peer = stack.enter_context(run_peer(queues=("dsr-requests",), topics={"dsr-events": ("all",)}))
        hook_base = stack.enter_context(serve(app))
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "CVDSR_TASK_HUB": hub,
            "CVDSR_SWEEP_SCHEDULE": "0 */5 * * * *",
            # One installation per environment (they share Azurite): its own results and its own
            # claims of request ids, so that two tests may use the same request id.
            "CVDSR_STATE_CONTAINER": f"state-{hub}",
            "CVDSR_RESULTS_CONTAINER": f"results-{hub}",
            "CVDSR_REGISTER_CONTAINER": f"register-{hub}",
            "CUSTOMVISION__DEMO__ENDPOINT": sim.base_url,
            "CUSTOMVISION__DEMO__TRAININGKEY": TRAINING_KEY,
            "CUSTOMVISION__DEMO__ARMRESOURCEID": ARM_ACCOUNT,
            "CVDSR_ARM_ENDPOINT": f"{sim.base_url}/_arm",
            "ServiceBusConnection": peer.connection_string,
            "CVDSR_EVENTS_QUEUE": events_queue,
            "CVDSR_AUDIT_CONTAINER": f"audit-{hub}",
            "CVDSR_WEBHOOK_URL": f"{hook_base}/hook",
            "CVDSR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            **settings,
        }
        host: Any
        if process:
            host = start_host_process(REPO, env=env, extra_args=["--no-azurite"])
            stack.callback(lambda: running.host.stop())
        else:
            host = stack.enter_context(run_host(HostConfig(project_dir=REPO, port=0, env=env, start_azurite=False)))
        running = Environment(azurite.connection_string, sim, peer, host, webhook, events_queue, env)
        yield running


def stored_texts(connection_string: str, hub: str | None = None) -> dict[str, str]:
    """Every table entity (orchestration history and state) and every blob of the storage account, as
    text by where it lives: what a scan for leaked secrets reads. With ``hub``, only the tables and
    containers of that environment (the worker's Azurite also holds other tests' exports). Zip
    packages are left out (compressed; their members are the blobs read here)."""

    def ours(name: str) -> bool:
        return hub is None or hub.lower() in name.lower()

    texts: dict[str, str] = {}
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        if not ours(table.name):
            continue
        entities = tables.get_table_client(table.name).list_entities()
        texts[f"table {table.name}"] = "\n".join(json.dumps(dict(e), default=str) for e in entities)
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in (c for c in blobs.list_containers() if ours(c.name)):
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            if blob.name.endswith(".zip"):
                continue
            body = client.download_blob(blob.name).readall()
            texts[f"blob {container.name}/{blob.name}"] = body.decode("utf-8", errors="replace")
    return texts


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
