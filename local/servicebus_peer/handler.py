"""The AMQP 1.0 side of the peer: a python-qpid-proton reactor handler.

Every method here runs on the reactor thread. The handler accepts connections (SASL ANONYMOUS, or no
SASL at all, as proton's server transport negotiates it), answers the ``$cbs`` put-token exchange,
turns transfers from client senders into broker messages, pushes messages to client receivers as their
link credit allows, applies the outcomes receivers send back, and answers ``$management`` requests.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from proton import Array, Condition, Data, Delivery, Endpoint, Handler, Link, Message, symbol, timestamp
from proton.reactor import ApplicationEvent, EventInjector

from . import codec
from ._log import log
from .broker import Address, Broker, SettleKind, Settlement, SettleResult

# Link credit the peer grants a client sender, topped up when half is used.
SENDER_CREDIT = 500
# Service Bus Standard tier limit, advertised on sender links; the SDK sizes batches from it.
DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024
# How long a stop waits for clients to answer the close before the sockets are cut.
SHUTDOWN_GRACE_SECONDS = 1.0

STOP_EVENT = "servicebus_peer_stop"

VENDOR = "com.microsoft"
OP_UPDATE_DISPOSITION = f"{VENDOR}:update-disposition"
OP_RENEW_LOCK = f"{VENDOR}:renew-lock"
OP_PEEK = f"{VENDOR}:peek-message"
OP_RECEIVE_BY_SEQUENCE = f"{VENDOR}:receive-by-sequence-number"
SESSION_FILTER = f"{VENDOR}:session-filter"
LOCK_LOST = f"{VENDOR}:message-lock-lost"
LOCK_LOST_DESCRIPTION = (
    "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue."
)

_DISPOSITIONS = {
    "completed": SettleKind.COMPLETE,
    "abandoned": SettleKind.ABANDON,
    "defered": SettleKind.DEFER,  # sic: the service's spelling
    "deferred": SettleKind.DEFER,
    "suspended": SettleKind.DEAD_LETTER,
}


@dataclass(eq=False)
class LinkInfo:
    """What the peer knows about one link; kept in the proton link's attribute record."""

    role: str  # "producer" | "consumer" | "request" | "reply"
    address: Address
    peek_lock: bool = True
    tokens: set[uuid.UUID] = field(default_factory=set)  # unsettled locked deliveries (consumers)


@dataclass(frozen=True)
class MgmtReply:
    status: int
    description: str
    body: Any = None
    condition: str | None = None


_F = TypeVar("_F", bound=Callable[..., None])


def _guarded(method: _F) -> _F:
    """Keep the reactor alive when one event fails: log it and close the connection it came from."""

    @functools.wraps(method)
    def wrapper(self: PeerHandler, event: Any, *args: Any) -> None:
        try:
            method(self, event, *args)
        except Exception:
            log.exception("failed to handle %s", getattr(event, "type", event))
            connection = getattr(event, "connection", None)
            if connection is not None and not connection.state & Endpoint.LOCAL_CLOSED:
                connection.condition = _condition("amqp:internal-error", "servicebus peer error; see its log")
                connection.close()

    return wrapper  # type: ignore[return-value]


def _condition(name: str, description: str) -> Condition:
    # The SDK reads condition, description and info by position when a connection is closed with an
    # error, so the info map must be present.
    return Condition(name, description, {symbol("origin"): "cvdsr-servicebus-peer"})


def _info(link: Any) -> LinkInfo | None:
    info = getattr(link, "peer_info", None)
    return info if isinstance(info, LinkInfo) else None


def _filters(terminus: Any) -> dict[str, Any]:
    data = terminus.filter
    if data is None:
        return {}
    data.rewind()
    if not data.next():
        return {}
    value = data.get_object()
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


class _Timer(Handler):
    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self._callback = callback

    def on_timer_task(self, event: Any) -> None:
        self._callback()


