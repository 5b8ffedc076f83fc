"""Signing the erasure certificate: a JWS (RFC 7515, ES256, compact serialization, payload attached).

The payload is the certificate body's canonical JSON, the same bytes its SHA-256 seal covers; the
protected header names the key (``kid``). Two signers, chosen by ``CVDSR_SIGNING__*``:

- ``PemSigner``: a local EC P-256 private key in a PEM file (development; ``kid`` is ``local:`` and the
  key's RFC 7638 thumbprint). ``ensure_dev_key`` creates one in a git-ignored path for the demo.
- ``KeyVaultSigner``: a Key Vault key through ``azure-keyvault-keys`` and the managed identity; the key
  never leaves the vault. Key Vault signs the SHA-256 of the signing input and returns R||S, which is
  the JWS ES256 signature as it stands. ``kid`` is the versioned key URL.

Only the public part of a key is ever read back (``public_jwk``); nothing here logs or returns key
material. ``verify`` checks a JWS against a public key or a JWKS (picked by ``kid``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shared.settings import AppSettings

ALG = "ES256"
_COORDINATE = 32  # bytes of a P-256 coordinate, and of R and S


class SigningError(RuntimeError):
    """The certificate could not be signed. The message names the setting or the step, never key material."""


class VerificationError(ValueError):
    """A signature, a key or a document did not verify. The message says which and why."""


class Signer(Protocol):
    kid: str

    async def sign(self, signing_input: bytes) -> bytes:
        """The ES256 signature (R||S, 64 bytes) of ``signing_input``."""
        ...

    async def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (with its ``kid``)."""
        ...

    async def close(self) -> None:
        """Release what the signer holds open (the credential's HTTP session)."""
        ...


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical(body: Any) -> bytes:
    """The canonical JSON the seal and the signature cover: keys sorted, no whitespace, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jwk_of(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(_COORDINATE, "big")),
        "y": b64url(numbers.y.to_bytes(_COORDINATE, "big")),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: the SHA-256 of the required members in lexicographic order."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    return b64url(hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest())


@dataclass
class PemSigner:
    """An EC P-256 private key in a PEM file (PKCS#8 or SEC1, unencrypted): for development."""

    path: Path
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False)
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            raise SigningError("CVDSR_SIGNING__KEY_FILE: not a readable, unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise SigningError("CVDSR_SIGNING__KEY_FILE: the key must be an EC P-256 key (ES256)")
        self._key = key
        self.kid = "local:" + thumbprint(jwk_of(key.public_key()))

    async def sign(self, signing_input: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")

    async def public_jwk(self) -> dict[str, str]:
        return {**jwk_of(self._key.public_key()), "kid": self.kid, "alg": ALG, "use": "sig"}

    async def close(self) -> None:
        return None


class KeyVaultSigner:
    """A Key Vault EC P-256 key (``CVDSR_SIGNING__KEY_VAULT_KEY_ID``, the versioned key URL).

    ``credential`` is the managed identity (``shared.connections.azure_credential``); ``client_options``
    go to the SDK clients as they are (tests pass ``connection_verify`` and ``verify_challenge_resource``).
    """

    def __init__(self, key_id: str, credential: Any, **client_options: Any) -> None:
        self.kid = key_id
        self._credential = credential
        self._options = client_options

    async def sign(self, signing_input: bytes) -> bytes:
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.crypto import SignatureAlgorithm
        from azure.keyvault.keys.crypto.aio import CryptographyClient

        digest = hashlib.sha256(signing_input).digest()
        try:
            async with CryptographyClient(self.kid, self._credential, **self._options) as client:
                result = await client.sign(SignatureAlgorithm.es256, digest)
        except AzureError as error:
            # The SDK's text names the vault and the status, never key material or the token.
            raise SigningError(f"Key Vault did not sign: {type(error).__name__}") from None
        if len(result.signature) != 2 * _COORDINATE:
            raise SigningError("Key Vault returned a signature that is not ES256 (R||S, 64 bytes)")
        return bytes(result.signature)

    async def close(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    def same_key(self, kid: str) -> bool:
        """``kid`` is a version of this key (same vault, same name): a certificate from before a rotation."""
        prefix = self.kid.rsplit("/", 1)[0] + "/"
        return kid.startswith(prefix) and "/" not in kid[len(prefix) :] and len(kid) > len(prefix)

    def version(self, kid: str) -> KeyVaultSigner:
        return KeyVaultSigner(kid, self._credential, **self._options)

    async def public_jwk(self) -> dict[str, str]:
        from azure.keyvault.keys import KeyVaultKeyIdentifier
        from azure.keyvault.keys.aio import KeyClient

        identifier = KeyVaultKeyIdentifier(self.kid)
        async with KeyClient(identifier.vault_url, self._credential, **self._options) as client:
            key = await client.get_key(identifier.name, identifier.version)
        x, y = getattr(key.key, "x", None), getattr(key.key, "y", None)  # JsonWebKey sets them dynamically
        if not x or not y or getattr(key.key, "crv", None) != "P-256":  # KeyCurveName is a str enum
            raise VerificationError("the Key Vault key is not an EC P-256 key (ES256)")
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(bytes(x)),
            "y": b64url(bytes(y)),
            "kid": self.kid,
            "alg": ALG,
            "use": "sig",
        }


def configured_signer(settings: AppSettings, **client_options: Any) -> Signer | None:
    """The signer ``CVDSR_SIGNING__*`` names; None when signing is not configured."""
    signing = settings.signing
    if signing is None:
        return None
    if signing.key_vault_key_id:
        from shared.connections import azure_credential, setting

        return KeyVaultSigner(signing.key_vault_key_id, azure_credential(setting("AZURE_CLIENT_ID")), **client_options)
    assert signing.key_file is not None  # the settings model asks for one of the two
    return PemSigner(Path(signing.key_file))


async def sign(signer: Signer, payload: bytes) -> dict[str, str]:
    """The ``signature`` member of the certificate document: the compact JWS, its kid and alg."""
    header = {"alg": ALG, "kid": signer.kid, "typ": "JOSE", "cty": "application/json"}
    signing_input = f"{b64url(canonical(header))}.{b64url(payload)}"
    signature = await signer.sign(signing_input.encode("ascii"))
    return {"jws": f"{signing_input}.{b64url(signature)}", "kid": signer.kid, "alg": ALG}


def header_of(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise VerificationError("signature.jws: not a compact JWS") from None
    return dict(header)


def key_from_jwks(jwks: Any, kid: str) -> Any:
    """The public key of ``kid`` in a JWKS document."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise VerificationError("the JWKS has no 'keys' list")
    for entry in keys:
        if isinstance(entry, dict) and entry.get("kid") == kid:
            try:
                return jwt.PyJWK(entry, algorithm=ALG).key
            except jwt.PyJWTError:
                raise VerificationError(f"the JWKS key {kid!r} is not an ES256 public key") from None
    raise VerificationError(f"the JWKS holds no key with kid {kid!r}")


def key_from_jwk(jwk: dict[str, str]) -> Any:
    return jwt.PyJWK(jwk, algorithm=ALG).key


def key_from_pem(data: bytes) -> Any:
    """A public key from a PEM file holding a public key, or a private key (its public half is used)."""
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        pass
    try:
        return serialization.load_pem_private_key(data, password=None).public_key()
    except (ValueError, TypeError):
        raise VerificationError("--key: not a PEM public or private key") from None


def verify(token: str, key: Any, payload: bytes) -> None:
    """The JWS is ES256, signed by ``key``, and carries exactly ``payload``."""
    try:
        verified = jwt.api_jws.PyJWS().decode_complete(token, key, algorithms=[ALG])
    except jwt.InvalidSignatureError:
        raise VerificationError("the signature does not verify with this key") from None
    except jwt.PyJWTError as error:
        raise VerificationError(f"the signature does not verify: {error}") from None
    if verified["payload"] != payload:
        raise VerificationError("the signature covers a different certificate body than the one in the file")


def generate_key_file(path: Path) -> None:
    """A new EC P-256 private key at ``path`` (mode 0600), for development only."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: a reader never sees half a key,
    # and of two processes creating it at once, one wins (FileExistsError for the other).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        os.link(temporary, path)
    finally:
        temporary.unlink()


# The settings that name the signing key, and the development key's place in a project (git-ignored):
# the dev host signs with it when neither is set, and ``cvdsr verify-certificate`` then checks with it.
SETTINGS = ("CVDSR_SIGNING__KEY_FILE", "CVDSR_SIGNING__KEY_VAULT_KEY_ID")
DEV_KEY = Path(".signing") / "dev-key.pem"


def ensure_dev_key(path: Path) -> Path:
    """The development key at ``path``, created the first time (never committed: the path is git-ignored)."""
    if not path.exists():
        try:
            generate_key_file(path)
        except FileExistsError:
            pass  # another process created it at the same moment
    return path
