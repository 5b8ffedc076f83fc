"""The Durable Task part of the host: orchestration episodes, activities, timers, sub-orchestrations, and
the client operations behind the extension's HTTP API.

Durability model (single host per task hub, enforced by a blob lease):

- The committed history in ``HHistory`` (up to ``HistoryCount`` of the ``HInstances`` row) is the truth.
  An episode loads it plus the instance's inbox messages, replays the orchestrator through the library's
  own handle, simulates the extension's shim over the returned actions (:mod:`.replay`), writes the new
  history rows, then replaces the instance row with an ETag condition (the commit), then deletes the
  consumed inbox rows and dispatches the new work (activities, timers, sub-orchestrations).
- Work in flight is not stored separately: on start the host derives it from the committed histories
  (scheduled tasks without completion and without a completion waiting in the inbox are dispatched
  again). So a host killed at any point re-runs only activities whose result had not been recorded.
- Completions are written to the inbox under deterministic keys (``task-{ExecutionId}-{id}``), so a
  duplicate is an overwrite, and an inbox row already reflected in the history (its key is recorded as
  the event's ``Source``) is dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter, OrchestrationTriggerConverter

from . import history as h
from .config import DurableOptions, mask_secrets
from .history import TERMINAL_STATUSES, Event, EventType
from .invoke import call_user_function, format_exception
from .loader import FunctionApp, FunctionInfo
from .replay import (
    ArgumentRefused,
    NonDeterminismError,
    ScheduledAction,
    UnsupportedActionError,
    instance_id_refusal,
    simulate,
)
from .store import ConcurrencyError, DurableStore, InstanceRecord, next_seq

log = logging.getLogger("cvdsr.host")

OOPROC_LABEL = "\n\n$OutOfProcData$:"
# What the Durable extension sends for the Azure Storage provider.
MAX_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"


def _status_time(value: str) -> str:
    """``createdTime``/``lastUpdatedTime`` as the HTTP API formats them (``ToString("s") + "Z"``)."""
    if not value:
        return ""
    return h.parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loads(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


MAX_CUSTOM_STATUS_KB = 16  # DurableOrchestrationContext.SetCustomStatus in the extension


def custom_status_refusal(value: Any) -> str | None:
    """The extension's limit on custom status: its JSON (as Newtonsoft writes it) measured in UTF-16,
    whole KB rounded down, at most 16; over it, the message SetCustomStatus throws."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    size_kb = int(len(text.encode("utf-16-le")) / 1024.0)
    if size_kb > MAX_CUSTOM_STATUS_KB:
        return (
            f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_KB} KB. "
            f"The current payload size is {size_kb} KB."
        )
    return None


