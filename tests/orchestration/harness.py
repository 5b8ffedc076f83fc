"""A small history builder that plays the Durable extension's part, so cvdsr's orchestrators can be
driven through the library's own replay (azure-functions-durable 1.x) with no host, storage or network.

Why a builder and not mocks of the context: the orchestrators are only correct if the *library* replays
them correctly against a history — task ids, retries, ``task_all`` and ``task_any`` are all resolved by
the library from history events. So each test builds the history the extension would hand over, calls
the handle the library builds for an orchestrator (``df.Orchestrator.create``), and reads the state
JSON it returns (``isDone``, ``actions``, ``output``, ``customStatus``, ``error``).

Facts the builder relies on (azure-functions-durable-python's own orchestrator tests and DTFx):

- A history is episodes: ``OrchestratorStarted`` (whose timestamp is the orchestration's clock), the
  events that arrived, the scheduling events the episode produced, ``OrchestratorCompleted``. The first
  episode holds ``ExecutionStarted``.
- Scheduling events (``TaskScheduled``, ``SubOrchestrationInstanceCreated``, ``TimerCreated``) carry
  ``EventId``, the next sequence number of the instance, in the order the extension makes the calls.
  Completions point back at it: ``TaskScheduledId`` (``TaskCompleted``/``TaskFailed``,
  ``SubOrchestrationInstance{Completed,Failed}``) or ``TimerId`` (``TimerFired``).
- ``CallActivityWithRetry`` is DTFx's retry interceptor: after a failed attempt it creates a timer
  (next sequence number) and, when it fires, schedules the activity again (next sequence number). It
  creates that timer after the last attempt too, and only then gives up; the library's
  ``RetryAbleTask`` mirrors this to stay in step.

The builder numbers scheduling events in the order they are written, as DTFx does, independently of the
library: a test that drives an orchestration to its end therefore proves that the library waits on the
ids the extension uses (a mismatch shows as an orchestration that waits on nothing, i.e. hangs).
Two simplifications, both stated where they matter: the new actions of an episode are scheduled at the
episode's end, all at once (the extension's shim walks the action list in order and schedules an
action only once the ones before it have completed: that delays some actions, and gives them the
same ids as long as no retried task is between attempts meanwhile, which is the case cvdsr keeps to),
and a retry timer is numbered when its failure is written (so tests do not mix, in one
episode, a failure with a completion that lets the orchestrator start new work). ``cross_check=True``
also replays every episode through the development host's model of the shim
(``local.host.replay.simulate``) and requires it to agree on what is scheduled next, and under which id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import azure.durable_functions as df

from local.host.durable import custom_status_refusal
from local.host.replay import simulate
from shared.orchestration import erase, export, names, request

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
STEP = timedelta(seconds=1)  # the clock moves this much between episodes unless a test says otherwise
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the library's DATETIME_STRING_FORMAT
OOPROC_LABEL = "\n\n$OutOfProcData$:"  # how the handle appends the state to an unhandled exception


class EventType(IntEnum):
    """DTFx ``EventType`` values (the ones these histories use)."""

    EXECUTION_STARTED = 0
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13


class ActionType(IntEnum):
    """The out-of-process ``actionType`` values the orchestrators produce."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CREATE_TIMER = 5
    WHEN_ANY = 11
    WHEN_ALL = 12


# The generators the blueprint's one-line orchestrators delegate to (``functions.orchestrators``), by the
# function names history refers to. The handles are the ones the library builds for an orchestrator
# (``df.Orchestrator.create``); ``test_replay`` checks that the blueprint registers the same ones.
# Built from ``shared`` directly so that these tests do not import every blueprint's dependencies.
GENERATORS: dict[str, Callable[..., Any]] = {
    names.REQUEST_ORCHESTRATOR: request.run_request,
    names.EXPORT_RESOURCE_ORCHESTRATOR: export.export_resource,
    names.EXPORT_PROJECT_ORCHESTRATOR: export.export_project,
    names.ERASE_RESOURCE_ORCHESTRATOR: erase.erase_resource,
    names.ERASE_PROJECT_ORCHESTRATOR: erase.erase_project,
}
HANDLES: dict[str, Callable[[str], str]] = {name: df.Orchestrator.create(fn) for name, fn in GENERATORS.items()}


def fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


@dataclass
class Call:
    """One task the orchestrator asked for, as the extension tracks it."""

    kind: str  # "activity" | "suborchestration" | "timer"
    name: str  # function name; "" for a timer
    input: Any  # the decoded payload
    event_id: int  # EventId of the scheduling event of the current attempt
    retry: dict[str, Any] | None = None  # retryOptions of a *WithRetry action
    instance_id: str | None = None
    fire_at: str | None = None
    attempts: int = 1
    retry_timer: tuple[int, datetime] | None = None  # (TimerId, fire at) of a pending retry timer
    ended: bool = False  # completed, or failed for good

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.name, self.input, self.instance_id, self.fire_at, self.retry)


