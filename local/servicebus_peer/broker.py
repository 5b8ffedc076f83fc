"""The in-memory Service Bus model: queues, topics, subscriptions, dead-letter queues and locks.

Nothing here touches the network. The AMQP handler calls the broker from the reactor thread; the
inspection helpers call it from test threads; one re-entrant lock guards all of it and a condition
wakes anyone waiting for messages to arrive.

Semantics kept from Service Bus:

- sequence numbers are per entity (a topic's number is shared by the copies in its subscriptions) and a
  dead-lettered message keeps its number;
- ``delivery_count`` starts at 0 and counts failed deliveries: an abandon (AMQP ``modified`` with
  ``delivery-failed``) or a lock that expires. When it reaches ``max_delivery_count`` the message moves
  to the dead-letter queue with reason ``MaxDeliveryCountExceeded``;
- a ``released`` delivery goes back without counting (the SDK releases messages it received while no
  receive call was active, so counting those would dead-letter messages no application ever saw);
- ``modified`` with ``undeliverable-here`` is the SDK's *defer*;
- a lock outlives the link and the connection that took it (as in Service Bus: a crashed consumer's
  messages come back when their locks expire), and can be settled or renewed through ``$management``;
- duplicate detection drops a message whose ``message_id`` was accepted within the window; the sender
  still gets ``accepted``.
"""

from __future__ import annotations

import bisect
import enum
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from . import codec
from ._log import log

DEAD_LETTER_SUFFIX = "$deadletterqueue"
TRANSFER_SUFFIX = "$transfer"
MANAGEMENT_SUFFIX = "/$management"
CBS_NODE = "$cbs"

MAX_DELIVERY_COUNT_REASON = "MaxDeliveryCountExceeded"


class PeerError(Exception):
    """Base class for errors the peer reports to callers."""


