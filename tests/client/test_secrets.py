"""The training key and SAS signatures never show up in logs, exceptions, reprs or retry traces."""

from __future__ import annotations

import logging

import httpx
import pytest

from shared.customvision import CustomVisionClientError, UriExpiredError

from .conftest import BASE, KEY, error

SIG = "sv=2024-01-01&se=2026-12-01&sig=TOPSECRETSIGNATURE%3D"


async def test_key_and_signature_never_leak(make_client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shared")
    answers = iter(
        [
            error(503, "ErrorUnknown", "busy"),
            error(401, "401", "Access denied due to invalid subscription key"),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.example":
            return httpx.Response(403, text="<Error><Code>AuthenticationFailed</Code></Error>")
        return next(answers)

    client = make_client(answer)
    failures: list[BaseException] = []
    async with client:
        for call in (
            client.get_projects(),
            _download(client, f"https://storage.example/img/1.png?{SIG}"),
        ):
            try:
                await call
            except CustomVisionClientError as exc:
                failures.append(exc)
    assert len(failures) == 2
    assert isinstance(failures[1], UriExpiredError)
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(exc) for exc in failures] + [repr(exc) for exc in failures]
    texts += [repr(client), repr(client._requester._http.headers), repr(client._requester._auth)]
    assert any("retrying" in text for text in texts), "the retry trace was logged"
    for text in texts:
        assert KEY not in text
        assert "TOPSECRETSIGNATURE" not in text


async def _download(client, uri: str) -> None:
    async with client.download("p1", uri) as download:
        async for _chunk in download.aiter_bytes():
            pass


async def test_storage_downloads_do_not_carry_the_key(make_client, recorder) -> None:
    async with make_client(
        lambda _request: httpx.Response(200, content=b"PNGDATA", headers={"Content-Type": "image/png"})
    ) as client:
        async with client.download("p1", f"https://storage.example/img/1.png?{SIG}") as download:
            body = b"".join([chunk async for chunk in download.aiter_bytes()])
            assert download.content_type == "image/png"
    assert body == b"PNGDATA"
    assert "Training-Key" not in recorder.requests[0].headers
    assert str(recorder.requests[0].url) == f"https://storage.example/img/1.png?{SIG}", "the SAS query is kept"


async def test_relative_uris_go_through_get_artifact_with_the_key(make_client, recorder) -> None:
    async with make_client(lambda _request: httpx.Response(200, content=b"zip")) as client:
        async with client.download("p1", "exports/model.zip") as download:
            assert b"".join([c async for c in download.aiter_bytes()]) == b"zip"
    request = recorder.requests[0]
    assert str(request.url) == f"{BASE}/projects/p1/artifacts?path=exports%2Fmodel.zip"
    assert request.headers["Training-Key"] == KEY