class DurableEngine:
    def __init__(
        self,
        app: FunctionApp,
        store: DurableStore,
        options: DurableOptions,
        *,
        project_dir: str,
        function_executor: ThreadPoolExecutor,
    ) -> None:
        self.app = app
        self.store = store
        self.options = options
        self.project_dir = project_dir
        self.orchestrator_executor = ThreadPoolExecutor(
            max_workers=max(1, options.max_concurrent_orchestrators), thread_name_prefix="orchestrator"
        )
        self.activity_executor = ThreadPoolExecutor(
            max_workers=max(1, options.max_concurrent_activities), thread_name_prefix="activity"
        )
        self.function_executor = function_executor
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._rerun: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._activity_sem = asyncio.Semaphore(max(1, options.max_concurrent_activities))
        self._inflight: set[tuple[str, str, int]] = set()
        self._timers: dict[tuple[str, str, int], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.recover()
        for i in range(max(1, self.options.max_concurrent_orchestrators)):
            self._workers.append(asyncio.create_task(self._worker(), name=f"orchestration-worker-{i}"))

    async def stop(self) -> None:
        self._stopping = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for worker in self._workers:
            worker.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*self._workers, *tasks, return_exceptions=True)
        self.orchestrator_executor.shutdown(wait=False, cancel_futures=True)
        self.activity_executor.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                log.error("%s failed: %s", name, mask_secrets(f"{type(exc).__name__}: {exc}"))

        task.add_done_callback(done)

    def lock(self, instance_id: str) -> asyncio.Lock:
        lock = self._locks.get(instance_id)
        if lock is None:
            lock = self._locks[instance_id] = asyncio.Lock()
        return lock

    def notify(self, instance_id: str) -> None:
        """Schedule an episode for the instance (its inbox changed)."""
        if self._stopping:
            return
        if instance_id in self._running:
            self._rerun.add(instance_id)
        elif instance_id not in self._queued:
            self._queued.add(instance_id)
            self._queue.put_nowait(instance_id)

    async def _worker(self) -> None:
        while True:
            instance_id = await self._queue.get()
            self._queued.discard(instance_id)
            self._running.add(instance_id)
            try:
                await self._episode(instance_id)
            except asyncio.CancelledError:
                raise
            except ConcurrencyError:
                self._rerun.add(instance_id)
            except Exception as exc:
                log.exception("orchestration episode for %s failed: %s", instance_id, mask_secrets(str(exc)))
                await asyncio.sleep(1.0)
                self._rerun.add(instance_id)
            finally:
                self._running.discard(instance_id)
            if instance_id in self._rerun:
                self._rerun.discard(instance_id)
                self.notify(instance_id)

    # --- recovery -----------------------------------------------------------------------------
    async def recover(self) -> None:
        """Derive the work in flight from the committed state (after a restart, crash or not)."""
        records = await self.store.list_instances()
        resumed = 0
        for rec in records:
            if rec.runtime_status in TERMINAL_STATUSES:
                if rec.parent and not rec.parent_notified:
                    async with self.lock(rec.instance_id):
                        await self._notify_parent(rec)
                continue
            history, _ = await self.store.load_history(rec.instance_id, rec.execution_id, rec.history_count)
            inbox_keys = {k for k, _ in await self.store.list_inbox(rec.instance_id)}
            completed = _completed_ids(history)
            for event in history:
                etype = event["EventType"]
                event_id = int(event.get("EventId", -1))
                if event_id < 0 or event_id in completed:
                    continue
                if etype == EventType.TaskScheduled:
                    if f"task-{rec.execution_id}-{event_id:08d}" not in inbox_keys:
                        self._dispatch_activity(rec.instance_id, rec.execution_id, event)
                elif etype == EventType.TimerCreated:
                    if f"timer-{rec.execution_id}-{event_id:08d}" not in inbox_keys:
                        self._schedule_timer(rec.instance_id, rec.execution_id, event_id, str(event["FireAt"]))
                elif etype == EventType.SubOrchestrationInstanceCreated and (
                    f"sub-{rec.execution_id}-{event_id:08d}" not in inbox_keys
                ):
                    action = ScheduledAction(
                        event_id,
                        "suborchestration",
                        name=str(event["Name"]),
                        input=event.get("Input"),
                        instance_id=str(event["InstanceId"]),
                    )
                    await self._create_child(rec, action)
            if inbox_keys:
                self.notify(rec.instance_id)
            resumed += 1
        if resumed:
            log.info("Resumed %d running orchestration instance(s) from task hub '%s'", resumed, self.store.hub)

    # --- episodes -----------------------------------------------------------------------------
    async def _episode(self, instance_id: str) -> None:
        async with self.lock(instance_id):
            rec = await self.store.get_instance(instance_id)
            if rec is None:
                return
            inbox = await self.store.list_inbox(instance_id)
            if not inbox:
                return
            past, consumed = await self.store.load_history(instance_id, rec.execution_id, rec.history_count)
            await self._run_episode(rec, past, consumed, inbox)

    async def _run_episode(
        self,
        rec: InstanceRecord,
        past: list[Event],
        consumed: set[str],
        inbox: list[tuple[str, dict[str, Any]]],
    ) -> None:
        iid = rec.instance_id
        drop: list[str] = []
        new: list[tuple[Event, str]] = []
        terminate: tuple[str, dict[str, Any]] | None = None
        started = bool(past)
        scheduled_ids = {int(e["EventId"]) for e in past if e["EventType"] in _SCHEDULING}
        completed = _completed_ids(past)
        terminal = rec.runtime_status in TERMINAL_STATUSES
        for key, msg in inbox:
            kind = msg.get("kind")
            if key in consumed or terminal:
                drop.append(key)
                continue
            if kind == "start":
                if msg.get("execution_id") != rec.execution_id or started:
                    drop.append(key)
                    continue
                new.append((msg["event"], key))
                started = True
            elif kind in ("task", "timer", "sub"):
                event = msg["event"]
                task_id = int(event.get("TaskScheduledId", event.get("TimerId", -1)))
                if msg.get("execution_id") != rec.execution_id or task_id in completed:
                    drop.append(key)
                    continue
                if task_id not in scheduled_ids:
                    continue  # not committed yet (cannot normally happen): keep it for later
                new.append((event, key))
                completed.add(task_id)
            elif kind == "event":
                if not started:
                    continue  # wait for ExecutionStarted
                new.append((msg["event"], key))
            elif kind == "terminate":
                if started or rec.runtime_status == "Pending":
                    terminate = (key, msg)
                    break
                drop.append(key)
            else:
                drop.append(key)
        if terminate is None and not new:
            await self.store.delete_inbox(iid, drop)
            return
        now = h.utcnow()
        if past:
            last = max(h.parse_time(e["Timestamp"]) for e in past)
            if now <= last:
                now = last + dt.timedelta(microseconds=1)
        if terminate is not None:
            await self._terminate_episode(rec, past, now, terminate, drop)
            return
        await self._orchestrate(rec, past, new, now, drop)

    async def _orchestrate(
        self,
        rec: InstanceRecord,
        past: list[Event],
        new: list[tuple[Event, str]],
        now: dt.datetime,
        drop: list[str],
    ) -> None:
        iid = rec.instance_id
        episode: list[tuple[Event, str]] = [(h.orchestrator_started(now), ""), *new]
        full: list[Event] = []
        for event in past:
            full.append({**event, "IsPlayed": True})
        for event, _ in episode:
            full.append({**event, "IsPlayed": False})
        started_event = next((e for e in full if e["EventType"] == EventType.ExecutionStarted), None)
        if started_event is None:
            return
        name = str(started_event.get("Name"))
        input_json = started_event.get("Input")
        parent = rec.parent
        fn = self.app.orchestrator(name)
        outcome = "running"
        output_json: str | None = None
        failure: str | None = None
        new_actions: list[ScheduledAction] = []
        can_input: str | None = None
        custom_status = rec.custom_status
        began = time.monotonic()
        if fn is None:
            outcome, failure = "failed", f"The orchestrator function '{name}' doesn't exist."
        else:
            context = {
                "history": full,
                "input": _loads(input_json),
                "instanceId": iid,
                "isReplaying": bool(past),
                "parentInstanceId": parent.get("instance_id") if parent else None,
                "upperSchemaVersion": 1,
                "upperSchemaVersionNew": 2,
                "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
                "maximumShortTimerDuration": MAX_SHORT_TIMER,
                "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
            }
            log.info("Executing 'Functions.%s' (Orchestrator, replay of %d events) instance=%s", name, len(full), iid)
            loop = asyncio.get_running_loop()
            state, error, hard = await loop.run_in_executor(
                self.orchestrator_executor, _invoke_orchestrator, fn, json.dumps(context)
            )
            oversized = None
            if state.get("customStatus") is not None:
                oversized = custom_status_refusal(state["customStatus"])
                if oversized is None:
                    custom_status = json.dumps(state["customStatus"])
            if oversized is not None:  # SetCustomStatus throws: the orchestration fails, its status unchanged
                outcome, failure = "failed", oversized
            elif hard:
                outcome, failure = "failed", error
            else:
                try:
                    sim = simulate(state.get("actions") or [], full, iid, rec.execution_id)
                except (NonDeterminismError, UnsupportedActionError, ArgumentRefused) as exc:
                    outcome, failure = "failed", str(exc)
                else:
                    new_actions = sim.new_actions
                    if sim.walk_finished and error is not None:
                        outcome, failure = "failed", error
                    elif sim.walk_finished and state.get("isDone"):
                        if sim.continue_as_new:
                            outcome, can_input = "continued", sim.continue_as_new_input
                        else:
                            outcome = "completed"
                            output_json = json.dumps(state.get("output"))
        for action in new_actions:
            episode.append((_scheduling_event(now, action), ""))
        if outcome == "failed":
            message = f"Orchestrator function '{name}' failed: {failure}"
            output_json = json.dumps(message)
            episode.append((h.execution_completed(now, h.OrchestrationStatus.Failed, output_json, message), ""))
        elif outcome == "completed":
            episode.append((h.execution_completed(now, h.OrchestrationStatus.Completed, output_json), ""))
        elif outcome == "continued":
            episode.append((h.continue_as_new(now, can_input), ""))
        episode.append((h.orchestrator_completed(now), ""))

        await self.store.append_history(iid, rec.execution_id, len(past), episode)
        consumed_keys = [src for _, src in episode if src]
        rec.history_count = len(past) + len(episode)
        rec.custom_status = custom_status
        rec.last_updated_time = h.fmt_time(now)
        old_execution = rec.execution_id
        if outcome == "completed":
            rec.runtime_status, rec.output = "Completed", output_json
        elif outcome == "failed":
            rec.runtime_status, rec.output = "Failed", output_json
        elif outcome == "continued":
            new_execution = uuid.uuid4().hex
            start = h.execution_started(
                now,
                name=name,
                instance_id=iid,
                execution_id=new_execution,
                input_json=can_input,
                parent=started_event.get("ParentInstance"),
            )
            await self.store.put_inbox(
                iid, f"start-{new_execution}", {"kind": "start", "execution_id": new_execution, "event": start}
            )
            rec.runtime_status, rec.execution_id, rec.history_count = "ContinuedAsNew", new_execution, 0
            rec.input, rec.output = can_input, None
        else:
            rec.runtime_status = "Running"
        await self.store.replace_instance(rec)  # the commit point
        await self.store.delete_inbox(iid, consumed_keys + drop)
        ms = (time.monotonic() - began) * 1000
        log.info(
            "Executed 'Functions.%s' (Orchestrator, %s, Duration=%dms, %d new task(s)) instance=%s",
            name,
            {"running": "Awaiting", "completed": "Completed", "failed": "Failed", "continued": "ContinuedAsNew"}[
                outcome
            ],
            ms,
            len(new_actions),
            iid,
        )
        if outcome == "failed":
            log.warning("Orchestration %s failed: %s", iid, mask_secrets(str(failure)))
        for action in new_actions:
            if action.kind == "activity":
                self._dispatch_activity(iid, old_execution, _scheduling_event(now, action))
            elif action.kind == "timer" and action.fire_at is not None:
                self._schedule_timer(iid, old_execution, action.event_id, h.fmt_time(action.fire_at))
            elif action.kind == "suborchestration":
                await self._create_child(rec if outcome != "continued" else _with_exec(rec, old_execution), action)
        if outcome in ("completed", "failed") and rec.parent:
            await self._notify_parent(rec)
        if outcome == "continued":
            self.notify(iid)

    async def _terminate_episode(
        self,
        rec: InstanceRecord,
        past: list[Event],
        now: dt.datetime,
        terminate: tuple[str, dict[str, Any]],
        drop: list[str],
    ) -> None:
        key, msg = terminate
        reason = msg.get("reason")
        episode: list[tuple[Event, str]] = [
            (h.orchestrator_started(now), ""),
            (h.execution_terminated(now, reason), key),
            (h.execution_completed(now, h.OrchestrationStatus.Terminated, json.dumps(reason)), ""),
            (h.orchestrator_completed(now), ""),
        ]
        await self.store.append_history(rec.instance_id, rec.execution_id, len(past), episode)
        rec.history_count = len(past) + len(episode)
        rec.runtime_status = "Terminated"
        rec.output = json.dumps(reason)
        rec.last_updated_time = h.fmt_time(now)
        await self.store.replace_instance(rec)
        remaining = [k for k, _ in await self.store.list_inbox(rec.instance_id)]
        await self.store.delete_inbox(rec.instance_id, remaining)
        for timer_key in [k for k in self._timers if k[0] == rec.instance_id]:
            self._timers.pop(timer_key).cancel()
        log.info("Terminated orchestration instance=%s reason=%s", rec.instance_id, reason)
        if rec.parent:
            await self._notify_parent(rec)

    # --- activities ---------------------------------------------------------------------------
    def _dispatch_activity(self, instance_id: str, execution_id: str, scheduled: Event) -> None:
        key = (instance_id, execution_id, int(scheduled["EventId"]))
        if key in self._inflight or self._stopping:
            return
        self._inflight.add(key)
        self._spawn(self._run_activity(key, scheduled), f"activity {scheduled['Name']} {instance_id}")

    async def _run_activity(self, key: tuple[str, str, int], scheduled: Event) -> None:
        instance_id, execution_id, task_id = key
        name = str(scheduled["Name"])
        try:
            async with self._activity_sem:
                raw = scheduled.get("Input")
                action_input = json.loads(raw) if raw is not None else None
                fn = self.app.activity(name)
                now = h.utcnow
                if fn is None:
                    event = h.task_failed(now(), task_id, f"Activity function '{name}' does not exist.", None)
                else:
                    event = await self._invoke_activity(fn, action_input, instance_id, task_id)
                await self.store.put_inbox(
                    instance_id,
                    f"task-{execution_id}-{task_id:08d}",
                    {"kind": "task", "execution_id": execution_id, "event": event},
                )
        finally:
            self._inflight.discard(key)
        self.notify(instance_id)

    async def _invoke_activity(self, fn: FunctionInfo, action_input: Any, instance_id: str, task_id: int) -> Event:
        try:
            if action_input is None:
                value = None
            else:
                text = action_input if isinstance(action_input, str) else json.dumps(action_input)
                value = ActivityTriggerConverter.decode(meta.Datum(text, "json"), trigger_metadata=None)
            kwargs: dict[str, Any] = {fn.trigger_name: value}
            result = await call_user_function(
                fn, kwargs, self.activity_executor, instance_id=instance_id, project_dir=self.project_dir
            )
            encoded = ActivityTriggerConverter.encode(result, expected_type=None)
            return h.task_completed(h.utcnow(), task_id, str(encoded.value))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message, stack = format_exception(exc)
            reason = f"Activity function '{fn.name}' failed: Result: Failure\nException: {message}\nStack: {stack}"
            return h.task_failed(h.utcnow(), task_id, reason, None)

    # --- timers -------------------------------------------------------------------------------
    def _schedule_timer(self, instance_id: str, execution_id: str, timer_id: int, fire_at: str) -> None:
        key = (instance_id, execution_id, timer_id)
        if key in self._timers or self._stopping:
            return
        delay = max(0.0, (h.parse_time(fire_at) - h.utcnow()).total_seconds())
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            self._spawn(self._fire_timer(key, fire_at), f"timer {timer_id} {instance_id}")

        self._timers[key] = loop.call_later(delay, fire)

    async def _fire_timer(self, key: tuple[str, str, int], fire_at: str) -> None:
        instance_id, execution_id, timer_id = key
        event = h.timer_fired(h.utcnow(), timer_id, fire_at)
        await self.store.put_inbox(
            instance_id,
            f"timer-{execution_id}-{timer_id:08d}",
            {"kind": "timer", "execution_id": execution_id, "event": event},
        )
        self.notify(instance_id)

    # --- sub-orchestrations -------------------------------------------------------------------
    async def _create_child(self, parent: InstanceRecord, action: ScheduledAction) -> None:
        child_id = str(action.instance_id)
        execution_id = uuid.uuid5(
            uuid.NAMESPACE_URL, f"{parent.instance_id}/{parent.execution_id}/{action.event_id}"
        ).hex
        parent_info = {
            "instance_id": parent.instance_id,
            "execution_id": parent.execution_id,
            "task_id": action.event_id,
            "name": parent.name,
        }
        existing = await self.store.get_instance(child_id)
        if existing is not None and existing.execution_id == execution_id:
            if existing.runtime_status in TERMINAL_STATUSES and not existing.parent_notified:
                async with self.lock(child_id):
                    await self._notify_parent(existing)
            else:
                self.notify(child_id)
            return
        now = h.utcnow()
        if existing is not None and existing.runtime_status not in TERMINAL_STATUSES:
            await self._send_to_parent(
                parent_info,
                h.sub_orchestration_failed(
                    now,
                    action.event_id,
                    f"An Orchestration instance with the status {existing.runtime_status} already exists.",
                    None,
                ),
            )
            return
        start = h.execution_started(
            now,
            name=action.name,
            instance_id=child_id,
            execution_id=execution_id,
            input_json=action.input,
            parent={
                "Name": parent.name,
                "Version": "",
                "TaskScheduleId": action.event_id,
                "OrchestrationInstance": {"InstanceId": parent.instance_id, "ExecutionId": parent.execution_id},
            },
        )
        await self.store.put_inbox(
            child_id, f"start-{execution_id}", {"kind": "start", "execution_id": execution_id, "event": start}
        )
        rec = InstanceRecord(
            instance_id=child_id,
            name=action.name,
            runtime_status="Pending",
            execution_id=execution_id,
            input=action.input,
            created_time=h.fmt_time(now),
            last_updated_time=h.fmt_time(now),
            parent=parent_info,
        )
        if existing is not None:
            rec.etag = existing.etag
            await self.store.replace_instance(rec)
        elif not await self.store.create_instance(rec):
            log.warning("sub-orchestration %s already exists; retrying later", child_id)
            return
        self.notify(child_id)

    async def _send_to_parent(self, parent: dict[str, Any], event: Event) -> None:
        task_id = int(parent["task_id"])
        await self.store.put_inbox(
            str(parent["instance_id"]),
            f"sub-{parent['execution_id']}-{task_id:08d}",
            {"kind": "sub", "execution_id": parent["execution_id"], "event": event},
        )
        self.notify(str(parent["instance_id"]))

    async def _notify_parent(self, rec: InstanceRecord) -> None:
        parent = rec.parent
        if not parent:
            return
        task_id = int(parent["task_id"])
        now = h.utcnow()
        if rec.runtime_status == "Completed":
            event = h.sub_orchestration_completed(now, task_id, rec.output)
        else:
            reason = _loads(rec.output)
            event = h.sub_orchestration_failed(now, task_id, str(reason), None)
        await self._send_to_parent(parent, event)
        rec.parent_notified = True
        try:
            await self.store.replace_instance(rec)
        except ConcurrencyError:
            fresh = await self.store.get_instance(rec.instance_id)
            if fresh is not None and fresh.execution_id == rec.execution_id:
                fresh.parent_notified = True
                await self.store.replace_instance(fresh)

    # --- client operations (the extension's HTTP API) -----------------------------------------
    async def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> tuple[int, Any]:
        fn = self.app.orchestrator(name)
        if fn is None:
            return 400, {
                "Message": "One or more of the arguments submitted is incorrect",
                "ExceptionMessage": f"The function '{name}' doesn't exist, is disabled, or is not an "
                "orchestrator function. Additional info: the development host found no orchestrator "
                "with that name.",
                "ExceptionType": "System.ArgumentException",
            }
        iid = instance_id or uuid.uuid4().hex
        refused = instance_id_refusal(iid)
        if refused is not None:
            # The extension's StartNewAsync throws ArgumentException, which its HTTP API answers with 400.
            return 400, {
                "Message": "One or more of the arguments submitted is incorrect",
                "ExceptionMessage": refused,
                "ExceptionType": "System.ArgumentException",
            }
        async with self.lock(iid):
            existing = await self.store.get_instance(iid)
            if existing is not None and existing.runtime_status not in TERMINAL_STATUSES:
                return 409, {
                    "Message": f"An Orchestration instance with the status {existing.runtime_status} already exists."
                }
            if existing is not None:
                # A new execution replaces the terminal one: nothing left for it may leak into the new one.
                await self.store.delete_inbox(iid, [k for k, _ in await self.store.list_inbox(iid)])
            now = h.utcnow()
            execution_id = uuid.uuid4().hex
            start = h.execution_started(
                now, name=fn.name, instance_id=iid, execution_id=execution_id, input_json=input_json
            )
            await self.store.put_inbox(
                iid, f"start-{execution_id}", {"kind": "start", "execution_id": execution_id, "event": start}
            )
            rec = InstanceRecord(
                instance_id=iid,
                name=fn.name,
                runtime_status="Pending",
                execution_id=execution_id,
                input=input_json,
                created_time=h.fmt_time(now),
                last_updated_time=h.fmt_time(now),
            )
            if existing is not None:
                rec.etag = existing.etag
                await self.store.replace_instance(rec)
            elif not await self.store.create_instance(rec):
                return 409, {"Message": "An Orchestration instance with the status Pending already exists."}
        log.info("Started orchestration '%s' instance=%s", fn.name, iid)
        self.notify(iid)
        return 202, iid

    def status_payload(
        self,
        rec: InstanceRecord,
        *,
        show_input: bool = True,
        history: list[Event] | None = None,
        show_output: bool = False,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "name": rec.name,
            "instanceId": rec.instance_id,
            "runtimeStatus": rec.runtime_status,
            "input": _loads(rec.input) if show_input else None,
            "customStatus": _loads(rec.custom_status),
            "output": _loads(rec.output),
            "createdTime": _status_time(rec.created_time),
            "lastUpdatedTime": _status_time(rec.last_updated_time),
        }
        if history is not None:
            payload["historyEvents"] = h.history_for_status(history, show_output)
        return payload

    async def get_status(
        self, instance_id: str, *, show_input: bool = True, show_history: bool = False, show_output: bool = False
    ) -> dict[str, Any] | None:
        rec = await self.store.get_instance(instance_id)
        if rec is None:
            return None
        history = None
        if show_history:
            history, _ = await self.store.load_history(rec.instance_id, rec.execution_id, rec.history_count)
        return self.status_payload(rec, show_input=show_input, history=history, show_output=show_output)

    async def list_status(self, *, show_input: bool = False, **filters: Any) -> list[dict[str, Any]]:
        records = await self.store.list_instances()
        return [self.status_payload(r, show_input=show_input) for r in _filter(records, **filters)]

    async def raise_event(self, instance_id: str, name: str, input_json: str | None) -> int:
        rec = await self.store.get_instance(instance_id)
        if rec is None:
            return 404
        if rec.runtime_status in TERMINAL_STATUSES:
            return 410
        event = h.event_raised(h.utcnow(), name, input_json)
        await self.store.put_inbox(
            instance_id, f"event-{next_seq()}-{uuid.uuid4().hex[:8]}", {"kind": "event", "event": event}
        )
        log.info("Raised event '%s' instance=%s", name, instance_id)
        self.notify(instance_id)
        return 202

    async def terminate(self, instance_id: str, reason: str | None) -> int:
        rec = await self.store.get_instance(instance_id)
        if rec is None:
            return 404
        if rec.runtime_status in TERMINAL_STATUSES:
            return 410
        await self.store.put_inbox(instance_id, f"terminate-{next_seq()}", {"kind": "terminate", "reason": reason})
        self.notify(instance_id)
        return 202

    async def purge(self, instance_id: str) -> tuple[int, Any]:
        async with self.lock(instance_id):
            rec = await self.store.get_instance(instance_id)
            if rec is None:
                return 404, None
            if rec.runtime_status not in TERMINAL_STATUSES:
                return 412, (
                    "Only orchestrations in a terminal state can be purged, but the orchestration with "
                    f"instance ID {instance_id} has status {rec.runtime_status}"
                )
            deleted = await self.store.purge(instance_id)
        log.info("Purged orchestration instance=%s", instance_id)
        return 200, {"instancesDeleted": deleted}

    async def purge_by(self, **filters: Any) -> tuple[int, Any]:
        records = [
            r for r in _filter(await self.store.list_instances(), **filters) if r.runtime_status in TERMINAL_STATUSES
        ]
        deleted = 0
        for rec in records:
            async with self.lock(rec.instance_id):
                deleted += await self.store.purge(rec.instance_id)
        if not deleted:
            return 404, None
        return 200, {"instancesDeleted": deleted}


