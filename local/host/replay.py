"""Replay of the out-of-process actions against the history, as the Durable extension does it.

The real extension runs ``OutOfProcOrchestrationShim`` inside a Durable Task Framework orchestration:
for schema V2/V3 it walks the SDK's flat ``actions`` list and, for each one in turn, calls the matching
DTFx API (``ScheduleTask``, ``CreateTimer``, ``CreateSubOrchestrationInstance``, ``WaitForExternalEvent``,
``Task.WhenAll``/``Task.WhenAny`` for the compound actions, ``ContinueAsNew``) and awaits it, ignoring
failures; DTFx assigns each scheduling call the next sequence number (the history ``EventId``) and
completes tasks as it replays the completion events of the history, in order. ``CallActivityWithRetry``
is DTFx's retry interceptor: on failure it creates a durable timer (next sequence number) and, when the
timer fires, schedules the activity again (next sequence number), until ``maxNumberOfAttempts``.

:func:`simulate` reproduces that deterministically. Its result says which scheduling actions are new
(not yet in the history), whether the shim's walk of the actions has finished (only then does the
orchestration's ``isDone``/``error`` take effect), and whether ``ContinueAsNew`` was reached.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .history import Event, EventType, parse_time


class NonDeterminismError(RuntimeError):
    """The actions do not match the history (the orchestrator code is not deterministic)."""


class UnsupportedActionError(RuntimeError):
    """The orchestrator used a Durable API the development host does not implement."""


class ArgumentRefused(ValueError):
    """The extension refuses the action's arguments (its ArgumentException): the orchestration fails."""


MAX_INSTANCE_ID_LENGTH = 256  # DurableClient.MaxInstanceIdLength in the extension


def instance_id_refusal(instance_id: str) -> str | None:
    """The extension's rules for a new orchestration's instance id (DurableClient.StartNewAsync): the
    message it throws, or None. ``@`` starts the ids the extension keeps for entities."""
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if any(c in "/\\#?" or unicodedata.category(c) == "Cc" for c in instance_id):
        return "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
    if len(instance_id.encode("utf-16-le")) // 2 > MAX_INSTANCE_ID_LENGTH:  # .NET counts UTF-16 units
        return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
    return None


@dataclass
class ScheduledAction:
    """A DTFx scheduling call: becomes TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated."""

    event_id: int
    kind: str  # "activity" | "timer" | "suborchestration"
    name: str = ""
    input: str | None = None
    fire_at: dt.datetime | None = None
    instance_id: str | None = None


@dataclass
class SimulationResult:
    new_actions: list[ScheduledAction]
    walk_finished: bool
    continue_as_new: bool = False
    continue_as_new_input: str | None = None
    scheduled: dict[int, ScheduledAction] = field(default_factory=dict)


