"""Unit tests of the simulator's building blocks: ids, token bucket, timestamps, config."""

from __future__ import annotations

import uuid

import pytest

from local.simulator.config import SimulatorConfig, parse_seed
from local.simulator.identifiers import IdFactory, SyntheticIdCodec, canonical_uuid
from local.simulator.throttle import Throttle
from local.simulator.timefmt import format_wire, parse_wire


def test_synthetic_ids_round_trip_and_are_version_8() -> None:
    codec = SyntheticIdCodec("project-a")
    for index in (0, 1, 99_999, 2**32 - 1):
        image_id = codec.encode(index)
        assert uuid.UUID(image_id).version == 8
        assert codec.decode(image_id) == index
    assert SyntheticIdCodec("project-b").decode(codec.encode(5)) is None
    assert codec.decode("not-a-uuid") is None


def test_id_factory_is_deterministic_per_seed() -> None:
    assert [IdFactory(1).new() for _ in range(3)] == [IdFactory(1).new() for _ in range(3)]
    first, second = IdFactory(1), IdFactory(2)
    assert first.new() != second.new()
    assert uuid.UUID(IdFactory(3).new()).version == 4


def test_canonical_uuid() -> None:
    assert canonical_uuid(" 6F1C2D9E-3B7A-4C55-9A0E-5D8B7E4F2A10 ") == "6f1c2d9e-3b7a-4c55-9a0e-5d8b7e4f2a10"
    assert canonical_uuid("x") is None


def test_token_bucket() -> None:
    throttle = Throttle(tps=2, burst=None)
    assert [throttle.acquire("k", 0.0) for _ in range(3)] == [None, None, 1]
    assert throttle.acquire("other", 0.0) is None  # buckets are per key
    assert throttle.acquire("k", 0.5) is None
    slow = Throttle(tps=0.1, burst=1)
    assert slow.acquire("k", 0.0) is None
    assert slow.acquire("k", 1.0) == 9
    assert Throttle(tps=None, burst=None).acquire("k", 0.0) is None


def test_wire_timestamps_have_seven_digits_and_parse_back() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert format_wire(moment) == "2026-01-02T03:04:05.1234560Z"
    assert parse_wire(format_wire(moment)) == moment


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tps": 0}, "tps"),
        ({"burst": 0, "tps": 1}, "burst"),
        ({"fault_rate": 1.5}, "fault_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"seed": "synthetic:0:1"}, "PROJECTS"),
        ({"seed": "synthetic:1:100001"}, "IMAGES"),
        ({"seed": "lots"}, "seed must be"),
        ({"training_key": ""}, "training_key"),
        ({"account_name": "x"}, "account_name"),
        ({"uri_ttl_seconds": 0}, "uri_ttl_seconds"),
    ],
)
def test_config_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SimulatorConfig(**kwargs)  # type: ignore[arg-type]


def test_seed_parsing() -> None:
    assert parse_seed("synthetic:3:100000").images == 100_000
    assert parse_seed("demo").kind == "demo"
    assert SimulatorConfig(prediction_key=None).effective_prediction_key == SimulatorConfig().training_key
