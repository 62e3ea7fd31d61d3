"""Rate limiters in memory and on real Redis: budget, retry-after, shared counters."""

from __future__ import annotations

import pytest

from api_core.ratelimit import InProcessRateLimiter, RedisRateLimiter
from platform_core.redis import RedisSettings, create_redis


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
