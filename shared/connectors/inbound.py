"""What every webhook receiver does with a body first: a JSON object, or a ValueError (a 400) saying why
not. A body nested past the parser's recursion limit is "not JSON" too, never an exception out of the
receiver (which the Functions host would answer with a 500)."""

from __future__ import annotations

import json
from typing import Any


def json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")
    return document
