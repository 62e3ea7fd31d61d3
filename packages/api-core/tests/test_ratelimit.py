"""Rate limiters in memory and on real Redis: budget, retry-after, shared counters."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter

from api_core import ApiSettings, create_app
from api_core.ratelimit import InProcessRateLimiter, RedisRateLimiter
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing import PrivateRedis


async def test_in_process_limit_is_per_caller() -> None:
    limiter = InProcessRateLimiter(per_minute=2)
    assert [await limiter.hit("a") for _ in range(2)] == [None, None]
    retry = await limiter.hit("a")
    assert retry is not None
    assert 1 <= retry <= 61
    assert await limiter.hit("b") is None


async def test_retry_after_does_not_count() -> None:
    limiter = InProcessRateLimiter(per_minute=2)
    for _ in range(5):
        assert await limiter.retry_after("a") is None
    await limiter.hit("a")
    assert await limiter.retry_after("a") is None
    await limiter.hit("a")
    assert await limiter.retry_after("a") is not None
    assert await limiter.retry_after("b") is None


async def test_window_length_is_configurable() -> None:
    limiter = InProcessRateLimiter(per_minute=1, window_seconds=5)
    assert await limiter.hit("a") is None
    retry = await limiter.hit("a")
    assert retry is not None
    assert retry <= 6


@pytest.mark.parametrize("window_seconds", [60, 3600])
async def test_redis_counters_are_shared(
    redis_url: str, redis_key_prefix: str, window_seconds: int
) -> None:
    client = create_redis(RedisSettings(url=redis_url))
    try:
        first = RedisRateLimiter(
            client, per_minute=2, prefix=redis_key_prefix, window_seconds=window_seconds
        )
        second = RedisRateLimiter(
            client, per_minute=2, prefix=redis_key_prefix, window_seconds=window_seconds
        )
        assert await first.retry_after("key") is None
        assert await first.hit("key") is None
        assert await second.hit("key") is None
        assert await second.retry_after("key") is not None
        retry = await first.hit("key")
        assert retry is not None
        assert 1 <= retry <= window_seconds + 1
        assert await second.hit("other") is None
        keys = [k async for k in client.scan_iter(match=f"{redis_key_prefix}ratelimit:key:*")]
        assert len(keys) == 1
        ttl = await client.ttl(keys[0])
        assert 0 < ttl <= 2 * window_seconds
    finally:
        await client.aclose()


async def test_a_stopped_redis_is_a_503_naming_the_service_not_its_address(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """The limiter's Redis stops: the route answers 503 with Retry-After, and what failed
    goes only to the log."""
    client = create_redis(RedisSettings(url=private_redis.url, retry_attempts=1))
    limiter = RedisRateLimiter(client, per_minute=5, prefix="t:")
    router = APIRouter()
    written: list[str] = []

    @router.post("/notes")
    async def add_note() -> dict[str, str]:
        if await limiter.hit("caller") is not None:
            raise AssertionError("not over the limit")
        written.append("note")
        return {"saved": "yes"}

    app = create_app(ApiSettings.load(), routers=[router])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.post("/notes")).status_code == 200
            private_redis.stop()
            with caplog.at_level(logging.WARNING, logger="api_core.problems"):
                answer = await c.post("/notes")
    finally:
        await client.aclose()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["service"] == "redis"
    assert "(redis) cannot be reached" in problem["detail"]
    assert str(private_redis.port) not in answer.text
    assert written == ["note"]
    logged = [r for r in caplog.records if "dependency unavailable" in r.getMessage()]
    assert logged
    assert "rate limit INCR failed" in logged[0].getMessage()
