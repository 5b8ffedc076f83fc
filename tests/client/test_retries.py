"""Retry behaviour on answers the simulator cannot script exactly (dates in Retry-After, budgets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from shared.customvision import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    parse_retry_after,
)

from .conftest import error, gateway_error


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4", now=now) == 0.0
    for bad in (None, "", "soon", "nan"):
        assert parse_retry_after(bad, now=now) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_429_waits_for_retry_after_then_succeeds(make_client, recorder) -> None:
    answers = iter([gateway_error(429, "rate limit", **{"Retry-After": "2"}), httpx.Response(200, json=[])])
    async with make_client(lambda _request: next(answers)) as client:
        assert await client.get_projects() == []
    assert len(recorder.requests) == 2
    assert len(recorder.sleeps) == 1
    # Retry-After plus at most half of it again as jitter.
    assert 2.0 <= recorder.sleeps[0] <= 3.0


async def test_429_with_http_date_retry_after(make_client, recorder) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answers = iter([gateway_error(429, "slow down", **{"Retry-After": when}), httpx.Response(200, json=[])])
    async with make_client(lambda _request: next(answers)) as client:
        await client.get_projects()
    assert 28.0 <= recorder.sleeps[0] <= 45.0


async def test_429_without_retry_after_backs_off_exponentially_with_jitter(make_client, recorder) -> None:
    answers = iter([gateway_error(429, "x")] * 4 + [httpx.Response(200, json=[])])
    async with make_client(lambda _request: next(answers)) as client:
        await client.get_projects()
    assert len(recorder.sleeps) == 4
    # Full jitter: each wait is within [0, min(max_delay, base * 2**(n-1))].
    for number, slept in enumerate(recorder.sleeps, start=1):
        assert 0 <= slept <= min(1.0, 0.1 * 2 ** (number - 1))
    assert len(set(recorder.sleeps)) == 4, "jitter makes waits differ"


async def test_retries_are_bounded_in_attempts(make_client, recorder) -> None:
    async with make_client(lambda _request: error(503, "ErrorUnknown", "busy")) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.get_projects()
    assert len(recorder.requests) == 5
    assert caught.value.attempts == 5
    assert caught.value.status_code == 503


async def test_retries_are_bounded_in_time(make_client, recorder) -> None:
    # The server asks for a wait longer than the whole budget: give up now instead of sleeping.
    policy = RetryPolicy(max_attempts=10, max_elapsed_seconds=5.0)
    answer = gateway_error(429, "Please retry after 30 seconds", **{"Retry-After": "30"})
    async with make_client(lambda _request: answer, retry=policy) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get_projects()
    assert recorder.sleeps == []
    assert caught.value.code == "429"
    assert "Please retry after 30 seconds" in str(caught.value)


async def test_client_errors_are_not_retried(make_client, recorder) -> None:
    async with make_client(lambda _request: error(400, "BadRequestIterationIsPublished", "published")) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.delete_iteration("p", "i")
    assert len(recorder.requests) == 1
    assert caught.value.code == "BadRequestIterationIsPublished"
    assert caught.value.request_id == "req-1"
    assert caught.value.operation == "DeleteIteration"


async def test_unknown_error_codes_are_kept(make_client) -> None:
    async with make_client(lambda _request: error(400, "BadRequestSomethingNewIn2027")) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.get_projects()
    assert caught.value.code == "BadRequestSomethingNewIn2027"


async def test_connection_errors_are_retried_then_reported(make_client, recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_client(refuse) as client:
        with pytest.raises(APIConnectionError, match="ConnectError after 5 attempt"):
            await client.get_projects()
    assert len(recorder.requests) == 5


async def test_timeouts_become_api_timeout_errors(make_client) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with make_client(slow) as client:
        with pytest.raises(APITimeoutError):
            await client.get_projects()


async def test_a_dropped_connection_then_success(make_client, recorder) -> None:
    calls = iter([None, httpx.Response(200, json=[{"id": "p1", "name": "Birds"}])])

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = next(calls)
        if answer is None:
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return answer

    async with make_client(flaky) as client:
        projects = await client.get_projects()
    assert [project.name for project in projects] == ["Birds"]
    assert len(recorder.sleeps) == 1
