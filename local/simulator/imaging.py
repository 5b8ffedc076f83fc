"""Image bytes: a tiny deterministic PNG encoder and a format/dimension sniffer.

The simulator must serve real, decodable image files without an imaging library. Placeholders are
two-colour checkerboards whose colours derive from a seed string, so the same image id always yields the
same bytes. Uploads are sniffed (JPEG, PNG, GIF, BMP: the formats the service accepts) for their size.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

#: Largest training image the service accepts (6 MB) and largest prediction image (4 MB).
MAX_TRAINING_IMAGE_BYTES = 6 * 1024 * 1024
MAX_PREDICTION_IMAGE_BYTES = 4 * 1024 * 1024

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageInfo:
    """What the sniffer learned about an image file."""

    media_type: str
    width: int
    height: int


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def placeholder_png(seed: str, width: int = 64, height: int = 48, cell: int = 8) -> bytes:
    """A valid RGB PNG: a checkerboard in two colours derived from `seed`."""
    digest = hashlib.sha256(seed.encode()).digest()
    first, second = digest[0:3], digest[3:6]
    cells = (width + cell - 1) // cell
    even = b"".join((first if i % 2 == 0 else second) * cell for i in range(cells))[: width * 3]
    odd = b"".join((second if i % 2 == 0 else first) * cell for i in range(cells))[: width * 3]
    rows = [b"\x00" + (even if (y // cell) % 2 == 0 else odd) for y in range(height)]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )


def thumbnail_for(content: bytes) -> bytes:
    """A small placeholder standing in for a real thumbnail (the simulator does not resample images)."""
    return placeholder_png("thumbnail:" + hashlib.sha256(content).hexdigest(), 32, 32, 4)


def sniff(content: bytes) -> ImageInfo | None:
    """Return the media type and size of a JPEG, PNG, GIF or BMP file, or None if it is none of them."""
    if content.startswith(_PNG_SIGNATURE) and len(content) >= 24 and content[12:16] == b"IHDR":
        width, height = struct.unpack(">II", content[16:24])
        return _valid(ImageInfo("image/png", width, height))
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return _valid(ImageInfo("image/gif", width, height))
    if content[:2] == b"BM" and len(content) >= 26:
        width, height = struct.unpack("<ii", content[18:26])
        return _valid(ImageInfo("image/bmp", width, abs(height)))
    if content[:3] == b"\xff\xd8\xff":
        return _sniff_jpeg(content)
    return None


def _valid(info: ImageInfo) -> ImageInfo | None:
    return info if info.width > 0 and info.height > 0 else None


_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _sniff_jpeg(content: bytes) -> ImageInfo | None:
    position = 2
    while position + 4 <= len(content):
        if content[position] != 0xFF:
            return None
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", content[position + 2 : position + 4])
        if marker in _JPEG_FRAME_MARKERS and position + 9 <= len(content):
            height, width = struct.unpack(">HH", content[position + 5 : position + 9])
            return _valid(ImageInfo("image/jpeg", width, height))
        position += 2 + length
    return None


def media_type_of(content: bytes) -> str:
    info = sniff(content)
    return info.media_type if info else "application/octet-stream"
