"""Durable Task history events, shaped as the Durable Task Framework serializes them.

The Durable extension hands the out-of-process SDK ``JArray.FromObject(history)`` of DTFx ``HistoryEvent``
objects: integer ``EventType``, ``EventId`` (the sequence number for scheduling events, -1 otherwise),
``IsPlayed``, ``Timestamp``, plus the event's own properties (``TaskScheduledId`` on completions,
``TimerId`` on ``TimerFired``, ``Name``/``Input``/``Result``/``Reason``/``Details`` ...).
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20


class OrchestrationStatus(IntEnum):
    """DTFx ``OrchestrationStatus`` (the value stored in ``ExecutionCompleted.OrchestrationStatus``)."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7


TERMINAL_STATUSES = {"Completed", "Failed", "Terminated", "Canceled"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fmt_time(value: dt.datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, as the library's DATETIME_STRING_FORMAT."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> dt.datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python < 3.11 fromisoformat can't do 7 fractional digits; 3.11 can, but trim to be safe.
    if "." in text:
        head, _, rest = text.partition(".")
        frac = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            frac += ch
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _base(event_type: EventType, timestamp: dt.datetime, event_id: int = -1) -> Event:
    return {"EventType": int(event_type), "EventId": event_id, "IsPlayed": False, "Timestamp": fmt_time(timestamp)}


def orchestrator_started(ts: dt.datetime) -> Event:
    return _base(EventType.OrchestratorStarted, ts)


def orchestrator_completed(ts: dt.datetime) -> Event:
    return _base(EventType.OrchestratorCompleted, ts)


def execution_started(
    ts: dt.datetime,
    *,
    name: str,
    instance_id: str,
    execution_id: str,
    input_json: str | None,
    parent: dict[str, Any] | None = None,
    version: str = "",
) -> Event:
    event = _base(EventType.ExecutionStarted, ts)
    event.update(
        {
            "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
            "ParentInstance": parent,
            "Name": name,
            "Version": version,
            "Input": input_json,
            "Tags": None,
        }
    )
    return event


def task_scheduled(ts: dt.datetime, event_id: int, name: str, input_json: str | None) -> Event:
    event = _base(EventType.TaskScheduled, ts, event_id)
    event.update({"Name": name, "Version": "", "Input": input_json})
    return event


def task_completed(ts: dt.datetime, scheduled_id: int, result_json: str | None) -> Event:
    event = _base(EventType.TaskCompleted, ts)
    event.update({"TaskScheduledId": scheduled_id, "Result": result_json})
    return event


def task_failed(ts: dt.datetime, scheduled_id: int, reason: str, details: str | None) -> Event:
    event = _base(EventType.TaskFailed, ts)
    event.update({"TaskScheduledId": scheduled_id, "Reason": reason, "Details": details})
    return event


def sub_orchestration_created(
    ts: dt.datetime, event_id: int, name: str, instance_id: str, input_json: str | None
) -> Event:
    event = _base(EventType.SubOrchestrationInstanceCreated, ts, event_id)
    event.update({"Name": name, "Version": "", "InstanceId": instance_id, "Input": input_json})
    return event


def sub_orchestration_completed(ts: dt.datetime, scheduled_id: int, result_json: str | None) -> Event:
    event = _base(EventType.SubOrchestrationInstanceCompleted, ts)
    event.update({"TaskScheduledId": scheduled_id, "Result": result_json})
    return event


def sub_orchestration_failed(ts: dt.datetime, scheduled_id: int, reason: str, details: str | None) -> Event:
    event = _base(EventType.SubOrchestrationInstanceFailed, ts)
    event.update({"TaskScheduledId": scheduled_id, "Reason": reason, "Details": details})
    return event


def timer_created(ts: dt.datetime, event_id: int, fire_at: dt.datetime) -> Event:
    event = _base(EventType.TimerCreated, ts, event_id)
    event["FireAt"] = fmt_time(fire_at)
    return event


def timer_fired(ts: dt.datetime, timer_id: int, fire_at: str) -> Event:
    event = _base(EventType.TimerFired, ts)
    event.update({"TimerId": timer_id, "FireAt": fire_at})
    return event


def event_raised(ts: dt.datetime, name: str, input_json: str | None) -> Event:
    event = _base(EventType.EventRaised, ts)
    event.update({"Name": name, "Input": input_json})
    return event


def execution_completed(
    ts: dt.datetime, status: OrchestrationStatus, result_json: str | None, details: str | None = None
) -> Event:
    event = _base(EventType.ExecutionCompleted, ts)
    event.update({"OrchestrationStatus": int(status), "Result": result_json})
    if details is not None:
        event["FailureDetails"] = {"ErrorType": "OrchestrationFailureException", "ErrorMessage": details}
    return event


def execution_terminated(ts: dt.datetime, reason: str | None) -> Event:
    event = _base(EventType.ExecutionTerminated, ts)
    event["Input"] = reason
    return event


def continue_as_new(ts: dt.datetime, input_json: str | None) -> Event:
    event = _base(EventType.ContinueAsNew, ts)
    event.update({"OrchestrationStatus": int(OrchestrationStatus.ContinuedAsNew), "Result": input_json})
    return event


_HIDDEN_IN_STATUS = {
    EventType.OrchestratorStarted,
    EventType.OrchestratorCompleted,
    EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCreated,
    EventType.GenericEvent,
}


def history_for_status(history: list[Event], show_output: bool) -> list[dict[str, Any]]:
    """The ``historyEvents`` array of the status API (as the extension's ConvertHistoryToJsonArray:
    scheduling events folded into their completions as ``FunctionName``/``ScheduledTime``)."""
    import json

    scheduled: dict[int, Event] = {
        e["EventId"]: e
        for e in history
        if e["EventType"] in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated)
    }
    out: list[dict[str, Any]] = []

    def value(raw: Any) -> Any:
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return raw

    for e in history:
        etype = EventType(e["EventType"])
        if etype in _HIDDEN_IN_STATUS:
            continue
        item: dict[str, Any] = {"EventType": etype.name, "EventId": e.get("EventId", -1), "Timestamp": e["Timestamp"]}
        if etype == EventType.ExecutionStarted:
            item["FunctionName"] = e.get("Name")
            item["Correlation"] = None
            if show_output:
                item["Input"] = value(e.get("Input"))
        elif etype in (
            EventType.TaskCompleted,
            EventType.TaskFailed,
            EventType.SubOrchestrationInstanceCompleted,
            EventType.SubOrchestrationInstanceFailed,
        ):
            source = scheduled.get(e.get("TaskScheduledId", -2))
            if source is not None:
                item["FunctionName"] = source.get("Name")
                item["ScheduledTime"] = source.get("Timestamp")
                if etype.name.startswith("SubOrchestration"):
                    item["InstanceId"] = source.get("InstanceId")
            if "Result" in e and show_output:
                item["Result"] = value(e.get("Result"))
            if "Reason" in e:
                item["Reason"] = e.get("Reason")
                item["Details"] = e.get("Details")
        elif etype in (EventType.TimerCreated, EventType.TimerFired):
            item["FireAt"] = e.get("FireAt")
            if etype == EventType.TimerFired:
                item["TimerId"] = e.get("TimerId")
        elif etype == EventType.EventRaised:
            item["Name"] = e.get("Name")
            if show_output:
                item["Input"] = value(e.get("Input"))
        elif etype in (EventType.ExecutionCompleted, EventType.ContinueAsNew):
            item["OrchestrationStatus"] = OrchestrationStatus(e.get("OrchestrationStatus", 1)).name
            if show_output:
                item["Result"] = value(e.get("Result"))
            if "FailureDetails" in e:
                item["FailureDetails"] = e["FailureDetails"]
        elif etype == EventType.ExecutionTerminated:
            item["Input"] = e.get("Input")
        out.append(item)
    return out
