"""The statutory clock: when a request is due, how far it may be extended, and what is left.

One place for the rules (README "The statutory clock"):

- ``gdpr``, ``uk_gdpr`` (Art. 12(3)): one month from receipt, extendable by two further months when the
  person is told within the first month. A period in months ends on the same date of the last month, or
  on that month's last day when it has no such date (Regulation 1182/71 Art. 3(2)(c); EDPB Guidelines
  01/2022 on the right of access, and the ICO's guidance, count it so); an end on a Saturday or Sunday
  moves to the next Monday (Art. 3(4)). Public holidays are not modelled.
- ``ccpa`` (CCPA Regulations §7021): receipt confirmed within 10 business days (Monday to Friday here;
  California's holidays are not modelled), answered within 45 calendar days, extendable once by 45 more
  with notice within the first 45. The period "begins on the day that the business receives the
  request", so that day is day 1: due on day 45, received + 44 (the earlier of the two readings).
- ``other``: no rule; ``due_at`` is whatever the request says, and an extension has no legal maximum.

A deadline is the end of its day, counted in the offset of ``received_at`` as the sender gave it (UTC
when intake stamps it): a request received at any time on 31 January under the GDPR is due by the end
of 28 (or 29) February there. A sender whose day differs from UTC's (California, eight hours behind)
should send ``received_at`` with its offset, or the day of receipt may be taken as the next one.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

Jurisdiction = Literal["gdpr", "uk_gdpr", "ccpa", "other"]
JURISDICTIONS: tuple[Jurisdiction, ...] = ("gdpr", "uk_gdpr", "ccpa", "other")
END_OF_DAY = time(23, 59, 59)


class ExtensionRefused(ValueError):
    """An extension the rule does not allow (beyond the maximum, too late, or once too often)."""


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, or that month's last day when it has no such date."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_weekday(day: date) -> date:
    """``day``, or the Monday after it when it is a Saturday or Sunday."""
    return day + timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day


def add_business_days(day: date, days: int) -> date:
    """``days`` business days (Monday to Friday) after ``day``."""
    current = day
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def end_of(day: date, zone: tzinfo | None = None) -> datetime:
    """The last second of ``day`` in ``zone`` (UTC by default)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=zone or UTC)


@dataclass(frozen=True)
class Rule:
    """A jurisdiction's deadlines, from the day of receipt."""

    jurisdiction: Jurisdiction
    statute: str

    def due(self, received: date) -> date | None:
        if self.jurisdiction in ("gdpr", "uk_gdpr"):
            return next_weekday(add_months(received, 1))
        if self.jurisdiction == "ccpa":
            return received + timedelta(days=44)  # the day of receipt is day 1
        return None

    def latest(self, received: date) -> date | None:
        """The furthest an extension may move the due date (None: no legal maximum)."""
        if self.jurisdiction in ("gdpr", "uk_gdpr"):
            return next_weekday(add_months(received, 3))
        if self.jurisdiction == "ccpa":
            return received + timedelta(days=89)
        return None

    def acknowledge_by(self, received: date) -> date | None:
        """When receipt must be confirmed to the person, where the law says so."""
        return add_business_days(received, 10) if self.jurisdiction == "ccpa" else None

    @property
    def extensions_allowed(self) -> int | None:
        """How many times the due date may be moved (None: no limit). The CCPA allows one extension;
        the GDPR a total of two further months, which cvdsr lets a team take in steps."""
        return 1 if self.jurisdiction == "ccpa" else None


RULES: dict[Jurisdiction, Rule] = {
    "gdpr": Rule("gdpr", "GDPR Art. 12(3)"),
    "uk_gdpr": Rule("uk_gdpr", "UK GDPR Art. 12(3)"),
    "ccpa": Rule("ccpa", "CCPA Regulations §7021"),
    "other": Rule("other", "none"),
}


def instant(value: Any) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (naive: UTC); None for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def stamp(request: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The request with ``received_at`` (now, when the sender did not say) and ``due_at`` (by its
    jurisdiction's rule, when the sender did not say). Applied after the request's binding is taken,
    so a redelivery, stamped later, is still the same request."""
    stamped = dict(request)
    received = instant(request.get("received_at")) or now.astimezone(UTC)
    stamped["received_at"] = received.isoformat()
    jurisdiction = request.get("jurisdiction")
    if not request.get("due_at") and jurisdiction in RULES:
        due = RULES[jurisdiction].due(received.date())  # the day of receipt where the sender counts
        stamped["due_at"] = end_of(due, received.tzinfo).isoformat() if due else None
    return stamped


def check_extension(
    request: Mapping[str, Any], previous: Sequence[Mapping[str, Any]], until: date, now: datetime
) -> datetime:
    """The new due time of an extension to ``until``, or ExtensionRefused saying why not."""
    received = instant(request.get("received_at"))
    original = instant(request.get("due_at"))
    if received is None or original is None:
        raise ExtensionRefused("the request has no due date to extend (give jurisdiction or due_at)")
    rule = RULES.get(request.get("jurisdiction") or "other", RULES["other"])
    current = max([original, *(instant(item.get("until")) or original for item in previous)])
    new_due = end_of(until, original.tzinfo)
    if new_due <= current:
        raise ExtensionRefused(f"until must be after the current due date ({current.date().isoformat()})")
    if now > original:
        raise ExtensionRefused(
            f"an extension must be made, and the person told, before the original due date "
            f"({original.date().isoformat()}; {rule.statute})"
        )
    latest = rule.latest(received.date())
    if latest is not None and until > latest:
        raise ExtensionRefused(f"{rule.statute} allows an extension to {latest.isoformat()} at the latest")
    allowed = rule.extensions_allowed
    if allowed is not None and len(previous) >= allowed:
        raise ExtensionRefused(f"{rule.statute} allows {allowed} extension")
    return new_due


def acknowledge_by(request: Mapping[str, Any]) -> str | None:
    """The day by which the request's receipt must be confirmed, where its law says so (ISO date)."""
    rule = RULES.get(request.get("jurisdiction") or "other")
    received = instant(request.get("received_at"))
    day = rule.acknowledge_by(received.date()) if rule and received else None
    return day.isoformat() if day else None


def clock(request: Mapping[str, Any], extensions: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """What status and events say of the deadline: ``due_at`` (extended, if it was), ``days_left``
    (whole days from ``now`` to the due day, in the due date's own offset; negative once overdue; None
    without a due date), ``extended`` and the last extension's ``extension_reason``. For a request that
    has ended, ``now`` is its completion: the days it had left when it was answered."""
    original = instant(request.get("due_at"))
    last = extensions[-1] if extensions else None
    due = instant(last.get("until")) if last else original
    return {
        "jurisdiction": request.get("jurisdiction"),
        "received_at": request.get("received_at"),
        "due_at": due.isoformat() if due else None,
        "days_left": (due.date() - now.astimezone(due.tzinfo).date()).days if due else None,
        "extended": last is not None,
        "extension_reason": last.get("reason") if last else None,
    }
