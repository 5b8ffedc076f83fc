"""Reading image bytes out of requests: multipart bodies, raw bodies and image URLs.

The simulator cannot reach the internet. `fetch_image_url` therefore downloads only loopback URLs
(127.0.0.0/8, ::1, localhost: e.g. files served by a test, or the simulator's own blob URLs); any other
http(s) URL gets a deterministic placeholder PNG derived from the URL, so uploads by URL behave the same
on every run. Other schemes fail with ErrorSource, as an unreachable source does on the service.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from local.simulator.errors import ApiError
from local.simulator.imaging import placeholder_png

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION_PARAM = re.compile(r';\s*(name|filename)="?([^";]*)"?', re.IGNORECASE)
FETCH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class FormPart:
    name: str | None
    filename: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[FormPart]:
    """Split a multipart/form-data body into its parts (binary-safe)."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise ApiError("BadRequestImageStream", "The multipart body has no boundary.")
    boundary = (match.group(1) or match.group(2)).encode()
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary)
    parts: list[FormPart] = []
    for section in sections[1:]:
        if section.startswith(b"--"):
            break
        head, separator, data = section.partition(b"\r\n\r\n")
        if not separator:
            raise ApiError("BadRequestImageStream", "A multipart section has no header/body separator.")
        name = filename = None
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for key, value in _DISPOSITION_PARAM.findall(line):
                    if key.lower() == "name":
                        name = value
                    else:
                        filename = value
        parts.append(FormPart(name, filename, data))
    return parts


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def fetch_image_url(url: str) -> bytes | None:
    """Bytes for an image URL as described in the module docstring; None when the source fails."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if not is_loopback(parts.hostname):
        return placeholder_png("url:" + url, 96, 64)
    try:
        # verify=False: only loopback URLs are fetched, and loading CA certificates would cost ~100 ms.
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False, verify=False) as client:  # noqa: S501
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    return response.content if response.status_code == 200 else None
