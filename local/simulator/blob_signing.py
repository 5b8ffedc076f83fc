"""SAS-like signed URLs for image, thumbnail and export downloads.

Like Azure Storage SAS URLs, a URL carries `se` (expiry, UTC) and `sig`; a request after the expiry or
with a wrong signature gets 403 AuthenticationFailed. The HMAC key is random per simulator instance and
unrelated to any account key, so a leaked URL reveals nothing about the training key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import quote, urlencode

from local.simulator.timefmt import format_sas, parse_wire

STORAGE_VERSION = "2021-08-06"


class SignatureCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


class BlobSigner:
    def __init__(self, ttl_seconds: float, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.ttl_seconds = ttl_seconds

    def _signature(self, path: str, expiry: str) -> str:
        message = f"r\n{expiry}\n{path}\n{STORAGE_VERSION}".encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha256).digest()).decode()

    def sign(self, base_url: str, path: str, now: datetime) -> str:
        """Absolute URL for `path` on the simulator, valid for `ttl_seconds` from `now`."""
        expires_at = now + timedelta(seconds=self.ttl_seconds)
        if expires_at.microsecond:  # SAS expiries have whole seconds: round up, never shorten the TTL
            expires_at = expires_at.replace(microsecond=0) + timedelta(seconds=1)
        expiry = format_sas(expires_at)
        query = urlencode(
            {"sv": STORAGE_VERSION, "sr": "b", "sp": "r", "se": expiry, "sig": self._signature(path, expiry)}
        )
        return f"{base_url.rstrip('/')}{quote(path)}?{query}"

    def check(self, path: str, query: Mapping[str, str], now: datetime) -> SignatureCheck:
        expiry = query.get("se", "")
        signature = query.get("sig", "")
        if not expiry or not signature:
            return SignatureCheck.INVALID
        if not hmac.compare_digest(self._signature(path, expiry), signature):
            return SignatureCheck.INVALID
        try:
            expires_at = parse_wire(expiry)
        except ValueError:
            return SignatureCheck.INVALID
        return SignatureCheck.VALID if now < expires_at else SignatureCheck.EXPIRED
