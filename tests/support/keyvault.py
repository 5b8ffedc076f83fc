"""A small, faithful fake of the Key Vault keys REST API, for the real ``azure-keyvault-keys`` SDK.

What the SDK does against Key Vault, it does here: a first request without a token answered 401 with
the ``WWW-Authenticate`` Bearer challenge (the SDK's challenge policy), then the same request with the
token; ``GET /keys/{name}/{version}`` answers the public JWK; ``POST /keys/{name}/{version}/sign``
``{"alg": "ES256", "value": <base64url SHA-256>}`` answers ``{"kid", "value": <base64url R||S>}``,
signed with a real EC P-256 key that never leaves this object. The SDK sends bearer tokens over TLS
only, so the fake serves https with a self-signed certificate (``tls_files``), trusted by passing its
file as ``connection_verify``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "fake-vault-token"
API_VERSIONS = ("7.5", "7.6", "2025-07-01")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tls_files(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vault-cert.pem", directory / "vault-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


class FakeCredential:
    """An async token credential, as the managed identity would be; records the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *_args: object) -> None:
        return None


@dataclass
class FakeKeyVault:
    """One vault with one EC P-256 key ``name``/``version`` (sign and verify operations only)."""

    name: str = "certificate-signing"
    version: str = "0123456789abcdef0123456789abcdef"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    refuse_sign: bool = False

    @property
    def key_id(self) -> str:
        return f"{self.base_url}/keys/{self.name}/{self.version}"

    def _jwk(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        size = (self.key.curve.key_size + 7) // 8
        return {
            "kid": self.key_id,
            "kty": "EC",
            "crv": {"secp256r1": "P-256", "secp384r1": "P-384"}[self.key.curve.name],
            "key_ops": ["sign", "verify"],
            "x": _b64url(numbers.x.to_bytes(size, "big")),
            "y": _b64url(numbers.y.to_bytes(size, "big")),
        }

    def _challenge(self, request: Request) -> Response | None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "api_version": request.query_params.get("api-version"),
                "authorized": request.headers.get("authorization") == f"Bearer {TOKEN}",
            }
        )
        if request.query_params.get("api-version") not in API_VERSIONS:
            return JSONResponse({"error": {"code": "BadParameter", "message": "api-version"}}, status_code=400)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            challenge = (
                'Bearer authorization="https://login.microsoftonline.com/tenant", resource="https://vault.azure.net"'
            )
            return JSONResponse(
                {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer token."}},
                status_code=401,
                headers={"WWW-Authenticate": challenge},
            )
        if request.path_params["name"] != self.name or request.path_params["version"] not in (self.version, ""):
            return JSONResponse({"error": {"code": "KeyNotFound", "message": "no such key"}}, status_code=404)
        return None

    async def get_key(self, request: Request) -> Response:
        refused = self._challenge(request)
        if refused is not None:
            return refused
        attributes = {"enabled": True, "created": 1764000000, "updated": 1764000000, "recoveryLevel": "Recoverable"}
        return JSONResponse({"key": self._jwk(), "attributes": attributes})

    async def sign(self, request: Request) -> Response:
        refused = self._challenge(request)
        if refused is not None:
            return refused
        if self.refuse_sign:
            return JSONResponse({"error": {"code": "Forbidden", "message": "sign not permitted"}}, status_code=403)
        body = await request.json()
        digest = _unb64url(body.get("value", ""))
        if body.get("alg") != "ES256" or len(digest) != 32:
            return JSONResponse({"error": {"code": "BadParameter", "message": "alg/value"}}, status_code=400)
        r, s = decode_dss_signature(self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        return JSONResponse({"kid": self.key_id, "value": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/keys/{name}/{version}", self.get_key, methods=["GET"]),
                Route("/keys/{name}/{version}/sign", self.sign, methods=["POST"]),
            ]
        )
