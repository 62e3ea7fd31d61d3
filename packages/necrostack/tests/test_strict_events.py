"""Strict events: JSON payloads only, a publish size limit, a bounded memory queue, and an
exact round trip on every backend."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.asyncio import Redis

from necrostack import BackendFullError, Event, EventTooLargeError, InMemoryBackend

from .conftest import MakeBackend

NOT_JSON: list[tuple[dict[str, Any], str]] = [
    ({"obj": object()}, "payload['obj'] is a object"),
    ({"tags": {"a", "b"}}, "payload['tags'] is a set"),
    ({"pair": (1, 2)}, "payload['pair'] is a tuple"),
    ({"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, "payload['at'] is a datetime"),
    ({"price": decimal.Decimal("1.10")}, "payload['price'] is a Decimal"),
    ({"by_id": {1: "x"}}, "payload['by_id'] has the key 1 of type int"),
    ({"x": math.nan}, "payload['x'] is nan"),
    ({"x": -math.inf}, "payload['x'] is -inf"),
    ({"raw": b"\x00"}, "payload['raw'] is a bytes"),
    ({"id": uuid.uuid4()}, "payload['id'] is a UUID"),
    ({"deep": [1, {"ok": [2, {"bad": {3}}]}]}, "payload['deep'][1]['ok'][1]['bad'] is a set"),
    ({"s": "\ud800"}, "payload['s'] is a str with a lone surrogate"),
]


@pytest.mark.parametrize(("payload", "message"), NOT_JSON)
def test_non_json_payloads_are_refused_when_built_naming_the_path(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("(", r"\(")):
        Event(event_type="X", payload=payload)


def test_json_payloads_of_every_kind_are_accepted() -> None:
    payload = {"n": None, "b": True, "i": -(2**80), "f": -0.0, "s": "ü😀", "l": [[], {}]}
    assert Event(event_type="X", payload=payload).payload == payload


def test_timestamps_are_always_aware() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        Event(event_type="X", timestamp=dt.datetime(2026, 1, 1))
    assert Event(event_type="X").timestamp.tzinfo is dt.UTC


async def test_memory_publish_size_limit() -> None:
    backend = InMemoryBackend(max_event_bytes=1000)
    await backend.enqueue(Event(event_type="X", payload={"s": "x" * 500}))
    with pytest.raises(EventTooLargeError, match="over the 1000-byte limit"):
        await backend.enqueue(Event(event_type="X", payload={"s": "x" * 1000}))
    assert backend.qsize() == 1
    default = InMemoryBackend()
    with pytest.raises(EventTooLargeError, match="1048576-byte"):
        await default.enqueue(Event(event_type="X", payload={"s": "x" * (1024 * 1024)}))


async def test_redis_publish_size_limit_writes_nothing(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    backend = make_backend(max_event_bytes=2000)
    small = Event(event_type="X", payload={"s": "x" * 100})
    big = Event(event_type="X", payload={"s": "é" * 1000})  # 2000 bytes of UTF-8
    with pytest.raises(EventTooLargeError):
        await backend.enqueue(big)
    with pytest.raises(EventTooLargeError):
        await backend.enqueue_many([small, big])  # nothing of the batch is written
    assert await redis_client.xlen(backend.stream) == 0
    await backend.enqueue(small)
    assert await backend.pull(1) == small


async def test_memory_backend_is_bounded() -> None:
    backend = InMemoryBackend(maxsize=2, full_timeout=0.05)
    first, second, third = (Event(event_type="X") for _ in range(3))
    await backend.enqueue(first)
    await backend.enqueue(second)
    with pytest.raises(BackendFullError, match="stayed full"):
        await backend.enqueue(third)
    assert await backend.pull(0) == first  # makes room
    await backend.enqueue(third)
    assert backend.qsize() == 2


# --- exact round trips ---------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
events = st.builds(
    Event,
    event_type=st.text(min_size=1).filter(lambda s: s.strip() != ""),
    payload=st.dictionaries(st.text(), json_values, max_size=5),
    key=st.none() | st.text(),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
    timestamp=st.datetimes(timezones=st.timezones()),
)


def identical(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (and -0.0 kept apart from 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a.hex() == b.hex()
    return bool(a == b)


def same_event(a: Event, b: Event) -> bool:
    return a == b and identical(a.payload, b.payload) and a.timestamp == b.timestamp


@given(event=events)
async def test_exact_round_trip_in_memory(event: Event) -> None:
    backend = InMemoryBackend()
    await backend.enqueue(event)
    got = await backend.pull(0)
    assert got is not None
    assert same_event(got, event)
    assert got.timestamp.tzinfo is dt.UTC


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=events)
async def test_exact_round_trip_on_redis_including_a_retry(
    make_backend: MakeBackend, event: Event
) -> None:
    backend = make_backend(retry_backoff_base=0.001)
    await backend.enqueue(event)
    got = await backend.pull(2)
    assert got is not None
    assert same_event(got, event)
    await backend.nack(got, RuntimeError("again"))  # through the retry schedule (Lua)
    again = await backend.pull(2)
    assert again is not None
    assert same_event(again, event)
    await backend.ack(again)
