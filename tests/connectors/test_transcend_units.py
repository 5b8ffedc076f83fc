"""The Transcend connector's parts, without a host: settings, token verification against the fake
Sombra's keys (served for real where the key is fetched), the webhook's parsing, the outbound retries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from local.http_server import serve
from local.platforms.transcend import FakeSombra, _pem
from shared.connectors import transcend
from shared.connectors.outbound import NotModifiable, PlatformClient, PlatformError
from shared.customvision.retry import RetryPolicy
from shared.results.store import ResultStore, jsonl_bytes
from shared.settings import SettingsError, TranscendSettings, app_settings
from tests.results.conftest import new_container

API_KEY = "tk_live_unit-5b0e"


def settings(**overrides: str) -> TranscendSettings:
    environ = {
        "CVDSR_TRANSCEND__SOMBRA_URL": "http://127.0.0.1:9",
        "CVDSR_TRANSCEND__API_KEY": API_KEY,
        "CVDSR_TRANSCEND__AUDIENCE": "acme",
        "CVDSR_TRANSCEND__RESOURCES": "demo",
        **{f"CVDSR_TRANSCEND__{name.upper()}": value for name, value in overrides.items()},
    }
    configured = app_settings(environ).transcend
    assert configured is not None
    return configured


@pytest.fixture
def sombra() -> FakeSombra:
    return FakeSombra(api_key=API_KEY, audience="acme")


@pytest.fixture
def served(sombra: FakeSombra) -> Iterator[str]:
    transcend._keys.clear()
    with serve(sombra.app()) as url:
        yield url


def test_transcend_settings_are_checked_and_never_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        app_settings({"CVDSR_TRANSCEND__API_KEY": API_KEY, "CVDSR_TRANSCEND__SOMBRA_URL": "ftp://sombra"})
    message = str(raised.value)
    assert "CVDSR_TRANSCEND__AUDIENCE: Field required" in message
    assert "CVDSR_TRANSCEND__SOMBRA_URL" in message
    assert "CVDSR_TRANSCEND__RESOURCES" in message
    assert API_KEY not in message
    assert "ftp://sombra" not in message
    assert app_settings({}).transcend is None
    assert settings(resources=" Demo , other_2 ").resource_names == ["demo", "other_2"]
    with pytest.raises(SettingsError, match="CVDSR_TRANSCEND__IDENTIFIER"):
        settings(identifier="email")


async def test_a_token_from_sombra_verifies_and_its_claims_come_back(sombra: FakeSombra) -> None:
    configured = settings(public_key=_pem(sombra.key))
    claims = await transcend.verify_token(sombra.token("u-7781", jti="j-1"), configured)
    assert claims["value"] == "u-7781"
    assert claims["jti"] == "j-1"
    assert claims["aud"] == "acme"


def _swap_claims(token: str, other: str) -> str:
    """``token``'s header and signature around ``other``'s claims."""
    header, _, signature = token.split(".")
    return f"{header}.{other.split('.')[1]}.{signature}"


@pytest.mark.parametrize(
    ("forge", "rule"),
    [
        (lambda s: s.token("x", algorithm="HS384"), "must be signed with ES384"),
        (lambda s: s.token("x", algorithm="HS256"), "must be signed with ES384"),
        (lambda s: s.token("x", algorithm="none"), "must be signed with ES384"),
        (lambda s: s.token("x", audience="other-org"), "audience is not this organization"),
        (lambda s: s.token("x", scope="profile"), "scope is not coreIdentifier"),
        (lambda s: s.token("x", key=ec.generate_private_key(ec.SECP384R1())), "signature does not verify"),
        (lambda s: s.token("x", iat=time.time() - 7200), "too old"),
        (lambda s: s.token("x", iat=time.time() + 3600), "ImmatureSignatureError"),
        (lambda s: _swap_claims(s.token("x"), s.token("someone-else")), "signature does not verify"),
        (lambda s: "a.b.c", "not a JWT"),
    ],
)
async def test_a_forged_or_stale_token_is_refused_by_rule(sombra: FakeSombra, forge: Any, rule: str) -> None:
    token = forge(sombra)
    with pytest.raises(transcend.Refused, match=rule) as refused:
        await transcend.verify_token(token, settings(public_key=_pem(sombra.key)))
    assert token not in str(refused.value)


async def test_the_key_is_fetched_with_the_api_key_kept_and_fetched_again_after_a_rotation(
    sombra: FakeSombra, served: str
) -> None:
    configured = settings(sombra_url=served)
    await transcend.verify_token(sombra.token("a"), configured)
    await transcend.verify_token(sombra.token("b"), configured)
    assert sombra.key_fetches == 1, "kept for an hour"
    sombra.rotate_key()
    # Not within a minute of the last fetch: the cached key stays, and the new signature fails.
    with pytest.raises(transcend.Refused, match="signature does not verify"):
        await transcend.verify_token(sombra.token("c"), configured)
    transcend._keys[configured.sombra] = (transcend._keys[configured.sombra][0], time.monotonic() - 61)
    await transcend.verify_token(sombra.token("d"), configured)
    assert sombra.key_fetches == 2
    wrong = settings(sombra_url=served, api_key="tk_live_wrong")
    transcend._keys.clear()
    with pytest.raises(PlatformError, match="HTTP 401") as raised:
        await transcend.verify_token(sombra.token("e"), wrong)
    assert "tk_live_wrong" not in str(raised.value)


def test_the_body_must_name_the_signed_person_and_a_usable_request(sombra: FakeSombra) -> None:
    configured = settings()
    token = sombra.token("u-1", jti="j-9")
    _headers, body = sombra.webhook("ACCESS", "u-1", request_id="r-1", profile=("email", "Jane@X.test"), token=token)
    webhook = transcend.parse_webhook(token, {"value": "u-1", "jti": "j-9"}, body, configured)
    assert (webhook.type, webhook.identifier, webhook.transcend_request_id) == ("ACCESS", "u-1", "r-1")
    assert webhook.token_id == "jti:j-9"
    profile = transcend.parse_webhook(token, {"value": "u-1"}, body, settings(identifier="profile"))
    assert (profile.identifier, profile.identifier_kind) == ("Jane@X.test", "email")
    assert profile.token_id.startswith("token:"), "a token without jti is known by its digest"
    with pytest.raises(transcend.Refused, match="differs from the signed token"):
        transcend.parse_webhook(token, {"value": "u-2"}, body, configured)
    document = json.loads(body)
    for mutate, error in [
        (lambda d: d.update(type="ERASE_ALL"), "not a Transcend request type"),
        (lambda d: d["extras"]["request"].update(id="a/b"), "extras.request.id"),
        (lambda d: d["extras"].pop("request"), "extras.request.id"),
    ]:
        changed = json.loads(json.dumps(document))
        mutate(changed)
        with pytest.raises(ValueError, match=error):
            transcend.parse_webhook(token, {"value": "u-1"}, json.dumps(changed).encode(), configured)
    for raw, error in [(b"[]", "not a JSON object"), (b"{", "not JSON"), (b" " * 70_000, "larger than")]:
        with pytest.raises(ValueError, match=error):
            transcend.parse_webhook(token, {"value": "u-1"}, raw, configured)


def _client(handler: Any, sleeps: list[float], attempts: int = 4) -> PlatformClient:
    policy = RetryPolicy(max_attempts=attempts, max_elapsed_seconds=600, base_delay_seconds=0.1)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return PlatformClient(
        "transcend",
        "https://sombra.test",
        {"authorization": f"Bearer {API_KEY}"},
        retry=policy,
        transport=httpx.MockTransport(handler),
        sleep=sleep,
    )


async def test_retry_after_is_honoured_and_retries_are_bounded() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503), httpx.Response(200)]
    sleeps: list[float] = []
    async with _client(lambda request: answers.pop(0), sleeps) as client:
        assert (await client.send("PUT", "/v1/data-silo", "resolve", json={})).status_code == 200
    assert 7 <= sleeps[0] <= 10.5, "Retry-After, plus up to half of it in jitter"
    assert len(sleeps) == 2
    sleeps.clear()
    async with _client(lambda request: httpx.Response(502), sleeps, attempts=3) as client:
        with pytest.raises(PlatformError, match="HTTP 502 after 3 attempts") as raised:
            await client.send("PUT", "/v1/data-silo", "resolve", json={})
    assert len(sleeps) == 2
    assert API_KEY not in str(raised.value)


async def test_not_modifiable_and_other_refusals_are_never_retried() -> None:
    calls: list[httpx.Request] = []

    def answer(status: int) -> Any:
        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return httpx.Response(status, json={"error": f"echo {request.headers['authorization']}"})

        return handler

    sleeps: list[float] = []
    async with _client(answer(409), sleeps) as client:
        with pytest.raises(NotModifiable):
            await client.send("PUT", "/v1/data-silo", "resolve", json={})
    async with _client(answer(400), sleeps) as client:
        with pytest.raises(PlatformError, match="HTTP 400") as raised:
            await client.send("POST", "/v1/data-silo", "records", json={})
    assert len(calls) == 2
    assert sleeps == []
    assert API_KEY not in str(raised.value), "the platform's echo of a header never reaches an error"


async def test_records_too_large_for_one_body_go_page_by_page_then_ready(
    azurite: Any, sombra: FakeSombra, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcend, "RECORDS_IN_ONE_BODY", 2_000)
    monkeypatch.setattr(transcend, "CHUNK_RECORDS", 10)
    workspace = [{"id": f"w-{i}", "metadata": {"note": "x" * 40}} for i in range(45)]
    snapshot = [*workspace[:5], {"id": "s-1", "metadata": {}}]  # the same images again, and one only here
    headers, _ = sombra.webhook("ACCESS", "u-1")
    record = {"nonce": headers["x-transcend-nonce"]}
    async for container in new_container(azurite, "tr"):
        store = ResultStore(container)
        paths = ["r/data/projects/p/iterations/i/images.jsonl", "r/data/projects/p/images.jsonl"]
        await store.put_bytes(paths[0], jsonl_bytes(snapshot), "application/x-ndjson")
        await store.put_bytes(paths[1], jsonl_bytes(workspace), "application/x-ndjson")
        configured = settings(sombra_url=served)
        async with transcend.sombra(configured) as client:
            await transcend._upload_records(
                client, store, paths, record, configured, {"x-transcend-nonce": record["nonce"]}
            )
    job = sombra.jobs[record["nonce"]]
    assert [r["id"] for r in job.records["images"]] == [r["id"] for r in workspace] + ["s-1"], "each image once"
    pages = [call for call in sombra.calls if call[1] == "/v1/datapoint-chunked"]
    assert len(pages) > 2
    assert all(status == 200 for _, _, status in pages)
    assert job.state == "resolved"
    assert job.status == "READY"


async def test_the_package_mode_sends_the_package_then_the_records(
    azurite: Any, sombra: FakeSombra, served: str
) -> None:
    headers, _ = sombra.webhook("ACCESS", "u-1")
    record = {"nonce": headers["x-transcend-nonce"]}
    async for container in new_container(azurite, "tp"):
        store = ResultStore(container)
        await store.put_bytes("r/export.zip", b"PK\x05\x06" + bytes(18), "application/zip")
        await store.put_bytes("r/data/projects/p/images.jsonl", jsonl_bytes([{"id": "i-1"}]), "application/x-ndjson")
        await store.put_bytes("r/data/projects/p/images/i-1.png", b"\x89PNG", "image/png")
        configured = settings(sombra_url=served, files="package")
        async with transcend.sombra(configured) as client:
            await transcend._report(client, store, "r", record, configured, {"type": "export"}, {"status": "succeeded"})
    job = sombra.jobs[record["nonce"]]
    assert job.files == [("image_files", "r/export.zip", b"PK\x05\x06" + bytes(18))], "the package, not each file"
    assert job.records == {"images": [{"id": "i-1"}]}
    assert (job.state, job.status) == ("resolved", "READY")
