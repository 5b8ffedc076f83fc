"""The Key Vault signer through the real ``azure-keyvault-keys`` SDK, against the local fake of the Key
Vault keys REST API over TLS (``tests.support.keyvault``): the challenge, the sign call over the
SHA-256 of the signing input, R||S as the JWS signature, the public JWK read back, a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob.aio import ContainerClient

from local.http_server import serve
from shared import signing
from tests.support.keyvault import TOKEN, FakeCredential, FakeKeyVault, tls_files

from .test_signed_certificate import issue, verify


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[tuple[FakeKeyVault, str]]:
    certfile, keyfile = tls_files(tmp_path)
    fake = FakeKeyVault()
    with serve(fake.app(), tls=(certfile, keyfile)) as url:
        fake.base_url = url
        yield fake, certfile


def signer_for(fake: FakeKeyVault, certfile: str, credential: Any = None) -> signing.KeyVaultSigner:
    return signing.KeyVaultSigner(
        fake.key_id, credential or FakeCredential(), connection_verify=certfile, verify_challenge_resource=False
    )


async def test_key_vault_signs_the_certificate_and_its_public_key_verifies_it(
    container: ContainerClient,
    vault: tuple[FakeKeyVault, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, certfile = vault
    credential = FakeCredential()
    signer = signer_for(fake, certfile, credential)
    path = await issue(container, signer, tmp_path)
    document = json.loads(path.read_text())
    assert document["signature"]["kid"] == fake.key_id
    assert signing.header_of(document["signature"]["jws"]) == {
        "alg": "ES256",
        "kid": fake.key_id,
        "typ": "JOSE",
        "cty": "application/json",
    }
    signed = [r for r in fake.requests if r["method"] == "POST" and r["authorized"]]
    assert len(signed) == 1
    assert signed[0]["path"].endswith(f"/keys/{fake.name}/{fake.version}/sign")
    assert credential.scopes == ["https://vault.azure.net/.default"]
    # The public JWK, read through the SDK, verifies the signature; a JWKS of it verifies by kid.
    jwk = await signer.public_jwk()
    assert jwk["kid"] == fake.key_id
    signing.verify(document["signature"]["jws"], signing.key_from_jwk(jwk), signing.canonical(document["certificate"]))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    with serve(Starlette(routes=[Route("/jwks", lambda _r: FileResponse(jwks))])) as url:
        code, out, err = verify(capsys, str(path), "--jwks", f"{url}/jwks")
    assert code == 0, err
    assert fake.key_id in out
    # Nothing of the token or the key in the document.
    assert TOKEN not in path.read_text()


async def test_a_refused_sign_is_a_clear_error_without_secrets(vault: tuple[FakeKeyVault, str]) -> None:
    fake, certfile = vault
    fake.refuse_sign = True
    with pytest.raises(signing.SigningError, match="Key Vault did not sign") as raised:
        await signing.sign(signer_for(fake, certfile), b"{}")
    assert TOKEN not in str(raised.value)


async def test_an_untrusted_vault_certificate_is_refused(vault: tuple[FakeKeyVault, str]) -> None:
    fake, _ = vault
    signer = signing.KeyVaultSigner(fake.key_id, FakeCredential(), verify_challenge_resource=False)
    with pytest.raises(signing.SigningError):
        await signing.sign(signer, b"{}")
    assert not any(r["authorized"] for r in fake.requests)  # the token never went to an unverified server


def test_the_settings_pick_the_key_vault_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import app_settings

    key_id = "https://cvdsr-kv.vault.azure.net/keys/certificate-signing/0123456789abcdef"
    monkeypatch.setattr("shared.connections.azure_credential", lambda _client_id: FakeCredential())
    signer = signing.configured_signer(app_settings({"CVDSR_SIGNING__KEY_VAULT_KEY_ID": key_id}))
    assert isinstance(signer, signing.KeyVaultSigner)
    assert signer.kid == key_id


def test_a_version_of_the_same_key_is_recognised_and_nothing_else() -> None:
    signer = signing.KeyVaultSigner("https://kv.vault.azure.net/keys/certificate-signing/v2", FakeCredential())
    assert signer.same_key("https://kv.vault.azure.net/keys/certificate-signing/v1")
    assert not signer.same_key("https://kv.vault.azure.net/keys/certificate-signing-other/v1")
    assert not signer.same_key("https://evil.example/keys/certificate-signing/v1")
    assert not signer.same_key("https://kv.vault.azure.net/keys/certificate-signing/")
    assert signer.version("https://kv.vault.azure.net/keys/certificate-signing/v1").kid.endswith("/v1")


async def test_a_key_that_is_not_p256_is_refused(vault: tuple[FakeKeyVault, str]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    fake, certfile = vault
    fake.key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(signing.VerificationError, match="not an EC P-256 key"):
        await signer_for(fake, certfile).public_jwk()