class UnknownEntityError(PeerError, KeyError):
    """The name does not match any configured queue, topic, subscription or dead-letter queue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown entity"


class MessageState(enum.Enum):
    ACTIVE = "active"
    LOCKED = "locked"
    DEFERRED = "deferred"


class SettleKind(enum.Enum):
    COMPLETE = "complete"
    ABANDON = "abandon"  # counts as a failed delivery
    RELEASE = "release"  # goes back without counting
    DEFER = "defer"
    DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class Settlement:
    kind: SettleKind
    annotations: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    description: str | None = None


class SettleResult(enum.Enum):
    OK = "ok"
    LOCK_LOST = "lock-lost"


@dataclass(frozen=True)
class PeerMessage:
    """A snapshot of one message held by the peer, for tests and the command line.

    ``body`` is ``bytes`` for a data body (sections joined), the value for an amqp-value body and a
    list for amqp-sequence bodies. ``application_properties`` has ``str`` keys and plain Python values.
    """

    entity: str
    sequence_number: int
    enqueued_time: datetime
    delivery_count: int
    state: str
    message_id: Any
    correlation_id: Any
    subject: str | None
    content_type: str | None
    to: str | None
    reply_to: str | None
    session_id: str | None
    application_properties: dict[str, Any]
    body: Any
    body_type: str
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None

    def text(self) -> str:
        body = self.body
        if isinstance(body, bytes):
            return body.decode("utf-8")
        return str(body)

    def json(self) -> Any:
        return codec.json_body(self.body)


@dataclass(eq=False)
class StoredMessage:
    message: codec.AmqpMessage
    sequence_number: int
    enqueued_time_ms: int
    delivery_count: int = 0
    state: MessageState = MessageState.ACTIVE
    deferred: bool = False  # returns to the deferred set, not the active list, when its lock ends
    lock_token: uuid.UUID | None = None
    lock_deadline: float = 0.0  # monotonic
    locked_until_ms: int = 0  # wall clock, for x-opt-locked-until
    extra_annotations: dict[str, Any] = field(default_factory=dict)
    extra_application_properties: dict[str, Any] = field(default_factory=dict)

    def payload(self, *, include_lock: bool) -> bytes:
        annotations = dict(self.extra_annotations)
        annotations.update(
            codec.broker_annotations(
                sequence_number=self.sequence_number,
                enqueued_time_ms=self.enqueued_time_ms,
                locked_until_ms=self.locked_until_ms if include_lock else None,
                state=1 if self.deferred else None,
            )
        )
        return self.message.encode(
            delivery_count=self.delivery_count,
            annotations=annotations,
            extra_application_properties=self.extra_application_properties or None,
        )


@dataclass(frozen=True)
class Taken:
    """A message handed to a consumer: its lock token (also the 16-byte delivery tag) and bytes."""

    token: uuid.UUID
    payload: bytes
    lock_deadline: float | None  # monotonic; None in receive-and-delete mode


class Store:
    """The messages of a queue, a subscription or a dead-letter queue."""

    def __init__(self, name: str, *, max_delivery_count: int | None, dead_letter: Store | None) -> None:
        self.name = name
        self.key = name.lower()
        self.max_delivery_count = max_delivery_count
        self.dead_letter = dead_letter
        self._active: list[StoredMessage] = []  # ordered by sequence number
        self._locked: dict[uuid.UUID, StoredMessage] = {}
        self._deferred: dict[int, StoredMessage] = {}

    def add(self, message: StoredMessage) -> None:
        message.state = MessageState.DEFERRED if message.deferred else MessageState.ACTIVE
        message.lock_token = None
        if message.deferred:
            self._deferred[message.sequence_number] = message
        else:
            bisect.insort(self._active, message, key=lambda m: m.sequence_number)

    def has_active(self) -> bool:
        return bool(self._active)

    def pop_active(self) -> StoredMessage | None:
        return self._active.pop(0) if self._active else None

    def lock(self, message: StoredMessage, token: uuid.UUID) -> None:
        message.state = MessageState.LOCKED
        message.lock_token = token
        self._locked[token] = message

    def unlock(self, token: uuid.UUID) -> StoredMessage | None:
        return self._locked.pop(token, None)

    def locked(self, token: uuid.UUID) -> StoredMessage | None:
        return self._locked.get(token)

    def take_deferred(self, sequence_number: int) -> StoredMessage | None:
        return self._deferred.pop(sequence_number, None)

    def all(self) -> list[StoredMessage]:
        everything = [*self._active, *self._locked.values(), *self._deferred.values()]
        return sorted(everything, key=lambda m: m.sequence_number)

    def clear(self) -> list[uuid.UUID]:
        tokens = list(self._locked)
        self._active.clear()
        self._locked.clear()
        self._deferred.clear()
        return tokens


class DuplicateDetector:
    """Remembers accepted message ids for a window, as Service Bus duplicate detection does."""

    def __init__(self, window_seconds: float, monotonic: Callable[[], float]) -> None:
        self.window = window_seconds
        self._monotonic = monotonic
        self._seen: OrderedDict[str, float] = OrderedDict()

    def is_duplicate(self, message_id: Any) -> bool:
        """True when ``message_id`` was seen within the window; otherwise remember it."""
        if message_id is None:
            return False
        now = self._monotonic()
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.window:
                break
            del self._seen[oldest_id]
        key = f"{type(message_id).__name__}:{message_id!s}"
        if key in self._seen:
            return True
        self._seen[key] = now
        return False


class Entity:
    """Something a client can send to: a queue (one store) or a topic (one store per subscription)."""

    def __init__(self, name: str, stores: list[Store], duplicates: DuplicateDetector | None) -> None:
        self.name = name
        self.key = name.lower()
        self.stores = stores
        self.duplicates = duplicates
        self._next_sequence = 1

    def next_sequence_number(self) -> int:
        number = self._next_sequence
        self._next_sequence += 1
        return number


@dataclass(frozen=True)
class Address:
    """What an AMQP link address points at.

    ``kind`` is ``"cbs"``, ``"management"`` (``key`` = the entity or store it manages), ``"entity"``
    (a queue or topic, something to send to) or ``"store"`` (something to receive from).
    """

    kind: str
    key: str = ""


@dataclass(frozen=True)
class EnqueueResult:
    accepted: int
    duplicates: int
    stores: tuple[str, ...]


def entity_path(address: str) -> str:
    """The entity path of a link address (``amqps://host:port/queue`` -> ``queue``), lower case."""
    path = address or ""
    if "://" in path:
        path = urlsplit(path).path
    return path.strip("/").lower()


class Broker:
    """All entities of one peer. Thread-safe."""

    def __init__(
        self,
        *,
        queues: Iterable[str],
        topics: Mapping[str, Iterable[str]],
        max_delivery_count: int,
        lock_duration_seconds: float,
        duplicate_detection_window_seconds: float = 600.0,
        duplicate_detection_on_queues: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_delivery_count < 1:
            raise ValueError("max_delivery_count must be at least 1")
        if lock_duration_seconds <= 0:
            raise ValueError("lock_duration_seconds must be positive")
        self.max_delivery_count = max_delivery_count
        self.lock_duration = float(lock_duration_seconds)
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._entities: dict[str, Entity] = {}
        self._stores: dict[str, Store] = {}
        self._token_index: dict[uuid.UUID, Store] = {}

        def detector(enabled: bool) -> DuplicateDetector | None:
            if enabled and duplicate_detection_window_seconds > 0:
                return DuplicateDetector(duplicate_detection_window_seconds, monotonic)
            return None

        for queue in queues:
            self._check_name(queue)
            store = self._new_store(queue)
            self._add_entity(Entity(queue, [store], detector(duplicate_detection_on_queues)))
        for topic, subscriptions in topics.items():
            self._check_name(topic)
            stores = []
            for subscription in subscriptions:
                self._check_name(subscription)
                stores.append(self._new_store(f"{topic}/Subscriptions/{subscription}"))
            self._add_entity(Entity(topic, stores, detector(True)))

    # -- configuration -------------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if not name or "/" in name or name.startswith("$") or name != name.strip():
            raise ValueError(f"invalid entity name {name!r}")

    def _add_entity(self, entity: Entity) -> None:
        if entity.key in self._entities:
            raise ValueError(f"entity {entity.name!r} is configured twice")
        self._entities[entity.key] = entity

    def _new_store(self, name: str) -> Store:
        dead_letter = Store(f"{name}/$DeadLetterQueue", max_delivery_count=None, dead_letter=None)
        transfer = Store(f"{name}/$Transfer/$DeadLetterQueue", max_delivery_count=None, dead_letter=None)
        store = Store(name, max_delivery_count=self.max_delivery_count, dead_letter=dead_letter)
        for s in (store, dead_letter, transfer):
            self._stores[s.key] = s
        return store

    @property
    def entity_names(self) -> list[str]:
        return [e.name for e in self._entities.values()]

    @property
    def store_names(self) -> list[str]:
        return [s.name for s in self._stores.values()]

    # -- addressing ----------------------------------------------------------------------------

    def resolve(self, address: str, *, receiving: bool) -> Address | None:
        """Map a link address to a node, or None when nothing of that name exists.

        A client's sender (``receiving=False``) may target a queue or topic; a client's receiver
        (``receiving=True``) may read a queue, subscription or dead-letter queue. Both may open the
        ``$cbs`` node and an entity's ``$management`` node.
        """
        path = entity_path(address)
        if path == CBS_NODE:
            return Address("cbs")
        if path.endswith(MANAGEMENT_SUFFIX):
            managed = path[: -len(MANAGEMENT_SUFFIX)]
            if managed in self._stores or managed in self._entities:
                return Address("management", managed)
            return None
        if receiving:
            return Address("store", path) if path in self._stores else None
        return Address("entity", path) if path in self._entities else None

    def knows(self, audience: str) -> bool:
        """Whether a token audience (``sb://host/entity/path``) names the namespace or an entity of it."""
        path = entity_path(audience)
        return path == "" or path in self._entities or path in self._stores

    def is_store(self, key: str) -> bool:
        return key in self._stores

    def store_key(self, name: str) -> str:
        """The key of the store a user-facing name refers to; raises UnknownEntityError."""
        path = entity_path(name)
        if path in self._stores:
            return path
        if path in self._entities:
            raise UnknownEntityError(
                f"{name!r} is a topic; topics hold no messages, name a subscription ('{name}/subscriptions/<name>')"
            )
        raise UnknownEntityError(f"no queue, subscription or dead-letter queue named {name!r}")

    def display_name(self, key: str) -> str:
        store = self._stores.get(key)
        if store is not None:
            return store.name
        entity = self._entities.get(key)
        return entity.name if entity is not None else key

    # -- sending -------------------------------------------------------------------------------

    def enqueue(self, entity_key: str, messages: Iterable[codec.AmqpMessage]) -> EnqueueResult:
        with self._lock:
            entity = self._entities[entity_key]
            accepted = duplicates = 0
            for message in messages:
                if entity.duplicates is not None and entity.duplicates.is_duplicate(message.message_id):
                    duplicates += 1
                    log.info("%s: dropped duplicate message_id %r", entity.name, message.message_id)
                    continue
                enqueued_ms = int(self._clock() * 1000)
                sequence = entity.next_sequence_number()
                for store in entity.stores:
                    store.add(StoredMessage(message, sequence, enqueued_ms))
                accepted += 1
            if accepted:
                self._changed.notify_all()
            return EnqueueResult(accepted, duplicates, tuple(s.key for s in entity.stores))

    # -- receiving -----------------------------------------------------------------------------

    def has_active(self, store_key: str) -> bool:
        with self._lock:
            return self._stores[store_key].has_active()

    def take(self, store_key: str, *, peek_lock: bool) -> Taken | None:
        """Hand the next active message to a consumer: lock it, or remove it (receive-and-delete)."""
        with self._lock:
            store = self._stores[store_key]
            message = store.pop_active()
            if message is None:
                return None
            token = uuid.uuid4()
            if not peek_lock:
                self._changed.notify_all()
                return Taken(token, message.payload(include_lock=False), None)
            self._lock_message(store, message, token)
            return Taken(token, message.payload(include_lock=True), message.lock_deadline)

    def _lock_message(self, store: Store, message: StoredMessage, token: uuid.UUID) -> None:
        message.lock_deadline = self._monotonic() + self.lock_duration
        message.locked_until_ms = int((self._clock() + self.lock_duration) * 1000)
        store.lock(message, token)
        self._token_index[token] = store

    def store_of(self, token: uuid.UUID) -> str | None:
        with self._lock:
            store = self._token_index.get(token)
            return store.key if store is not None else None

    def settle(self, token: uuid.UUID, settlement: Settlement) -> tuple[SettleResult, str | None]:
        """Apply an outcome to a locked message. Returns the result and the store it touched."""
        with self._lock:
            store = self._token_index.pop(token, None)
            message = store.unlock(token) if store is not None else None
            if store is None or message is None:
                return SettleResult.LOCK_LOST, None
            self._finish(store, message, settlement)
            self._changed.notify_all()
            return SettleResult.OK, store.key

    def _finish(self, store: Store, message: StoredMessage, settlement: Settlement) -> None:
        kind = settlement.kind
        for key, value in settlement.annotations.items():
            message.extra_annotations[str(key)] = value
        if kind is SettleKind.COMPLETE:
            log.debug("%s: completed #%d", store.name, message.sequence_number)
            return
        if kind is SettleKind.DEAD_LETTER:
            self._dead_letter(store, message, settlement.reason, settlement.description)
            return
        if kind is SettleKind.DEFER:
            message.deferred = True
            store.add(message)
            return
        if kind is SettleKind.ABANDON:
            message.delivery_count += 1
            limit = store.max_delivery_count
            if limit is not None and message.delivery_count >= limit and not message.deferred:
                self._dead_letter(
                    store,
                    message,
                    MAX_DELIVERY_COUNT_REASON,
                    f"Message could not be consumed after {limit} delivery attempts.",
                )
                return
        store.add(message)

    def _dead_letter(self, store: Store, message: StoredMessage, reason: str | None, description: str | None) -> None:
        target = store.dead_letter
        if target is None:
            log.warning(
                "%s: cannot dead-letter #%d from a dead-letter queue; kept",
                store.name,
                message.sequence_number,
            )
            store.add(message)
            return
        message.deferred = False
        if reason is not None:
            message.extra_application_properties[codec.DEAD_LETTER_REASON] = reason
        if description is not None:
            message.extra_application_properties[codec.DEAD_LETTER_ERROR_DESCRIPTION] = description
        target.add(message)
        log.info("%s: dead-lettered #%d (%s)", store.name, message.sequence_number, reason)

    def expire(self, token: uuid.UUID) -> tuple[str | None, float | None]:
        """Called when a lock timer fires.

        Returns ``(store_key, None)`` when the lock expired now and the message went back (or to the
        dead-letter queue), ``(None, seconds_left)`` when the lock was renewed meanwhile, and
        ``(None, None)`` when the lock is already gone.
        """
        with self._lock:
            store = self._token_index.get(token)
            message = store.locked(token) if store is not None else None
            if store is None or message is None:
                return None, None
            remaining = message.lock_deadline - self._monotonic()
            if remaining > 0:
                return None, remaining
            log.info(
                "%s: lock on #%d expired (delivery %d)",
                store.name,
                message.sequence_number,
                message.delivery_count + 1,
            )
            self._token_index.pop(token, None)
            store.unlock(token)
            self._finish(store, message, Settlement(SettleKind.ABANDON))
            self._changed.notify_all()
            return store.key, None

    def renew(self, tokens: Iterable[uuid.UUID]) -> list[int] | None:
        """Extend locks; returns the new locked-until times (ms) or None if any lock is gone."""
        with self._lock:
            found: list[StoredMessage] = []
            for token in tokens:
                store = self._token_index.get(token)
                message = store.locked(token) if store is not None else None
                if message is None:
                    return None
                found.append(message)
            now, wall = self._monotonic(), self._clock()
            for message in found:
                message.lock_deadline = now + self.lock_duration
                message.locked_until_ms = int((wall + self.lock_duration) * 1000)
            return [m.locked_until_ms for m in found]

    def peek(self, store_key: str, from_sequence: int, count: int) -> list[bytes]:
        with self._lock:
            candidates = [m for m in self._stores[store_key].all() if m.sequence_number >= from_sequence]
            return [m.payload(include_lock=False) for m in candidates[: max(count, 0)]]

    def receive_deferred(
        self, store_key: str, sequence_numbers: Iterable[int], *, peek_lock: bool
    ) -> list[tuple[bytes, uuid.UUID | None]] | None:
        """Take deferred messages by sequence number; None when any of them is not deferred here."""
        with self._lock:
            store = self._stores[store_key]
            wanted = [int(n) for n in sequence_numbers]
            taken: list[StoredMessage] = []
            for number in wanted:
                message = store.take_deferred(number)
                if message is None:
                    for m in taken:
                        store.add(m)
                    return None
                taken.append(message)
            result: list[tuple[bytes, uuid.UUID | None]] = []
            for message in taken:
                if peek_lock:
                    token = uuid.uuid4()
                    self._lock_message(store, message, token)
                    result.append((message.payload(include_lock=True), token))
                else:
                    result.append((message.payload(include_lock=False), None))
            self._changed.notify_all()
            return result

    def lock_deadline(self, token: uuid.UUID) -> float | None:
        with self._lock:
            store = self._token_index.get(token)
            message = store.locked(token) if store is not None else None
            return message.lock_deadline if message is not None else None

    # -- inspection ----------------------------------------------------------------------------

    def _snapshot(self, store: Store) -> list[PeerMessage]:
        result = []
        for stored in store.all():
            message = stored.message
            app_properties = {
                str(k): codec.plain(v)
                for k, v in {**message.application_properties, **stored.extra_application_properties}.items()
            }
            result.append(
                PeerMessage(
                    entity=store.name,
                    sequence_number=stored.sequence_number,
                    enqueued_time=datetime.fromtimestamp(stored.enqueued_time_ms / 1000, tz=UTC),
                    delivery_count=stored.delivery_count,
                    state=stored.state.value,
                    message_id=codec.plain(message.field("message_id")),
                    correlation_id=codec.plain(message.field("correlation_id")),
                    subject=codec.to_text(message.field("subject")),
                    content_type=codec.to_text(message.field("content_type")),
                    to=codec.to_text(message.field("to")),
                    reply_to=codec.to_text(message.field("reply_to")),
                    session_id=codec.to_text(message.field("group_id")),
                    application_properties=app_properties,
                    body=codec.plain(message.body_value),
                    body_type=message.body_type,
                    dead_letter_reason=codec.to_text(app_properties.get(codec.DEAD_LETTER_REASON)),
                    dead_letter_error_description=codec.to_text(
                        app_properties.get(codec.DEAD_LETTER_ERROR_DESCRIPTION)
                    ),
                )
            )
        return result

    def messages(self, name: str) -> list[PeerMessage]:
        with self._lock:
            return self._snapshot(self._stores[self.store_key(name)])

    def wait_for(self, name: str, count: int, timeout: float) -> list[PeerMessage]:
        deadline = self._monotonic() + timeout
        with self._lock:
            store = self._stores[self.store_key(name)]
            while True:
                snapshot = self._snapshot(store)
                if len(snapshot) >= count:
                    return snapshot
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{store.name} holds {len(snapshot)} message(s) after {timeout:g} s; expected {count}"
                    )
                self._changed.wait(remaining)

    def purge(self, name: str | None = None) -> int:
        """Drop every message (of one store, or of all stores); returns how many were dropped."""
        with self._lock:
            stores = [self._stores[self.store_key(name)]] if name is not None else list(self._stores.values())
            dropped = 0
            for store in stores:
                dropped += len(store.all())
                for token in store.clear():
                    self._token_index.pop(token, None)
            self._changed.notify_all()
            return dropped
