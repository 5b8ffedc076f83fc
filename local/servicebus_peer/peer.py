"""Run the peer on a background thread and look inside it."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from proton.reactor import Container

from ._log import log, quiet_proton_socket_errors
from .broker import Broker, PeerError, PeerMessage
from .handler import DEFAULT_MAX_MESSAGE_SIZE, PeerHandler

DEFAULT_QUEUES: tuple[str, ...] = ("dsr-requests",)
DEFAULT_TOPICS: Mapping[str, tuple[str, ...]] = {"dsr-events": ("all",)}
# The development emulator's well-known key; the peer accepts any token.
DUMMY_KEY = "SAS_KEY_VALUE"


class ServiceBusPeer:
    """A local AMQP 1.0 peer that the real ``azure-servicebus`` SDK can use as a Service Bus namespace.

    Start it with :meth:`start` (or as a context manager, or through :func:`run_peer`) and give
    :attr:`connection_string` to ``ServiceBusClient.from_connection_string``. The SDK keeps the port of
    an ``Endpoint=sb://host:port`` when ``UseDevelopmentEmulator=true``, so ``port=0`` (any free port) works.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        queues: Iterable[str] = DEFAULT_QUEUES,
        topics: Mapping[str, Iterable[str]] = DEFAULT_TOPICS,
        max_delivery_count: int = 10,
        lock_duration_seconds: float = 30.0,
        *,
        duplicate_detection_window_seconds: float = 600.0,
        duplicate_detection_on_queues: bool = False,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.broker = Broker(
            queues=list(queues),
            topics={topic: list(subscriptions) for topic, subscriptions in topics.items()},
            max_delivery_count=max_delivery_count,
            lock_duration_seconds=lock_duration_seconds,
            duplicate_detection_window_seconds=duplicate_detection_window_seconds,
            duplicate_detection_on_queues=duplicate_detection_on_queues,
        )
        self._max_message_size = max_message_size
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._handler: PeerHandler | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._run_error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> ServiceBusPeer:
        """Start listening; returns once the socket accepts connections."""
        if self._thread is not None:
            raise PeerError("the peer was already started")
        quiet_proton_socket_errors()
        self._handler = PeerHandler(
            self.broker,
            host=self.host,
            port=self._requested_port,
            max_message_size=self._max_message_size,
            on_ready=self._on_ready,
        )
        container = Container(self._handler)
        self._thread = threading.Thread(target=self._run, args=(container,), name="servicebus-peer", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise PeerError(f"the peer did not start within {timeout:g} s")
        if self._startup_error is not None:
            self._thread.join(timeout)
            raise PeerError(f"the peer could not listen on {self.host}:{self._requested_port}") from (
                self._startup_error
            )
        log.info("ready: %s", self.connection_string)
        return self

    def _on_ready(self, port: int | None, error: BaseException | None) -> None:
        self._port = port
        self._startup_error = error
        self._ready.set()

    def _run(self, container: Any) -> None:
        try:
            container.run()
        except BaseException as exc:
            self._run_error = exc
            log.exception("the peer's reactor stopped on an error")
        finally:
            if self._handler is not None:
                self._handler.release()
            self._ready.set()
            log.info("stopped")

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection and stop the reactor thread. Idempotent."""
        thread, handler = self._thread, self._handler
        if thread is None or handler is None or not thread.is_alive():
            return
        handler.request_stop()
        thread.join(timeout)
        if thread.is_alive():
            raise PeerError(f"the peer did not stop within {timeout:g} s")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._run_error is None

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the reactor, if one did."""
        return self._run_error

    def __enter__(self) -> ServiceBusPeer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addressing ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise PeerError("the peer is not listening; call start() first")
        return self._port

    @property
    def connection_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host

    @property
    def connection_string(self) -> str:
        """The connection string for ``ServiceBusClient.from_connection_string`` (sync and aio)."""
        return (
            f"Endpoint=sb://{self.connection_host}:{self.port};"
            f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={DUMMY_KEY};"
            "UseDevelopmentEmulator=true"
        )

    # -- inspection ----------------------------------------------------------------------------

    def messages(self, entity: str) -> list[PeerMessage]:
        """Messages in a queue, subscription (``"dsr-events/subscriptions/all"``) or dead-letter queue.

        Includes locked and deferred messages (see :attr:`PeerMessage.state`), ordered by sequence number.
        """
        return self.broker.messages(entity)

    def dead_letters(self, entity: str) -> list[PeerMessage]:
        """Messages in the dead-letter queue of a queue or subscription."""
        return self.broker.messages(f"{entity.rstrip('/')}/$DeadLetterQueue")

    def wait_for(self, entity: str, count: int = 1, timeout: float = 10.0) -> list[PeerMessage]:
        """Block until ``entity`` holds at least ``count`` messages; returns them. Raises TimeoutError."""
        return self.broker.wait_for(entity, count, timeout)

    def purge(self, entity: str | None = None) -> int:
        """Drop all messages of one queue/subscription/dead-letter queue, or of every one."""
        return self.broker.purge(entity)

    @property
    def entities(self) -> list[str]:
        """Every queue, subscription and dead-letter queue, by name."""
        return self.broker.store_names


@contextmanager
def run_peer(
    host: str = "127.0.0.1",
    port: int = 0,
    queues: Iterable[str] = DEFAULT_QUEUES,
    topics: Mapping[str, Iterable[str]] = DEFAULT_TOPICS,
    max_delivery_count: int = 10,
    lock_duration_seconds: float = 30.0,
    *,
    duplicate_detection_window_seconds: float = 600.0,
    duplicate_detection_on_queues: bool = False,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> Iterator[ServiceBusPeer]:
    """Start a :class:`ServiceBusPeer`, yield it once it accepts connections, stop it on exit."""
    peer = ServiceBusPeer(
        host,
        port,
        queues,
        topics,
        max_delivery_count,
        lock_duration_seconds,
        duplicate_detection_window_seconds=duplicate_detection_window_seconds,
        duplicate_detection_on_queues=duplicate_detection_on_queues,
        max_message_size=max_message_size,
    )
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
