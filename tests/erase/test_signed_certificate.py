"""Signed erasure certificates: written to Azurite by the real ``write_certificate``, signed with a PEM
key, checked by ``cvdsr verify-certificate``: round trip, tampering (with and without a recomputed
seal), a wrong key, a JWKS by kid over HTTP, the installation's own key, malformed files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob.aio import ContainerClient
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from local.cli import main
from local.http_server import serve
from shared import signing
from shared.erase import accountability
from shared.erase.certificate import digest, write_certificate
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import SettingsError, app_settings, load_resources

REQUEST = {
    "request_id": "PRIV-SIGN-1",
    "type": "erase",
    "resources": ["demo"],
    "scope": {"projects": "all", "images": {"metadata": {"subject": "hmac-sha256:abc"}}},
    "include": ["images"],
    "jurisdiction": "gdpr",
    "received_at": "2026-11-02T09:00:00+00:00",
    "due_at": "2026-12-02T23:59:59+00:00",
    "subject": {"reference": "hmac-sha256:def"},
}
PROJECTS: list[dict[str, Any]] = [
    {
        "resource": "demo",
        "project_id": "11111111-1111-1111-1111-111111111111",
        "mode": "images",
        "existed": True,
        "planned": {"images": 3},
        "published_iterations": ["22222222-2222-2222-2222-222222222222"],
        "trained_on_erased_images": [],
        "steps": [],
    }
]


def key_file(path: Path) -> Path:
    signing.generate_key_file(path)
    return path


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    return key_file(tmp_path / "keys" / "signing.pem")


async def issue(container: ContainerClient, signer: signing.Signer | None, tmp_path: Path, **extra: Any) -> Path:
    store = ResultStore(container)
    await write_certificate(
        store,
        REQUEST,
        status="succeeded",
        started_at="2026-11-03T10:00:00+00:00",
        projects=PROJECTS,
        counts={"images": 3},
        checks=[{"check": "images gone", "passed": True}],
        errors=[],
        planned={"images": 3, "projects_touched": 1},
        extensions=[{"until": "2027-01-04T23:59:59+00:00", "reason": "many images", "extended_at": "x"}],
        configuration_sha256="c" * 64,
        signer=signer,
        **extra,
    )
    data = await (await container.get_blob_client(layout.erasure_certificate("PRIV-SIGN-1")).download_blob()).readall()
    path = tmp_path / "erasure-certificate.json"
    path.write_bytes(data)
    return path


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify-certificate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rewrite(path: Path, change: Any, *, reseal: bool = False) -> None:
    document = json.loads(path.read_text())
    change(document["certificate"])
    if reseal:
        document["sha256"] = digest(document["certificate"])
    path.write_text(json.dumps(document))


async def test_a_signed_certificate_verifies_and_says_what_it_proves(
    container: ContainerClient, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = signing.PemSigner(pem)
    path = await issue(container, signer, tmp_path)
    document = json.loads(path.read_text())
    assert document["signature"]["alg"] == "ES256"
    assert document["signature"]["kid"] == signer.kid
    assert signing.header_of(document["signature"]["jws"])["kid"] == signer.kid
    code, out, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 0, err
    for expected in ("PRIV-SIGN-1", "succeeded", "images 3", signer.kid, "VERIFIED", "GDPR Art. 17"):
        assert expected in out
    assert "NOT VERIFIED" not in out
    # The key's material is nowhere in the document.
    private = signer._key.private_numbers().private_value
    text = path.read_text()
    assert signing.b64url(private.to_bytes(32, "big")) not in text
    assert "PRIVATE" not in text


async def test_the_certificate_records_law_times_tool_configuration_kept_recipients_and_backups(
    container: ContainerClient, tmp_path: Path
) -> None:
    body = json.loads((await issue(container, None, tmp_path, own_copies=[{"request_id": "E-1"}])).read_text())
    certificate = body["certificate"]
    assert certificate["jurisdiction"] == "gdpr"
    assert certificate["right_invoked"] == "GDPR Art. 17 (right to erasure)"
    times = certificate["times"]
    assert times["received_at"] == REQUEST["received_at"]
    assert times["due_at"] == REQUEST["due_at"]
    assert times["effective_due_at"] == "2027-01-04T23:59:59+00:00"
    assert times["extensions"][0]["reason"] == "many images"
    assert times["completed_at"] == certificate["issued_at"]
    assert certificate["tool"]["name"] == "cvdsr"
    assert certificate["tool"]["version"] != "unknown"
    assert certificate["configuration_sha256"] == "c" * 64
    assert certificate["scope_searched"]["scope"] == REQUEST["scope"]
    assert certificate["counts"] == {"before": {"images": 3, "projects_touched": 1}, "deleted": {"images": 3}}
    kinds = " ".join(entry["kind"] for entry in certificate["kept"])
    assert "exported models" in kinds
    assert "erasure certificate" in kinds
    assert "request record" in kinds
    assert all(entry["ground"] for entry in certificate["kept"])
    endpoints = certificate["recipients"]["published_prediction_endpoints"]
    assert endpoints == [
        {
            "resource": "demo",
            "project_id": PROJECTS[0]["project_id"],
            "iteration_id": PROJECTS[0]["published_iterations"][0],
        }
    ]
    assert certificate["own_copies"] == [{"request_id": "E-1"}] == certificate["recipients"]["own_copies"]
    assert "7 days" in certificate["backups"]
    assert "no customer-accessible backups" in certificate["backups"]
    # The existing seal is unchanged in form; no signature when signing is not configured.
    assert body["sha256"] == digest(certificate)
    assert "signature" not in body


@pytest.mark.parametrize(
    ("jurisdiction", "right"), [("ccpa", "§1798.105"), ("other", "no statutory right"), (None, "no jurisdiction")]
)
def test_the_right_follows_the_jurisdiction(jurisdiction: str | None, right: str) -> None:
    request = {**REQUEST, "jurisdiction": jurisdiction}
    fields = accountability.fields(
        request,
        completed_at="2026-11-03T10:00:00+00:00",
        projects=[],
        planned={},
        deleted={},
        extensions=[],
        configuration_sha256=None,
        own_copies=[],
        not_deletable=[],
    )
    assert right in fields["right_invoked"]
    if jurisdiction == "ccpa":
        assert fields["times"]["acknowledge_by"] == "2026-11-16"  # 10 business days after receipt


async def test_a_tampered_body_fails_on_seal_and_signature(
    container: ContainerClient, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = await issue(container, signing.PemSigner(pem), tmp_path)
    rewrite(path, lambda body: body["deleted"].update(images=300))
    code, out, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 1
    assert "seal         FAILED" in out
    assert "signature    FAILED" in out
    assert "NOT VERIFIED" in err
    assert "sha256 seal does not match" in err
    assert "different certificate body" in err


async def test_a_tampered_body_with_a_recomputed_seal_still_fails_on_the_signature(
    container: ContainerClient, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = await issue(container, signing.PemSigner(pem), tmp_path)
    rewrite(path, lambda body: body.update(status="succeeded", verified=True, deleted={"images": 999}), reseal=True)
    code, out, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 1
    assert "sha256 matches" in out
    assert "signature    FAILED" in out
    assert "different certificate body" in err


async def test_a_forged_signature_with_another_key_fails(
    container: ContainerClient, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = key_file(tmp_path / "other.pem")
    path = await issue(container, signing.PemSigner(pem), tmp_path)
    code, _, err = verify(capsys, str(path), "--key", str(other))
    assert code == 1
    assert "does not verify with this key" in err
    # The tamperer re-signs an altered body with their own key under the original kid: still refused.
    document = json.loads(path.read_text())
    document["certificate"]["deleted"] = {"images": 999}
    document["sha256"] = digest(document["certificate"])
    forger = signing.PemSigner(other)
    forger.kid = document["signature"]["kid"]
    document["signature"] = await signing.sign(forger, signing.canonical(document["certificate"]))
    path.write_text(json.dumps(document))
    code, _, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 1
    assert "does not verify with this key" in err


def test_a_public_key_pem_verifies_too(pem: Path, tmp_path: Path) -> None:
    signer = signing.PemSigner(pem)
    public = signer._key.public_key()
    pem_bytes = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert signing.key_from_pem(pem_bytes).public_numbers() == public.public_numbers()


@pytest.fixture
def jwks_server(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    keys: list[dict[str, str]] = []

    async def jwks(_request: Request) -> JSONResponse:
        return JSONResponse({"keys": keys}, media_type="application/jwk-set+json")

    with serve(Starlette(routes=[Route("/.well-known/jwks.json", jwks)])) as url:
        yield f"{url}/.well-known/jwks.json", keys


async def test_a_jwks_over_http_is_searched_by_kid(
    container: ContainerClient,
    pem: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    jwks_server: tuple[str, list[dict[str, str]]],
) -> None:
    url, keys = jwks_server
    signer = signing.PemSigner(pem)
    path = await issue(container, signer, tmp_path)
    decoy = signing.PemSigner(key_file(tmp_path / "decoy.pem"))
    keys.append(await decoy.public_jwk())
    code, _, err = verify(capsys, str(path), "--jwks", url)
    assert code == 1
    assert f"no key with kid {signer.kid!r}" in err
    keys.append(await signer.public_jwk())
    code, out, err = verify(capsys, str(path), "--jwks", url)
    assert code == 0, err
    assert signer.kid in out
    # The decoy's key under the signer's kid: picked by kid, and it does not verify.
    keys[:] = [{**(await decoy.public_jwk()), "kid": signer.kid}]
    code, _, err = verify(capsys, str(path), "--jwks", url)
    assert code == 1
    assert "does not verify" in err


def test_an_unreachable_jwks_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"certificate": {}, "sha256": digest({}), "signature": {"jws": "a.b.c"}}))
    code, _, err = verify(capsys, str(path), "--jwks", "http://127.0.0.1:9/jwks.json")
    assert code in (1, 2)
    assert "Traceback" not in err


async def test_with_no_flag_the_installation_key_is_used(
    container: ContainerClient,
    pem: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no local.settings.json here
    path = await issue(container, signing.PemSigner(pem), tmp_path)
    monkeypatch.delenv("CVDSR_SIGNING__KEY_FILE", raising=False)
    monkeypatch.delenv("CVDSR_SIGNING__KEY_VAULT_KEY_ID", raising=False)
    code, _, err = verify(capsys, str(path))
    assert code == 2
    assert "pass --key PEM or --jwks URL" in err
    monkeypatch.setenv("CVDSR_SIGNING__KEY_FILE", str(pem))
    code, _out, err = verify(capsys, str(path))
    assert code == 0, err
    monkeypatch.setenv("CVDSR_SIGNING__KEY_FILE", str(key_file(tmp_path / "rotated.pem")))
    code, _, err = verify(capsys, str(path))
    assert code == 1
    assert "the key does not match" in err


async def test_with_nothing_configured_the_development_key_of_the_directory_is_used(
    container: ContainerClient, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dev host signs with ``.signing/dev-key.pem`` when no key is set; no flag then checks with it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CVDSR_SIGNING__KEY_FILE", raising=False)
    monkeypatch.delenv("CVDSR_SIGNING__KEY_VAULT_KEY_ID", raising=False)
    dev = signing.ensure_dev_key(tmp_path / signing.DEV_KEY)
    path = await issue(container, signing.PemSigner(dev), tmp_path)
    code, out, err = verify(capsys, str(path))
    assert code == 0, err
    assert "VERIFIED" in out
    dev.unlink()
    code, _, err = verify(capsys, str(path))
    assert code == 2
    assert "no development key" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"sha256": "00"}', "no 'certificate' object"),
        (b'{"certificate": {}}', "no 'sha256' seal"),
    ],
)
def test_a_malformed_file_is_a_clear_error(
    content: bytes, message: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, out, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_a_missing_file_or_key_is_a_clear_error(pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = verify(capsys, str(tmp_path / "absent.json"), "--key", str(pem))
    assert code == 2
    assert "cannot read" in err
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"certificate": {}, "sha256": digest({})}))
    code, _, err = verify(capsys, str(path), "--key", str(tmp_path / "absent.pem"))
    assert code == 2
    assert "--key: cannot read" in err
    (tmp_path / "junk.pem").write_text("not a key")
    code, _, err = verify(capsys, str(path), "--key", str(tmp_path / "junk.pem"))
    assert code == 2
    assert "not a PEM" in err


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "carries no signature"),
        ({"jws": "not-a-jws"}, "not a compact JWS"),
        ({"jws": 5}, "carries no signature"),
    ],
)
def test_a_missing_or_broken_signature_fails_clearly(
    signature: Any, message: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document: dict[str, Any] = {"certificate": {"request_id": "X"}, "sha256": digest({"request_id": "X"})}
    if signature is not None:
        document["signature"] = signature
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document))
    code, out, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 1
    assert message in err
    assert "Traceback" not in err + out


def test_an_unsigned_alg_none_token_is_refused(pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"request_id": "X"}
    header = signing.b64url(json.dumps({"alg": "none", "kid": "k"}).encode())
    token = f"{header}.{signing.b64url(signing.canonical(body))}."
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"certificate": body, "sha256": digest(body), "signature": {"jws": token}}))
    code, _, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 1
    assert "NOT VERIFIED" in err


def test_signing_settings_take_exactly_one_key(tmp_path: Path) -> None:
    assert app_settings({}).signing is None
    assert app_settings({"CVDSR_SIGNING__KEY_FILE": "k.pem"}).signing is not None
    with pytest.raises(SettingsError, match="CVDSR_SIGNING: Value error, set KEY_FILE or KEY_VAULT_KEY_ID"):
        app_settings({"CVDSR_SIGNING__KEY_FILE": "k.pem", "CVDSR_SIGNING__KEY_VAULT_KEY_ID": "https://v/keys/k/1"})
    with pytest.raises(signing.SigningError, match="not a readable"):
        signing.PemSigner(tmp_path / "absent.pem")
    rsa_free = tmp_path / "p384.pem"
    from cryptography.hazmat.primitives.asymmetric import ec

    rsa_free.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(signing.SigningError, match="P-256"):
        signing.PemSigner(rsa_free)


def test_the_configuration_hash_leaves_secrets_out() -> None:
    base = {"CUSTOMVISION__DEMO__ENDPOINT": "https://demo.example", "CUSTOMVISION__DEMO__TRAININGKEY": "k1"}

    def hashed(extra: dict[str, str]) -> str:
        environ = {**base, **extra}
        return accountability.configuration_sha256(app_settings(environ), load_resources(environ))

    first = hashed({"CVDSR_WEBHOOK_SECRET": "s1"})
    assert hashed({"CVDSR_WEBHOOK_SECRET": "s2", "CUSTOMVISION__DEMO__TRAININGKEY": "k2"}) == first
    assert hashed({"CVDSR_WEBHOOK_SECRET": "s1", "CVDSR_EXPORT_ZIP": "true"}) != first
    assert hashed({"CUSTOMVISION__DEMO__ENDPOINT": "https://other.example"}) != first


def test_the_dev_key_is_created_once(tmp_path: Path) -> None:
    path = signing.ensure_dev_key(tmp_path / ".signing" / "dev.pem")
    first = path.read_bytes()
    assert signing.ensure_dev_key(path).read_bytes() == first
    assert path.stat().st_mode & 0o077 == 0
    assert hashlib.sha256(first).hexdigest()


async def test_a_rerun_after_a_crash_returns_the_certificate_already_issued(
    container: ContainerClient, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issued once: a second run (another issued_at, another ES256 signature, if it wrote) returns the
    first document, so the evidence copy and the outcome's digest name the same certificate."""
    signer = signing.PemSigner(pem)
    first = (await issue(container, signer, tmp_path)).read_bytes()
    path = await issue(container, signer, tmp_path, own_copies=[{"request_id": "a different run"}])
    assert path.read_bytes() == first
    code, _, err = verify(capsys, str(path), "--key", str(pem))
    assert code == 0, err