class _Node:
    """A DTFx task: completes once, then runs its continuations."""

    def __init__(self) -> None:
        self.done = False
        self.ok = True
        self._callbacks: list[Callable[[_Node], None]] = []

    def on_done(self, callback: Callable[[_Node], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def complete(self, ok: bool) -> None:
        if self.done:
            return
        self.done = True
        self.ok = ok
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)


def _json_input(value: Any) -> str | None:
    """The ``input`` of an action as the extension serializes it (JSON of the JToken)."""
    import json

    if value is None:
        return None
    return json.dumps(value)


def _retry_delay_ms(options: dict[str, Any], attempt_index: int) -> float:
    first = float(options.get("firstRetryIntervalInMilliseconds", 0))
    backoff = float(options.get("backoffCoefficient", 1.0) or 1.0)
    delay = first * backoff**attempt_index
    max_interval = options.get("maxRetryIntervalInMilliseconds")
    if max_interval:
        delay = min(delay, float(max_interval))
    return delay


class _Simulator:
    def __init__(self, actions: list[dict[str, Any]], instance_id: str, execution_id: str) -> None:
        self.actions = actions
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.next_id = 0
        self.now = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.first_attempt_time: dt.datetime | None = None
        self.scheduled: dict[int, ScheduledAction] = {}
        self.unmatched: dict[int, ScheduledAction] = {}
        self.waiting: dict[int, _Node] = {}
        self.event_waiters: dict[str, list[_Node]] = {}
        self.event_buffer: dict[str, deque[None]] = {}
        self.walk_finished = False
        self.continue_as_new = False
        self.continue_as_new_input: str | None = None

    # --- DTFx scheduling APIs -------------------------------------------------------------------
    def _schedule(self, action: ScheduledAction) -> _Node:
        node = _Node()
        self.scheduled[action.event_id] = action
        self.unmatched[action.event_id] = action
        self.waiting[action.event_id] = node
        return node

    def _new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def activity(self, name: str, input_json: str | None) -> _Node:
        return self._schedule(ScheduledAction(self._new_id(), "activity", name=name, input=input_json))

    def timer(self, fire_at: dt.datetime) -> _Node:
        return self._schedule(ScheduledAction(self._new_id(), "timer", fire_at=fire_at))

    def suborchestration(self, name: str, instance_id: str | None, input_json: str | None) -> _Node:
        if instance_id and instance_id.startswith("@"):  # DurableOrchestrationContext.CallSubOrchestratorAsync
            raise ArgumentRefused("Orchestration instance ids must not start with @")
        event_id = self._new_id()
        iid = instance_id or f"{self.execution_id}:{event_id}"
        return self._schedule(
            ScheduledAction(event_id, "suborchestration", name=name, input=input_json, instance_id=iid)
        )

    def with_retry(self, make_inner: Callable[[], _Node], options: dict[str, Any]) -> _Node:
        node = _Node()
        max_attempts = int(options.get("maxNumberOfAttempts", 1))
        timeout_ms = options.get("retryTimeoutInMilliseconds")
        first_attempt = self.now
        state = {"attempts": 0}

        def start_attempt() -> None:
            inner = make_inner()
            inner.on_done(after_attempt)

        def after_attempt(inner: _Node) -> None:
            if inner.ok:
                node.complete(True)
                return
            state["attempts"] += 1
            delay = _retry_delay_ms(options, state["attempts"] - 1)
            if timeout_ms and self.now >= first_attempt + dt.timedelta(milliseconds=float(timeout_ms)):
                delay = 0
            if delay <= 0:
                node.complete(False)
                return
            timer = self.timer(self.now + dt.timedelta(milliseconds=delay))
            timer.on_done(after_timer)

        def after_timer(_: _Node) -> None:
            if state["attempts"] < max_attempts:
                start_attempt()
            else:
                node.complete(False)

        if max_attempts < 1:
            raise UnsupportedActionError("retryOptions.maxNumberOfAttempts must be at least 1")
        start_attempt()
        return node

    def wait_for_event(self, name: str) -> _Node:
        node = _Node()
        buffered = self.event_buffer.get(name)
        if buffered:
            buffered.popleft()
            if not buffered:
                del self.event_buffer[name]
            node.complete(True)
        else:
            # The extension keeps waiters on a stack per event name.
            self.event_waiters.setdefault(name, []).append(node)
        return node

    def when_all(self, children: list[_Node]) -> _Node:
        node = _Node()
        remaining = {"n": len(children), "ok": True}
        if not children:
            node.complete(True)
            return node

        def child_done(child: _Node) -> None:
            remaining["n"] -= 1
            if not child.ok:
                remaining["ok"] = False
            if remaining["n"] == 0:
                node.complete(bool(remaining["ok"]))

        for child in children:
            child.on_done(child_done)
        return node

    def when_any(self, children: list[_Node]) -> _Node:
        node = _Node()
        for child in children:
            # Task.WhenAny completes successfully (with the winner) whatever the winner's outcome.
            child.on_done(lambda _c: node.complete(True))
        return node

    # --- the shim -----------------------------------------------------------------------------
    def invoke(self, action: dict[str, Any]) -> _Node:
        kind = int(action.get("actionType", -1))
        if kind == 0:
            return self.activity(str(action["functionName"]), _json_input(action.get("input")))
        if kind == 1:
            name = str(action["functionName"])
            input_json = _json_input(action.get("input"))
            return self.with_retry(lambda: self.activity(name, input_json), action.get("retryOptions") or {})
        if kind == 2:
            return self.suborchestration(
                str(action["functionName"]), action.get("instanceId"), _json_input(action.get("input"))
            )
        if kind == 3:
            name = str(action["functionName"])
            iid = action.get("instanceId")
            input_json = _json_input(action.get("input"))
            return self.with_retry(
                lambda: self.suborchestration(name, iid, input_json), action.get("retryOptions") or {}
            )
        if kind == 4:
            self.continue_as_new = True
            self.continue_as_new_input = _json_input(action.get("input"))
            node = _Node()
            node.complete(True)
            return node
        if kind == 5:
            node = self.timer(parse_time(str(action["fireAt"])))
            if action.get("isCanceled"):
                # The timer is still created; its task is cancelled (and its TimerFired later ignored).
                event_id = self.next_id - 1
                self.waiting.pop(event_id, None)
                node.complete(False)
            return node
        if kind == 6:
            return self.wait_for_event(str(action["externalEventName"]))
        if kind == 11:
            return self.when_any([self.invoke(a) for a in action.get("compoundActions") or []])
        if kind == 12:
            return self.when_all([self.invoke(a) for a in action.get("compoundActions") or []])
        names = {7: "call_entity", 8: "call_http", 9: "signal_entity", 10: "signal_entity (scheduled)"}
        raise UnsupportedActionError(
            f"the development host does not support Durable action {names.get(kind, kind)!r} "
            "(entities and durable HTTP are not implemented)"
        )

    def walk(self, index: int) -> None:
        while index < len(self.actions):
            node = self.invoke(self.actions[index])
            if not node.done:
                node.on_done(self._continue_at(index + 1))
                return
            index += 1
        self.walk_finished = True

    def _continue_at(self, index: int) -> Callable[[_Node], None]:
        def resume(_: _Node) -> None:
            self.walk(index)

        return resume

    # --- history ------------------------------------------------------------------------------
    def process(self, event: Event) -> None:
        etype = event["EventType"]
        if etype == EventType.OrchestratorStarted:
            ts = parse_time(event["Timestamp"])
            if ts > self.now:
                self.now = ts
        elif etype == EventType.ExecutionStarted:
            self.walk(0)
        elif etype in (EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated):
            event_id = int(event["EventId"])
            expected = self.unmatched.pop(event_id, None)
            kinds = {
                EventType.TaskScheduled: "activity",
                EventType.TimerCreated: "timer",
                EventType.SubOrchestrationInstanceCreated: "suborchestration",
            }
            if (
                expected is None
                or expected.kind != kinds[EventType(etype)]
                or (expected.kind != "timer" and expected.name != event.get("Name"))
            ):
                what = f"{EventType(etype).name} {event.get('Name') or ''} (EventId {event_id})"
                raise NonDeterminismError(
                    f"Non-deterministic workflow detected: the history has {what} but the orchestrator "
                    f"code now schedules {expected.kind + ' ' + expected.name if expected else 'nothing'} there"
                )
        elif etype in (
            EventType.TaskCompleted,
            EventType.TaskFailed,
            EventType.SubOrchestrationInstanceCompleted,
            EventType.SubOrchestrationInstanceFailed,
        ):
            node = self.waiting.pop(int(event["TaskScheduledId"]), None)
            if node is not None:
                node.complete(etype in (EventType.TaskCompleted, EventType.SubOrchestrationInstanceCompleted))
        elif etype == EventType.TimerFired:
            node = self.waiting.pop(int(event["TimerId"]), None)
            if node is not None:
                node.complete(True)
        elif etype == EventType.EventRaised:
            name = str(event.get("Name"))
            waiters = self.event_waiters.get(name)
            if waiters:
                node = waiters.pop()
                if not waiters:
                    del self.event_waiters[name]
                node.complete(True)
            else:
                self.event_buffer.setdefault(name, deque()).append(None)


def simulate(actions_payload: list[Any], history: list[Event], instance_id: str, execution_id: str) -> SimulationResult:
    """Replay ``actions_payload`` (the SDK's ``actions``) against ``history`` (past + new events)."""
    flat: list[dict[str, Any]]
    if actions_payload and all(isinstance(a, list) for a in actions_payload):
        if len(actions_payload) == 1:
            flat = list(actions_payload[0])
        else:
            # Schema V1 (one list per yield): walk them in order, each list as one WhenAny step.
            flat = [{"actionType": 11, "compoundActions": list(group)} for group in actions_payload if group]
    else:
        flat = [a for a in actions_payload if isinstance(a, dict)]
    sim = _Simulator(flat, instance_id, execution_id)
    for event in history:
        sim.process(event)
    new_actions = sorted(sim.unmatched.values(), key=lambda a: a.event_id)
    return SimulationResult(
        new_actions=new_actions,
        walk_finished=sim.walk_finished,
        continue_as_new=sim.continue_as_new,
        continue_as_new_input=sim.continue_as_new_input,
        scheduled=sim.scheduled,
    )
