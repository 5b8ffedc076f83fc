"""NCRONTAB schedules (local.host.schedule): next occurrences, errors, and a bad timer schedule refused when
the host loads the app."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from local.host import HostConfig, HostConfigError, run_host
from local.host.schedule import ScheduleError, parse_schedule

from .helpers import APPS


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def occurrences(expression: str, start: str, count: int) -> list[str]:
    schedule = parse_schedule(expression)
    moment, out = at(start), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment.strftime("%Y-%m-%d %a %H:%M:%S"))
    return out


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        # every second, strictly after the moment (fractions dropped)
        ("* * * * * *", "2026-11-27T10:00:00.500", ["2026-11-27 Fri 10:00:01", "2026-11-27 Fri 10:00:02"]),
        # every five minutes, across the hour
        ("0 */5 * * * *", "2026-11-27T10:53:20", ["2026-11-27 Fri 10:55:00", "2026-11-27 Fri 11:00:00"]),
        # weekdays at 9:30: Friday after 9:30 goes to Monday
        ("0 30 9 * * 1-5", "2026-11-27T10:00:00", ["2026-11-30 Mon 09:30:00", "2026-12-01 Tue 09:30:00"]),
        # a range with a step: 9, 11, ..., 17, then the next day
        (
            "0 0 9-17/2 * * *",
            "2026-11-27T14:00:00",
            ["2026-11-27 Fri 15:00:00", "2026-11-27 Fri 17:00:00", "2026-11-28 Sat 09:00:00"],
        ),
        # a list of days, across the month and the year
        (
            "0 0 12 1,15 * *",
            "2026-12-15T12:00:00",
            ["2027-01-01 Fri 12:00:00", "2027-01-15 Fri 12:00:00", "2027-02-01 Mon 12:00:00"],
        ),
        # a value with a step runs to the field's end; names for months and days
        ("0 0 0 1 Jan/3 *", "2026-02-01T00:00:00", ["2026-04-01 Wed 00:00:00", "2026-07-01 Wed 00:00:00"]),
        ("0 0 8 * * Sun,Saturday", "2026-11-27T09:00:00", ["2026-11-28 Sat 08:00:00", "2026-11-29 Sun 08:00:00"]),
        # day AND day-of-week, as NCrontab: Friday the 13th
        ("0 0 0 13 * 5", "2026-01-01T00:00:00", ["2026-02-13 Fri 00:00:00", "2026-03-13 Fri 00:00:00"]),
        # February 29 only in leap years
        ("0 0 0 29 2 *", "2026-03-01T00:00:00", ["2028-02-29 Tue 00:00:00", "2032-02-29 Sun 00:00:00"]),
        # day-of-week ranges with steps: Sunday, Tuesday, Thursday, Saturday at 23:59:59
        (
            "59 59 23 * * 0-6/2",
            "2026-12-31T23:59:59",
            ["2027-01-02 Sat 23:59:59", "2027-01-03 Sun 23:59:59", "2027-01-05 Tue 23:59:59"],
        ),
    ],
)
def test_next_occurrences(expression, start, expected):
    assert occurrences(expression, start, len(expected)) == expected


def test_next_after_takes_any_time_zone_and_answers_in_utc():
    schedule = parse_schedule("0 0 12 * * *")
    paris = dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 11:30 UTC
    assert schedule.next_after(paris) == at("2026-07-01T12:00:00")
    assert schedule.next_after(dt.datetime(2026, 7, 1, 12, 0)) == at("2026-07-02T12:00:00")  # naive = UTC


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("*/5 * * * *", "has 5 field(s); an NCRONTAB schedule has six"),
        ("", "has 0 field(s)"),
        ("00:05:00", "has 1 field(s)"),
        ("61 * * * * *", "second field: 61 is out of range 0-59"),
        ("0 0 24 * * *", "hour field: 24 is out of range 0-23"),
        ("0 0 0 0 * *", "day field: 0 is out of range 1-31"),
        ("0 0 0 * 13 *", "month field: 13 is out of range 1-12"),
        ("0 0 0 * * 7", "day-of-week field: 7 is out of range 0-6"),
        ("0 0 5-1 * * *", "hour field: range '5-1' runs backwards"),
        ("*/0 * * * * *", "second field: step '0' in '*/0' must be a positive number"),
        ("0 0 0 * * Funday", "day-of-week field: 'Funday' is not a number"),
        ("0 0 0 1,,2 * *", "day field: empty value"),
        ("0 0 0 31 2,4 *", "never occurs"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression, message):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(expression)
    assert message in str(info.value)


def timer_env(azurite, tmp_path, schedule: str | None) -> dict[str, str]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": "sched" + uuid.uuid4().hex[:8],
        "HOST_TEST_RECORD": str(tmp_path / "record.txt"),
    }
    if schedule is not None:
        env["TEST_TICK_SCHEDULE"] = schedule
    return env


def test_bad_timer_schedule_is_refused_at_load(azurite, tmp_path):
    with pytest.raises(HostConfigError) as info:
        with run_host(HostConfig(project_dir=APPS / "timer", port=0, env=timer_env(azurite, tmp_path, "0 0 25 * * *"))):
            pass
    assert str(info.value) == (
        "function 'tick': timer schedule '0 0 25 * * *': hour field: 25 is out of range 0-23 "
        "(from '%TEST_TICK_SCHEDULE%')"
    )
    assert not (tmp_path / "record.txt").exists()  # nothing ran, not even the run_on_startup timer


def test_timer_schedule_setting_that_is_not_defined_is_refused_at_load(azurite, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_TICK_SCHEDULE", raising=False)
    with pytest.raises(HostConfigError, match="function 'tick': app setting 'TEST_TICK_SCHEDULE'"):
        with run_host(HostConfig(project_dir=APPS / "timer", port=0, env=timer_env(azurite, tmp_path, None))):
            pass
