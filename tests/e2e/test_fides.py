"""The Fides receiver (``POST /api/connectors/fides``) and its callback, through the development host.

A real Fides server runs the shipped connector in ``make interop`` (tests/interop). Here, what `make test`
can check in seconds: who may call, what is refused, a task Fides runs again, and the callback strategy
for an access (the shipped connector polls access; cvdsr answers both). The callback route below checks
what Fides' ``POST /api/v1/request-task/callback`` checks: the task's bearer token and the body schema
(``RequestTaskCallbackRequest``: ``access_results``, a list of rows, or ``rows_masked``, an integer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from local.http_server import serve

from .ground_truth import subjects_images
from .support import Environment, environment, stored_texts, wait_for

TOKEN = "fides-e2e-token-7a19"
REPLY_TO_TOKEN = "fides-task-jwe-3be0"


class FidesCallbacks:
    """Fides' callback route: 401 without the task's token, 422 for a body that is not its schema, 400
    when the task no longer waits (``ended`` tokens); ``busy`` answers 503 with Retry-After that many
    times first (a restarting server)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts: list[str] = []
        self.busy = 0
        self.ended: set[str] = set()

    async def callback(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.attempts.append(token)
        if not token.startswith(REPLY_TO_TOKEN):
            return JSONResponse({"detail": "Not Authorized"}, status_code=401)
        if token in self.ended:
            return JSONResponse({"detail": "Callback failed: task not awaiting processing"}, status_code=400)
        if self.busy:
            self.busy -= 1
            return JSONResponse({"detail": "unavailable"}, status_code=503, headers={"Retry-After": "1"})
        body = json.loads(await request.body())
        rows, masked = body.get("access_results"), body.get("rows_masked")
        valid = (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)) or isinstance(masked, int)
        if not valid or set(body) - {"access_results", "rows_masked"}:
            return JSONResponse({"detail": "validation error"}, status_code=422)
        self.received.append(body)
        return JSONResponse({"task_queued": True})


@pytest.fixture(scope="module")
def callbacks() -> Iterator[tuple[FidesCallbacks, str]]:
    fake = FidesCallbacks()
    app = Starlette(routes=[Route("/api/v1/request-task/callback", fake.callback, methods=["POST"])])
    with serve(app) as url:
        yield fake, url


@pytest.fixture(scope="module")
def env(azurite: Any, callbacks: tuple[FidesCallbacks, str]) -> Iterator[Environment]:
    with environment(
        azurite,
        CVDSR_FIDES__TOKEN=TOKEN,
        CVDSR_FIDES__RESOURCES="demo",
        CVDSR_FIDES__URL=callbacks[1],
        CVDSR_FIDES__FILES="false",
        CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY="subject",
    ) as running:
        yield running


def call(env: Environment, body: dict[str, Any] | bytes, token: str = TOKEN) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return httpx.post(f"{env.host.base_url}/api/connectors/fides", content=raw, headers=headers, timeout=60)


def access(
    privacy_request_id: str, email: str, *, callback: bool = False, token: str = REPLY_TO_TOKEN
) -> dict[str, Any]:
    body: dict[str, Any] = {"privacy_request_id": privacy_request_id, "action": "access", "identity": {"email": email}}
    if callback:
        body |= {"reply_to": "/api/v1/request-task/callback", "reply_to_token": token}
    return body


def ended(env: Environment, request_id: str) -> None:
    wait_for(lambda: (env.status(request_id) or {}).get("runtime_status") == "Completed", what=f"{request_id} to end")


def test_a_call_without_the_connections_token_gets_401_and_starts_nothing(env: Environment) -> None:
    calls = env.api_calls()
    for token in ("not-the-token", "x", TOKEN.upper()):
        answer = call(env, access("pri_refused", "alice"), token=token)
        assert answer.status_code == 401, answer.text
        assert TOKEN not in answer.text
    assert env.status("fides-pri_refused-access") is None
    assert env.api_calls() == calls


