"""Storage queue, Service Bus queue and timer triggers.

Storage queues behave as the Functions host's queue listener does: poll with exponential backoff up to
``maxPollingInterval`` while the queue is empty, fetch ``batchSize`` messages when fewer than
``newBatchThreshold`` are being processed, on failure make the message visible again after
``visibilityTimeout``, and once its dequeue count reaches ``maxDequeueCount`` move it to
``<queue>-poison``. Messages are base64 on the wire (``messageEncoding: base64``, the default): the
function gets the decoded bytes, and a message that is not valid base64 is moved to the poison queue at
once (what the Storage Queues extension v5 does). While a function runs, its message is kept invisible
by renewing a short lease (15 s, renewed every 5 s), so a killed host's messages come back within 15 s.

Service Bus queues use the real azure-servicebus SDK in peek-lock mode: complete on success, abandon on
failure (the broker dead-letters after its max delivery count).

Timers run a function on its NCRONTAB schedule (:mod:`local.host.schedule`), one invocation at a time: a tick
that comes while the previous run is still going is skipped, as the Functions host's singleton lock does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.functions.servicebus import ServiceBusMessage as FunctionServiceBusMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from .config import QueuesOptions, ServiceBusOptions, mask_secrets
from .schedule import Schedule

log = logging.getLogger("cvdsr.host")

Invoke = Callable[[dict[str, Any]], Awaitable[Any]]

LEASE_SECONDS = 15
RENEW_SECONDS = 5
MIN_POLL = 0.1
# A timer invocation that starts this much after its occurrence is past due (``TimerRequest.past_due``).
PAST_DUE_SECONDS = 1.0
# Timers wake at least this often to re-read the wall clock (it may be changed while they sleep).
TIMER_WAKE_SECONDS = 30.0


def encode_queue_message(body: str | bytes, encoding: str) -> str:
    data = body.encode("utf-8") if isinstance(body, str) else body
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    return data.decode("utf-8")


class StorageQueueListener:
    def __init__(
        self,
        function_name: str,
        connection_string: str,
        queue_name: str,
        options: QueuesOptions,
        invoke: Invoke,
        param_name: str,
    ) -> None:
        self.function_name = function_name
        self.queue_name = queue_name
        self.options = options
        self.invoke = invoke
        self.param_name = param_name
        self._conn = connection_string
        self.client = QueueClient.from_connection_string(connection_string, queue_name)
        self.poison = QueueClient.from_connection_string(connection_string, f"{queue_name}-poison")
        self._task: asyncio.Task[None] | None = None
        self._active: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.client.create_queue()
        self._task = asyncio.create_task(self._poll(), name=f"queue-listener {self.queue_name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
        for task in list(self._active):
            task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._active] if t), return_exceptions=True)
        await self.client.close()
        await self.poison.close()

    async def _poll(self) -> None:
        batch = self.options.batch_size
        threshold = self.options.new_batch_threshold
        threshold = batch // 2 if threshold is None else int(threshold)
        delay = MIN_POLL
        while not self._stopping:
            if len(self._active) > threshold:
                await asyncio.sleep(0.05)
                continue
            try:
                messages = [
                    m
                    async for m in self.client.receive_messages(
                        messages_per_page=batch, visibility_timeout=LEASE_SECONDS, max_messages=batch
                    )
                ]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("queue '%s': receive failed: %s", self.queue_name, mask_secrets(str(exc)))
                messages = []
                await asyncio.sleep(min(delay, self.options.max_polling_interval))
            if not messages:
                await asyncio.sleep(delay)
                delay = min(max(delay * 2, MIN_POLL), max(self.options.max_polling_interval, MIN_POLL))
                continue
            delay = MIN_POLL
            for message in messages:
                task = asyncio.create_task(self._process(message))
                self._active.add(task)
                task.add_done_callback(self._active.discard)

    async def _renew(self, message: QueueMessage, state: dict[str, Any]) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                updated = await self.client.update_message(
                    message.id, state["pop_receipt"], visibility_timeout=LEASE_SECONDS
                )
                state["pop_receipt"] = updated.pop_receipt
            except ResourceNotFoundError:
                return

    async def _process(self, message: QueueMessage) -> None:
        try:
            await self._process_one(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("queue '%s': message %s: %s", self.queue_name, message.id, mask_secrets(repr(exc)))

    async def _process_one(self, message: QueueMessage) -> None:
        state: dict[str, Any] = {"pop_receipt": message.pop_receipt}
        raw = message.content
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", errors="replace")
        if self.options.message_encoding == "base64":
            try:
                body = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                log.warning(
                    "queue '%s': message %s is not valid base64 (host.json queues.messageEncoding is base64); "
                    "moving it to '%s-poison'",
                    self.queue_name,
                    message.id,
                    self.queue_name,
                )
                await self._to_poison(message, text, state)
                return
        else:
            body = text.encode("utf-8")
        msg = FunctionQueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        renew = asyncio.create_task(self._renew(message, state))
        ok = False
        try:
            await self.invoke({self.param_name: msg})
            ok = True
        except asyncio.CancelledError:
            renew.cancel()
            raise
        except Exception:  # noqa: S110 - logged by the invoker; the message is retried or poisoned
            pass
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        try:
            if ok:
                await self.client.delete_message(message.id, state["pop_receipt"])
            elif (message.dequeue_count or 0) >= self.options.max_dequeue_count:
                log.warning(
                    "queue '%s': message %s has reached MaxDequeueCount of %d; moving it to '%s-poison'",
                    self.queue_name,
                    message.id,
                    self.options.max_dequeue_count,
                    self.queue_name,
                )
                await self._to_poison(message, text, state)
            else:
                await self.client.update_message(
                    message.id, state["pop_receipt"], visibility_timeout=int(self.options.visibility_timeout)
                )
        except ResourceNotFoundError:
            log.warning("queue '%s': message %s lease was lost", self.queue_name, message.id)

    async def _to_poison(self, message: QueueMessage, text: str, state: dict[str, Any]) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.poison.create_queue()
        await self.poison.send_message(text)
        await self.client.delete_message(message.id, state["pop_receipt"])


class ServiceBusQueueListener:
    def __init__(
        self,
        function_name: str,
        connection_string: str,
        queue_name: str,
        options: ServiceBusOptions,
        invoke: Invoke,
        param_name: str,
    ) -> None:
        self.function_name = function_name
        self.queue_name = queue_name
        self.options = options
        self.invoke = invoke
        self.param_name = param_name
        self._conn = connection_string
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"servicebus-listener {self.queue_name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        from azure.servicebus import ServiceBusReceiveMode
        from azure.servicebus.aio import AutoLockRenewer, ServiceBusClient

        backoff = 0.5
        while not self._stopping:
            # Like the Functions host: locks are renewed while a function runs, up to
            # maxAutoLockRenewalDuration.
            renewer = AutoLockRenewer(max_lock_renewal_duration=self.options.max_auto_lock_renewal_duration)
            try:
                async with ServiceBusClient.from_connection_string(self._conn) as client:
                    receiver = client.get_queue_receiver(
                        self.queue_name,
                        receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                        prefetch_count=0,
                        auto_lock_renewer=renewer,
                    )
                    async with receiver:
                        backoff = 0.5
                        sem = asyncio.Semaphore(max(1, self.options.max_concurrent_calls))
                        active: set[asyncio.Task[None]] = set()
                        while not self._stopping:
                            free = max(1, self.options.max_concurrent_calls - len(active))
                            messages = await receiver.receive_messages(max_message_count=free, max_wait_time=1)
                            for m in messages:
                                await sem.acquire()
                                task = asyncio.create_task(self._process(receiver, m, sem))
                                active.add(task)
                                task.add_done_callback(active.discard)
                            if not messages:
                                await asyncio.sleep(0)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await renewer.close()
                raise
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await renewer.close()
                log.warning(
                    "Service Bus queue '%s': %s; reconnecting in %.1fs",
                    self.queue_name,
                    mask_secrets(f"{type(exc).__name__}: {exc}"),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _process(self, receiver: Any, message: Any, sem: asyncio.Semaphore) -> None:
        try:
            props = {
                (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else v)
                for k, v in (message.application_properties or {}).items()
            }
            body_parts = message.body
            body = b"".join(body_parts) if not isinstance(body_parts, bytes | str) else body_parts
            if isinstance(body, str):
                body = body.encode("utf-8")
            msg = FunctionServiceBusMessage(
                body=body,
                application_properties=props,
                user_properties=props,
                content_type=message.content_type,
                correlation_id=message.correlation_id,
                delivery_count=message.delivery_count,
                enqueued_sequence_number=message.enqueued_sequence_number,
                enqueued_time_utc=message.enqueued_time_utc,
                expires_at_utc=message.expires_at_utc,
                label=message.subject,
                subject=message.subject,
                locked_until=message.locked_until_utc,
                lock_token=str(message.lock_token),
                message_id=str(message.message_id),
                partition_key=message.partition_key,
                reply_to=message.reply_to,
                reply_to_session_id=message.reply_to_session_id,
                scheduled_enqueue_time_utc=message.scheduled_enqueue_time_utc,
                sequence_number=message.sequence_number,
                session_id=message.session_id,
                time_to_live=message.time_to_live,
                to=message.to,
            )
            await self.invoke({self.param_name: msg})
            if self.options.auto_complete_messages:
                await receiver.complete_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("Service Bus queue '%s': abandoning %s: %s", self.queue_name, message.message_id, exc)
            try:
                await receiver.abandon_message(message)
            except Exception as settle_exc:
                log.warning(
                    "Service Bus queue '%s': abandon failed: %s", self.queue_name, mask_secrets(str(settle_exc))
                )
        finally:
            sem.release()


class TimerListener:
    """Invokes a timer-triggered function at each occurrence of its schedule (UTC), with a
    ``func.TimerRequest`` as the worker builds one; ``run_on_startup`` adds one run at start. A failed run
    is logged and the timer goes on."""

    def __init__(
        self, function_name: str, schedule: Schedule, run_on_startup: bool, invoke: Invoke, param_name: str
    ) -> None:
        self.function_name = function_name
        self.schedule = schedule
        self.run_on_startup = run_on_startup
        self.invoke = invoke
        self.param_name = param_name
        self._task: asyncio.Task[None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._last: dt.datetime | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"timer {self.function_name}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        now = dt.datetime.now(dt.UTC)
        due = self.schedule.next_after(now)
        if self.run_on_startup:
            self._fire(now, due, past_due=False)
        while True:
            wait = (due - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, TIMER_WAKE_SECONDS))
                continue
            now = dt.datetime.now(dt.UTC)
            # Occurrences missed while the loop was held up are not made up: the next one is after now.
            following = self.schedule.next_after(max(now, due))
            if self._running is not None and not self._running.done():
                log.info(
                    "timer '%s': skipping the run due at %s: the previous run is still going",
                    self.function_name,
                    due.isoformat(),
                )
            else:
                self._fire(due, following, past_due=(now - due).total_seconds() > PAST_DUE_SECONDS)
            due = following

    def _fire(self, occurrence: dt.datetime, following: dt.datetime, past_due: bool) -> None:
        # ScheduleStatus as the Functions host fills it in: the previous run's occurrence (none on the first).
        status = {"Next": following.isoformat(), "LastUpdated": dt.datetime.now(dt.UTC).isoformat()}
        if self._last is not None:
            status["Last"] = self._last.isoformat()
        self._last = occurrence
        request = TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True})
        self._running = asyncio.create_task(self._invoke(request), name=f"timer run {self.function_name}")

    async def _invoke(self, request: TimerRequest) -> None:
        try:
            await self.invoke({self.param_name: request})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "timer '%s': the run failed (the timer goes on): %s",
                self.function_name,
                mask_secrets(f"{type(exc).__name__}: {exc}"),
            )
