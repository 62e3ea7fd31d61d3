"""Feeds: every reader of a channel sees its events in order, resumes after an id, and is
told when a channel stays idle; on one process (memory) and across clients (Redis)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from necrostack import Event, Feed, FeedEntry, MemoryFeed, RedisFeed
from platform_core.errors import DependencyUnavailableError
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing import PrivateRedis


@pytest.fixture(params=["memory", "redis"])
async def feeds(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Feed, Feed]]:
    """A publishing feed and a reading one: the same object in memory, two clients on Redis
    (as two processes would have)."""
    if request.param == "memory":
        feed = MemoryFeed(keep=5)
        yield feed, feed
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_key_prefix")
    one = RedisFeed(create_redis(RedisSettings(url=url)), prefix, keep=5)
    two = RedisFeed(create_redis(RedisSettings(url=url)), prefix, keep=5)
    yield one, two
    await one.close()
    await two.close()


def _event(n: int) -> Event:
    return Event(event_type="tick", payload={"n": n})


async def _take(entries: AsyncIterator[FeedEntry], count: int) -> list[FeedEntry]:
    async def take() -> list[FeedEntry]:
        return [await anext(entries) for _ in range(count)]

    return await asyncio.wait_for(take(), 10)


def _numbers(entries: list[FeedEntry]) -> list[Any]:
    return [e.event.payload["n"] for e in entries]


async def test_every_reader_sees_every_event_in_order(feeds: tuple[Feed, Feed]) -> None:
    writer, reader = feeds
    first, second = reader.read("room"), reader.read("room")
    # A reader's position is pinned when it starts: wait until both are reading.
    pending = [asyncio.ensure_future(_take(r, 3)) for r in (first, second)]
    await asyncio.sleep(0.2)
    ids = [await writer.publish("room", _event(n)) for n in range(3)]
    await writer.publish("elsewhere", _event(99))
    for seen in await asyncio.gather(*pending):
        assert _numbers(seen) == [0, 1, 2]
        assert [e.id for e in seen] == ids
        assert all(e.event.event_type == "tick" for e in seen)


async def test_a_reader_resumes_after_the_last_id_it_saw(feeds: tuple[Feed, Feed]) -> None:
    writer, reader = feeds
    ids = [await writer.publish("room", _event(n)) for n in range(4)]
    resumed = await _take(reader.read("room", ids[1]), 2)
    assert _numbers(resumed) == [2, 3]
    assert _numbers(await _take(reader.read("room", "0"), 4)) == [0, 1, 2, 3]


async def test_a_channel_keeps_only_its_last_entries() -> None:
    feed = MemoryFeed(keep=3)
    for n in range(6):
        await feed.publish("room", _event(n))
    assert _numbers(await _take(feed.read("room", "0"), 3)) == [3, 4, 5]


async def test_watch_says_when_a_channel_stays_idle(feeds: tuple[Feed, Feed]) -> None:
    writer, reader = feeds
    watching = reader.watch("room", idle=0.2)
    assert await asyncio.wait_for(anext(watching), 5) is None
    await writer.publish("room", _event(7))
    entry = await asyncio.wait_for(anext(watching), 5)
    while entry is None:  # an idle tick may come first on a slow machine
        entry = await asyncio.wait_for(anext(watching), 5)
    assert entry.event.payload == {"n": 7}


async def test_a_redis_channel_with_a_ttl_expires(redis_url: str, redis_key_prefix: str) -> None:
    client: Redis = create_redis(RedisSettings(url=redis_url))
    feed = RedisFeed(client, redis_key_prefix, owns_client=False)
    try:
        await feed.publish("job:1", _event(1), ttl=60)
        await feed.publish("user:1", _event(1))
        assert 0 < await client.ttl(f"{redis_key_prefix}job:1") <= 60
        assert await client.ttl(f"{redis_key_prefix}user:1") == -1  # kept
    finally:
        await feed.close()
        await client.aclose()


async def test_publishing_to_a_stopped_redis_names_the_service(
    private_redis: PrivateRedis,
) -> None:
    feed = RedisFeed(create_redis(RedisSettings(url=private_redis.url, retry_attempts=1)))
    try:
        await feed.publish("room", _event(1))
        private_redis.stop()
        with pytest.raises(DependencyUnavailableError) as info:
            await feed.publish("room", _event(2))
        assert info.value.service == "redis"
    finally:
        await feed.close()


async def test_the_memory_feed_keeps_a_bounded_number_of_channels() -> None:
    feed = MemoryFeed(keep=3, channels=2)
    for n in range(5):
        await feed.publish("job:a", _event(n))
    await feed.publish("job:b", _event(10))
    await feed.publish("job:c", _event(20))  # the least recently used channel goes
    reader = feed.read("job:a", "0")
    await feed.publish("job:a", _event(5))
    assert _numbers(await _take(reader, 1)) == [5]  # job:a's old entries went with it
    assert _numbers(await _take(feed.read("job:c", "0"), 1)) == [20]


def _tracked_from(root: object) -> int:
    """Objects the garbage collector tracks among those reachable from ``root`` (not through
    classes or asyncio primitives, which lead to the whole interpreter)."""
    seen: set[int] = set()
    stack = [root]
    tracked = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | asyncio.Condition):
            continue
        seen.add(id(obj))
        tracked += gc.is_tracked(obj)
        stack.extend(gc.get_referents(obj))
    return tracked


async def test_the_memory_feed_keeps_its_entries_out_of_the_collectors_walk() -> None:
    """Kept entries are text in tuples: a full collection does not walk an object per kept
    event or per channel (a pause growing with the feed, seen as a latency spike on every
    request in flight)."""
    feed = MemoryFeed()
    await feed.publish("job:first", Event(event_type="delta", payload={"job_id": "first"}))
    gc.collect()
    gc.collect()  # a tuple is untracked once the tuples in it are
    before = _tracked_from(feed)
    for n in range(500):
        payload = {"job_id": str(n % 5), "text": f"t{n}"}
        await feed.publish(f"job:{n % 5}", Event(event_type="delta", payload=payload))
    gc.collect()
    gc.collect()
    assert _tracked_from(feed) == before  # not 500 events, nor a queue per channel
    entry = await anext(feed.read("job:3", "0"))
    assert entry.event.payload == {"job_id": "3", "text": "t3"}
