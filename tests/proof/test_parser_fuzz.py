"""(a) Property-based fuzzing of the request parser: documents generated from the published JSON
Schema, the same documents mutated with canary values, and arbitrary bytes and JSON.

Properties: the parser only ever accepts or raises ``RequestRejected`` (never anything else); an
accepted request survives its own round trip through history and names a strict id; a rejection's
reasons are few, short, and never carry a value from the message.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from shared.dsr_request import (
    MAX_REASON_CHARS,
    MAX_REASONS,
    DsrRequest,
    RequestRejected,
    is_request_id,
    parse_request,
)

from . import figures

SCHEMA = json.loads((Path(__file__).parents[2] / "shared" / "schemas" / "dsr-request.v1.schema.json").read_text())
# For generation only, the request id pattern without its "not rejected-" lookahead: hypothesis
# generates from a pattern with a lookahead by filtering, which is slow and makes generation flaky.
# The parser still applies the whole rule to every document.
_FUZZ_SCHEMA = copy.deepcopy(SCHEMA)
_FUZZ_SCHEMA["properties"]["request_id"]["pattern"] = SCHEMA["properties"]["request_id"]["pattern"].replace(
    "(?!rejected-)", ""
)
SCHEMA_DOCUMENTS = from_schema(_FUZZ_SCHEMA)
CONFIGURED = {"contoso_prod": None, "demo": None}
CANARY = "zq-canary-"
REJECTED_ID = re.compile(r"rejected-[0-9a-f]{24}")


def fuzz(examples: int) -> settings:
    """Full: random and many; the ``make test`` slice: few, and the same every run."""
    return settings(
        max_examples=examples if figures.FULL else max(examples // 100, 10),
        derandomize=not figures.FULL,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def check(raw: bytes, canaries: tuple[str, ...] = ()) -> None:
    rejection: RequestRejected | None = None
    try:
        request = parse_request(raw, configured_resources=CONFIGURED)
    except RequestRejected as rejected:
        rejection = rejected
    except Exception:
        figures.add("parser fuzzing", inputs_tried=1, **{"5xx_answers": 1})
        raise
    figures.add("parser fuzzing", inputs_tried=1, rejections_recorded=int(rejection is not None))
    if rejection is not None:
        assert 1 <= len(rejection.reasons) <= MAX_REASONS
        assert all(len(reason) <= MAX_REASON_CHARS for reason in rejection.reasons)
        text = json.dumps(rejection.reasons)
        leaked = [canary for canary in canaries if canary in text]
        figures.add("parser fuzzing", secret_hits=len(leaked))
        assert leaked == []
        assert rejection.request_id is None or is_request_id(rejection.request_id)
        # Recorded under the request's own id, or under one no request id can be.
        assert rejection.record_id == rejection.request_id or REJECTED_ID.fullmatch(rejection.record_id)
        assert rejection.request_id is not None or not is_request_id(rejection.record_id)
        return
    assert is_request_id(request.request_id)
    assert DsrRequest.from_json_dict(json.loads(json.dumps(request.to_json()))) == request
    if request.type == "erase" and request.needs_confirmation and not request.dry_run:
        given_names = [request.confirm] if isinstance(request.confirm, str) else list(request.confirm or [])
        assert sorted(n.lower() for n in given_names) == sorted(request.resource_names)


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    """Schema documents, steered half the time towards what the schema cannot say (configured
    resources, UUIDs, a matching confirmation), so that many are accepted, not only rejected."""
    # A copy: the drawn value may be shared with hypothesis's own records, and is changed below.
    document: dict[str, Any] = copy.deepcopy(draw(SCHEMA_DOCUMENTS))
    if draw(st.booleans()):
        document["resources"] = ["demo"]
        scope = document.get("scope")
        if isinstance(scope, dict):
            if isinstance(scope.get("projects"), list):
                scope["projects"] = [str(draw(st.uuids())) for _ in scope["projects"]]
            images = scope.get("images")
            if isinstance(images, dict) and images.get("image_ids"):
                images["image_ids"] = [str(draw(st.uuids())) for _ in images["image_ids"]]
        if draw(st.booleans()):
            document["confirm"] = "demo"
        document.pop("received_at", None) if draw(st.booleans()) else None
    return document


@fuzz(5_000)
@given(documents())
def test_schema_documents_are_accepted_or_rejected_never_crash(document: dict[str, Any]) -> None:
    check(json.dumps(document).encode())


def _canaries(draw: Any, count: int) -> list[str]:
    return [f"{CANARY}{draw(st.integers(0, 10**9))}" for _ in range(count)]


@st.composite
def mutated(draw: Any) -> tuple[bytes, tuple[str, ...]]:
    """A schema document with canary values put where a careless parser would echo them."""
    document: dict[str, Any] = copy.deepcopy(draw(documents()))
    canaries = _canaries(draw, 3)
    field = draw(st.sampled_from(["request_id", "type", "resources", "scope", "include", "confirm", "ticket"]))
    how = draw(st.sampled_from(["value", "list", "unknown", "selector", "type"]))
    if how == "value":
        document[field] = canaries[0]
    elif how == "list":
        document[field] = [canaries[0], canaries[1]]
    elif how == "unknown":
        document[canaries[0]] = canaries[1]
    elif how == "selector":
        document["scope"] = {
            "projects": [canaries[0]],
            "images": {"image_ids": [canaries[1]], "metadata": {canaries[2]: ""}},
        }
    else:
        document[field] = {canaries[0]: [canaries[1]]}
    return json.dumps(document).encode(), tuple(canaries)


@fuzz(3_000)
@given(mutated())
def test_mutated_documents_never_echo_their_values(case: tuple[bytes, tuple[str, ...]]) -> None:
    raw, canaries = case
    check(raw, canaries)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@fuzz(1_000)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_cleanly(raw: bytes) -> None:
    check(raw)


@fuzz(1_000)
@given(JSON)
def test_arbitrary_json_is_rejected_cleanly(document: Any) -> None:
    check(json.dumps(document).encode())
