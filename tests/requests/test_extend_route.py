"""``POST /api/requests/{id}/extend`` refuses a body it cannot read with 400 before it asks anything of
the Durable extension (the client here would fail if it were asked)."""

from __future__ import annotations

import pytest

from shared import http_api


class Unasked:
    async def get_status(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a bad body must not reach the Durable extension")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 3000,  # past the JSON parser's recursion limit
        b"not json",
        b"\xff\xfe",
        b'["until", "reason"]',
        b'{"until": "2027-03-01garbage", "reason": "r"}',
        b'{"until": "20270301", "reason": "r"}',
        b'{"until": "2027-02-30", "reason": "r"}',
        b'{"until": "2027-03-01", "reason": 5}',
        b'{"until": "2027-03-01"}',
        b"{" + b" " * 5000 + b"}",  # over the body limit
    ],
)
async def test_a_body_that_is_not_an_extension_is_a_400(body: bytes) -> None:
    answer = await http_api.extend_request("REQ-1", body, Unasked())  # type: ignore[arg-type]
    assert answer.code == 400
    assert "until" in answer.document["error"]


async def test_a_bad_request_id_is_a_400() -> None:
    answer = await http_api.extend_request("../x", b'{"until": "2027-03-01", "reason": "r"}', Unasked())  # type: ignore[arg-type]
    assert answer.code == 400
