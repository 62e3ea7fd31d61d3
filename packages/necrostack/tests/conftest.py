"""Shared strategies and fixtures for necrostack's tests (Redis ones use real servers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import strategies as st
from redis.asyncio import Redis

from necrostack.backends.redis import RedisBackend
from platform_core.redis import RedisSettings, create_redis

event_types = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != "")
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=4)

MakeBackend = Callable[..., RedisBackend]


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client for inspecting what the backend wrote."""
    client = create_redis(RedisSettings(url=redis_url))
    yield client
    await client.aclose()


@pytest.fixture
async def make_backend(redis_url: str, redis_key_prefix: str) -> AsyncIterator[MakeBackend]:
    """Build RedisBackends on this test's stream (under ``redis_key_prefix``); closed after."""
    made: list[RedisBackend] = []

    def make(**overrides: Any) -> RedisBackend:
        url = overrides.pop("url", redis_url)
        overrides.setdefault("stream", f"{redis_key_prefix}events")
        overrides.setdefault("retry_backoff_base", 0.01)
        backend = RedisBackend(redis_settings=RedisSettings(url=url), **overrides)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait until ``check()`` is true, failing the test after ``seconds``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not await check():
        if loop.time() > end:
            pytest.fail(f"condition not met within {seconds}s")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def _no_process_wide_tracing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hide a tracer provider installed process-wide by another package's tests.

    OpenTelemetry lets a process set its global tracer provider only once, and when the whole
    monorepo's suite runs in one process, api-core's telemetry tests install one. With a provider
    present, necrostack stamps trace context into each enqueued event's metadata (as it should
    in production), which the tests asserting that an event round-trips unchanged do not expect.
    test_tracing.py is the one module that wants the provider.
    """
    if request.node.path.name == "test_tracing.py":
        return
    try:
        from opentelemetry import trace
    except ImportError:
        return
    import necrostack._tracing

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(necrostack._tracing, "_tracer", None)  # activated earlier in the process