class PeerHandler(Handler):
    def __init__(
        self,
        broker: Broker,
        *,
        host: str,
        port: int,
        max_message_size: int,
        on_ready: Callable[[int | None, BaseException | None], None],
    ) -> None:
        super().__init__()
        self.broker = broker
        self.host = host
        self.requested_port = port
        self.max_message_size = max_message_size
        self._on_ready = on_ready
        self._container: Any = None
        self._acceptor: Any = None
        self.injector = EventInjector()
        self._injector_lock = threading.Lock()
        self._injector_open = True
        self._connections: set[Any] = set()
        self._consumers: dict[str, list[Any]] = {}
        self._round_robin: dict[str, int] = {}
        self._deliveries: dict[uuid.UUID, Any] = {}
        self._stopping = False

    # -- reactor lifecycle ---------------------------------------------------------------------

    def on_reactor_init(self, event: Any) -> None:
        self._container = event.container
        try:
            self._acceptor = self._container.acceptor(self.host, self.requested_port)
            # proton keeps the listening socket private; the selectable proxies getsockname().
            port = int(self._acceptor._selectable.getsockname()[1])
            self._container.selectable(self.injector)
        except Exception as exc:
            log.error("cannot listen on %s:%s: %s", self.host, self.requested_port, exc)
            self._on_ready(None, exc)
            self.injector.close()
            if self._acceptor is not None:
                self._acceptor.close()
            self._container.stop()
            return
        log.info("listening on amqp://%s:%d", self.host, port)
        self._on_ready(port, None)

    def request_stop(self) -> bool:
        """Thread-safe: ask the reactor thread to shut down. False when it has already finished."""
        with self._injector_lock:
            if not self._injector_open:
                return False
            self.injector.trigger(ApplicationEvent(STOP_EVENT))
            return True

    def release(self) -> None:
        """Close the injector's pipe once the reactor has returned (proton never closes it)."""
        with self._injector_lock:
            if self._injector_open:
                self._injector_open = False
                for fd in self.injector.pipe:
                    os.close(fd)

    @_guarded
    def on_servicebus_peer_stop(self, event: Any) -> None:
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: closing %d connection(s)", len(self._connections))
        if self._acceptor is not None:
            self._acceptor.close()
        self.injector.close()
        for connection in list(self._connections):
            if not connection.state & Endpoint.LOCAL_CLOSED:
                connection.close()
        if self._connections:
            self._container.schedule(SHUTDOWN_GRACE_SECONDS, _Timer(self._force_stop))
        else:
            self._container.stop()

    def _force_stop(self) -> None:
        try:
            for connection in list(self._connections):
                transport = connection.transport
                if transport is not None:
                    log.info("closing the socket of %s, which did not answer the close", connection.remote_container)
                    transport.close_tail()
                    transport.close_head()
            self._connections.clear()
        except Exception:
            log.exception("failed to cut the remaining connections")
        finally:
            self._container.stop()

    # -- connections and sessions --------------------------------------------------------------

    @_guarded
    def on_connection_remote_open(self, event: Any) -> None:
        connection = event.connection
        if connection.state & Endpoint.LOCAL_UNINIT:
            if self._stopping:
                connection.close()
                return
            self._connections.add(connection)
            connection.container = "cvdsr-servicebus-peer"
            log.info(
                "connection from %s (container %s, hostname %s)",
                connection.url,
                connection.remote_container,
                connection.remote_hostname,
            )
            connection.open()

    @_guarded
    def on_connection_remote_close(self, event: Any) -> None:
        connection = event.connection
        self._forget_connection(connection)
        if not connection.state & Endpoint.LOCAL_CLOSED:
            connection.close()

    @_guarded
    def on_transport_closed(self, event: Any) -> None:
        connection = event.connection
        condition = event.transport.condition if event.transport is not None else None
        if connection is not None:
            if connection.state & Endpoint.REMOTE_ACTIVE and condition is not None:
                # e.g. the SDK detaches its $cbs links after ending their session when it closes
                log.info(
                    "client %s: connection ended on a protocol error (%s: %s)",
                    connection.remote_container,
                    condition.name,
                    condition.description,
                )
            elif connection.state & Endpoint.REMOTE_ACTIVE:
                log.info("client %s went away without closing its connection", connection.remote_container)
            self._forget_connection(connection)
        if self._stopping and not self._connections:
            self._container.stop()

    def _forget_connection(self, connection: Any) -> None:
        link = connection.link_head(0)
        while link is not None:
            self._forget_link(link)
            link = link.next(0)
        self._connections.discard(connection)

    @_guarded
    def on_session_remote_open(self, event: Any) -> None:
        if event.session.state & Endpoint.LOCAL_UNINIT:
            event.session.open()

    @_guarded
    def on_session_remote_close(self, event: Any) -> None:
        session = event.session
        link = session.connection.link_head(0)
        while link is not None:
            if link.session == session:
                self._forget_link(link)
            link = link.next(0)
        if not session.state & Endpoint.LOCAL_CLOSED:
            session.close()

    # -- links ---------------------------------------------------------------------------------

    @_guarded
    def on_link_remote_open(self, event: Any) -> None:
        link = event.link
        if not link.state & Endpoint.LOCAL_UNINIT:
            return
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        receiving = bool(link.is_sender)  # our sender is the client's receiver
        address_text = (link.remote_source if receiving else link.remote_target).address or ""
        address = self.broker.resolve(address_text, receiving=receiving)
        if address is None:
            what = "source" if receiving else "target"
            description = f"The messaging entity '{address_text}' ({what}) could not be found."
            self._refuse(link, "amqp:not-found", description)
            return
        if receiving and address.kind == "store" and SESSION_FILTER in _filters(link.remote_source):
            description = "The servicebus peer does not support session entities."
            self._refuse(link, "amqp:not-implemented", description)
            return
        if address.kind == "entity":
            link.peer_info = LinkInfo("producer", address)
            link.max_message_size = self.max_message_size
            link.open()
            link.flow(SENDER_CREDIT)
        elif address.kind == "store":
            peek_lock = link.remote_snd_settle_mode != Link.SND_SETTLED
            link.peer_info = LinkInfo("consumer", address, peek_lock=peek_lock)
            link.snd_settle_mode = link.remote_snd_settle_mode
            link.rcv_settle_mode = link.remote_rcv_settle_mode
            link.open()
            self._consumers.setdefault(address.key, []).append(link)
            self._pump(address.key)
        elif receiving:  # reply link of $cbs or $management
            link.peer_info = LinkInfo("reply", address)
            link.snd_settle_mode = Link.SND_SETTLED
            link.open()
        else:  # request link of $cbs or $management
            link.peer_info = LinkInfo("request", address)
            link.open()
            link.flow(SENDER_CREDIT)
        role = link.peer_info.role
        log.debug("attached %s link %r to %s", role, link.name, address_text)
        if role == "producer":
            log.info("sender attached to %s", self.broker.display_name(address.key))
        elif role == "consumer":
            mode = "peek-lock" if link.peer_info.peek_lock else "receive-and-delete"
            log.info("receiver attached to %s (%s)", self.broker.display_name(address.key), mode)

    def _refuse(self, link: Any, condition: str, description: str) -> None:
        log.warning("refusing link %r: %s", link.name, description)
        link.open()
        link.condition = _condition(condition, description)
        link.close()

    @_guarded
    def on_link_remote_close(self, event: Any) -> None:
        self._link_gone(event.link)
        if not event.link.state & Endpoint.LOCAL_CLOSED:
            event.link.close()

    @_guarded
    def on_link_remote_detach(self, event: Any) -> None:
        self._link_gone(event.link)
        if not event.link.state & Endpoint.LOCAL_CLOSED:
            event.link.detach()

    def _link_gone(self, link: Any) -> None:
        info = _info(link)
        if info is not None and info.role == "consumer" and info.tokens:
            log.info(
                "receiver on %s detached holding %d lock(s); they return when they expire",
                self.broker.display_name(info.address.key),
                len(info.tokens),
            )
        self._forget_link(link)

    def _forget_link(self, link: Any) -> None:
        info = _info(link)
        if info is None:
            return
        if info.role == "consumer":
            consumers = self._consumers.get(info.address.key, [])
            if link in consumers:
                consumers.remove(link)
            for token in info.tokens:
                self._deliveries.pop(token, None)
            info.tokens.clear()

    @_guarded
    def on_link_flow(self, event: Any) -> None:
        info = _info(event.link)
        if info is not None and info.role == "consumer":
            self._pump(info.address.key)

    # -- deliveries ----------------------------------------------------------------------------

    @_guarded
    def on_delivery(self, event: Any) -> None:
        delivery = event.delivery
        if delivery.link.is_receiver:
            self._incoming(delivery)
        else:
            self._outcome(delivery)

    def _incoming(self, delivery: Any) -> None:
        link = delivery.link
        if delivery.aborted:  # the sender gave up on a multi-frame transfer
            delivery.settle()
            return
        buffer = getattr(delivery, "peer_buffer", None)
        if not isinstance(buffer, bytearray):
            buffer = bytearray()
            delivery.peer_buffer = buffer
        if delivery.pending:
            buffer.extend(link.recv(delivery.pending) or b"")
        if delivery.partial:
            return  # more frames to come; proton calls again
        link.advance()
        buffered = bytes(buffer)
        info = _info(link)
        if info is None:
            delivery.settle()
            return
        if info.role == "producer":
            self._accept_messages(delivery, info, buffered)
        elif info.role == "request":
            self._settle_incoming(delivery, None)
            try:
                request = Message()
                request.decode(buffered)
            except Exception as exc:
                log.warning("undecodable request to %s: %s", info.address.kind, exc)
                return
            if info.address.kind == "cbs":
                self._cbs(link, request)
            else:
                self._management(link, info.address, request)
        if link.credit < SENDER_CREDIT // 2:
            link.flow(SENDER_CREDIT - link.credit)

    @staticmethod
    def _settle_incoming(delivery: Any, error: tuple[str, str] | None) -> None:
        if delivery.settled:  # proton: settled by the remote peer
            delivery.settle()
            return
        if error is None:
            delivery.update(Delivery.ACCEPTED)
        else:
            delivery.local.condition = _condition(*error)
            delivery.update(Delivery.REJECTED)
        delivery.settle()

    def _accept_messages(self, delivery: Any, info: LinkInfo, payload: bytes) -> None:
        name = self.broker.display_name(info.address.key)
        limit = self.max_message_size
        if limit and len(payload) > limit:
            log.warning("%s: rejected a %d-byte transfer (limit %d)", name, len(payload), limit)
            error = ("amqp:link:message-size-exceeded", f"The message is larger than {limit} bytes.")
            self._settle_incoming(delivery, error)
            return
        try:
            messages, batch = codec.unpack_transfer(payload)
        except codec.CodecError as exc:
            log.warning("%s: rejected an undecodable message: %s", name, exc)
            self._settle_incoming(delivery, ("amqp:decode-error", str(exc)))
            return
        result = self.broker.enqueue(info.address.key, messages)
        log.info(
            "%s: received %s of %d message(s): %d accepted, %d duplicate(s) dropped",
            name,
            "a batch" if batch else "a transfer",
            len(messages),
            result.accepted,
            result.duplicates,
        )
        self._settle_incoming(delivery, None)
        for store_key in result.stores:
            self._pump(store_key)

    def _pump(self, store_key: str) -> None:
        """Send available messages to the consumers of a store that have credit, round robin."""
        consumers = [
            link
            for link in self._consumers.get(store_key, [])
            if link.state & Endpoint.LOCAL_ACTIVE and link.state & Endpoint.REMOTE_ACTIVE
        ]
        if not consumers:
            return
        turn = self._round_robin.get(store_key, 0)
        while self.broker.has_active(store_key):
            ready = [link for link in consumers if link.credit > 0]
            if not ready:
                break
            link = ready[turn % len(ready)]
            turn += 1
            info = _info(link)
            assert info is not None
            taken = self.broker.take(store_key, peek_lock=info.peek_lock)
            if taken is None:
                break
            delivery = link.delivery(taken.token.bytes_le)  # the SDK reads the lock token from the tag
            link.send(taken.payload)
            link.advance()
            if taken.lock_deadline is None:
                delivery.settle()
            else:
                delivery.peer_token = taken.token
                info.tokens.add(taken.token)
                self._deliveries[taken.token] = delivery
                self._watch_lock(taken.token, self.broker.lock_duration)
        self._round_robin[store_key] = turn
        if not self.broker.has_active(store_key):
            for link in consumers:
                if link.drain_mode and link.credit > 0:
                    link.drained()

    def _watch_lock(self, token: uuid.UUID, delay: float) -> None:
        self._container.schedule(delay, _Timer(functools.partial(self._lock_timer, token)))

    def _lock_timer(self, token: uuid.UUID) -> None:
        try:
            store_key, remaining = self.broker.expire(token)
            if remaining is not None:
                self._watch_lock(token, remaining)
            elif store_key is not None:
                self._pump(store_key)
        except Exception:
            log.exception("lock timer failed")

    def _outcome(self, delivery: Any) -> None:
        """A client receiver settled (or changed the state of) a message we sent it."""
        token = getattr(delivery, "peer_token", None)
        if not isinstance(token, uuid.UUID):
            if delivery.settled:  # proton: settled by the remote peer
                delivery.settle()
            return
        state = delivery.remote_state
        if state == Delivery.RECEIVED or (not state and not delivery.settled):
            return  # not a terminal outcome
        remote = delivery.remote
        if state == Delivery.ACCEPTED:
            settlement = Settlement(SettleKind.COMPLETE)
        elif state == Delivery.REJECTED:
            reason, description = self._dead_letter_details(remote.condition)
            settlement = Settlement(SettleKind.DEAD_LETTER, reason=reason, description=description)
        elif state == Delivery.MODIFIED:
            annotations = {str(k): codec.materialize(v) for k, v in (remote.annotations or {}).items()}
            if remote.undeliverable:
                kind = SettleKind.DEFER
            elif remote.failed:
                kind = SettleKind.ABANDON
            else:
                kind = SettleKind.RELEASE
            settlement = Settlement(kind, annotations=annotations)
        else:  # released, or settled without an outcome
            settlement = Settlement(SettleKind.RELEASE)
        result, store_key = self.broker.settle(token, settlement)
        self._deliveries.pop(token, None)
        info = _info(delivery.link)
        if info is not None:
            info.tokens.discard(token)
        if result is SettleResult.OK:
            log.debug("settled %s: %s", token, settlement.kind.value)
            if state == Delivery.MODIFIED:
                delivery.local.failed = remote.failed
                delivery.local.undeliverable = remote.undeliverable
            if state:
                delivery.update(state)  # echo the outcome: the SDK waits for it in peek-lock mode
        else:
            log.info("settlement of %s refused: lock lost", token)
            delivery.local.condition = _condition(LOCK_LOST, LOCK_LOST_DESCRIPTION)
            delivery.update(Delivery.REJECTED)
        delivery.settle()
        if store_key is not None:
            self._pump(store_key)

    @staticmethod
    def _dead_letter_details(condition: Any) -> tuple[str | None, str | None]:
        if condition is None:
            return None, None
        info = condition.info if isinstance(condition.info, Mapping) else {}
        details = {str(k): v for k, v in info.items()}
        reason = details.get(codec.DEAD_LETTER_REASON)
        description = details.get(codec.DEAD_LETTER_ERROR_DESCRIPTION, condition.description)
        return codec.to_text(reason), codec.to_text(description)

    # -- $cbs and $management ------------------------------------------------------------------

    def _reply_link(self, request_link: Any, address: Address, reply_to: str | None) -> Any:
        fallback = None
        link = request_link.connection.link_head(Endpoint.LOCAL_ACTIVE)
        while link is not None:
            info = _info(link)
            if link.is_sender and info is not None and info.role == "reply" and info.address == address:
                target = (link.remote_target.address or "").lower()
                if reply_to and target == reply_to.lower():
                    return link
                if fallback is None or link.session == request_link.session:
                    fallback = link
            link = link.next(Endpoint.LOCAL_ACTIVE)
        return fallback

    def _reply(self, request_link: Any, address: Address, request: Any, message: Any) -> None:
        link = self._reply_link(request_link, address, request.reply_to)
        if link is None:
            log.warning("no reply link for a request to %s (reply_to %r)", address.kind, request.reply_to)
            return
        delivery = link.send(message)
        delivery.settle()

    def _cbs(self, link: Any, request: Any) -> None:
        properties = request.properties or {}
        operation = str(properties.get("operation", ""))
        audience = str(properties.get("name") or "")
        if operation == "put-token" and not self.broker.knows(audience):
            # As Service Bus does: a token for an entity that does not exist is refused with 404,
            # which the SDK reports before it ever attaches a link.
            status, description = 404, f"The messaging entity '{audience}' could not be found."
            log.warning("$cbs: %s", description)
        elif operation == "put-token":
            status, description = 202, "Accepted"
            log.debug("put-token for %s (%s)", audience, properties.get("type"))
        else:
            status, description = 400, f"Unsupported $cbs operation {operation!r}"
            log.warning("$cbs: %s", description)
        reply = Message(
            correlation_id=request.id,
            properties={"status-code": status, "status-description": description},
        )
        self._reply(link, Address("cbs"), request, reply)

    def _management(self, link: Any, address: Address, request: Any) -> None:
        properties = request.properties or {}
        operation = str(properties.get("operation", ""))
        body = request.body if isinstance(request.body, dict) else {}
        body = {str(k): v for k, v in body.items()}
        try:
            answer = self._management_operation(address, operation, body)
        except Exception as exc:
            log.exception("management operation %s failed", operation)
            answer = MgmtReply(500, f"Internal error: {exc}", condition="amqp:internal-error")
        app_properties: dict[str, Any] = {
            "statusCode": answer.status,
            "statusDescription": answer.description,
        }
        if answer.condition:
            app_properties["errorCondition"] = symbol(answer.condition)
        log.info(
            "%s %s -> %d %s",
            self.broker.display_name(address.key),
            operation,
            answer.status,
            answer.description,
        )
        reply = Message(
            correlation_id=request.id,
            properties=app_properties,
            body=answer.body if answer.body is not None else {},
        )
        self._reply(link, address, request, reply)

    def _management_operation(self, address: Address, operation: str, body: dict[str, Any]) -> MgmtReply:
        store_key = address.key if self.broker.is_store(address.key) else None
        if store_key is None or operation not in (
            OP_UPDATE_DISPOSITION,
            OP_RENEW_LOCK,
            OP_PEEK,
            OP_RECEIVE_BY_SEQUENCE,
        ):
            return MgmtReply(
                501,
                f"The servicebus peer does not implement {operation!r} on this entity.",
                condition="amqp:not-implemented",
            )
        if operation == OP_UPDATE_DISPOSITION:
            return self._update_disposition(body)
        if operation == OP_RENEW_LOCK:
            expirations = self.broker.renew(_uuids(body.get("lock-tokens")))
            if expirations is None:
                return MgmtReply(410, LOCK_LOST_DESCRIPTION, condition=LOCK_LOST)
            stamps = [timestamp(ms) for ms in expirations]
            return MgmtReply(200, "OK", {"expirations": Array(None, Data.TIMESTAMP, *stamps)})
        if operation == OP_PEEK:
            start = int(body.get("from-sequence-number") or 1)
            count = int(body.get("message-count") or 1)
            payloads = self.broker.peek(store_key, start, count)
            if not payloads:
                return MgmtReply(204, "No messages to peek")
            return MgmtReply(200, "OK", {"messages": [{"message": p} for p in payloads]})
        # receive-by-sequence-number: deferred messages
        numbers = [int(n) for n in _elements(body.get("sequence-numbers"))]
        peek_lock = int(body.get("receiver-settle-mode", 1)) != 0
        received = self.broker.receive_deferred(store_key, numbers, peek_lock=peek_lock)
        if received is None:
            return MgmtReply(
                404,
                "Failed to retrieve the deferred message(s) for the given sequence number(s).",
                condition=f"{VENDOR}:message-not-found",
            )
        messages: list[dict[str, Any]] = []
        for payload, token in received:
            entry: dict[str, Any] = {"message": payload}
            if token is not None:
                entry["lock-token"] = token
                self._watch_lock(token, self.broker.lock_duration)
            messages.append(entry)
        return MgmtReply(200, "OK", {"messages": messages})

    def _update_disposition(self, body: dict[str, Any]) -> MgmtReply:
        status = str(body.get("disposition-status", "")).lower()
        kind = _DISPOSITIONS.get(status)
        if kind is None:
            description = f"Unknown disposition-status {status!r}"
            return MgmtReply(400, description, condition=f"{VENDOR}:argument-error")
        tokens = _uuids(body.get("lock-tokens"))
        if not tokens or any(self.broker.store_of(t) is None for t in tokens):
            return MgmtReply(410, LOCK_LOST_DESCRIPTION, condition=LOCK_LOST)
        settlement = Settlement(
            kind,
            reason=codec.to_text(body.get("deadletter-reason")),
            description=codec.to_text(body.get("deadletter-description")),
        )
        touched = set()
        for token in tokens:
            result, store_key = self.broker.settle(token, settlement)
            if store_key is not None:
                touched.add(store_key)
            delivery = self._deliveries.pop(token, None)
            if delivery is not None:
                info = _info(delivery.link)
                if info is not None:
                    info.tokens.discard(token)
                delivery.update(Delivery.ACCEPTED if result is SettleResult.OK else Delivery.RELEASED)
                delivery.settle()
        for store_key in touched:
            self._pump(store_key)
        return MgmtReply(200, "OK")


def _elements(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Array):
        return list(value.elements)
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _uuids(value: Any) -> list[uuid.UUID]:
    tokens = []
    for item in _elements(value):
        if isinstance(item, uuid.UUID):
            tokens.append(item)
        elif isinstance(item, bytes | bytearray) and len(item) == 16:
            tokens.append(uuid.UUID(bytes=bytes(item)))
        else:
            tokens.append(uuid.UUID(str(item)))
    return tokens
