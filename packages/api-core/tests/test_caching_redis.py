"""Redis and layered caches on real Redis: fail-open, recovery, cross-process invalidation."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
from collections.abc import AsyncIterator

import pytest

from api_core.caching import CacheConfig, cached, create_cache
from api_core.caching.layered import LayeredCache
from api_core.caching.redis import RedisCache
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing import PrivateRedis


@pytest.fixture
async def redis_cache(redis_url: str, redis_key_prefix: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(
        create_redis(RedisSettings(url=redis_url)), CacheConfig(key_prefix=redis_key_prefix)
    )
    yield cache
    await cache.close()


async def test_redis_round_trip_json_and_ttl(redis_cache: RedisCache) -> None:
    await redis_cache.set("order:1", {"total": 12.5, "items": ["a", "b"]}, ttl=30)
    assert await redis_cache.get("order:1") == {"total": 12.5, "items": ["a", "b"]}
    ttl_ms = await redis_cache.client.pttl(redis_cache.key("order:1"))
    assert 0 < ttl_ms <= 30_000
    await redis_cache.delete("order:1")
    assert await redis_cache.get("order:1") is None


async def test_redis_expiry(redis_cache: RedisCache) -> None:
    await redis_cache.set("short", 1, ttl=0.05)
    await asyncio.sleep(0.15)
    assert await redis_cache.get("short") is None


async def test_redis_clear_only_touches_its_prefix(
    redis_cache: RedisCache, redis_key_prefix: str
) -> None:
    neighbour = RedisCache(redis_cache.client, CacheConfig(key_prefix=redis_key_prefix + "other:"))
    await redis_cache.set("a", 1)
    await neighbour.set("b", 2)
    await neighbour.clear()
    assert await redis_cache.get("a") == 1
    assert await neighbour.get("b") is None


async def test_cached_on_redis_is_shared_between_instances(
    redis_url: str, redis_key_prefix: str
) -> None:
    calls = 0

    async def compute(x: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"double": 2 * x}

    caches = [
        RedisCache(
            create_redis(RedisSettings(url=redis_url)), CacheConfig(key_prefix=redis_key_prefix)
        )
        for _ in range(2)
    ]
    first, second = (cached(cache=c)(compute) for c in caches)
    assert await first(4) == {"double": 8}
    assert await second(4) == {"double": 8}
    assert calls == 1
    for c in caches:
        await c.close()


async def _wait_up(cache: RedisCache) -> None:
    for _ in range(200):
        try:
            await cache.client.ping()
            return
        except Exception:  # waiting for the server to accept connections
            await asyncio.sleep(0.02)
    raise AssertionError("private redis-server did not start")


async def test_redis_stopped_mid_test_fails_open_and_recovers(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    url = private_redis.url
    settings = RedisSettings(url=url, retry_attempts=1, connect_timeout=0.5, socket_timeout=0.5)
    cache = RedisCache(create_redis(settings), CacheConfig(key_prefix="app:"))
    await _wait_up(cache)
    calls = 0

    @cached(cache=cache)
    async def load(x: int) -> int:
        nonlocal calls
        calls += 1
        return x + 1

    assert await load(1) == 2
    assert await load(1) == 2
    assert calls == 1

    private_redis.stop()
    with caplog.at_level(logging.WARNING):
        assert await cache.get("anything") is None  # a miss, not an exception
        await cache.set("k", 1)
        await cache.delete("k")
        assert await load(1) == 2  # computed again, served without the cache
    assert calls == 2
    warnings = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert any(w["event"] == "redis cache unavailable; treating as a miss" for w in warnings)

    private_redis.start()
    await _wait_up(cache)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await cache.set("k", {"back": True})
        assert await cache.get("k") == {"back": True}
    assert any(
        isinstance(r.msg, dict) and r.msg["event"] == "redis cache recovered"
        for r in caplog.records
    )
    await cache.close()


async def test_layered_l2_hit_fills_l1(redis_url: str, redis_key_prefix: str) -> None:
    config = CacheConfig(key_prefix=redis_key_prefix)
    writer = LayeredCache(create_redis(RedisSettings(url=redis_url)), config)
    reader = LayeredCache(create_redis(RedisSettings(url=redis_url)), config)
    async with writer, reader:
        await writer.set("k", [1, 2])
        assert reader.l1.get_nowait("k") is None
        assert await reader.get("k") == [1, 2]
        assert reader.l1.get_nowait("k") == [1, 2]
        await writer.delete("k")
        for _ in range(100):
            if reader.l1.get_nowait("k") is None:
                break
            await asyncio.sleep(0.01)
        assert await reader.get("k") is None


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from api_core.caching import CacheConfig
    from api_core.caching.layered import LayeredCache
    from platform_core.redis import RedisSettings, create_redis

    async def main(url, prefix):
        cache = LayeredCache(create_redis(RedisSettings(url=url)), CacheConfig(key_prefix=prefix))
        async with cache:
            first = await cache.get("shared")
            in_l1 = cache.l1.get_nowait("shared")
            print(f"first={first} l1={in_l1}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            for _ in range(500):
                if await cache.get("shared") != first:
                    break
                await asyncio.sleep(0.01)
            print(f"second={await cache.get('shared')}", flush=True)
            await cache.set("from-child", "hello")

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_layered_write_in_one_process_is_seen_by_another(
    redis_url: str, redis_key_prefix: str
) -> None:
    cache = LayeredCache(
        create_redis(RedisSettings(url=redis_url)), CacheConfig(key_prefix=redis_key_prefix)
    )
    async with cache:
        await cache.set("shared", 1)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            redis_url,
            redis_key_prefix,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdin is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.decode().strip() == "first=1 l1=1"  # the child now holds 1 in its L1
        await cache.get("from-child")  # fill our own L1 with a miss-free read later
        await cache.set("shared", 2)
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.decode().strip() == "second=2"
        assert await child.wait() == 0
        assert await cache.get("from-child") == "hello"


def test_redis_and_layered_are_plugins(redis_url: str, redis_key_prefix: str) -> None:
    settings = RedisSettings(url=redis_url)
    assert isinstance(create_cache("redis", CacheConfig(), redis_settings=settings), RedisCache)
    assert isinstance(create_cache("layered", CacheConfig(), redis_settings=settings), LayeredCache)


async def test_layered_listener_survives_an_outage_and_clears_l1(
    private_redis: PrivateRedis,
) -> None:
    url = private_redis.url
    settings = RedisSettings(url=url, retry_attempts=1, connect_timeout=0.5, socket_timeout=0.5)
    probe = RedisCache(create_redis(settings))
    await _wait_up(probe)
    cache = LayeredCache(create_redis(settings), CacheConfig(key_prefix="app:"))
    await cache.start()
    await cache.set("k", "v1")
    assert cache.l1.get_nowait("k") == "v1"

    private_redis.stop()
    for _ in range(300):  # the listener notices the outage
        if not cache.listening:
            break
        await asyncio.sleep(0.02)
    assert not cache.listening
    assert await cache.get("k") == "v1"  # L1 still serves while Redis is away

    private_redis.start()
    await _wait_up(probe)
    for _ in range(750):
        if cache.listening:
            break
        await asyncio.sleep(0.02)
    assert cache.listening
    # Invalidations may have been missed during the outage, so L1 was dropped.
    assert cache.l1.get_nowait("k") is None
    await cache.close()
    await probe.close()
