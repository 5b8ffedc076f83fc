"""``GET /api/requests?from=&to=`` (the register): 413 past the cap, 503 when storage does not
answer, never a 500 (the bad ranges are in tests/e2e/test_register.py, through the host)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shared import http_api, register

RANGE = {"from": "2026-12-01", "to": "2026-12-31"}


async def test_more_records_than_one_answer_is_a_413(monkeypatch: pytest.MonkeyPatch, azurite: Any) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)

    async def too_many(*args: object, **kwargs: object) -> list[dict[str, Any]]:
        raise register.TooManyRecords("more than 10000 requests received in the range: ask for a shorter one")

    monkeypatch.setattr(register, "read", too_many)
    answer = await http_api.register_records(RANGE)
    assert answer.code == 413
    assert "shorter" in answer.document["error"]


async def test_storage_that_does_not_answer_is_a_503(monkeypatch: pytest.MonkeyPatch, azurite: Any) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)

    async def unavailable(service: object, start: date, end: date) -> list[dict[str, Any]]:
        raise ConnectionError("storage is down")

    monkeypatch.setattr(register, "read", unavailable)
    answer = await http_api.register_records(RANGE)
    assert answer.code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "down" not in str(answer.document)


async def test_the_longest_range_is_731_days(monkeypatch: pytest.MonkeyPatch, azurite: Any) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("CVDSR_REGISTER_CONTAINER", "register-range-test")
    longest = await http_api.register_records({"from": "2025-01-01", "to": "2027-01-01"})
    assert longest.code == 200, longest.document
    assert longest.document["records"] == []
    too_long = await http_api.register_records({"from": "2025-01-01", "to": "2027-01-02"})
    assert too_long.code == 400
