"""Malformed and hostile request bodies, generated deterministically: what an attacker or a careless
integrator sends. Every one must be rejected with a record and an event, never started, never a 5xx.

Each body carries a unique request id where it has one, so that each leaves its own record, and the
canaries (a pasted secret, an email) that must never reach a log, a record, an event or a table.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

SECRET = "sk-live-proof-canary-51Hx9T"
EMAIL = "proof.canary@example.com"
PROJECT = "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"
# Ids that alias, decode, collide, cannot be encoded or are reserved (the request id rule's cases).
HOSTILE_IDS = [
    ".",
    "..",
    "%2F",
    "a%2Fb",
    "%2e%2e",
    "%41",
    "a\u0085b",
    "@x",
    "x:demo",
    "\U0001f600",
    "a\u200bb",
    "a\u2028b",
    "a\u202eb",
    "\ufeffa",
    "a\U0010ffffb",
    " lead",
    "trail ",
    "a/b",
    "a#b",
    "a?b",
    "-lead",
    "a b",
    "abc.",
    "rejected-1f2e9a",
    "x" * 101,
]


def _base(request_id: str) -> dict[str, Any]:
    return {"schema_version": 1, "request_id": request_id, "type": "export", "resources": ["demo"]}


def _kinds(request_id: str, rng: random.Random) -> list[Callable[[], bytes]]:
    base = _base(request_id)

    def dumps(document: Any) -> bytes:
        return json.dumps(document).encode()

    return [
        lambda: dumps(base)[: rng.randrange(1, len(dumps(base)) - 1)],  # truncated
        lambda: b"[" * rng.randrange(500, 3000),
        lambda: b'{"schema_version": ' + b"9" * rng.randrange(4300, 6000) + b"}",
        lambda: dumps({**base, "request_id": "x"}).replace(b'"x"', b'"\\ud800"'),
        lambda: dumps({**base, "request_id": rng.choice(HOSTILE_IDS)}),
        lambda: dumps({**base, "schema_version": rng.choice([True, 1.0, "1", 2, None])}).replace(b"1.0", b"1e0"),
        lambda: dumps({**base, "type": rng.choice(["delete", "EXPORT", 1, None])}),
        lambda: dumps({**base, "resources": rng.choice([[], "demo", ["nope"], ["de-mo"], [SECRET]])}),
        lambda: dumps({**base, SECRET.replace("-", "_"): EMAIL}),
        lambda: dumps({**base, "scope": {"projects": [SECRET], "images": {"image_ids": [EMAIL]}}}),
        lambda: dumps({**base, "scope": {"images": {"metadata": {EMAIL: ""}}}}),
        lambda: dumps({**base, "scope": {"projects": "all", "images": {"image_ids": [str(i) for i in range(6000)]}}}),
        lambda: dumps({**base, "type": "erase", "scope": {"projects": [PROJECT], "images": None}}),  # no confirm
        lambda: dumps(
            {
                **base,
                "callback": {
                    "webhook": rng.choice(
                        [
                            "http://127.0.0.1:10000/",
                            "https://169.254.169.254/",
                            "https://[::1]/",
                            "https://10.1.2.3/",
                            "https://localhost/",
                            "http://example.com/",
                            "https://user:pw@example.com/",
                            "https://0x7f000001/",
                        ]
                    )
                },
            }
        ),
        lambda: dumps({**base, "received_at": "2026-11-01T09:00:00"}),
        lambda: dumps({**base, "dry_run": "true"}),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        lambda: dumps(rng.choice([None, [], "text", 1, [base]])),
        lambda: dumps({**base, "include": ["everything"], "ticket": {"system": "x", "id": SECRET}}),
    ]


def bodies(count: int, *, seed: int = 10, prefix: str = "BAD") -> Iterator[bytes]:
    """``count`` hostile bodies, the same for the same seed."""
    rng = random.Random(seed)
    for index in range(count):
        kinds = _kinds(f"{prefix}-{index}", rng)
        yield kinds[index % len(kinds)]()
