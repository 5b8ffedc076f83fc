"""Running the simulator over HTTP with uvicorn: in a background thread (`run_simulator`) or in the
foreground (`serve_forever`, used by `cvdsr simulate`).

uvicorn answers 500 when an app raises before responding, which would hide an injected dropped
connection. `DroppingH11Protocol` closes the socket instead when the app raises `DroppedConnection`,
so clients see exactly what a network failure looks like: a connection closed with no response.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from local.simulator.app import create_app
from local.simulator.clock import Clock
from local.simulator.config import SimulatorConfig
from local.simulator.errors import DroppedConnection
from local.simulator.state import Simulator

STARTUP_TIMEOUT_SECONDS = 15.0


class DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing the connection silently on `DroppedConnection`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await inner(scope, receive, send)
            except DroppedConnection:
                cycle = getattr(self, "cycle", None)
                if cycle is not None:
                    cycle.disconnected = True  # uvicorn must not write a 500 on the closed socket
                self.transport.close()

        self.app = guarded


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator serving HTTP: give `base_url` to clients as the Custom Vision endpoint."""

    base_url: str
    app: Starlette
    simulator: Simulator


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP (else ~40 ms stalls).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Starlette) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http=DroppingH11Protocol,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


@contextmanager
def run_simulator(
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
) -> Iterator[RunningSimulator]:
    """Run a simulator in a background thread until the `with` block ends (port 0 = any free port)."""
    app = create_app(config, clock=clock)
    sock = _bind(host, port)
    actual_port = int(sock.getsockname()[1])
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="cv-simulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the simulator's server thread stopped during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("the simulator did not start in time")
            time.sleep(0.01)
        yield RunningSimulator(_base_url(host, actual_port), app, app.state.simulator)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()


def serve_forever(app: Starlette, host: str, port: int) -> tuple[str, uvicorn.Server, socket.socket]:
    """Bind and prepare a foreground server; the caller runs `server.run(sockets=[sock])`."""
    sock = _bind(host, port)
    return _base_url(host, int(sock.getsockname()[1])), _server(app), sock