_SCHEDULING = {EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated}


def _completed_ids(history: list[Event]) -> set[int]:
    done: set[int] = set()
    for e in history:
        if e["EventType"] in (
            EventType.TaskCompleted,
            EventType.TaskFailed,
            EventType.SubOrchestrationInstanceCompleted,
            EventType.SubOrchestrationInstanceFailed,
        ):
            done.add(int(e["TaskScheduledId"]))
        elif e["EventType"] == EventType.TimerFired:
            done.add(int(e["TimerId"]))
    return done


def _scheduling_event(now: dt.datetime, action: ScheduledAction) -> Event:
    if action.kind == "activity":
        return h.task_scheduled(now, action.event_id, action.name, action.input)
    if action.kind == "timer":
        assert action.fire_at is not None
        return h.timer_created(now, action.event_id, action.fire_at)
    return h.sub_orchestration_created(now, action.event_id, action.name, str(action.instance_id), action.input)


def _with_exec(rec: InstanceRecord, execution_id: str) -> InstanceRecord:
    copy = InstanceRecord(**{**rec.__dict__})
    copy.execution_id = execution_id
    return copy


def _filter(
    records: list[InstanceRecord],
    *,
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
    statuses: set[str] | None = None,
    prefix: str | None = None,
) -> list[InstanceRecord]:
    out = []
    for r in records:
        created = h.parse_time(r.created_time) if r.created_time else None
        if created_from and (created is None or created < created_from):
            continue
        if created_to and (created is None or created > created_to):
            continue
        if statuses and r.runtime_status not in statuses:
            continue
        if prefix and not r.instance_id.startswith(prefix):
            continue
        out.append(r)
    return out


def _invoke_orchestrator(fn: FunctionInfo, context_json: str) -> tuple[dict[str, Any], str | None, bool]:
    """Run the orchestrator's handle (the library's own replay) on a context JSON.

    Returns (state, error, hard): ``error`` is the orchestrator's unhandled exception message (the state
    still carries the actions), ``hard`` is True when there is no state at all (internal failure)."""
    context = OrchestrationTriggerConverter.decode(meta.Datum(context_json, "string"), trigger_metadata=None)
    try:
        result = fn.func(**{fn.trigger_name: context})
    except Exception as exc:
        text = str(exc)
        if OOPROC_LABEL in text:
            head, _, data = text.partition(OOPROC_LABEL)
            try:
                state = json.loads(data)
            except ValueError:
                return {}, head, True
            return state, str(state.get("error") or head), False
        message, _ = format_exception(exc)
        return {}, message, True
    if isinstance(result, str):
        return json.loads(result), None, False
    if isinstance(result, dict):
        return result, None, False
    return {}, f"orchestrator returned {type(result).__name__}, expected the state JSON", True


RunEpisode = Callable[[str], Awaitable[None]]
