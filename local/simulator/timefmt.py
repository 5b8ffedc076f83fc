"""Timestamps in the service's wire format.

The real service is .NET and writes seven fractional digits (`2026-01-15T09:00:00.1234567Z`); msrest
truncates them to six when it parses. Emitting the same format catches clients that parse timestamps
with a stricter parser than the SDK's.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_wire(moment: datetime) -> str:
    """Format an aware datetime as `YYYY-MM-DDTHH:MM:SS.fffffffZ` in UTC."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def format_http(moment: datetime) -> str:
    """RFC 7231 date, as storage error bodies and `Date`-style fields use."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def format_sas(moment: datetime) -> str:
    """Second-precision UTC timestamp as used by SAS `se=`/`st=` parameters."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_wire(value: str) -> datetime:
    """Parse an ISO 8601 timestamp from a request body; naive values are taken as UTC."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
