"""Memory cache and @cached (properties 6-9 of the seed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api_core.caching import CacheConfig, MemoryCache, cached, create_cache
from api_core.protocols import CacheProvider
from platform_core.errors import PluginNotFoundError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
).filter(lambda v: v is not None)


@given(key=st.text(max_size=10), value=json_values)
async def test_property_round_trip(key: str, value: Any) -> None:
    cache = MemoryCache(CacheConfig(key_prefix="p:"))
    await cache.set(key, value)
    assert await cache.get(key) == value
    await cache.delete(key)
    assert await cache.get(key) is None


@given(ttl=st.floats(0.001, 1000), elapsed=st.floats(0, 2000))
async def test_property_ttl_expiration(ttl: float, elapsed: float) -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", "v", ttl=ttl)
    start = clock.now
    clock.now += elapsed
    expected = "v" if clock.now < start + ttl else None
    assert await cache.get("k") == expected


@given(size=st.integers(1, 8), keys=st.lists(st.integers(0, 15), max_size=40))
async def test_property_lru_eviction(size: int, keys: list[int]) -> None:
    cache = MemoryCache(CacheConfig(max_size=size))
    model: list[str] = []  # least recently used first
    for k in keys:
        key = str(k)
        if await cache.get(key) is None:
            await cache.set(key, k)
        if key in model:
            model.remove(key)
        model.append(key)
        model = model[-size:]
    assert len(cache) == len(model) <= size
    for key in model:
        assert cache.get_nowait(key) == int(key)


@given(args=st.lists(st.integers(-3, 3), max_size=6))
async def test_property_cached_idempotence(args: list[int]) -> None:
    calls: list[int] = []

    @cached(cache=MemoryCache())
    async def square(x: int) -> int:
        calls.append(x)
        return x * x

    for x in args:
        assert await square(x) == x * x
    assert sorted(calls) == sorted(set(args))


async def test_single_flight_on_concurrent_misses() -> None:
    calls = 0
    release = asyncio.Event()

    @cached(cache=MemoryCache())
    async def slow(x: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        await release.wait()
        return {"x": x}

    tasks = [asyncio.create_task(slow(1)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert results == [{"x": 1}] * 20


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    calls = 0
    release = asyncio.Event()

    @cached(cache=MemoryCache())
    async def flaky() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        if calls == 1:
            raise ConnectionError("upstream down")
        return 7

    tasks = [asyncio.create_task(flaky()) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert await flaky() == 7
    assert calls == 2


async def test_cancelled_leader_does_not_fail_waiters() -> None:
    started = asyncio.Event()

    @cached(cache=MemoryCache())
    async def compute() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return "done"

    leader = asyncio.create_task(compute())
    await started.wait()
    waiter = asyncio.create_task(compute())
    await asyncio.sleep(0)
    leader.cancel()
    assert await waiter == "done"


async def test_none_results_are_cached_and_invalidation_recomputes() -> None:
    calls = 0

    @cached(cache=MemoryCache(), ttl=60)
    async def lookup(name: str, *, deep: bool = False) -> None:
        nonlocal calls
        calls += 1

    await lookup("a")
    await lookup("a")
    assert calls == 1
    await lookup.invalidate("a")
    await lookup("a")
    assert calls == 2
    assert lookup.key_for("a", deep=True) != lookup.key_for("a")
    assert lookup.key_for("a").startswith(f"{__name__}.")


async def test_custom_key_and_lazy_cache_factory() -> None:
    store = MemoryCache()

    @cached(key=lambda user_id: f"user:{user_id}", cache=lambda: store)
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    await user(5)
    assert await store.get("user:5") == [{"id": 5}]


def test_memory_satisfies_protocol_and_is_a_plugin() -> None:
    cache = create_cache("memory", CacheConfig(ttl=5))
    assert isinstance(cache, MemoryCache)
    assert isinstance(cache, CacheProvider)
    with pytest.raises(PluginNotFoundError, match="installed: layered, memory, redis"):
        create_cache("memcached")


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_size must be > 0"):
        CacheConfig(max_size=0)
