"""The statutory clock's rules (shared/deadlines.py): month ends, leap years, weekends, business days
for the CCPA acknowledgement, and extensions within and beyond the legal maximum."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.deadlines import (
    RULES,
    ExtensionRefused,
    add_business_days,
    add_months,
    check_extension,
    clock,
    next_weekday,
    stamp,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "months", "expected"),
    [
        (date(2027, 1, 15), 1, date(2027, 2, 15)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 12, 31), 1, date(2028, 1, 31)),  # over the year end
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2027, 8, 31), 3, date(2027, 11, 30)),
    ],
)
def test_a_month_ends_on_the_same_date_or_the_months_last_day(received: date, months: int, expected: date) -> None:
    assert add_months(received, months) == expected


def test_a_deadline_on_a_weekend_moves_to_monday() -> None:
    assert next_weekday(date(2027, 5, 1)) == date(2027, 5, 3)  # Saturday
    assert next_weekday(date(2027, 5, 2)) == date(2027, 5, 3)  # Sunday
    assert next_weekday(date(2027, 5, 3)) == date(2027, 5, 3)
    # Received Thursday 1 April 2027: one month is Saturday 1 May, so Monday 3 May.
    assert RULES["gdpr"].due(date(2027, 4, 1)) == date(2027, 5, 3)
    assert RULES["uk_gdpr"].due(date(2027, 4, 1)) == date(2027, 5, 3)


def test_ccpa_counts_calendar_days_and_business_days_for_the_acknowledgement() -> None:
    rule = RULES["ccpa"]
    # 45 calendar days, the day of receipt being day 1, weekend or not: 1 January → 14 February.
    assert rule.due(date(2027, 1, 1)) == date(2027, 2, 14)
    assert rule.latest(date(2027, 1, 1)) == date(2027, 3, 31)  # extended once by 45: day 90
    # Friday 1 January 2027 + 10 business days: Friday 15 January (weekends skipped).
    assert rule.acknowledge_by(date(2027, 1, 1)) == date(2027, 1, 15)
    assert add_business_days(date(2027, 1, 8), 1) == date(2027, 1, 11)  # Friday → Monday
    assert RULES["gdpr"].acknowledge_by(date(2027, 1, 1)) is None


def test_stamp_fills_received_and_due_and_keeps_what_the_sender_gave() -> None:
    now = at("2029-01-31T16:20:00")
    stamped = stamp({"request_id": "r", "jurisdiction": "gdpr"}, now)
    assert stamped["received_at"] == "2029-01-31T16:20:00+00:00"
    assert stamped["due_at"] == "2029-02-28T23:59:59+00:00", "the end of the due day (a Wednesday)"
    # In 2027, 28 February is a Sunday: due on Monday 1 March.
    assert stamp({"jurisdiction": "gdpr"}, at("2027-01-31T16:20:00"))["due_at"] == "2027-03-01T23:59:59+00:00"
    given = stamp({"jurisdiction": "ccpa", "received_at": "2027-01-01T09:00:00Z"}, now)
    assert given["received_at"] == "2027-01-01T09:00:00+00:00"
    assert given["due_at"] == "2027-02-14T23:59:59+00:00"
    sender = stamp({"jurisdiction": "gdpr", "due_at": "2027-02-10T12:00:00Z"}, now)
    assert sender["due_at"] == "2027-02-10T12:00:00Z", "the sender's own due date is kept"
    assert stamp({"jurisdiction": "other"}, now)["due_at"] is None
    assert "due_at" not in stamp({}, now)


def test_the_day_of_receipt_is_the_senders_and_the_due_day_ends_there() -> None:
    # 20:00 in California on 31 January is 04:00 UTC on 1 February: the request was received on the 31st.
    late = stamp({"jurisdiction": "ccpa", "received_at": "2027-01-31T20:00:00-08:00"}, at("2027-02-01T04:00:00"))
    assert late["received_at"] == "2027-01-31T20:00:00-08:00"
    assert late["due_at"] == "2027-03-16T23:59:59-08:00", "day 45 counted from 31 January, ending in California"
    assert clock(late, [], at("2027-03-17T06:00:00"))["days_left"] == 0, "still the 16th (due today) in California"
    assert clock(late, [], at("2027-03-17T08:00:00"))["days_left"] == -1, "midnight there: a day late"


def request(jurisdiction: str, received: str = "2027-01-10T08:00:00") -> dict[str, Any]:
    return stamp({"jurisdiction": jurisdiction, "received_at": f"{received}+00:00"}, at(received))


def test_a_gdpr_extension_up_to_two_further_months_in_steps() -> None:
    gdpr = request("gdpr")  # due Wednesday 10 February 2027
    now = at("2027-02-01T10:00:00")
    first = check_extension(gdpr, [], date(2027, 3, 10), now)
    assert first.isoformat() == "2027-03-10T23:59:59+00:00"
    done = [{"until": first.isoformat(), "reason": "complex"}]
    assert check_extension(gdpr, done, date(2027, 4, 12), now).date() == date(2027, 4, 12)  # 10 April is a Saturday
    with pytest.raises(ExtensionRefused, match=r"2027-04-12 at the latest"):
        check_extension(gdpr, done, date(2027, 4, 13), now)


def test_an_extension_is_refused_too_late_backwards_or_twice_under_the_ccpa() -> None:
    gdpr = request("gdpr")
    with pytest.raises(ExtensionRefused, match="before the original due date"):
        check_extension(gdpr, [], date(2027, 3, 1), at("2027-02-11T00:00:01"))
    with pytest.raises(ExtensionRefused, match="after the current due date"):
        check_extension(gdpr, [], date(2027, 2, 5), at("2027-02-01T00:00:00"))
    ccpa = request("ccpa")  # received 10 January: due 23 February, at most 9 April
    now = at("2027-02-01T00:00:00")
    first = check_extension(ccpa, [], date(2027, 3, 20), now)
    with pytest.raises(ExtensionRefused, match="allows 1 extension"):
        check_extension(ccpa, [{"until": first.isoformat(), "reason": "r"}], date(2027, 4, 1), now)
    with pytest.raises(ExtensionRefused, match="2027-04-09 at the latest"):
        check_extension(ccpa, [], date(2027, 4, 10), now)
    with pytest.raises(ExtensionRefused, match="no due date"):
        check_extension(stamp({}, now), [], date(2027, 4, 1), now)
    # No jurisdiction's rule: a due date the sender gave may be moved as far as the team says.
    other = stamp({"jurisdiction": "other", "due_at": "2027-02-10T00:00:00Z"}, now)
    assert check_extension(other, [], date(2030, 1, 1), now).year == 2030


def test_the_clock_says_days_left_and_the_extension() -> None:
    gdpr = request("gdpr")
    assert clock(gdpr, [], at("2027-02-01T12:00:00")) | {} == {
        "jurisdiction": "gdpr",
        "received_at": "2027-01-10T08:00:00+00:00",
        "due_at": "2027-02-10T23:59:59+00:00",
        "days_left": 9,
        "extended": False,
        "extension_reason": None,
    }
    extended = clock(gdpr, [{"until": "2027-03-10T23:59:59+00:00", "reason": "many images"}], at("2027-03-12T00:00:00"))
    assert (extended["due_at"], extended["days_left"]) == ("2027-03-10T23:59:59+00:00", -2)
    assert (extended["extended"], extended["extension_reason"]) == (True, "many images")
    assert clock(stamp({}, at("2027-01-01T00:00:00")), [], at("2027-01-02T00:00:00"))["days_left"] is None