def test_a_body_cvdsr_cannot_act_on_gets_400_and_starts_nothing(env: Environment) -> None:
    for body in (b"not json", b"[]", json.dumps(access("pri_bad", "alice") | {"action": "consent"}).encode()):
        answer = call(env, body)
        assert answer.status_code == 400, answer.text
        assert "error" in answer.json()
    assert env.status("fides-pri_bad-access") is None


def test_an_access_by_callback_posts_the_persons_rows_and_a_rerun_task_is_the_same_request(
    env: Environment, callbacks: tuple[FidesCallbacks, str]
) -> None:
    fake, _ = callbacks
    expected = subjects_images(env, "alice")
    answer = call(env, access("pri_cb1", "Alice", callback=True))
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"] == "fides-pri_cb1-access", "Fides keeps it as the correlation id"
    (body,) = wait_for(lambda: fake.received[:1] or None, timeout=120, what="the callback")
    assert {row["id"] for row in body["access_results"]} == set(expected), "the person's images, each once"

    # Fides runs the task again (a retry, a restart): the same request, no work done twice, answered again.
    ended(env, "fides-pri_cb1-access")
    calls = env.api_calls()
    again = call(env, access("pri_cb1", "Alice", callback=True))
    assert again.json() == {"outcome": "resent", "request_id": "fides-pri_cb1-access", "reasons": []}
    wait_for(lambda: len(fake.received) == 2 or None, timeout=60, what="the second callback")
    assert fake.received[1] == body
    assert env.api_calls() == calls


def record(env: Environment, request_id: str) -> dict[str, Any]:
    texts = stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    found: dict[str, Any] = json.loads(
        texts[f"blob {env.settings['CVDSR_STATE_CONTAINER']}/connectors/fides/requests/{request_id}.json"]
    )
    return found


def test_fides_busy_delays_the_callback_and_a_task_no_longer_waiting_stops_it(
    env: Environment, callbacks: tuple[FidesCallbacks, str]
) -> None:
    fake, _ = callbacks
    fake.busy = 2
    token = f"{REPLY_TO_TOKEN}-busy"
    call(env, access("pri_busy", "bob", callback=True, token=token))
    ended(env, "fides-pri_busy-access")
    assert record(env, "fides-pri_busy-access")["reported"]["answer"] == "sent"
    assert fake.attempts.count(token) == 3, "two 503s waited out (Retry-After), then taken"

    # The task ended in Fides (or was run again with a new token): 400, recorded, never retried.
    gone = f"{REPLY_TO_TOKEN}-gone"
    fake.ended.add(gone)
    call(env, access("pri_gone", "bob", callback=True, token=gone))
    ended(env, "fides-pri_gone-access")
    assert fake.attempts.count(gone) == 1, "not retried"
    kept = record(env, "fides-pri_gone-access")
    assert kept["reported"]["answer"] == "not_modifiable"
    assert "credentials" not in kept


def test_no_token_in_logs_history_blobs_or_events(
    env: Environment, callbacks: tuple[FidesCallbacks, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = call(env, access("pri_leak", "nobody-at-all@example.test", callback=True))
    request_id = answer.json()["request_id"]
    ended(env, request_id)
    texts = {"logs": "\n".join(record.getMessage() for record in caplog.records)}
    assert request_id in texts["logs"], "the host's logs were captured"
    texts |= stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    texts["events"] = json.dumps(env.events(request_id))
    record = f"blob {env.settings['CVDSR_STATE_CONTAINER']}/connectors/fides/requests/{request_id}.json"
    assert json.loads(texts[record])["reported"]["answer"] == "sent"
    for where, text in texts.items():
        assert TOKEN not in text, where
        assert "nobody-at-all@example.test" not in text, where
        assert REPLY_TO_TOKEN not in text, f"{where}: the reply-to token is dropped once the answer is sent"
