"""NCRONTAB schedules for timer triggers, as Azure Functions reads them.

Six fields, ``second minute hour day month day-of-week``, each ``*``, a value, ``a-b``, any of these with
``/step`` (``a/step`` runs from ``a`` to the field's end), or a comma-separated list of them. Months and
days of the week may be named (``Jan``, ``Monday``); Sunday is 0. As in NCrontab, a time matches when *every*
field matches (day and day-of-week both). Times are UTC, the Functions host's default time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .config import HostConfigError

_MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# (name, lowest, highest, names of the values from the lowest on)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _WEEKDAYS),
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February 29 exists in leap years
# Any day/month pair that exists falls on every weekday within 28 years (the Gregorian cycle, for the
# years a schedule can reach); 30 bounds the search.
_SEARCH_YEARS = 30


class ScheduleError(HostConfigError):
    """The expression is not a six-field NCRONTAB schedule (the message says which field and why)."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the allowed values of each field."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first occurrence strictly after ``moment`` (UTC; a naive ``moment`` is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        t = moment.astimezone(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
        last_year = t.year + _SEARCH_YEARS
        # Move to the start of the next candidate month, day, hour, minute or second until all fields match.
        while t.year <= last_year:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif t.day not in self.days or (t.weekday() + 1) % 7 not in self.days_of_week:
                t = t.replace(hour=0, minute=0, second=0) + dt.timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + dt.timedelta(hours=1)
            elif t.minute not in self.minutes:
                t = t.replace(second=0) + dt.timedelta(minutes=1)
            elif t.second not in self.seconds:
                t += dt.timedelta(seconds=1)
            else:
                return t
        raise ScheduleError(f"schedule '{self.expression}' has no occurrence within {_SEARCH_YEARS} years")


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    # Names as NCrontab takes them: any prefix of the English name (at least three letters here).
    named = [i for i, full in enumerate(names) if len(text) >= 3 and full.lower().startswith(text.lower())]
    if named:
        number = named[0] + low
    elif text.isascii() and text.isdigit():
        number = int(text)
    else:
        raise ScheduleError(f"{name} field: {text!r} is not a number")
    if not low <= number <= high:
        raise ScheduleError(f"{name} field: {number} is out of range {low}-{high}")
    return number


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise ScheduleError(f"{name} field: step {step_text!r} in {part!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, name, low, high, names), _value(b, name, low, high, names)
            if first > last:
                raise ScheduleError(f"{name} field: range {base!r} runs backwards")
        elif base:
            first = _value(base, name, low, high, names)
            last = high if slash else first
        else:
            raise ScheduleError(f"{name} field: empty value in {text!r}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_schedule(expression: str) -> Schedule:
    """Parse a six-field NCRONTAB expression; raises :class:`ScheduleError` saying what is wrong."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleError(
            f"schedule {expression!r} has {len(parts)} field(s); an NCRONTAB schedule has six: "
            "second minute hour day month day-of-week (e.g. '0 */5 * * * *')"
        )
    try:
        fields = [_field(text, *spec) for text, spec in zip(parts, _FIELDS, strict=True)]
    except ScheduleError as exc:
        raise ScheduleError(f"schedule {expression!r}: {exc}") from None
    days, months = fields[3], fields[4]
    if not any(day <= _DAYS_IN_MONTH[month - 1] for month in months for day in days):
        raise ScheduleError(f"schedule {expression!r} never occurs: no month in it has those days")
    return Schedule(expression, *fields)
