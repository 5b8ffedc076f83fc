"""Checking an ``erasure-certificate.json``: its SHA-256 seal and its JWS, and what it then proves.

Both must hold: the seal alone can be recomputed by whoever alters the body; the signature cannot
without the key. ``check`` never raises on a bad document: every problem is a sentence in the result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from shared import signing


class MalformedCertificate(ValueError):
    """The file is not an erasure certificate document (what is wrong, never a traceback)."""


@dataclass
class Result:
    body: dict[str, Any]
    kid: str | None
    seal_ok: bool
    signature_ok: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.seal_ok and self.signature_ok

    def summary(self) -> list[str]:
        """What the certificate says, and whether that is proven."""
        body = self.body
        deleted = body.get("deleted") or {}
        lines = [
            f"request      {body.get('request_id')}",
            f"status       {body.get('status')} (read back as gone: {body.get('verified')})",
            f"issued_at    {body.get('issued_at')}",
            f"right        {body.get('right_invoked', 'not recorded')}",
            "deleted      " + (", ".join(f"{kind} {count}" for kind, count in sorted(deleted.items())) or "nothing"),
            f"signed by    {self.kid or 'nobody (no signature)'}",
            f"seal         {'sha256 matches the body' if self.seal_ok else 'FAILED'}",
            f"signature    {'ES256 verifies with the key' if self.signature_ok else 'FAILED'}",
        ]
        lines += [f"problem      {problem}" for problem in self.problems]
        lines.append("VERIFIED" if self.ok else "NOT VERIFIED")
        return lines


def parse(data: bytes) -> dict[str, Any]:
    """The document, checked for shape: a JSON object with 'certificate' (an object) and 'sha256'."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedCertificate("not JSON") from None
    if not isinstance(document, dict):
        raise MalformedCertificate("not a JSON object")
    if not isinstance(document.get("certificate"), dict):
        raise MalformedCertificate("no 'certificate' object: not an erasure certificate")
    if not isinstance(document.get("sha256"), str):
        raise MalformedCertificate("no 'sha256' seal")
    return document


def signed_kid(document: dict[str, Any]) -> str | None:
    """The kid in the JWS's protected header (not the unprotected copy beside it)."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("jws"), str):
        return None
    kid = signing.header_of(signature["jws"]).get("kid")
    return kid if isinstance(kid, str) else None


def check(document: dict[str, Any], key: Any) -> Result:
    """Seal and signature of a parsed document, against ``key`` (a public key; None: no key found,
    the reason already in the caller's problems)."""
    body = document["certificate"]
    payload = signing.canonical(body)
    seal_ok = hashlib.sha256(payload).hexdigest() == document["sha256"]
    problems = [] if seal_ok else ["the sha256 seal does not match the certificate body (it was altered)"]
    signature = document.get("signature")
    kid: str | None = None
    signature_ok = False
    if not isinstance(signature, dict) or not isinstance(signature.get("jws"), str):
        problems.append("the certificate carries no signature (signing was not configured when it was issued)")
    else:
        try:
            kid = signed_kid(document)
            if key is not None:
                signing.verify(signature["jws"], key, payload)
                signature_ok = True
        except signing.VerificationError as error:
            problems.append(str(error))
    return Result(body=body, kid=kid, seal_ok=seal_ok, signature_ok=signature_ok, problems=problems)