@dataclass
class State:
    """What one replay returned, decoded."""

    done: bool
    output: Any
    error: str | None
    custom_status: Any
    raw: dict[str, Any]  # the state JSON as the handle returned it
    new: list[Call] = field(default_factory=list)  # tasks first asked for in this replay, in order
    extension_walk_finished: bool | None = None  # with cross_check: whether the shim reached the end

    @property
    def names(self) -> list[str]:
        return [call.name for call in self.new]


@dataclass
class Failure:
    """An answer for :meth:`Orchestration.drive`: the task fails, for good (every attempt)."""

    message: str


@dataclass
class Flaky:
    """An answer for :meth:`Orchestration.drive`: ``failures`` attempts fail, then one succeeds."""

    failures: int
    result: Any
    message: str = "429 Too Many Requests"


@dataclass
class Late:
    """An answer for :meth:`Orchestration.drive`: ``result``, arriving ``seconds`` later on the clock."""

    seconds: float
    result: Any


def _atomic(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The atomic actions in the order the extension's shim meets them (compound actions in place)."""
    for action in actions:
        if action["actionType"] in (ActionType.WHEN_ANY, ActionType.WHEN_ALL):
            yield from _atomic(action["compoundActions"])
        else:
            yield action


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _call(action: dict[str, Any]) -> Call:
    kind = ActionType(action["actionType"])
    if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
        return Call("activity", action["functionName"], _decode(action.get("input")), -1, action.get("retryOptions"))
    if kind in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
        return Call(
            "suborchestration",
            action["functionName"],
            _decode(action.get("input")),
            -1,
            action.get("retryOptions"),
            instance_id=action.get("instanceId"),
        )
    if kind is ActionType.CREATE_TIMER:
        return Call("timer", "", None, -1, fire_at=action["fireAt"])
    raise AssertionError(f"an action these tests do not expect: {action}")


def _require_waiting(call: Call) -> None:
    """A test can only answer a task the orchestrator still waits for (not ended, no retry pending)."""
    if call.ended or call.retry_timer is not None:
        raise ValueError(f"{call.name} is not waiting for a result")


def activity_failure_reason(name: str, message: str) -> str:
    """``TaskFailed.Reason`` as the extension writes it for a Python activity that raised."""
    return f"Activity function '{name}' failed: Result: Failure\nException: {message}\nStack: (stack)"


class Orchestration:
    """One orchestration instance: its history, and the extension's side of each episode."""

    def __init__(
        self,
        name: str,
        input_: Any,
        *,
        instance_id: str,
        parent_instance_id: str | None = None,
        start: datetime = T0,
        cross_check: bool = False,
        handle: Callable[[str], str] | None = None,
    ) -> None:
        self.name = name
        self.handle = handle or HANDLES[name]
        self.input = input_
        self.instance_id = instance_id
        self.parent_instance_id = parent_instance_id
        self.cross_check = cross_check
        self.now = start
        self.events: list[dict[str, Any]] = []
        self.calls: list[Call] = []  # every task asked for so far, in the order first asked
        self.states: list[State] = []
        self.contexts: list[str] = []  # the context JSON of every replay, for replaying it again
        self._next_id = 0
        self._open = False
        self._begin(start)
        parent = {"OrchestrationInstance": {"InstanceId": parent_instance_id}} if parent_instance_id else None
        self._event(
            EventType.EXECUTION_STARTED,
            Name=name,
            Version="",
            Input=json.dumps(input_),
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": "exec-1"},
            ParentInstance=parent,
            Tags=None,
        )

    # --- the history -------------------------------------------------------------------------------
    def _event(self, event_type: EventType, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        event = {"EventType": int(event_type), "EventId": event_id, "IsPlayed": False, "Timestamp": fmt(self.now)}
        event.update(fields)
        self.events.append(event)
        return event

    def _take_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def _begin(self, at: datetime) -> None:
        self.now = max(at, self.now)
        self._event(EventType.ORCHESTRATOR_STARTED)
        self._open = True

    def _writing(self, at: datetime | None = None) -> None:
        """Make room for new events: in the open episode, or (when ``at`` is later than the clock, or no
        episode is open) in a new one, after the extension has run the orchestrator on the open one."""
        if self._open:
            if at is None or at <= self.now:
                return
            self.replay()
        self._begin(self.now + STEP if at is None else at)

    def later(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    def context_json(self) -> str:
        """The orchestration trigger's context, as the extension sends it (schema V3: upperSchemaVersion
        1 and upperSchemaVersionNew 2, with the long-timer settings); events of past episodes played."""
        last_start = max(i for i, e in enumerate(self.events) if e["EventType"] == EventType.ORCHESTRATOR_STARTED)
        history = [{**event, "IsPlayed": index < last_start} for index, event in enumerate(self.events)]
        return json.dumps(
            {
                "history": history,
                "input": self.input,
                "instanceId": self.instance_id,
                "isReplaying": last_start > 0,
                "parentInstanceId": self.parent_instance_id,
                "upperSchemaVersion": 1,
                "upperSchemaVersionNew": 2,
                "maximumShortTimerDuration": "6.00:00:00",
                "longRunningTimerIntervalDuration": "3.00:00:00",
            }
        )

    # --- the library's replay ----------------------------------------------------------------------
    def invoke(self, context_json: str | None = None) -> dict[str, Any]:
        """Run the library's handle on the history as it stands; the state JSON it returned (an
        orchestrator that raised still returns its state, after the ``$OutOfProcData$`` label)."""
        try:
            raw = self.handle(context_json or self.context_json())
        except Exception as exc:
            text = str(exc)
            if OOPROC_LABEL not in text:
                raise
            raw = text.split(OOPROC_LABEL, 1)[1]
        state: dict[str, Any] = json.loads(raw)
        return state

    def replay(self) -> State:
        """End the open episode as the extension does: run the orchestrator on the history, check that
        it asks again for everything it asked before (same order, names, payloads), and schedule what
        it asks for now (numbered in order). Returns the decoded state with the new tasks."""
        if not self._open:
            self._begin(self.now + STEP)
        context = self.context_json()
        self.contexts.append(context)
        raw = self.invoke(context)
        assert len(raw["actions"]) == 1, "schema V2+ returns one flat list of actions"
        asked = [_call(action) for action in _atomic(raw["actions"][0])]
        assert len(asked) >= len(self.calls), f"replay lost actions: {len(asked)} < {len(self.calls)}"
        for index, (before, now) in enumerate(zip(self.calls, asked, strict=False)):
            assert before.key() == now.key(), f"non-deterministic at action {index}: {before.key()} != {now.key()}"
        new = asked[len(self.calls) :]
        for offset, call in enumerate(new):
            call.event_id = self._next_id + offset
        walk_finished = self._check_with_extension(raw, new) if self.cross_check else None
        if raw.get("customStatus") is not None:  # the extension fails an orchestration over 16 KB
            refused = custom_status_refusal(raw["customStatus"])
            assert refused is None, refused
        for call in new:
            assert call.event_id == self._take_id()
            self._schedule_event(call)
            self.calls.append(call)
        self._event(EventType.ORCHESTRATOR_COMPLETED)
        self._open = False
        state = State(
            done=bool(raw.get("isDone")),
            output=raw.get("output"),
            error=raw.get("error"),
            custom_status=raw.get("customStatus"),
            raw=raw,
            new=new,
            extension_walk_finished=walk_finished,
        )
        self.states.append(state)
        return state

    def _schedule_event(self, call: Call) -> None:
        if call.kind == "activity":
            self._event(
                EventType.TASK_SCHEDULED, call.event_id, Name=call.name, Version="", Input=json.dumps(call.input)
            )
        elif call.kind == "suborchestration":
            self._event(
                EventType.SUB_ORCHESTRATION_CREATED,
                call.event_id,
                Name=call.name,
                Version="",
                InstanceId=call.instance_id,
                Input=json.dumps(call.input),
            )
        else:
            self._event(EventType.TIMER_CREATED, call.event_id, FireAt=call.fire_at)

    def _check_with_extension(self, raw: dict[str, Any], new: list[Call]) -> bool:
        """The development host's model of the shim, on the same actions and history, must want the same
        new scheduling calls under the same ids (and must not find the history non-deterministic)."""
        history = json.loads(self.context_json())["history"]
        sim = simulate(raw["actions"], history, self.instance_id, "exec-1")
        # simulate keeps the action's ``input`` as the extension serializes it: JSON of the JSON string.
        theirs = [(a.event_id, a.kind, a.name, _decode(_decode(a.input))) for a in sim.new_actions]
        ours = [(c.event_id, c.kind, c.name, c.input) for c in new]
        assert theirs == ours, f"the extension would schedule {theirs}, the harness scheduled {ours}"
        return sim.walk_finished

    # --- what arrives from outside -----------------------------------------------------------------
    def complete(self, call: Call, result: Any = None, *, at: datetime | None = None) -> None:
        """The task (the current attempt) succeeded with ``result``."""
        _require_waiting(call)
        self._writing(at)
        if call.kind == "activity":
            self._event(EventType.TASK_COMPLETED, TaskScheduledId=call.event_id, Result=json.dumps(result))
        else:
            assert call.kind == "suborchestration"
            self._event(EventType.SUB_ORCHESTRATION_COMPLETED, TaskScheduledId=call.event_id, Result=json.dumps(result))
        call.ended = True

    def fire(self, timer: Call) -> None:
        """An orchestrator's own timer fires, at its time."""
        assert timer.kind == "timer"
        assert not timer.ended
        assert timer.fire_at is not None
        self._writing(parse_time(timer.fire_at))
        self._event(EventType.TIMER_FIRED, TimerId=timer.event_id, FireAt=timer.fire_at)
        timer.ended = True

    def fail(self, call: Call, message: str, *, at: datetime | None = None) -> None:
        """The current attempt fails. With a retry policy, the interceptor creates its timer now."""
        _require_waiting(call)
        self._writing(at)
        if call.kind == "activity":
            reason = activity_failure_reason(call.name, message)
            self._event(EventType.TASK_FAILED, TaskScheduledId=call.event_id, Reason=reason, Details=None)
        else:
            reason = f"Orchestrator function '{call.name}' failed: {message}"
            self._event(EventType.SUB_ORCHESTRATION_FAILED, TaskScheduledId=call.event_id, Reason=reason, Details=None)
        if call.retry is None:
            call.ended = True
            return
        # DTFx: first interval * backoff^(attempt-1), capped; the options are what the action carried.
        delay = float(call.retry["firstRetryIntervalInMilliseconds"])
        delay *= float(call.retry.get("backoffCoefficient") or 1.0) ** (call.attempts - 1)
        if call.retry.get("maxRetryIntervalInMilliseconds"):
            delay = min(delay, float(call.retry["maxRetryIntervalInMilliseconds"]))
        fire_at = self.now + timedelta(milliseconds=delay)
        timer_id = self._take_id()
        self._event(EventType.TIMER_CREATED, timer_id, FireAt=fmt(fire_at))
        call.retry_timer = (timer_id, fire_at)

    def retry(self, call: Call) -> bool:
        """The retry timer of a failed attempt fires. Returns True when the interceptor scheduled a new
        attempt, False when the attempts are used up (the task has now failed for good)."""
        if call.retry is None or call.retry_timer is None:
            raise ValueError(f"{call.name} has no retry pending")
        timer_id, fire_at = call.retry_timer
        self._writing(fire_at)
        self._event(EventType.TIMER_FIRED, TimerId=timer_id, FireAt=fmt(fire_at))
        call.retry_timer = None
        if call.attempts >= int(call.retry["maxNumberOfAttempts"]):
            call.ended = True
            return False
        call.attempts += 1
        call.event_id = self._take_id()
        self._schedule_event(call)
        return True

    def fail_for_good(self, call: Call, message: str) -> None:
        """Every attempt fails (each retry timer fires in its own episode, as it would)."""
        self.fail(call, message)
        while call.retry is not None and self.retry(call):
            self.fail(call, message)

    def pending(self) -> list[Call]:
        return [call for call in self.calls if not call.ended]

    def drive(self, respond: Callable[[Call], Any], *, limit: int = 500) -> State:
        """Play the extension until the orchestration is done: each episode answers every task it waits
        for with ``respond(call)`` (a result, a :class:`Failure`, :class:`Flaky` or :class:`Late`), and fires its
        timers at their time. An orchestration that is not done and waits on nothing hangs: that fails."""
        state = self.replay()
        for _ in range(limit):
            if state.done or state.error:
                return state
            waiting = self.pending()
            assert waiting, f"{self.name} is not done and waits on nothing (it would hang)"
            for call in waiting:
                if call.kind == "timer":
                    self.fire(call)
                    continue
                answer = respond(call)
                if isinstance(answer, Failure):
                    self.fail_for_good(call, answer.message)
                elif isinstance(answer, Flaky):
                    for _attempt in range(answer.failures):
                        self.fail(call, answer.message)
                        assert self.retry(call), f"{call.name}: more failures than attempts"
                    self.complete(call, answer.result)
                elif isinstance(answer, Late):
                    self.complete(call, answer.result, at=self.later(answer.seconds))
                else:
                    self.complete(call, answer)
            state = self.replay()
        raise AssertionError(f"{self.name} did not finish in {limit} episodes")

    def asked(self, name: str | None = None) -> list[Call]:
        """Every task asked for so far (of one function), in order."""
        return [call for call in self.calls if name is None or call.name == name]
