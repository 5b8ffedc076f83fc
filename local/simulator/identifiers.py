"""Identifiers: deterministic ids for new objects and reversible ids for synthetic images.

New objects get version-4-shaped UUIDs drawn from a `random.Random` seeded with the simulator's
`random_seed`, so a scripted run produces the same ids every time. Synthetic images get RFC 9562
version-8 ("custom") UUIDs whose first 12 bytes identify the project's synthetic range and whose last
4 bytes hold the image index, so an id can be mapped back to its index without storing one Python object
per image.
"""

from __future__ import annotations

import hashlib
import random
import uuid

#: Namespace for uuid5 ids of seeded objects (demo projects, synthetic projects and tags).
SEED_NAMESPACE = uuid.UUID("6f1c2d9e-3b7a-4c55-9a0e-5d8b7e4f2a10")


class IdFactory:
    """Deterministic source of new UUIDs (version 4 layout)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"ids:{seed}")

    def new(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))


def seeded_id(*parts: str) -> str:
    """A stable uuid5 for a seeded object, e.g. seeded_id("demo", "project", "pets")."""
    return str(uuid.uuid5(SEED_NAMESPACE, "/".join(parts)))


def canonical_uuid(value: str) -> str | None:
    """Lower-case hyphenated form of a UUID string, or None if it is not a UUID."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return None


class SyntheticIdCodec:
    """Encodes an image index into a version-8 UUID and back, for one synthetic range."""

    def __init__(self, range_key: str) -> None:
        digest = hashlib.sha256(f"synthetic-range:{range_key}".encode()).digest()
        prefix = bytearray(digest[:12])
        prefix[6] = (prefix[6] & 0x0F) | 0x80  # version 8
        prefix[8] = (prefix[8] & 0x3F) | 0x80  # RFC 4122/9562 variant
        self._prefix = bytes(prefix)

    def encode(self, index: int) -> str:
        return str(uuid.UUID(bytes=self._prefix + index.to_bytes(4, "big")))

    def decode(self, image_id: str) -> int | None:
        try:
            raw = uuid.UUID(image_id).bytes
        except ValueError:
            return None
        if raw[:12] != self._prefix:
            return None
        return int.from_bytes(raw[12:], "big")
